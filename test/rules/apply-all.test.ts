import { describe, expect, it } from "vitest";
import demo from "../../rules/demo.json" with { type: "json" };
import saas40 from "../../rules/examples/saas-40.json" with { type: "json" };
import type { BatchResult, Engine, EngineEvent, RulesInput, VisitorState, WebhookDue } from "../../rules/index.js";
import { DAY_MS, deepFreeze, engineFor, event, HOUR_MS, MONDAY, pageView, prng, randomJourney, replay, rulesDoc } from "./fixtures.js";

/** Every feature of the engine at once: half-lives, a fit maximum, inactivity, demotions and holds, both webhooks, CTAs, a disabled rule. */
const everything: RulesInput = rulesDoc({
  groups: [{ id: "fit", max: 40, min: -20 }, { id: "engagement", decay: { halfLifeDays: 14 } }, { id: "intent", inactivity: { afterDays: 5, pointsPerDay: 1 } }],
  rules: [
    { id: "page", on: "page_view", points: 1, cap: { times: 3, per: "day" } },
    { id: "pricing", description: "Viewed pricing", on: "page_view", when: { field: "path", glob: ["/pricing", "/pricing/*"] }, points: 10, cap: { times: 2, per: "week" } },
    { id: "customers", on: "page_view", when: { field: "path", glob: "/customers/*" }, points: 4, decay: { halfLifeDays: 3 } },
    { id: "campaign", on: "page_view", when: { all: [{ field: "landing", eq: true }, { field: "utm.medium", in: ["cpc", "email"] }] }, points: 2 },
    { id: "form", on: "form_submit", when: { field: "form.id", in: ["whitepaper", "webinar"] }, points: 8 },
    { id: "demo", description: "Requested a demo", on: "form_submit", when: { field: "form.id", eq: "demo-request" }, points: 0 },
    { id: "corporate", group: "fit", on: ["identify", "form_submit"], when: { field: "email.kind", eq: "corporate" }, points: 15, cap: { times: 1 } },
    { id: "senior", group: "fit", on: ["identify", "form_submit"], when: { any: [{ field: "traits.job_title", contains: ["director", "vp"] }, { field: "fields.job_title", contains: ["director", "vp"] }] }, points: 20, cap: { times: 1 } },
    { id: "student", group: "fit", on: ["identify", "form_submit"], when: { any: [{ field: "traits.job_title", contains: "student" }, { field: "fields.job_title", contains: "student" }] }, points: -30, cap: { times: 1 } },
    { id: "big", group: "fit", on: ["identify", "form_submit"], when: { any: [{ field: "traits.company_size", gte: 50 }, { field: "fields.company_size", gte: 50 }] }, points: 5, cap: { times: 1 } },
    { id: "careers", on: "page_view", when: { field: "path", glob: "/careers/**" }, points: -15, demoteTo: "lead" },
    { id: "unsubscribe", on: "custom", when: { field: "name", eq: "unsubscribe" }, points: -5, demoteTo: "visitor" },
    { id: "calculator", on: "custom", when: { not: { field: "name", in: ["unsubscribe", "webinar_attended"] } }, points: 3, cap: { times: 2, per: "day" } },
    { id: "cta", group: "intent", on: "cta_click", when: { field: "element", startsWith: "demo" }, points: 5 },
    { id: "file", group: "intent", on: "download", when: { field: "href", endsWith: ".pdf" }, points: 2 },
    { id: "nurture", group: "intent", on: "email_click", points: 4 },
    { id: "old", on: "page_view", points: 100, enabled: false },
  ],
  stages: [
    { id: "visitor" },
    { id: "lead", when: { identified: true } },
    { id: "mql", when: { all: [{ identified: true }, { score: "total", gte: 30 }] } },
    { id: "sql", when: { any: [{ signal: "demo" }, { all: [{ score: "fit", gte: 30 }, { score: "engagement", gte: 40 }] }] } },
  ],
  ctas: [
    { id: "demo-offer", kind: "banner", stages: ["mql", "sql"], frequency: { times: 2, per: "day" }, variants: [{ id: "a", text: "Book a demo", button: { label: "Book", href: "/demo" } }] },
    { id: "pricing-chat", kind: "banner", stages: ["visitor"], variants: [{ id: "a", text: "Questions?" }] },
  ],
  webhooks: [
    { id: "crm", target: "crm", on: { stageEntered: ["mql", "sql"] } },
    { id: "hot", target: "slack", on: { scoreReached: { score: "total", value: 40 } } },
    { id: "warm", target: "slack", on: { scoreReached: { score: "engagement", value: 20 } } },
  ],
});

