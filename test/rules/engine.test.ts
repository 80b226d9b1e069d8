import { describe, expect, it } from "vitest";
import demo from "../../rules/demo.json" with { type: "json" };
import type { EngineEvent, Rule, RulesInput } from "../../rules/index.js";
import { DAY_MS, deepFreeze, engineFor, engineWith, event, HOUR_MS, MONDAY, pageView, prng, randomJourney, replay } from "./fixtures.js";

const at = (iso: string) => Date.parse(iso);

describe("rules are indexed by event type", () => {
  const engine = engineWith({
    rules: [
      { id: "any-page", on: "page_view", points: 1 },
      { id: "any-form", on: "form_submit", points: 10 },
      { id: "email-known", group: "fit", on: ["identify", "form_submit"], when: { field: "email", exists: true }, points: 5 },
      { id: "listed-twice", on: ["download", "download"], points: 3 },
    ],
  });

  it.each<{ type: EngineEvent["type"]; fields?: Partial<EngineEvent>; counted: string[] }>([
    { type: "page_view", fields: { path: "/apply", email: "jo@acme.example" }, counted: ["any-page"] },
    { type: "form_submit", fields: { path: "/", email: "jo@acme.example" }, counted: ["any-form", "email-known"] },
    { type: "identify", fields: { email: "jo@acme.example" }, counted: ["email-known"] },
    { type: "download", fields: { href: "/a.pdf" }, counted: ["listed-twice"] },
    { type: "custom", fields: { name: "page_view" }, counted: [] },
    { type: "cta_click", fields: { element: "form_submit" }, counted: [] },
  ])("a $type event counts $counted", ({ type, fields, counted }) => {
    const { state, ledger } = replay(engine, [[MONDAY, event(type, fields)]]);
    expect(Object.keys(state.counts).sort()).toEqual(counted.sort());
    expect(ledger.map((e) => e.rule).sort()).toEqual(counted.sort());
  });

  it("counts a rule once per event even when its type is listed twice", () => {
    const { state } = replay(engine, [[MONDAY, event("download", { href: "/a.pdf" })]]);
    expect([state.counts["listed-twice"]?.n, engine.scores(state, MONDAY).engagement]).toEqual([1, 3]);
  });

  it("does not read an event's fields for rules that listen to other types", () => {
    const watched = engineWith({ rules: [{ id: "titled", on: "page_view", when: { field: "title", contains: "pricing" }, points: 1 }] });
    const reads: PropertyKey[] = [];
    const submit = new Proxy(event("form_submit", { form: { id: "demo" }, title: "Pricing" }), {
      get(target, key, receiver) {
        reads.push(key);
        return Reflect.get(target, key, receiver);
      },
    });
    watched.apply(watched.initialState("v"), submit, MONDAY);
    expect(reads).not.toContain("title");
    reads.length = 0;
    watched.apply(watched.initialState("v"), new Proxy(pageView("/pricing", { title: "Pricing" }), { get: (t, k, r) => (reads.push(k), Reflect.get(t, k, r)) }), MONDAY);
    expect(reads).toContain("title");
  });
});

describe("disabled and zero-point rules", () => {
  const engine = engineWith({
    rules: [
      { id: "pricing", on: "page_view", when: { field: "path", glob: "/pricing" }, points: 10, enabled: false },
      { id: "webinar", description: "Attended the webinar", on: "custom", when: { field: "name", eq: "webinar" }, points: 0 },
      { id: "old-webinar", on: "custom", when: { field: "name", eq: "webinar" }, points: 0, enabled: false },
    ],
    stages: [
      { id: "visitor" },
      { id: "engaged", when: { signal: "webinar" } },
      { id: "legacy", when: { signal: "old-webinar" } },
    ],
  });

  it("a disabled rule never counts nor earns points", () => {
    const { state, ledger } = replay(engine, [[MONDAY, pageView("/pricing")]]);
    expect([state.counts, ledger, engine.scores(state, MONDAY).total]).toEqual([{}, [], 0]);
  });

  it("a zero-point rule counts as a signal without a ledger entry", () => {
    const { state, ledger, transitions } = replay(engine, [[MONDAY, event("custom", { name: "webinar" })]]);
    expect(state.counts.webinar?.n).toBe(1);
    expect(ledger).toEqual([]);
    expect(transitions.map((t) => [t.to, t.reason])).toEqual([["engaged", "signal Attended the webinar"]]);
  });

  it("a disabled rule is never a signal", () => {
    const { state } = replay(engine, [[MONDAY, event("custom", { name: "webinar" })]]);
    expect(state.stage).toBe("engaged");
    expect(state.counts["old-webinar"]).toBeUndefined();
  });
});

