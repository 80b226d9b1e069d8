/**
 * What the workerd benchmarks share: the worker bundled as `wrangler deploy` ships it, the Durable
 * Object classes of wrangler.toml, and a CRM that takes every webhook at once.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { Worker } from "node:worker_threads";

/** The repository root. */
export const ROOT = new URL("..", import.meta.url).pathname;
/** wrangler.toml's compatibility date. */
export const COMPAT_DATE = "2026-04-01";

/** Bundles the worker into `dir` (`wrangler deploy --dry-run --minify`); answers the script's path. */
export function bundle(dir: string): string {
  const run = spawnSync(process.execPath, [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--minify", "--outdir", dir], {
    cwd: ROOT, encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", XDG_CONFIG_HOME: join(dir, "config") },
  });
  if (run.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${run.stderr}`);
  return join(dir, "index.js");
}

/** The Durable Object bindings of wrangler.toml, SQLite-backed, as Miniflare takes them. */
export const DURABLE_OBJECTS = {
  VISITOR: { className: "VisitorObject", useSQLite: true },
  LEAD: { className: "LeadObject", useSQLite: true },
  ACCOUNT: { className: "AccountObject", useSQLite: true },
  TARGET_GATE: { className: "TargetGate", useSQLite: true },
} as const;

/**
 * A CRM that answers 204 to every webhook at once, in a thread of its own: the load generator's
 * busy event loop must not be what slows the webhook sends down. Its URL, a count of what it
 * received, and a close.
 */
export async function crmSink(): Promise<{ url: string; received: () => Promise<number>; close: () => Promise<void> }> {
  const thread = new Worker(`
    const { createServer } = require("node:http");
    const { parentPort } = require("node:worker_threads");
    let received = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        received++;
        res.writeHead(204).end();
      });
    });
    server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
    parentPort.on("message", (m) => {
      if (m === "count") parentPort.postMessage({ received });
      if (m === "close") {
        server.closeAllConnections();
        server.close(() => process.exit(0));
      }
    });`, { eval: true });
  const next = () => new Promise<{ port?: number; received?: number }>((resolve) => thread.once("message", resolve));
  const { port } = await next();
  return {
    url: `http://127.0.0.1:${port}/hooks/crm`,
    received: async () => {
      const answer = next();
      thread.postMessage("count");
      return (await answer).received ?? 0;
    },
    close: async () => {
      const exited = new Promise((resolve) => thread.once("exit", resolve));
      thread.postMessage("close");
      await exited;
    },
  };
}
