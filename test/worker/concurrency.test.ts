/**
 * A visitor's score is exact under concurrent events: 1,000 events, each sent twice, all at once,
 * in shuffled order. Every id is acknowledged, every event is stored and scored once, and each stage
 * change writes exactly one outbox row.
 */
import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { compile, normalizeEvent, parseRules, type CapturedEvent, type Engine, type RulesInput, type VisitorState } from "../../rules/index.js";
import {
  collect, outboxRows, shuffled, seedRules, snapshot, storedRows, uid, visitorStub, type CollectResponse,
} from "./support/client.js";

const SITE = "burst";
const ORIGIN = "https://burst.example";
const EVENTS = 1000;

/**
 * Rules whose total does not depend on the order of events (no decay, caps on rules whose every
 * count is worth the same), and where no single event can move the visitor across two stages.
 */
const DOC: RulesInput = {
  version: "burst-1",
  site: { id: SITE, origins: [ORIGIN] },
  groups: [{ id: "fit" }, { id: "engagement" }],
  rules: [
    { id: "page-view", on: "page_view", points: 1 },
    { id: "pricing", on: "page_view", when: { field: "path", glob: "/pricing" }, points: 10, cap: { times: 3 } },
    { id: "calculator", on: "custom", when: { field: "name", eq: "calculator" }, points: 2 },
    { id: "corporate-email", group: "fit", on: "identify", when: { field: "email.kind", eq: "corporate" }, points: 25, cap: { times: 1 } },
  ],
  stages: [
    { id: "visitor" },
    { id: "mql", when: { score: "total", gte: 50 } },
    { id: "sql", when: { score: "total", gte: 1000 } },
  ],
  webhooks: [{ id: "crm", target: "crm", on: { stageEntered: ["mql", "sql"] } }],
};

/** 100 pricing views, 300 calculator uses, 10 identify calls and 590 other page views. */
function journey(prefix: string): (CapturedEvent & { ts: number })[] {
  return Array.from({ length: EVENTS }, (_, i) => {
    const id = `${prefix}_${String(i).padStart(4, "0")}`;
    const ts = 1_760_000_000_000 + i;
    if (i % 10 === 0) return { id, ts, type: "page_view" as const, url: `${ORIGIN}/pricing` };
    if (i % 10 <= 3) return { id, ts, type: "custom" as const, name: "calculator", url: `${ORIGIN}/pricing/calculator` };
    if (i % 100 === 5) return { id, ts, type: "identify" as const, email: `buyer${i}@acme-logistics.example` };
    return { id, ts, type: "page_view" as const, url: `${ORIGIN}/docs/${i}` };
  });
}

/** By hand: 100 x 1 + 3 x 10 (pricing), 300 x 2, 25 once, 590 x 1. */
const EXPECTED = { fit: 25, engagement: 100 + 30 + 600 + 590, total: 25 + 100 + 30 + 600 + 590 };
/** Ledger entries: one per page view (690), 3 pricing, 300 calculator, 1 corporate email. */
const EXPECTED_LEDGER = 690 + 3 + 300 + 1;

/** The engine applied to the events one by one, in capture order. */
function sequential(engine: Engine, visitor: string, events: CapturedEvent[]): { state: VisitorState; entries: number } {
  let state = engine.initialState(visitor);
  let entries = 0;
  for (const [i, e] of events.entries()) {
    const result = engine.apply(state, normalizeEvent(e), 1_760_000_000_000 + i);
    state = result.state;
    entries += result.entries.length;
  }
  return { state, entries };
}

let engine: Engine;

beforeAll(async () => {
  const parsed = parseRules(DOC);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  engine = compile(parsed.rules);
  await seedRules(parsed.rules);
});