describe("the ledger", () => {
  const engine = engineWith({
    version: "2026-01-05.2",
    rules: [
      { id: "page", description: "Viewed a page", on: "page_view", points: 1 },
      { id: "form", description: "Sent a form", on: "form_submit", points: 2 },
      { id: "click", description: "Clicked a CTA", on: "cta_click", points: 3 },
      { id: "file", description: "Downloaded a file", on: "download", points: 4 },
      { id: "calc", description: "Used the calculator", on: "custom", points: 5 },
      { id: "who", description: "Identified", group: "fit", on: "identify", points: 6 },
      { id: "mail", description: "Clicked an email", on: "email_click", points: 7 },
      { id: "plain", on: "cta_dismiss", points: -1 },
    ],
  });

  it.each<{ e: EngineEvent; reason: string }>([
    { e: pageView("/pricing"), reason: "Viewed a page (/pricing)" },
    { e: event("form_submit", { path: "/resources", form: { id: "whitepaper" } }), reason: "Sent a form (whitepaper)" },
    { e: event("form_submit", { path: "/resources", form: { name: "Contact us" } }), reason: "Sent a form (Contact us)" },
    { e: event("form_submit", { path: "/resources" }), reason: "Sent a form (/resources)" },
    { e: event("cta_click", { element: "demo-hero" }), reason: "Clicked a CTA (demo-hero)" },
    { e: event("download", { href: "/files/benchmark.pdf" }), reason: "Downloaded a file (/files/benchmark.pdf)" },
    { e: event("custom", { name: "pricing_calculator" }), reason: "Used the calculator (pricing_calculator)" },
    { e: event("identify", { email: "jo@acme.example" }), reason: "Identified (jo@acme.example)" },
    { e: event("email_click", { query: { utm_campaign: "nurture-3" } }), reason: "Clicked an email (nurture-3)" },
    { e: event("cta_dismiss", { element: "demo-offer" }), reason: "plain (demo-offer)" },
    { e: event("cta_dismiss"), reason: "plain" },
  ])("explains a $e.type event as \"$reason\"", ({ e, reason }) => {
    const { ledger } = replay(engine, [[MONDAY, e]]);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]!.reason).toBe(reason);
  });

  it("records the event, instant, rule, group, points and rules version of every entry", () => {
    const e = event("identify", { email: "jo@acme.example" });
    expect(replay(engine, [[MONDAY, e]]).ledger).toEqual([
      { event: e.id, at: MONDAY, rule: "who", group: "fit", points: 6, reason: "Identified (jo@acme.example)", version: "2026-01-05.2" },
    ]);
  });

  it("keeps when the visitor was first and last seen and how many events were applied", () => {
    const { state } = replay(engine, [[MONDAY, pageView("/")], [MONDAY + HOUR_MS, event("custom", { name: "x" })], [MONDAY + DAY_MS, pageView("/a")]]);
    expect([state.firstSeen, state.lastSeen, state.events]).toEqual([MONDAY, MONDAY + DAY_MS, 3]);
  });
});

