#!/usr/bin/env node
/**
 * `npm start`: the whole product on this machine, offline, no Cloudflare account. Builds the
 * snippet, seeds local KV with rules/demo.json and the demo's webhook target, runs the worker on
 * workerd through `wrangler dev` (demo site, /mql.js and the API) and a local CRM inbox that
 * receives the signed webhooks. Ctrl-C stops everything it started.
 *
 * Environment: PORT (worker, 8787), CRM_PORT (CRM inbox, 8788), ADMIN_TOKEN (dev-admin-token),
 * MQL_DEV_DIR (where local state, wrangler's config and cache go; .mql-dev).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const devDir = resolve(process.env.MQL_DEV_DIR ?? join(root, ".mql-dev"));
const stateDir = join(devDir, "state");
const HOST = "127.0.0.1";
const PORT = Number(process.env.PORT ?? 8787);
const CRM_PORT = Number(process.env.CRM_PORT ?? 8788);
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? "dev-admin-token";
const SITE = "demo";
/** How long the worker gets to answer its health check after starting. */
const READY_TIMEOUT_MS = 60_000;

const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
  XDG_CONFIG_HOME: join(devDir, "config"),
  XDG_CACHE_HOME: join(devDir, "cache"),
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

const wrangler = join(root, "node_modules/wrangler/bin/wrangler.js");
if (!existsSync(wrangler)) {
  console.error("wrangler is not installed: run npm ci first");
  process.exit(1);
}

/**
 * The secret the worker signs the demo's webhooks with and the CRM inbox verifies them with. Kept
 * in the state directory so webhooks still waiting in the outbox from an earlier run verify too.
 */
function crmSecret() {
  const file = join(stateDir, "crm-secret.txt");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
const secret = crmSecret();

/** The demo's identity secret (signed email links and cross-domain tokens), kept with the local state. */
function identitySecret() {
  const file = join(stateDir, "identity-secret.txt");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const value = randomBytes(32).toString("base64url");
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return value;
}

/** The demo rules, with this run's origins added when the worker is not on the default port. */
function rulesFile() {
  const file = join(root, "rules/demo.json");
  const doc = JSON.parse(readFileSync(file, "utf8"));
  const origins = [`http://${HOST}:${PORT}`, `http://localhost:${PORT}`];
  if (origins.every((o) => doc.site.origins.includes(o))) return "rules/demo.json";
  doc.site.origins = [...new Set([...doc.site.origins, ...origins])];
  // Another document, so another version: a version names one document (rules/store.ts).
  doc.version = `${doc.version}+port${PORT}`;
  delete doc.$schema;
  const copy = join(devDir, "demo.rules.json");
  writeFileSync(copy, JSON.stringify(doc, null, 2));
  return copy;
}

const scripts = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts ?? {};
if (scripts["build:sdk"]) step("building the snippet", "npm", ["run", "-s", "build:sdk"]);
step("seeding local KV with rules/demo.json", process.execPath, [
  join(root, "node_modules/tsx/dist/cli.mjs"), join(root, "rules/cli.ts"), "push", rulesFile(), "--persist-to", stateDir,
]);
const targets = { targets: [{ id: "crm", url: `http://${HOST}:${CRM_PORT}/hooks/crm`, template: "json", secret }] };
step("seeding the demo's webhook target (the CRM inbox)", process.execPath, [
  wrangler, "kv", "key", "put", "--binding", "RULES", `targets:${SITE}`, JSON.stringify(targets), "--local", "--persist-to", stateDir,
]);

const children = [];
let stopping = false;

/** Starts a long-running process in its own process group, so stopping it stops its children too. */
function start(name, command, args, extraEnv = {}) {
  const child = spawn(command, args, { cwd: root, env: { ...env, ...extraEnv }, stdio: "inherit", detached: true });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`${name} stopped (${signal ?? code}); stopping the rest`);
      stop(1);
    }
  });
  children.push(child);
  // Lets a supervisor (the end-to-end test) stop the process groups even if this script is gone.
  writeFileSync(join(devDir, "pids.json"), JSON.stringify([process.pid, ...children.map((c) => c.pid)]));
  return child;
}

function signalAll(signal) {
  for (const child of children) {
    try {
      process.kill(-child.pid, signal);
    } catch {}
  }
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  signalAll("SIGTERM");
  setTimeout(() => {
    signalAll("SIGKILL");
    process.exit(code);
  }, 1500).unref();
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
process.on("SIGHUP", () => stop(0));

start("the CRM inbox", process.execPath, [join(root, "scripts/crm-inbox.mjs")], { CRM_PORT: String(CRM_PORT), CRM_SECRET: secret });
start("wrangler dev", process.execPath, [
  wrangler, "dev", "--ip", HOST, "--port", String(PORT), "--persist-to", stateDir, "--log-level", "warn",
  "--var", `ADMIN_TOKEN:${ADMIN_TOKEN}`, "--var", "WEBHOOK_ALLOW_LOCAL:true",
  // The demo's visitor panel reads the visitor's own explained score (GET /v1/visitors/:site/:id).
  "--var", "VISITOR_SELF_VIEW:true",
  // Email open and click links (`npm run rules -- email-links`) are signed with it.
  "--var", `IDENTITY_SECRET:${identitySecret()}`,
]);

const base = `http://${HOST}:${PORT}`;
const crm = `http://${HOST}:${CRM_PORT}`;
const deadline = Date.now() + READY_TIMEOUT_MS;
(async function announce() {
  while (Date.now() < deadline && !stopping) {
    try {
      const [worker, inbox] = await Promise.all([fetch(`${base}/v1/health`), fetch(`${crm}/api/webhooks`)]);
      if (worker.ok && inbox.ok) {
        console.log(
          `\nmql-edge is running:\n` +
            `  demo site      ${base}/\n` +
            `  snippet        ${base}/mql.js\n` +
            `  collect API    ${base}/v1/collect\n` +
            `  console        ${base}/console/  (site demo, admin token below)\n` +
            `  CRM inbox      ${crm}/  (signed webhooks land at ${crm}/hooks/crm)\n` +
            `  admin token    ${ADMIN_TOKEN}\n` +
            `Ctrl-C stops everything.`,
        );
        return;
      }
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!stopping) console.error(`the worker did not answer on ${base} within ${READY_TIMEOUT_MS / 1000} s`);
})();
