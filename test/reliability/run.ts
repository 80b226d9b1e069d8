/// <reference types="node" />
/**
 * `npm run test:reliability`: the reliability suite at full size (100,000 fuzzed bodies, 100
 * close-the-tab trials), then one line adding up the figures each suite printed
 * (support/figures.ts): `reliability: lost=<n> duplicated=<n> 5xx=<n> xss=<n> checks=<n>`.
 * Exits non-zero when a test failed, a suite printed no figures, or any of the first four is not 0.
 * `npm test` runs the same suites at their CI sizes.
 */
import { spawn } from "node:child_process";
import { FIGURE_MARK, type Figures } from "./support/figures.js";

/** Suites that must report (a test that failed before recording would otherwise go unnoticed). */
const SUITES = [
  "fuzz", "server-lost-answer", "server-slow-kv", "server-rules-replaced", "webhook-outage", "webhook-dead-letter",
  "browser-offline-reloads", "browser-close-tab", "browser-five-tabs", "browser-idb-faults", "browser-unload-size",
  "browser-requests", "browser-xss", "rules-cta-content", "rules-cta-refused",
  "worker-offline-reloads", "worker-close-tab", "worker-five-tabs", "worker-requests",
];

const env = { ...process.env, FUZZ_BODIES: process.env.FUZZ_BODIES ?? "100000", RELIABILITY_FULL: "1", FORCE_COLOR: "0", NO_COLOR: "1" };
const started = Date.now();
const child = spawn(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "--project", "reliability-worker", "--project", "reliability-browser"], { env, stdio: ["ignore", "pipe", "pipe"] });

const figures: (Figures & { suite: string })[] = [];
let carry = "";
const ANSI = /\x1b\[[0-9;]*m/g;
child.stdout.on("data", (chunk: Buffer) => {
  process.stdout.write(chunk);
  const lines = (carry + chunk.toString("utf8")).split("\n");
  carry = lines.pop() ?? "";
  for (const raw of lines) {
    const line = raw.replace(ANSI, "");
    const at = line.indexOf(`${FIGURE_MARK} `);
    if (at >= 0) figures.push(JSON.parse(line.slice(at + FIGURE_MARK.length + 1)) as Figures & { suite: string });
  }
});
child.stderr.pipe(process.stderr);
const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? 1)));

const sum = (k: keyof Figures) => figures.reduce((n, f) => n + Number(f[k] ?? 0), 0);
const total = { lost: sum("lost"), duplicated: sum("duplicated"), fiveXx: sum("fiveXx"), xss: sum("xss"), checks: sum("checks") };
const missing = SUITES.filter((s) => !figures.some((f) => f.suite === s));
console.log(`\nreliability: ${figures.length} figures from ${new Set(figures.map((f) => f.suite)).size} suites in ${((Date.now() - started) / 1000).toFixed(0)} s; vitest exit ${code}${missing.length ? `; no figures from ${missing.join(", ")}` : ""}`);
for (const f of figures) console.log(`  ${JSON.stringify(f)}`);
console.log(`reliability: lost=${total.lost} duplicated=${total.duplicated} 5xx=${total.fiveXx} xss=${total.xss} checks=${total.checks}`);
process.exitCode = code !== 0 || missing.length > 0 || total.lost + total.duplicated + total.fiveXx + total.xss > 0 ? 1 : 0;