describe("caps", () => {
  const capped = (cap: Rule["cap"]) => engineWith({ rules: [{ id: "pricing", on: "page_view", when: { field: "path", glob: "/pricing" }, points: 10, cap }] });

  it.each<{ name: string; cap: NonNullable<Rule["cap"]>; times: string[]; counted: boolean[] }>([
    { name: "twice ever", cap: { times: 2, per: "ever" }, times: ["2026-01-05T10:00:00Z", "2026-02-05T10:00:00Z", "2027-01-05T10:00:00Z"], counted: [true, true, false] },
    { name: "twice per UTC day, again the next day", cap: { times: 2, per: "day" }, times: ["2026-01-05T00:00:00Z", "2026-01-05T12:00:00Z", "2026-01-05T23:59:59.999Z", "2026-01-06T00:00:00Z", "2026-01-06T01:00:00Z", "2026-01-06T02:00:00Z"], counted: [true, true, false, true, true, false] },
    { name: "once per ISO week, again from Monday", cap: { times: 1, per: "week" }, times: ["2026-01-05T10:00:00Z", "2026-01-07T10:00:00Z", "2026-01-11T23:59:59.999Z", "2026-01-12T00:00:00Z", "2026-01-18T22:00:00Z"], counted: [true, false, false, true, false] },
    { name: "once per week across a new year", cap: { times: 1, per: "week" }, times: ["2025-12-31T10:00:00Z", "2026-01-04T10:00:00Z", "2026-01-05T00:00:00Z"], counted: [true, false, true] },
  ])("a cap of $name", ({ cap, times, counted }) => {
    const engine = capped(cap);
    let state = engine.initialState("v");
    const got: boolean[] = [];
    for (const iso of times) {
      const result = engine.apply(state, pageView("/pricing"), at(iso));
      got.push(result.entries.length === 1);
      state = result.state;
    }
    expect(got).toEqual(counted);
    expect(state.counts.pricing?.n).toBe(counted.filter(Boolean).length);
  });

  it("a capped event writes no ledger entry and earns no points", () => {
    const engine = capped({ times: 1, per: "ever" });
    const { ledger, state } = replay(engine, [[MONDAY, pageView("/pricing")], [MONDAY + HOUR_MS, pageView("/pricing")]]);
    expect(ledger).toHaveLength(1);
    expect(engine.scores(state, MONDAY + HOUR_MS).engagement).toBe(10);
  });
});

/** A funnel with every kind of stage condition, a demotion and both kinds of webhook. */
const funnelDoc: RulesInput = {
  version: "funnel-1",
  site: { id: "test", origins: ["https://www.example.com"] },
  groups: [{ id: "fit" }, { id: "engagement" }],
  rules: [
    { id: "visit", description: "Viewed a page", on: "page_view", points: 5 },
    { id: "pricing", description: "Viewed pricing", on: "page_view", when: { field: "path", glob: "/pricing" }, points: 20 },
    { id: "corporate", description: "Corporate email", group: "fit", on: "identify", when: { field: "email.kind", eq: "corporate" }, points: 15 },
    { id: "demo", description: "Requested a demo", on: "form_submit", when: { field: "form.id", eq: "demo" }, points: 0 },
    { id: "webinar", description: "Attended a webinar", on: "custom", when: { field: "name", eq: "webinar" }, points: 1 },
    { id: "careers", description: "Looked at jobs", on: "page_view", when: { field: "path", glob: "/careers/**" }, points: -30 },
    { id: "unsubscribe", description: "Unsubscribed", on: "custom", when: { field: "name", eq: "unsubscribe" }, points: 0, demoteTo: "lead", cap: { times: 1 } },
    { id: "bounce", description: "Email bounced", on: "custom", when: { field: "name", eq: "bounce" }, points: 0, demoteTo: "mql" },
  ],
  stages: [
    { id: "visitor" },
    { id: "lead", when: { identified: true } },
    { id: "mql", when: { all: [{ identified: true }, { score: "total", gte: 40 }] } },
    { id: "sql", when: { any: [{ signal: "demo" }, { signal: "webinar", times: 3 }, { score: "engagement", gte: 100 }] } },
  ],
  webhooks: [
    { id: "crm", target: "crm", on: { stageEntered: ["mql", "sql"] } },
    { id: "hot", target: "slack", on: { scoreReached: { score: "total", value: 50 } } },
  ],
};
const funnel = engineFor(funnelDoc);

const identify = (email = "jo@acme.example") => event("identify", { email });
const custom = (name: string) => event("custom", { name });
const demoRequest = () => event("form_submit", { form: { id: "demo" } });
/** Events an hour apart from Monday morning. */
const hourly = (...events: EngineEvent[]) => events.map((e, i) => [MONDAY + i * HOUR_MS, e] as const);

