/**
 * Rules are compiled once per isolate and rechecked against KV after RULES_REFRESH_MS; a document
 * that fails validation is never used, and the last valid engine stays in service.
 * (The worker runs in the test isolate, so it shares this module's cache.)
 */
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import type { RulesInput } from "../../rules/index.js";
import { getEngine, RULES_REFRESH_MS, rulesKey } from "../../worker/rules-cache.js";
import { collect, collectOk, getVisitor, pageView, putRules, siteDoc, uid, type ErrorResponse } from "./support/client.js";

const put = (site: string, doc: RulesInput | string) => env.RULES.put(rulesKey(site), typeof doc === "string" ? doc : JSON.stringify(doc));
const version = (site: string, v: string, points = 1): RulesInput => ({ ...siteDoc(site, `https://${site}.example`, { pageViewPoints: points }), version: v });

/** Documents KV may hold that must never be used. */
const INVALID: [string, (site: string) => string][] = [
  ["text that is not JSON", () => "{ not json"],
  ["JSON that is not a document", () => "[]"],
  ["a document with a bad rule", (site) => JSON.stringify({ ...version(site, "bad"), rules: [{ id: "x", on: "page_view", points: "many" }] })],
  ["a document with a dangling reference", (site) => JSON.stringify({ ...version(site, "bad"), stages: [{ id: "visitor" }, { id: "mql", when: { signal: "nope" } }] })],
];

let warn: MockInstance<typeof console.warn>;
beforeEach(() => {
  warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
});
afterEach(() => {
  warn.mockRestore();
});

describe("getEngine", () => {
  it("serves the cached engine until RULES_REFRESH_MS has passed, then the document now in KV", async () => {
    const site = "cache-refresh";
    const t0 = Date.now();
    await put(site, version(site, "v1"));
    const first = await getEngine(env.RULES, site, t0);
    expect(first?.version).toBe("v1");

    await put(site, version(site, "v2"));
    expect(await getEngine(env.RULES, site, t0 + 1)).toBe(first);
    expect(await getEngine(env.RULES, site, t0 + RULES_REFRESH_MS - 1)).toBe(first);
    const second = await getEngine(env.RULES, site, t0 + RULES_REFRESH_MS);
    expect(second?.version).toBe("v2");
    expect(second?.rules.rules[0]?.points).toBe(1);
  });

  it("keeps the same compiled engine when the document has not changed", async () => {
    const site = "cache-same";
    const t0 = Date.now();
    await put(site, version(site, "v1"));
    const first = await getEngine(env.RULES, site, t0);
    expect(await getEngine(env.RULES, site, t0 + RULES_REFRESH_MS)).toBe(first);
    expect(await getEngine(env.RULES, site, t0 + 5 * RULES_REFRESH_MS)).toBe(first);
  });

  it.each(INVALID)("never uses %s put straight into KV: the last valid engine stays", async (_, invalid) => {
    const site = `cache-keep-${uid("s").slice(-6)}`;
    const t0 = Date.now();
    await put(site, version(site, "v1"));
    const valid = await getEngine(env.RULES, site, t0);
    expect(valid?.version).toBe("v1");

    await put(site, invalid(site));
    expect(await getEngine(env.RULES, site, t0 + RULES_REFRESH_MS)).toBe(valid);
    expect(await getEngine(env.RULES, site, t0 + 2 * RULES_REFRESH_MS)).toBe(valid);
    expect(warn).toHaveBeenCalledWith(`rules for site ${site} in KV are invalid; keeping version v1`);

    await put(site, version(site, "v3"));
    expect((await getEngine(env.RULES, site, t0 + 3 * RULES_REFRESH_MS))?.version).toBe("v3");
  });

  it.each(INVALID)("treats a site whose only document is %s as unknown", async (_, invalid) => {
    const site = `cache-bad-${uid("s").slice(-6)}`;
    await put(site, invalid(site));
    expect(await getEngine(env.RULES, site)).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(`rules for site ${site} in KV are invalid; keeping version (none)`);

    const res = await collect(uid("v"), [pageView("/", {}, `https://${site}.example`)], { site, origin: `https://${site}.example` });
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorResponse).error.code).toBe("unknown_site");
    expect((await getVisitor(site, uid("v"))).status).toBe(404);
  });

  it("forgets a site whose document was deleted, once RULES_REFRESH_MS has passed", async () => {
    const site = "cache-deleted";
    const t0 = Date.now();
    await put(site, version(site, "v1"));
    expect(await getEngine(env.RULES, site, t0)).toBeDefined();
    await env.RULES.delete(rulesKey(site));
    expect(await getEngine(env.RULES, site, t0 + 1)).toBeDefined();
    expect(await getEngine(env.RULES, site, t0 + RULES_REFRESH_MS)).toBeUndefined();
  });

  it("never shares a KV read between callers: a refresh is read by one while the others keep the engine in service", async () => {
    // A KV read belongs to the request that made it: workerd refuses another request (or Durable
    // Object) waiting on it, so concurrent callers never wait on one shared read.
    const site = "cache-reads";
    const text = JSON.stringify(version(site, "v1"));
    const get = vi.fn(async () => text);
    const kv = { get } as unknown as KVNamespace;
    const t0 = Date.now();
    const engines = await Promise.all(Array.from({ length: 5 }, () => getEngine(kv, site, t0)));
    expect(get).toHaveBeenCalledTimes(5); // nothing cached yet: each caller reads
    expect(new Set(engines).size).toBe(1); // the same document is compiled once
    await getEngine(kv, site, t0 + RULES_REFRESH_MS - 1);
    expect(get).toHaveBeenCalledTimes(5);
    const refreshed = await Promise.all([getEngine(kv, site, t0 + RULES_REFRESH_MS), getEngine(kv, site, t0 + RULES_REFRESH_MS)]);
    expect(get).toHaveBeenCalledTimes(6);
    expect(refreshed).toEqual([engines[0], engines[0]]);
    expect(get).toHaveBeenCalledWith(rulesKey(site), expect.anything());
  });
});

describe("the rules collect scores with", () => {
  it("stay the last valid ones after an invalid document reaches KV and the cache refreshes", async () => {
    const site = "cache-http";
    const origin = `https://${site}.example`;
    const opts = { site, origin };
    const visitor = uid("v");
    expect((await putRules(site, version(site, "v1", 3))).status).toBe(200);
    expect((await collectOk(visitor, [pageView("/", {}, origin)], opts)).visitor.score.total).toBe(3);

    await put(site, JSON.stringify({ ...version(site, "v2", 100), groups: [] }));
    // Let this isolate's cache reach its refresh: it sees the invalid document and keeps v1.
    expect((await getEngine(env.RULES, site, Date.now() + RULES_REFRESH_MS))?.version).toBe("v1");
    expect((await collectOk(visitor, [pageView("/", {}, origin)], opts)).visitor.score.total).toBe(6);

    expect((await putRules(site, version(site, "v3", 5))).status).toBe(200);
    expect((await collectOk(visitor, [pageView("/", {}, origin)], opts)).visitor.score.total).toBe(11);
  });
});
