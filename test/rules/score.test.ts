import { describe, expect, it } from "vitest";
import { faded, inactivityLoss, round2, scoresFromLedger, type Group, type RulesInput } from "../../rules/index.js";
import { DAY_MS, engineFor, engineWith, event, HOUR_MS, MONDAY, pageView, prng, randomJourney, replay } from "./fixtures.js";

describe("faded points", () => {
  it.each([
    { days: 0, halfLife: 7, value: 10 },
    { days: 7, halfLife: 7, value: 5 },
    { days: 14, halfLife: 7, value: 2.5 },
    { days: 3.5, halfLife: 7, value: 7.07 },
    { days: 60, halfLife: 60, value: 5 },
    { days: 365, halfLife: 30, value: 0 },
    { days: -1, halfLife: 7, value: 10 },
  ])("10 points with a half-life of $halfLife days are worth $value after $days days", ({ days, halfLife, value }) => {
    expect(round2(faded(10, MONDAY, halfLife, MONDAY + days * DAY_MS))).toBe(value);
  });
});

describe("decay", () => {
  const engine = engineWith({
    groups: [{ id: "fit" }, { id: "engagement", decay: { halfLifeDays: 30 } }],
    rules: [
      { id: "webinar", on: "custom", when: { field: "name", eq: "webinar" }, points: 16, decay: { halfLifeDays: 7 } },
      { id: "pricing", on: "page_view", when: { field: "path", glob: "/pricing" }, points: 16 },
      { id: "corporate", group: "fit", on: "identify", points: 16 },
    ],
  });

  it.each([
    { name: "a rule's own half-life", e: () => event("custom", { name: "webinar" }), group: "engagement", halfLife: 7 },
    { name: "its group's default half-life", e: () => pageView("/pricing"), group: "engagement", halfLife: 30 },
  ])("points halve after exactly the half-life: $name", ({ e, group, halfLife }) => {
    const { state, ledger } = replay(engine, [[MONDAY, e()]]);
    const after = (days: number) => engine.scores(state, MONDAY + days * DAY_MS)[group];
    expect([after(0), after(halfLife), after(2 * halfLife), after(3 * halfLife)]).toEqual([16, 8, 4, 2]);
    expect(ledger[0]!.halfLifeDays).toBe(halfLife);
  });

  it("points without a half-life never fade", () => {
    const { state, ledger } = replay(engine, [[MONDAY, event("identify", { email: "jo@acme.example" })]]);
    expect(engine.scores(state, MONDAY + 3650 * DAY_MS).fit).toBe(16);
    expect(ledger[0]).not.toHaveProperty("halfLifeDays");
  });

  it("points earned at different times fade from when each was earned", () => {
    const { state } = replay(engine, [[MONDAY, event("custom", { name: "webinar" })], [MONDAY + 7 * DAY_MS, event("custom", { name: "webinar" })]]);
    expect(engine.scores(state, MONDAY + 14 * DAY_MS).engagement).toBe(4 + 8);
  });
});

describe("group bounds", () => {
  const engine = engineWith({
    groups: [{ id: "fit", max: 20, min: -5 }, { id: "engagement" }],
    rules: [
      { id: "good", group: "fit", on: "custom", when: { field: "name", eq: "good" }, points: 10 },
      { id: "bad", group: "fit", on: "custom", when: { field: "name", eq: "bad" }, points: -10 },
      { id: "visit", on: "page_view", points: 3 },
    ],
  });

  it.each([
    { names: ["good"], fit: 10 },
    { names: ["good", "good"], fit: 20 },
    { names: ["good", "good", "good"], fit: 20 },
    { names: ["bad"], fit: -5 },
    { names: ["bad", "bad", "good"], fit: -5 },
  ])("$names give fit $fit", ({ names, fit }) => {
    const { state } = replay(engine, names.map((n, i) => [MONDAY + i * HOUR_MS, event("custom", { name: n })] as const));
    expect(engine.scores(state, MONDAY + DAY_MS).fit).toBe(fit);
  });

  it("total is the sum of the clamped group scores", () => {
    const { state } = replay(engine, [[MONDAY, event("custom", { name: "good" })], [MONDAY, event("custom", { name: "good" })], [MONDAY, event("custom", { name: "good" })], [MONDAY, pageView("/")]]);
    expect(engine.scores(state, MONDAY)).toEqual({ fit: 20, engagement: 3, total: 23 });
  });
});