describe("stages", () => {
  it("a visitor starts at the first stage", () => {
    expect(funnel.initialState("v").stage).toBe("visitor");
  });

  it.each<{ name: string; events: EngineEvent[]; stage: string; path: [string, string, string[]?][] }>([
    { name: "identifying makes a lead", events: [identify()], stage: "lead", path: [["visitor", "lead"]] },
    { name: "pages alone never make a lead", events: Array.from({ length: 8 }, () => pageView("/")), stage: "visitor", path: [] },
    { name: "a lead with 40 points is an MQL", events: [identify(), pageView("/pricing")], stage: "mql", path: [["visitor", "lead"], ["lead", "mql"]] },
    { name: "scoring before identifying skips lead", events: [pageView("/pricing"), identify()], stage: "mql", path: [["visitor", "mql", ["lead"]]] },
    { name: "a demo request goes straight to SQL", events: [pageView("/"), demoRequest()], stage: "sql", path: [["visitor", "sql", ["lead", "mql"]]] },
    { name: "two webinars are not enough for SQL", events: [identify(), custom("webinar"), custom("webinar")], stage: "lead", path: [["visitor", "lead"]] },
    { name: "the third webinar makes an SQL", events: [identify(), custom("webinar"), custom("webinar"), custom("webinar")], stage: "sql", path: [["visitor", "lead"], ["lead", "sql", ["mql"]]] },
    { name: "100 engagement points make an SQL without an email", events: [pageView("/pricing"), pageView("/pricing"), pageView("/pricing"), pageView("/pricing")], stage: "sql", path: [["visitor", "sql", ["lead", "mql"]]] },
    { name: "a score dropping below the threshold does not move back", events: [identify(), pageView("/pricing"), pageView("/careers/engineer")], stage: "mql", path: [["visitor", "lead"], ["lead", "mql"]] },
  ])("$name", ({ events, stage, path }) => {
    const { state, transitions } = replay(funnel, hourly(...events));
    expect(state.stage).toBe(stage);
    expect(transitions.map((t) => (t.skipped ? [t.from, t.to, t.skipped] : [t.from, t.to]))).toEqual(path);
    expect(state.stageHistory).toEqual(transitions);
  });

  it.each<{ name: string; events: EngineEvent[]; reason: string }>([
    { name: "identified", events: [identify("Jo@Acme.example")], reason: "identified as jo@acme.example" },
    { name: "a total score and identity", events: [identify(), pageView("/pricing")], reason: "identified as jo@acme.example and total 40 >= 40" },
    { name: "a signal", events: [demoRequest()], reason: "signal Requested a demo" },
    { name: "a signal counted three times", events: [custom("webinar"), custom("webinar"), custom("webinar")], reason: "signal Attended a webinar x3" },
    { name: "a group score", events: [pageView("/pricing"), pageView("/pricing"), pageView("/pricing"), pageView("/pricing")], reason: "engagement 100 >= 100" },
  ])("says why a stage was entered on $name: $reason", ({ events, reason }) => {
    const { transitions } = replay(funnel, hourly(...events));
    expect(transitions.at(-1)?.reason).toBe(reason);
  });

  it("records the event and instant of each stage change", () => {
    const e = demoRequest();
    const { transitions } = replay(funnel, [[MONDAY, e]]);
    expect(transitions).toEqual([{ from: "visitor", to: "sql", at: MONDAY, event: e.id, reason: "signal Requested a demo", skipped: ["lead", "mql"] }]);
  });
});