const engines: { name: string; engine: Engine }[] = [
  { name: "every feature", engine: engineFor(everything) },
  { name: "the demo rules", engine: engineFor(demo) },
  { name: "the 40 rules of saas-40", engine: engineFor(saas40) },
];

/** `steps` applied in batches of `size` (one time per event), what the batches did put together. */
function inBatches(engine: Engine, steps: ReadonlyArray<readonly [number, EngineEvent]>, size: number, from?: VisitorState) {
  let state = from ?? engine.initialState("visitor-1");
  const out: Omit<BatchResult, "state"> & { batches: BatchResult[] } = { entries: [], transitions: [], webhooks: [], batches: [] };
  for (let i = 0; i < steps.length; i += size) {
    const batch = steps.slice(i, i + size);
    const result = engine.applyAll(state, batch.map(([, e]) => e), batch.map(([at]) => at));
    out.batches.push(result);
    out.entries.push(...result.entries);
    out.transitions.push(...result.transitions);
    out.webhooks.push(...result.webhooks);
    state = result.state;
  }
  return { ...out, state };
}

const withoutState = ({ state: _, ...due }: WebhookDue & { state?: VisitorState }) => due;

describe("applyAll gives what apply gives one event at a time", () => {
  const cases = engines.flatMap(({ name, engine }) =>
    [1, 2, 3, 7, 50, 1000].flatMap((size) => [11, 12, 13].map((seed) => ({ name, engine, size, seed }))));

  it.each(cases)("$name, batches of $size, journey $seed", ({ engine, size, seed }) => {
    const journey = randomJourney(prng(seed), 160, MONDAY);
    const one = replay(engine, journey);
    const batched = inBatches(engine, journey, size);
    // The same state, down to the order of its keys.
    expect(JSON.stringify(batched.state)).toBe(JSON.stringify(one.state));
    expect(batched.state).toStrictEqual(one.state);
    expect(batched.entries).toStrictEqual(one.ledger);
    expect(batched.transitions).toStrictEqual(one.transitions);
    expect(batched.webhooks.map(withoutState)).toStrictEqual(one.webhooks);
    expect(one.ledger.length).toBeGreaterThan(20);
  });

  it.each(engines)("with $name, a webhook carries the state apply gave for its event", ({ engine }) => {
    const journey = randomJourney(prng(21), 300, MONDAY);
    const one = replay(engine, journey);
    const batched = inBatches(engine, journey, 50);
    const stateAfter = new Map(journey.map(([, e], i) => [e.id, one.states[i]!]));
    expect(batched.webhooks.length).toBeGreaterThan(0);
    for (const w of batched.webhooks) expect(w.state).toStrictEqual(stateAfter.get(w.event));
  });

  it.each(engines)("with $name, one time for the whole batch is every event at that time", ({ engine }) => {
    const events = randomJourney(prng(31), 40, MONDAY).map(([, e]) => e);
    const now = MONDAY + 3 * DAY_MS;
    const one = replay(engine, events.map((e) => [now, e] as const));
    const batched = engine.applyAll(engine.initialState("visitor-1"), events, now);
    expect(batched.state).toStrictEqual(one.state);
    expect(batched.entries).toStrictEqual(one.ledger);
  });

  it.each(engines)("with $name, a state read back from JSON between batches changes nothing", ({ engine }) => {
    const journey = randomJourney(prng(41), 200, MONDAY);
    let state = engine.initialState("visitor-1");
    for (let i = 0; i < journey.length; i += 9) {
      const batch = journey.slice(i, i + 9);
      state = JSON.parse(JSON.stringify(engine.applyAll(state, batch.map(([, e]) => e), batch.map(([at]) => at)).state)) as VisitorState;
    }
    expect(state).toStrictEqual(replay(engine, journey).state);
  });
});