describe("inactivity", () => {
  const engine = engineWith({
    groups: [{ id: "fit" }, { id: "engagement", inactivity: { afterDays: 7, pointsPerDay: 2 } }],
    rules: [
      { id: "webinar", on: "custom", when: { field: "name", eq: "webinar" }, points: 20 },
      { id: "careers", on: "page_view", when: { field: "path", glob: "/careers" }, points: -4 },
      { id: "ping", on: "custom", when: { field: "name", eq: "ping" }, points: 0 },
    ],
  });
  const earned = replay(engine, [[MONDAY, event("custom", { name: "webinar" })]]).state;

  it.each([
    { after: "1 hour", ms: HOUR_MS, score: 20 },
    { after: "exactly 7 days", ms: 7 * DAY_MS, score: 20 },
    { after: "7 days and 23 hours", ms: 7 * DAY_MS + 23 * HOUR_MS, score: 20 },
    { after: "8 days", ms: 8 * DAY_MS, score: 18 },
    { after: "10 days", ms: 10 * DAY_MS, score: 14 },
    { after: "16 days and 12 hours", ms: 16 * DAY_MS + 12 * HOUR_MS, score: 2 },
    { after: "17 days", ms: 17 * DAY_MS, score: 0 },
    { after: "a year", ms: 365 * DAY_MS, score: 0 },
  ])("20 points are worth $score after $after without activity", ({ ms, score }) => {
    expect(engine.scores(earned, MONDAY + ms).engagement).toBe(score);
  });

  it("is written to the ledger at the next event, whatever the event", () => {
    const e = event("custom", { name: "ping" });
    const { entries, state } = engine.apply(earned, e, MONDAY + 10 * DAY_MS);
    expect(entries).toEqual([
      { event: e.id, at: MONDAY + 10 * DAY_MS, rule: "inactivity", group: "engagement", points: -6, reason: "3 days without activity past 7", version: "test-1" },
    ]);
    expect(engine.scores(state, MONDAY + 10 * DAY_MS + 5 * DAY_MS).engagement).toBe(14);
  });

  it("restarts counting from the last event", () => {
    const { state } = replay(engine, [[MONDAY + 5 * DAY_MS, event("custom", { name: "ping" })]], earned);
    expect(engine.scores(state, MONDAY + 12 * DAY_MS).engagement).toBe(20);
    expect(engine.scores(state, MONDAY + 13 * DAY_MS).engagement).toBe(18);
  });

  it("never takes a score below zero, in the score or in the ledger", () => {
    const { entries, state } = engine.apply(earned, event("custom", { name: "ping" }), MONDAY + 400 * DAY_MS);
    expect(entries.map((e) => e.points)).toEqual([-20]);
    expect(engine.scores(state, MONDAY + 400 * DAY_MS).engagement).toBe(0);
  });

  it("does not touch a score at or below zero", () => {
    const negative = replay(engine, [[MONDAY, pageView("/careers")]]).state;
    const { entries, state } = engine.apply(negative, event("custom", { name: "ping" }), MONDAY + 30 * DAY_MS);
    expect(entries).toEqual([]);
    expect(engine.scores(state, MONDAY + 30 * DAY_MS).engagement).toBe(-4);
  });

  it.each<{ inactivity: Group["inactivity"]; days: number; loss: { days: number; points: number } }>([
    { inactivity: { afterDays: 0, pointsPerDay: 1 }, days: 0.99, loss: { days: 0, points: 0 } },
    { inactivity: { afterDays: 0, pointsPerDay: 1 }, days: 1, loss: { days: 1, points: 1 } },
    { inactivity: { afterDays: 14, pointsPerDay: 0.5 }, days: 20, loss: { days: 6, points: 3 } },
    { inactivity: { afterDays: 14, pointsPerDay: 5 }, days: 20, loss: { days: 6, points: 12 } },
    { inactivity: undefined, days: 100, loss: { days: 0, points: 0 } },
  ])("a group losing $inactivity.pointsPerDay a day after $inactivity.afterDays days loses $loss.points of 12 points after $days days", ({ inactivity, days, loss }) => {
    const group: Group = inactivity === undefined ? { id: "engagement" } : { id: "engagement", inactivity };
    expect(inactivityLoss(group, 12, MONDAY, MONDAY + days * DAY_MS)).toEqual(loss);
  });
});