describe("demotion", () => {
  const sql = replay(funnel, hourly(identify(), demoRequest())).state;
  const lead = replay(funnel, hourly(identify())).state;
  const later = MONDAY + DAY_MS;

  it("moves back to the rule's stage when the rule counts, and not forward in the same event", () => {
    const e = custom("unsubscribe");
    const { state, transitions } = funnel.apply(sql, e, later);
    expect(state.stage).toBe("lead");
    expect(transitions).toEqual([{ from: "sql", to: "lead", at: later, event: e.id, reason: "demoted by Unsubscribed" }]);
  });

  it.each([
    { name: "a lead is not moved up to MQL", from: lead, rule: "bounce", moves: [] },
    { name: "a visitor is not moved up to lead", from: funnel.initialState("v"), rule: "unsubscribe", moves: [] },
    { name: "an MQL stays where it is", from: replay(funnel, hourly(identify(), pageView("/pricing"))).state, rule: "bounce", moves: [] },
    { name: "an SQL goes back to MQL", from: sql, rule: "bounce", moves: [["sql", "mql", "demoted by Email bounced"]] },
  ])("only moves backwards: $name", ({ from, rule, moves }) => {
    const { state, transitions } = funnel.apply(from, custom(rule), later);
    expect(transitions.map((t) => [t.from, t.to, t.reason])).toEqual(moves);
    expect(state.stage).toBe(moves.length > 0 ? moves[0]![1] : from.stage);
  });

  it("does nothing once the rule is capped", () => {
    const { states } = replay(funnel, [[later, custom("unsubscribe")], [later + HOUR_MS, pageView("/")], [later + 2 * HOUR_MS, custom("unsubscribe")]], sql);
    expect(states.map((s) => s.stage)).toEqual(["lead", "sql", "sql"]);
  });
});

describe("stage history", () => {
  it("keeps the last 50 stage changes, newest last", () => {
    const steps = [[MONDAY, demoRequest()] as const];
    for (let i = 1; i <= 30; i++) steps.push([MONDAY + i * HOUR_MS, custom("bounce")], [MONDAY + i * HOUR_MS + 1, pageView("/")]);
    const { state, transitions } = replay(funnel, steps);
    expect(transitions).toHaveLength(61);
    expect(state.stageHistory).toEqual(transitions.slice(-50));
  });
});

describe("what the visitor told us", () => {
  const engine = engineWith({
    rules: [
      { id: "corporate", group: "fit", on: "page_view", when: { field: "email.kind", eq: "corporate" }, points: 10, cap: { times: 1 } },
      { id: "cto", group: "fit", on: "form_submit", when: { field: "traits.role", eq: "cto" }, points: 5 },
    ],
  });

  it("is remembered: email lower-cased with its domain and kind, traits merged", () => {
    const { state } = replay(engine, hourly(
      event("identify", { email: " Jo@ACME.example ", traits: { role: "vp", plan: "team" } }),
      event("identify", { email: "not-an-email", traits: { role: "cto" } }),
    ));
    expect(state.identity).toEqual({ email: "jo@acme.example", domain: "acme.example", kind: "corporate", traits: { role: "cto", plan: "team" } });
  });

  it("keeps a trait a later form leaves empty", () => {
    const { state } = replay(engine, hourly(
      event("form_submit", { form: { id: "paper" }, email: "jo@acme.example", traits: { job_title: "Head of Growth", company: "Acme" } }),
      event("form_submit", { form: { id: "demo" }, email: "jo@acme.example", traits: { job_title: "", company: "  ", phone: "" } }),
    ));
    expect(state.identity.traits).toEqual({ job_title: "Head of Growth", company: "Acme", phone: "" });
  });

  it("is read by rules on later events that carry no identity", () => {
    const { ledger } = replay(engine, hourly(event("identify", { email: "jo@acme.example", traits: { role: "CTO" } }), pageView("/"), event("form_submit", { form: { id: "x" } })));
    expect(ledger.map((e) => e.rule)).toEqual(["corporate", "cto"]);
  });
});