describe("applyAll keeps the state it is given", () => {
  it.each(engines)("never writes to it, with $name", ({ engine }) => {
    const journey = randomJourney(prng(51), 300, MONDAY);
    let state = deepFreeze(engine.initialState("v"));
    for (let i = 0; i < journey.length; i += 13) {
      const batch = journey.slice(i, i + 13);
      const snapshot = structuredClone(state);
      const result = engine.applyAll(state, batch.map(([, e]) => e), batch.map(([at]) => at));
      expect(state).toStrictEqual(snapshot);
      for (const w of result.webhooks) deepFreeze(w.state);
      state = deepFreeze(result.state);
    }
    expect(state.events).toBe(300);
  });

  it("answers an empty batch with the state given and nothing done", () => {
    const { engine } = engines[0]!;
    const state = replay(engine, [[MONDAY, pageView("/pricing")]]).state;
    expect(engine.applyAll(state, [], MONDAY)).toEqual({ state, entries: [], transitions: [], webhooks: [] });
    expect(engine.applyAll(state, [], []).state).toBe(state);
  });

  it.each([
    { times: [], events: 1 },
    { times: [MONDAY], events: 2 },
    { times: [MONDAY, MONDAY, MONDAY], events: 2 },
  ])("refuses $times.length times for $events events", ({ times, events }) => {
    const { engine } = engines[0]!;
    const batch = Array.from({ length: events }, () => pageView("/"));
    expect(() => engine.applyAll(engine.initialState("v"), batch, times)).toThrow(RangeError);
  });
});

describe("counters of rules the engine does not know", () => {
  const { engine } = engines[0]!;
  const known = replay(engine, [[MONDAY, pageView("/pricing")]]).state;
  const steps = [[MONDAY + HOUR_MS, pageView("/pricing/team")], [MONDAY + 2 * HOUR_MS, pageView("/")], [MONDAY + DAY_MS, pageView("/pricing")]] as const;
  const clean = replay(engine, steps, known).state.counts;

  it.each([
    { name: "a rule since removed, first", counts: { removed: { n: 4, win: 0, wn: 4 }, ...known.counts }, kept: ["removed"] },
    { name: "a rule since disabled, last", counts: { ...known.counts, old: { n: 2, win: 0, wn: 2 } }, kept: ["old"] },
    { name: "both", counts: { removed: { n: 4, win: 0, wn: 4 }, ...known.counts, old: { n: 2, win: 0, wn: 2 } }, kept: ["removed", "old"] },
  ])("$name: kept as they were, in their places, the others counted as usual", ({ counts, kept }) => {
    const from = { ...known, counts } as VisitorState;
    const one = replay(engine, steps, from);
    const batched = inBatches(engine, steps, 3, from);
    for (const result of [one.state.counts, batched.state.counts]) {
      for (const key of kept) expect(result[key]).toBe(counts[key as keyof typeof counts]);
      expect(Object.keys(result).filter((k) => k in counts)).toEqual(Object.keys(counts));
      expect(Object.fromEntries(Object.entries(result).filter(([k]) => !kept.includes(k)))).toStrictEqual(clean);
    }
    expect(JSON.stringify(batched.state.counts)).toBe(JSON.stringify(one.state.counts));
  });

  it("reads a value that is no counter as none, and replaces it when its rule counts", () => {
    const from = { ...known, counts: { ...known.counts, page: null, pricing: "x", cta: 7 } } as unknown as VisitorState;
    const expected = replay(engine, steps, { ...known, counts: {} }).state.counts;
    for (const result of [replay(engine, steps, from).state.counts, inBatches(engine, steps, 3, from).state.counts]) {
      expect(result.page).toStrictEqual(expected.page);
      expect(result.pricing).toStrictEqual(expected.pricing);
      expect(result.cta).toBe(7);
    }
  });
});

describe("a batch of one visitor's requests", () => {
  it("scores a backlog of 50 events like the same events sent one by one", () => {
    const engine = engineFor(saas40);
    const events = [
      pageView("/pricing", { landing: true, visit: 2, country: "FR", query: { utm_medium: "cpc" } }),
      event("form_submit", { path: "/forms/demo", form: { id: "demo-request" }, email: "jo@acme.example", fields: { job_title: "VP Marketing", company_size: "201-1,000" } }),
      ...Array.from({ length: 48 }, (_, i) => pageView(i % 2 ? "/blog/2026/utm-hygiene" : "/docs/api/events")),
    ];
    const one = replay(engine, events.map((e) => [MONDAY, e] as const));
    const batched = engine.applyAll(engine.initialState("visitor-1"), events, MONDAY);
    expect(batched.state).toStrictEqual(one.state);
    expect(batched.state.stage).toBe("sql");
    expect(batched.webhooks.map((w) => [w.stage, w.event, w.state.stage])).toEqual([["sql", events[1]!.id, "sql"]]);
  });
});
