#!/usr/bin/env node
/**
 * `npm start`: the whole product on this machine, offline, no Cloudflare account. Builds the
 * snippet, seeds local KV with rules/demo.json, and runs the worker on workerd through
 * `wrangler dev` at http://127.0.0.1:8787 (demo site, /mql.js and the API). Ctrl-C stops
 * everything it started.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const stateDir = join(root, ".mql-dev", "state");
const PORT = Number(process.env.PORT ?? 8787);
const HOST = "127.0.0.1";

const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
  XDG_CONFIG_HOME: join(root, ".mql-dev", "config"),
  XDG_CACHE_HOME: join(root, ".mql-dev", "cache"),
};
mkdirSync(stateDir, { recursive: true });

function step(label, command, args) {
  process.stdout.write(`${label}... `);
  const run = spawnSync(command, args, { cwd: root, env, encoding: "utf8" });
  if (run.status !== 0) {
    console.error(`failed\n${run.stdout}${run.stderr}`);
    process.exit(1);
  }
  console.log("done");
}

const scripts = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts ?? {};
if (scripts["build:sdk"]) step("building the snippet", "npm", ["run", "-s", "build:sdk"]);
step("seeding local KV with rules/demo.json", process.execPath, [
  join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "rules/cli.ts"), "push", "rules/demo.json", "--persist-to", stateDir,
]);

const children = [];
function start(name, command, args) {
  const child = spawn(command, args, { cwd: root, env, stdio: "inherit", detached: true });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`${name} stopped (${signal ?? code}); stopping the rest`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const child of children) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
  }
  setTimeout(() => {
    for (const child of children) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
    process.exit(code);
  }, 1500).unref();
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

const wrangler = join(root, "node_modules/wrangler/bin/wrangler.js");
if (!existsSync(wrangler)) {
  console.error("wrangler is not installed: run npm ci first");
  process.exit(1);
}
start("wrangler dev", process.execPath, [
  wrangler, "dev", "--ip", HOST, "--port", String(PORT), "--persist-to", stateDir, "--log-level", "warn",
  "--var", `ADMIN_TOKEN:${process.env.ADMIN_TOKEN ?? "dev-admin-token"}`,
]);

const base = `http://${HOST}:${PORT}`;
const deadline = Date.now() + 30_000;
(async function announce() {
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(`${base}/v1/health`);
      if (res.ok) {
        console.log(`\nmql-edge is running:\n  demo site      ${base}/\n  snippet        ${base}/mql.js\n  collect API    ${base}/v1/collect\n  admin token    ${process.env.ADMIN_TOKEN ?? "dev-admin-token"}\nCtrl-C stops everything.`);
        return;
      }
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!stopping) console.error(`the worker did not answer on ${base} within 30 s`);
})();