describe("webhooks due", () => {
  it("stage entered fires once per entry, with a key made of the event, the webhook and the stage", () => {
    const events = [identify(), pageView("/pricing"), pageView("/"), pageView("/"), demoRequest(), pageView("/")];
    const { webhooks } = replay(funnel, hourly(...events));
    const entered = webhooks.filter((w) => w.trigger === "stage_entered");
    expect(entered.map((w) => [w.stage, w.key])).toEqual([
      ["mql", `${events[1]!.id}:crm:mql`],
      ["sql", `${events[4]!.id}:crm:sql`],
    ]);
    expect(entered[0]).toEqual({ webhook: "crm", target: "crm", trigger: "stage_entered", stage: "mql", event: events[1]!.id, at: MONDAY + HOUR_MS, key: `${events[1]!.id}:crm:mql` });
  });

  it("stage entered fires for the stage reached, not for stages skipped", () => {
    const { webhooks } = replay(funnel, [[MONDAY, demoRequest()]]);
    expect(webhooks.map((w) => w.stage)).toEqual(["sql"]);
  });

  it("gives the same key when the same event is applied again to the same state", () => {
    const before = replay(funnel, hourly(identify())).state;
    const e = pageView("/pricing");
    const first = funnel.apply(before, e, MONDAY + DAY_MS).webhooks;
    const again = funnel.apply(before, e, MONDAY + DAY_MS).webhooks;
    expect(first.length).toBeGreaterThan(0);
    expect(again).toEqual(first);
  });

  const reached = (events: EngineEvent[]) => {
    const { states, webhooks } = replay(funnel, hourly(...events));
    return { totals: states.map((s, i) => funnel.scores(s, MONDAY + i * HOUR_MS).total), fired: webhooks.filter((w) => w.trigger === "score_reached").map((w) => w.event) };
  };

  it("score reached fires on the upward crossing only, not again while above", () => {
    const events = [pageView("/pricing"), pageView("/"), pageView("/pricing"), pageView("/"), pageView("/")];
    const { totals, fired } = reached(events);
    expect(totals).toEqual([25, 30, 55, 60, 65]);
    expect(fired).toEqual([events[2]!.id]);
  });

  it("score reached fires when the score lands exactly on the value", () => {
    const events = [pageView("/pricing"), pageView("/"), pageView("/"), pageView("/"), pageView("/"), pageView("/"), pageView("/")];
    const { totals, fired } = reached(events);
    expect(totals.slice(0, 6)).toEqual([25, 30, 35, 40, 45, 50]);
    expect(fired).toEqual([events[5]!.id]);
  });

  it("score reached fires again after the score fell below the value and crossed it again", () => {
    const events = [pageView("/pricing"), pageView("/pricing"), pageView("/careers/engineer"), pageView("/pricing")];
    const { totals, fired } = reached(events);
    expect(totals).toEqual([25, 50, 25, 50]);
    expect(fired).toEqual([events[1]!.id, events[3]!.id]);
  });

  it("score reached carries the score, its value and the threshold", () => {
    const e = pageView("/pricing");
    const { webhooks } = replay(funnel, [[MONDAY, pageView("/pricing")], [MONDAY + HOUR_MS, e]]);
    expect(webhooks).toEqual([
      { webhook: "hot", target: "slack", trigger: "score_reached", score: { name: "total", value: 50, threshold: 50 }, event: e.id, at: MONDAY + HOUR_MS, key: `${e.id}:hot` },
    ]);
  });
});

describe("determinism", () => {
  const engines = [
    { name: "the demo rules", engine: engineFor(demo) },
    { name: "the funnel rules", engine: funnel },
  ];

  it.each(engines)("the same events in the same order give the same states and ledgers with $name", ({ engine }) => {
    const journey = randomJourney(prng(7), 300, MONDAY);
    const first = replay(engine, journey);
    const second = replay(engine, journey);
    expect(second.states).toEqual(first.states);
    expect(second.ledger).toEqual(first.ledger);
    expect(second.webhooks).toEqual(first.webhooks);
    expect(first.ledger.length).toBeGreaterThan(50);
  });

  it.each(engines)("apply never writes to the state it is given, with $name", ({ engine }) => {
    let state = deepFreeze(engine.initialState("v"));
    for (const [now, e] of randomJourney(prng(11), 300, MONDAY)) {
      const snapshot = structuredClone(state);
      const next = engine.apply(state, e, now).state;
      expect(state).toEqual(snapshot);
      state = deepFreeze(next);
    }
    expect(state.events).toBe(300);
  });

  it.each(engines)("every state keeps the fields of a new state, in the same order, a hold last, with $name", ({ engine }) => {
    const fields = Object.keys(engine.initialState("v"));
    for (const state of replay(engine, randomJourney(prng(5), 300, MONDAY)).states) {
      expect(Object.keys(state)).toEqual(state.hold === undefined ? fields : [...fields, "hold"]);
    }
  });

  it("the state stays JSON: a round trip changes nothing", () => {
    const { state } = replay(engineFor(demo), randomJourney(prng(3), 200, MONDAY));
    expect(JSON.parse(JSON.stringify(state))).toStrictEqual(state);
  });
});
