/**
 * `rules push`: makes a file the active rules in local KV (through wrangler, as in production with
 * --remote), keeps the history the console rolls back with, refuses a version naming other content.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { runCli } from "./fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "mql-push-test-"));
const state = join(dir, "state");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const run = runCli;

/** rules/demo.json as version `version`, MQL at `mql` points, written to a file of its own. */
function demo(version: string, mql = 50): string {
  const doc = JSON.parse(readFileSync("rules/demo.json", "utf8"));
  doc.version = version;
  for (const s of doc.stages) if (s.id === "mql") s.when = { score: "total", gte: mql };
  const file = join(dir, `${version}-${mql}.json`);
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

/** The local KV as wrangler reads it: key -> metadata. */
function keys(): Record<string, unknown> {
  const list = spawnSync(process.execPath, ["node_modules/wrangler/bin/wrangler.js", "kv", "key", "list", "--binding", "RULES", "--local", "--persist-to", state], {
    encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true" },
  });
  return Object.fromEntries((JSON.parse(list.stdout) as { name: string; metadata?: unknown }[]).map((k) => [k.name, k.metadata ?? null]));
}

function active(): { version: string } {
  const get = spawnSync(process.execPath, ["node_modules/wrangler/bin/wrangler.js", "kv", "key", "get", "--binding", "RULES", "rules:demo", "--text", "--local", "--persist-to", state], {
    encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true" },
  });
  return JSON.parse(get.stdout) as { version: string };
}

describe("rules push", () => {
  it("keeps every version pushed in the history, refuses a version naming other content, and leaves the active rules alone then", () => {
    const started = Date.now();
    expect(run(["push", demo("p1"), "--persist-to", state])).toMatchObject({ code: 0, out: expect.stringContaining("version p1") });
    expect(run(["push", demo("p2", 40), "--persist-to", state])).toMatchObject({ code: 0, out: expect.stringContaining("version p2, replacing p1") });
    const kv = keys();
    expect(Object.keys(kv).sort()).toEqual(["rules-history:demo:p1", "rules-history:demo:p2", "rules:demo"]);
    for (const v of ["p1", "p2"]) {
      expect(kv[`rules-history:demo:${v}`]).toEqual({ note: "pushed with npm run rules -- push", publishedAt: expect.any(Number) });
      expect((kv[`rules-history:demo:${v}`] as { publishedAt: number }).publishedAt).toBeGreaterThanOrEqual(started);
    }
    expect(active().version).toBe("p2");

    const refused = run(["push", demo("p1", 60), "--persist-to", state]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('version "p1" was already published with other content: give the document a new version');
    expect(refused.err).toContain("$.version");
    expect(active().version).toBe("p2");

    // The same document again is no change.
    expect(run(["push", demo("p1"), "--persist-to", state])).toMatchObject({ code: 0, out: expect.stringContaining("version p1, replacing p2") });
    expect(Object.keys(keys())).toHaveLength(3);
    expect(active().version).toBe("p1");
  }, 120_000);
});