describe("the score is a function of the ledger and the clock", () => {
  const doc: RulesInput = {
    version: "ledger-1",
    site: { id: "test", origins: ["https://www.example.com"] },
    groups: [
      { id: "fit", max: 40, min: -20, inactivity: { afterDays: 30, pointsPerDay: 0.5 } },
      { id: "engagement", decay: { halfLifeDays: 14 } },
      { id: "intent", max: 100, inactivity: { afterDays: 5, pointsPerDay: 1.5 } },
    ],
    rules: [
      { id: "page", on: "page_view", points: 1, cap: { times: 5, per: "day" } },
      { id: "pricing", on: "page_view", when: { field: "path", glob: "/pricing" }, points: 10, cap: { times: 3, per: "week" } },
      { id: "case-study", on: "page_view", when: { field: "path", glob: "/customers/*" }, points: 5, decay: { halfLifeDays: 3 } },
      { id: "careers", on: "page_view", when: { field: "path", glob: "/careers/**" }, points: -10, decay: { halfLifeDays: 45 } },
      { id: "form", group: "intent", on: "form_submit", points: 15, decay: { halfLifeDays: 21 } },
      { id: "demo", group: "intent", on: "form_submit", when: { field: "form.id", eq: "demo-request" }, points: 40, cap: { times: 1 } },
      { id: "clicks", group: "intent", on: ["cta_click", "email_click"], points: 3 },
      { id: "corporate", group: "fit", on: ["identify", "form_submit"], when: { field: "email.kind", eq: "corporate" }, points: 15, cap: { times: 2 } },
      { id: "free-mail", group: "fit", on: ["identify", "form_submit"], when: { field: "email.kind", eq: "free" }, points: -10 },
      { id: "big", group: "fit", on: ["identify", "form_submit"], when: { any: [{ field: "traits.company_size", gte: 50 }, { field: "fields.company_size", gte: 50 }] }, points: 10, decay: { halfLifeDays: 90 } },
      { id: "unsubscribe", group: "intent", on: "custom", when: { field: "name", eq: "unsubscribe" }, points: -25 },
    ],
    stages: [{ id: "visitor" }, { id: "lead", when: { identified: true } }, { id: "mql", when: { score: "total", gte: 60 } }],
  };
  const engine = engineFor(doc);
  const groups = engine.rules.groups;

  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])("for random journey %i, at the last event and at several later instants", (seed) => {
    const rand = prng(seed);
    const { state, ledger, states } = replay(engine, randomJourney(rand, 80, MONDAY));
    const lastSeen = state.lastSeen!;
    for (const later of [0, HOUR_MS, 6 * DAY_MS, 31 * DAY_MS, 90 * DAY_MS, 1000 * DAY_MS, Math.floor(rand() * 200 * DAY_MS)]) {
      const now = lastSeen + later;
      expect(scoresFromLedger(ledger, groups, lastSeen, now), `${later} ms after the last event`).toEqual(engine.scores(state, now));
    }
    expect(states.length).toBe(80);
  });

  it("exercises inactivity losses in most random journeys", () => {
    const withLoss = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].filter((seed) =>
      replay(engine, randomJourney(prng(seed), 80, MONDAY)).ledger.some((e) => e.rule === "inactivity"));
    expect(withLoss.length).toBeGreaterThanOrEqual(8);
  });

  it("holds after every event of a journey, not only at its end", () => {
    const journey = randomJourney(prng(99), 120, MONDAY);
    let state = engine.initialState("v");
    const ledger = [];
    for (const [now, e] of journey) {
      const result = engine.apply(state, e, now);
      state = result.state;
      ledger.push(...result.entries);
      expect(scoresFromLedger(ledger, groups, state.lastSeen, now + DAY_MS)).toEqual(engine.scores(state, now + DAY_MS));
    }
  });
});
