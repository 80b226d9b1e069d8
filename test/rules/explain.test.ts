import { describe, expect, it } from "vitest";
import { DAY_MS, engineWith, event, HOUR_MS, MONDAY, pageView, replay } from "./fixtures.js";

const engine = engineWith({
  groups: [
    { id: "fit", label: "Fit: who they are", max: 20 },
    { id: "engagement", inactivity: { afterDays: 30, pointsPerDay: 1 } },
  ],
  rules: [
    { id: "webinar", description: "Attended a webinar", on: "custom", when: { field: "name", eq: "webinar" }, points: 10, decay: { halfLifeDays: 7 } },
    { id: "visit", on: "page_view", points: 1 },
    { id: "corporate", description: "Corporate email", group: "fit", on: "identify", when: { field: "email.kind", eq: "corporate" }, points: 15 },
    { id: "big", description: "Company of 50 or more", group: "fit", on: "identify", when: { field: "traits.company_size", gte: 50 }, points: 10 },
  ],
  stages: [
    { id: "visitor" },
    { id: "lead", when: { identified: true } },
    { id: "mql", when: { score: "total", gte: 30 } },
  ],
});

const webinar = event("custom", { name: "webinar" });
const identify = event("identify", { email: "jo@acme.example", traits: { company_size: "51-200" } });
const { state, ledger } = replay(engine, [
  [MONDAY, webinar],
  [MONDAY + HOUR_MS, pageView("/")],
  [MONDAY + 2 * HOUR_MS, pageView("/pricing")],
  [MONDAY + 3 * HOUR_MS, identify],
]);
const weekLater = MONDAY + 7 * DAY_MS;
const explained = engine.explain(state, ledger, weekLater);

describe("the explanation of a visitor", () => {
  it("gives the stage and the scores now", () => {
    expect(explained.stage).toBe("mql");
    expect(explained.scores).toEqual({ fit: 20, engagement: 7, total: 27 });
  });

  it.each([
    { rule: "webinar", points: 10, now: 5 },
    { rule: "visit", points: 1, now: 1 },
    { rule: "corporate", points: 15, now: 15 },
    { rule: "big", points: 10, now: 10 },
  ])("values each $rule entry of $points points at $now now", ({ rule, points, now }) => {
    const entry = explained.entries.find((e) => e.rule === rule);
    expect(entry).toMatchObject({ rule, points, now });
  });

  it("lists every ledger entry in order with its reason", () => {
    expect(explained.entries.map((e) => [e.rule, e.reason])).toEqual([
      ["webinar", "Attended a webinar (webinar)"],
      ["visit", "visit (/)"],
      ["visit", "visit (/pricing)"],
      ["corporate", "Corporate email (jo@acme.example)"],
      ["big", "Company of 50 or more (jo@acme.example)"],
    ]);
  });

  it("sums points per rule, largest now first", () => {
    expect(explained.rules).toEqual([
      { rule: "corporate", group: "fit", description: "Corporate email", times: 1, points: 15, now: 15 },
      { rule: "big", group: "fit", description: "Company of 50 or more", times: 1, points: 10, now: 10 },
      { rule: "webinar", group: "engagement", description: "Attended a webinar", times: 1, points: 10, now: 5 },
      { rule: "visit", group: "engagement", description: "visit", times: 2, points: 2, now: 2 },
    ]);
  });

  it("shows each group's label, score, bounds and unclamped points", () => {
    expect(explained.groups).toEqual([
      { id: "fit", label: "Fit: who they are", score: 20, max: 20, raw: 25 },
      { id: "engagement", label: "engagement", score: 7, raw: 7 },
    ]);
  });

  it("lists the stage history with the reason of each change", () => {
    expect(explained.stages).toEqual([
      { from: "visitor", to: "mql", at: MONDAY + 3 * HOUR_MS, event: identify.id, reason: "total 31.88 >= 30", skipped: ["lead"] },
    ]);
  });

  // Inactivity takes from non-fading points only: the two visits (2), not the fading webinar.
  it("names inactivity among the rules once it is written", () => {
    const after = replay(engine, [[weekLater + 40 * DAY_MS, pageView("/")]], state);
    const inactive = engine.explain(after.state, [...ledger, ...after.ledger], weekLater + 40 * DAY_MS);
    expect(inactive.rules.find((r) => r.rule === "inactivity")).toEqual({
      rule: "inactivity", group: "engagement", description: "Inactivity", times: 1, points: -2, now: -2,
    });
    expect(inactive.entries.at(-2)?.reason).toBe("16 days without activity past 30");
  });

  it("agrees with the engine's scores for the groups without bounds", () => {
    for (const days of [0, 3, 7, 30]) {
      const now = MONDAY + 3 * HOUR_MS + days * DAY_MS;
      const e = engine.explain(state, ledger, now);
      expect(e.groups.find((g) => g.id === "engagement")?.raw).toBe(e.scores.engagement);
    }
  });
});
