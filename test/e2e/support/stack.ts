/**
 * Runs `npm start` (scripts/start.mjs) as a user would, on free ports and in a state directory of
 * its own, and stops every process it started: its process groups, even when start.mjs is gone.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
/** The admin token start.mjs gives the worker by default (the demo's visitor panel uses it too). */
export const ADMIN_TOKEN = "dev-admin-token";
/** Longest wait for the build, the KV seeding and both servers to answer (the machine may be busy). */
const READY_TIMEOUT_MS = 100_000;

/** A running demo stack. */
export interface Stack {
  /** The worker: demo site, /mql.js, the API. */
  base: string;
  /** The CRM inbox. */
  crm: string;
  /** Everything start.mjs printed so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** A TCP port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ok(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Starts scripts/start.mjs and resolves once the site, the snippet and the CRM inbox answer. */
export async function startStack(): Promise<Stack> {
  const [port, crmPort] = [await freePort(), await freePort()];
  const devDir = mkdtempSync(join(tmpdir(), "mql-e2e-"));
  let output = "";
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, "scripts/start.mjs")], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), CRM_PORT: String(crmPort), MQL_DEV_DIR: devDir, ADMIN_TOKEN },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  let exited = false;
  child.on("exit", () => (exited = true));

  const stack: Stack = {
    base: `http://127.0.0.1:${port}`,
    crm: `http://127.0.0.1:${crmPort}`,
    log: () => output,
    async stop() {
      const groups = new Set<number>([child.pid!]);
      const pids = join(devDir, "pids.json");
      if (existsSync(pids)) for (const pid of JSON.parse(readFileSync(pids, "utf8")) as number[]) groups.add(pid);
      const signal = (s: NodeJS.Signals) => {
        for (const pid of groups) {
          try {
            process.kill(-pid, s);
          } catch {}
        }
      };
      signal("SIGTERM");
      for (let i = 0; i < 30 && !exited; i++) await sleep(100);
      await sleep(500);
      signal("SIGKILL");
      rmSync(devDir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) break;
    const ready = await Promise.all([ok(`${stack.base}/v1/health`), ok(`${stack.base}/mql.js`), ok(`${stack.crm}/api/webhooks`)]);
    if (ready.every(Boolean)) return stack;
    await sleep(500);
  }
  const why = exited ? "scripts/start.mjs exited" : `the stack was not ready within ${READY_TIMEOUT_MS / 1000} s`;
  await stack.stop();
  throw new Error(`${why}; its output:\n${output}`);
}