/** Checks everything stored for a visitor after the burst. */
async function expectExactlyOnce(visitor: string, ids: string[]) {
  const expected = sequential(engine, visitor, journey(visitor));
  expect(engine.scores(expected.state, Date.now())).toEqual(EXPECTED);
  expect(expected.entries).toBe(EXPECTED_LEDGER);

  const snap = await snapshot(SITE, visitor);
  expect(snap.scores).toEqual(EXPECTED);
  expect(snap.stage).toBe("sql");
  expect(snap.events).toBe(EVENTS);
  expect(snap.identity.kind).toBe("corporate");
  const times = Object.fromEntries(snap.explanation.rules.map((r) => [r.rule, r.times]));
  expect(times).toEqual(Object.fromEntries(Object.entries(expected.state.counts).map(([rule, c]) => [rule, c.n])));
  expect(snap.explanation.stages.map((s) => `${s.from}->${s.to}`)).toEqual(["visitor->mql", "mql->sql"]);

  expect(await storedRows(SITE, visitor)).toEqual({ events: EVENTS, distinctEvents: EVENTS, ledger: EXPECTED_LEDGER, outbox: 2, kv: 2 });
  const stored = await runIds(visitor);
  expect(stored).toEqual([...ids].sort());

  const outbox = await outboxRows(SITE, visitor);
  expect(outbox.map((o) => [o.webhook, o.payload.type, o.payload.data.stage?.to])).toEqual([
    ["crm", "visitor.stage_entered", "mql"],
    ["crm", "visitor.stage_entered", "sql"],
  ]);
}

/** The event ids a visitor's Durable Object stored, sorted. */
async function runIds(visitor: string): Promise<string[]> {
  return runInDurableObject(visitorStub(SITE, visitor), (_, state) =>
    state.storage.sql.exec("SELECT id FROM events ORDER BY id").toArray().map((r) => String(r.id)));
}

describe(`${EVENTS} events for one visitor, each sent twice, concurrently`, () => {
  it("through POST /v1/collect in shuffled mixed batches: exact score, every id acknowledged, MQL entered once", async () => {
    const visitor = uid("burst");
    const events = journey(visitor);
    const sends = shuffled([...events, ...events], 20261203);
    // 45 batches of 30 to 50 events: within the per-visitor rate limit, with duplicates inside some batches.
    const sizes = Array.from({ length: 45 }, (_, i) => 44 + (i < 20 ? 1 : 0) + (i === 44 ? 0 : i % 2 === 0 ? 5 : -5));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2 * EVENTS);
    expect(sizes.every((n) => n >= 30 && n <= 50)).toBe(true);
    const batches: (typeof sends)[] = [];
    let at = 0;
    for (const n of sizes) batches.push(sends.slice(at, (at += n)));
    expect(batches.flat()).toHaveLength(2 * EVENTS);
    expect(batches.some((b) => new Set(b.map((e) => e.id)).size < b.length)).toBe(true);

    const responses = await Promise.all(batches.map((b) => collect(visitor, b, { site: SITE, origin: ORIGIN })));
    const acked = new Set<string>();
    for (const [i, res] of responses.entries()) {
      expect(res.status).toBe(200);
      const body = (await res.json()) as CollectResponse;
      expect(body.ack).toEqual(batches[i]!.map((e) => e.id));
      for (const id of body.ack) acked.add(id);
    }
    expect(acked.size).toBe(EVENTS);

    await expectExactlyOnce(visitor, events.map((e) => e.id));
  });

  it("straight into the visitor's Durable Object as 2,000 single-event calls", async () => {
    const visitor = uid("burst");
    const events = journey(visitor);
    const stub = visitorStub(SITE, visitor);
    const sends = shuffled([...events, ...events], 42);
    const results = await Promise.all(sends.map(({ ts, ...captured }) =>
      stub.collect({ site: SITE, visitor, page: undefined, events: [{ event: normalizeEvent(captured), capturedAt: ts }], now: Date.now() })));
    expect(results.map((r) => r.ack[0])).toEqual(sends.map((e) => e.id));
    // Once the last call is in, every answer after it reports the final stage.
    expect(new Set(results.map((r) => r.visitor.stage))).toContain("sql");

    await expectExactlyOnce(visitor, events.map((e) => e.id));
  });
});
