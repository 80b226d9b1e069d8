/**
 * Server faults inside workerd: an answer lost after the write, a slow rules read while batches of
 * one visitor interleave, and rules replaced while events flow. Each checks the visitor's SQLite
 * (events, ledger) against what the engine computes offline on the same events.
 */
import { createExecutionContext, env, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { compile, normalizeEvent, parseRules, type Engine, type RulesInput } from "../../rules/index.js";
import worker from "../../worker/index.js";
import { forgetRules } from "../../worker/rules-cache.js";
import type { Env } from "../../worker/env.js";
import { BROWSER_UA, nextIp, pageView, putRules, seedRules, siteDoc, snapshot, storedRows, uid, visitorStub } from "../worker/support/client.js";
import { record } from "./support/figures.js";

interface Site {
  site: string;
  origin: string;
  doc: RulesInput;
}

/** A site of its own: page views worth `points`, a capped pricing rule, no decay (scores are sums). */
async function newSite(points = 1, version = "v1"): Promise<Site> {
  const site = uid("rf").toLowerCase();
  const origin = `https://${site.replace(/_/g, "-")}.example`;
  const doc = siteDoc(site, origin, {
    version,
    rules: [
      { id: "page-view", on: "page_view", points },
      { id: "pricing", on: "page_view", when: { field: "path", glob: "/pricing" }, points: 7, cap: { times: 3 } },
    ],
    webhooks: [],
  });
  await seedRules(doc as { site: { id: string } });
  return { site, origin, doc };
}

function batchRequest(s: Site, visitor: string, events: object[]): Request {
  return new Request("https://edge.test/v1/collect", {
    method: "POST",
    body: JSON.stringify({ site: s.site, visitor, events }),
    headers: { "content-type": "text/plain;charset=UTF-8", origin: s.origin, "user-agent": BROWSER_UA, "cf-connecting-ip": nextIp() },
  });
}

/** Calls the worker's fetch handler with `bindings` (the real ones unless replaced). */
async function handle(req: Request, bindings: Env = env as unknown as Env): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(req, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The visitor's stored events in the order they were applied, and its ledger. */
function stored(s: Site, visitor: string) {
  return runInDurableObject(visitorStub(s.site, visitor), (_, state) => ({
    events: state.storage.sql.exec("SELECT id, body FROM events ORDER BY rowid").toArray().map((r) => ({ id: String(r.id), ...JSON.parse(String(r.body)) })),
    ledger: state.storage.sql.exec("SELECT event, rule, points, version FROM ledger ORDER BY seq").toArray()
      .map((r) => ({ event: String(r.event), rule: String(r.rule), points: Number(r.points), version: String(r.version) })),
  }));
}

/** The engine of a rules document, compiled here as the worker would. */
function engineOf(doc: RulesInput): Engine {
  const parsed = parseRules(doc);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return compile(parsed.rules);
}

/** The total the engine gives on `events` applied in order, offline. */
function replayTotal(engine: Engine, visitor: string, events: { id: string }[], now = Date.now()): number {
  let state = engine.initialState(visitor);
  for (const e of events) state = engine.apply(state, normalizeEvent(e as never), now).state;
  return engine.scores(state, now).total ?? 0;
}

/** A property of a binding, methods bound to it (bindings refuse calls on another `this`). */
function bound(target: object, prop: string | symbol): unknown {
  const value = Reflect.get(target, prop) as unknown;
  return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("an answer lost after the write", () => {
  it("is retried by the client and the retry is stored once", async () => {
    const s = await newSite();
    const visitor = uid("v");
    const events = [pageView("/", {}, s.origin), pageView("/pricing", {}, s.origin), pageView("/docs", {}, s.origin)];
    // The object writes the batch, then the connection drops before its answer reaches the worker.
    let dropped = 0;
    const real = env.VISITOR as unknown as Env["VISITOR"];
    const dropping = new Proxy(real, {
      get(target, prop) {
        if (prop !== "get") return bound(target, prop);
        return (id: DurableObjectId) => {
          const stub = target.get(id);
          return new Proxy(stub, {
            get(t, p) {
              if (p !== "collect") return bound(t, p);
              return async (input: Parameters<typeof stub.collect>[0]) => {
                await t.collect(input);
                dropped++;
                throw new Error("Network connection lost.");
              };
            },
          });
        };
      },
    });
    const first = await handle(batchRequest(s, visitor, events), { ...(env as unknown as Env), VISITOR: dropping });
    expect(first.status).toBe(503);
    expect(dropped).toBe(1);
    expect((await storedRows(s.site, visitor)).events).toBe(3);

    // The snippet keeps unacknowledged events and sends the same batch again.
    const retry = await handle(batchRequest(s, visitor, events));
    expect(retry.status).toBe(200);
    const answer = (await retry.json()) as { ack: string[]; visitor: { score: { total: number } } };
    expect(answer.ack.sort()).toEqual(events.map((e) => e.id).sort());
    const rows = await storedRows(s.site, visitor);
    expect(rows).toMatchObject({ events: 3, distinctEvents: 3, ledger: 4 });
    expect(answer.visitor.score.total).toBe(1 + 1 + 1 + 7);
    record("server-lost-answer", { checks: 1, duplicated: rows.events - rows.distinctEvents + (rows.ledger - 4) });
  });
});

describe("a slow rules read while one visitor's batches interleave", () => {
  it("leaves the score exactly what the engine gives on the stored events", async () => {
    const s = await newSite();
    const visitor = uid("v");
    const BATCHES = 40;
    const kvProto = Object.getPrototypeOf(env.RULES) as KVNamespace;
    const realGet = kvProto.get;
    let slowed = 0;
    // Every rules read of this site (the worker's and the visitor object's) takes 40-80 ms.
    vi.spyOn(kvProto, "get").mockImplementation(function (this: KVNamespace, key: unknown, ...rest: unknown[]) {
      const read = (realGet as (...a: unknown[]) => Promise<unknown>).call(this, key, ...rest);
      if (key !== `rules:${s.site}`) return read as never;
      slowed++;
      return new Promise((r) => setTimeout(r, 40 + ((slowed * 17) % 40))).then(() => read) as never;
    });
    const sent: string[] = [];
    const launched: Promise<{ status: number; body: string }>[] = [];
    for (let i = 0; i < BATCHES; i++) {
      // Batches start 10 ms apart, so reads and writes of one visitor overlap; the cached rules
      // expire in the middle of the load four times: the batches after each re-read them, slowly.
      if (i % 10 === 5) forgetRules(s.site);
      launched.push(sendOne(i));
      await new Promise((r) => setTimeout(r, 10));
    }
    const answers = await Promise.all(launched);
    async function sendOne(i: number) {
      const events = Array.from({ length: 1 + (i % 3) }, (_, k) => pageView(k === 0 && i % 4 === 0 ? "/pricing" : `/p/${i}/${k}`, {}, s.origin));
      sent.push(...events.map((e) => e.id));
      const res = await handle(batchRequest(s, visitor, events));
      return { status: res.status, body: await res.text() };
    }
    vi.restoreAllMocks();
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(slowed).toBeGreaterThanOrEqual(2);

    const { events, ledger } = await stored(s, visitor);
    expect(events.map((e) => e.id).sort()).toEqual(sent.slice().sort());
    const expected = replayTotal(engineOf(s.doc), visitor, events);
    const pricing = Math.min(3, Math.ceil(BATCHES / 4)) * 7;
    expect(expected).toBe(sent.length + pricing);
    const snap = await snapshot(s.site, visitor);
    expect(snap.scores.total).toBe(expected);
    expect(ledger.reduce((n, e) => n + e.points, 0)).toBe(expected);
    record("server-slow-kv", { checks: sent.length, lost: sent.length - events.length, duplicated: ledger.length - (sent.length + 3) });
  });
});

describe("rules replaced while events flow", () => {
  it("scores every event by exactly one version, and the ledger says which", async () => {
    const s = await newSite(1, "v1");
    const VISITORS = 12;
    const visitors = Array.from({ length: VISITORS }, () => uid("v"));
    const v2: RulesInput = { ...s.doc, version: "v2", rules: [{ id: "page-view", on: "page_view", points: 2 }, { id: "pricing", on: "page_view", when: { field: "path", glob: "/pricing" }, points: 11, cap: { times: 3 } }] };
    const sent = new Map<string, string[]>(visitors.map((v) => [v, []]));
    const send = (round: number) => Promise.all(visitors.map(async (v, n) => {
      const events = [pageView(round % 3 === 0 ? "/pricing" : `/r/${round}`, {}, s.origin), pageView(`/n/${n}/${round}`, {}, s.origin)];
      sent.get(v)!.push(...events.map((e) => e.id));
      const res = await handle(batchRequest(s, v, events));
      if (res.status !== 200) throw new Error(`round ${round}: ${res.status} ${await res.text()}`);
    }));
    const ROUNDS = 8;
    const rounds: Promise<unknown>[] = [];
    let replaced: Response | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      rounds.push(send(round));
      // The new version is published once rounds 0 and 1 are scored, while rounds 2 and 3 are in flight.
      if (round === 3) {
        await Promise.all(rounds.slice(0, 2));
        replaced = await putRules(s.site, v2);
      }
    }
    await Promise.all(rounds);
    expect(replaced?.status).toBe(200);

    const engines = { v1: engineOf(s.doc), v2: engineOf(v2) };
    const points = { v1: { "page-view": 1, pricing: 7 }, v2: { "page-view": 2, pricing: 11 } } as const;
    const versions = new Set<string>();
    let checked = 0;
    let duplicated = 0;
    let lost = 0;
    for (const v of visitors) {
      const { events, ledger } = await stored(s, v);
      lost += sent.get(v)!.length - events.length;
      expect(events.map((e) => e.id).sort()).toEqual(sent.get(v)!.slice().sort());
      const byEvent = new Map<string, typeof ledger>();
      for (const e of ledger) byEvent.set(e.event, [...(byEvent.get(e.event) ?? []), e]);
      for (const e of events) {
        const entries = byEvent.get(e.id) ?? [];
        const eventVersions = new Set(entries.map((x) => x.version));
        expect(eventVersions.size, `event ${e.id} scored by ${[...eventVersions]}`).toBe(1);
        const version = [...eventVersions][0] as "v1" | "v2";
        versions.add(version);
        for (const x of entries) expect(x.points).toBe(points[version][x.rule as "page-view" | "pricing"]);
        duplicated += entries.filter((x) => x.rule === "page-view").length - 1;
        checked++;
      }
      // Each event's points are what its version gives: the total is the ledger's sum.
      const snap = await snapshot(s.site, v);
      expect(snap.scores.total).toBe(ledger.reduce((n, x) => n + x.points, 0));
      // And the v1 prefix replayed by v1 offline gives the v1 ledger's points.
      const v1Events = events.filter((e) => byEvent.get(e.id)![0]!.version === "v1");
      expect(replayTotal(engines.v1, v, v1Events)).toBe(ledger.filter((x) => x.version === "v1").reduce((n, x) => n + x.points, 0));
    }
    expect([...versions].sort()).toEqual(["v1", "v2"]);
    record("server-rules-replaced", { checks: checked, lost, duplicated });
  });
});
