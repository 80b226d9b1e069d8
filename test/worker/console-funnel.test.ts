/**
 * The funnel: conversion between stages for the visitors first seen in a period, and the MQL rate
 * of each source, medium, campaign and landing page, ranked by what the numbers can be trusted for.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { funnelSteps, rankRates, ratio, wilsonLower } from "../../worker/console/funnel.js";
import { isoTime } from "../../worker/console/params.js";
import { adminFetch, type ErrorResponse } from "./support/client.js";
import { consoleSite, getJson, play } from "./console-support.js";

describe("funnel arithmetic", () => {
  it("gives each step its share of the previous one and of the cohort", () => {
    expect(funnelSteps([
      { stage: "visitor", label: "Visitor", reached: 200 },
      { stage: "lead", label: "Lead", reached: 50 },
      { stage: "mql", label: "MQL", reached: 10 },
      { stage: "sql", label: "SQL", reached: 0 },
    ]).map((s) => [s.stage, s.fromPrevious, s.fromTop])).toEqual([["visitor", 1, 1], ["lead", 0.25, 0.25], ["mql", 0.2, 0.05], ["sql", 0, 0]]);
  });

  it("answers 0 rather than dividing by zero, and a step's share of nobody is unknown (null)", () => {
    expect(ratio(3, 0)).toBe(0);
    expect(funnelSteps([{ stage: "visitor", label: "v", reached: 0 }, { stage: "mql", label: "m", reached: 0 }]).map((s) => [s.fromPrevious, s.fromTop])).toEqual([[null, null], [null, null]]);
    expect(funnelSteps([{ stage: "visitor", label: "v", reached: 4 }, { stage: "lead", label: "l", reached: 0 }, { stage: "mql", label: "m", reached: 0 }])
      .map((s) => [s.fromPrevious, s.fromTop])).toEqual([[1, 1], [0, 0], [null, 0]]);
  });

  it.each([
    [0, 0, 0],
    [0, 10, 0],
    [1, 1, 0.2065],
    [2, 3, 0.2077],
    [50, 100, 0.4038],
    [100, 100, 0.963],
  ])("bounds %i out of %i from below at %d", (x, n, low) => {
    expect(wilsonLower(x, n)).toBeCloseTo(low, 3);
  });

  it("ranks 60 MQLs out of 200 above 1 out of 1", () => {
    const ranked = rankRates([
      { key: "lucky", visitors: 1, reached: 1, accepted: 0 },
      { key: "steady", visitors: 200, reached: 60, accepted: 10 },
      { key: "none", visitors: 30, reached: 0, accepted: 0 },
    ]);
    expect(ranked.map((r) => [r.key, r.rate])).toEqual([["steady", 0.3], ["lucky", 1], ["none", 0]]);
  });
});

describe("GET /v1/admin/sites/:site/funnel", () => {
  let site: string;
  interface Funnel {
    target: string;
    steps: { stage: string; reached: number; fromPrevious: number }[];
    by: Record<string, { key: string; visitors: number; reached: number; rate: number }[]>;
  }

  beforeAll(async () => {
    let origin: string;
    ({ site, origin } = await consoleSite("fun"));
    const google = "utm_source=google&utm_medium=cpc&utm_campaign=spring";
    const news = "utm_source=newsletter&utm_medium=email";
    await play(site, origin, [{ view: "/", query: google }, { form: "whitepaper", email: "a@helios.example" }]);
    await play(site, origin, [{ view: "/", query: google }, { form: "whitepaper", email: "b@helios.example" }, { form: "demo" }]);
    await play(site, origin, [{ view: "/", query: google }]);
    await play(site, origin, [{ view: "/blog/x", query: news }, { identify: "c@gmail.com" }]);
    await play(site, origin, [{ view: "/blog/x", query: news }]);
    await play(site, origin, [{ view: "/pricing" }, { form: "whitepaper", email: "d@orbit.example" }]);
  });

  const funnel = (q = "") => getJson<Funnel>(`/v1/admin/sites/${site}/funnel${q}`);

  it("counts how many of the period's visitors reached each stage", async () => {
    const f = await funnel("?days=7");
    expect(f.target).toBe("mql");
    expect(f.steps.map((s) => [s.stage, s.reached, s.fromPrevious])).toEqual([["visitor", 6, 1], ["lead", 4, 0.6667], ["mql", 3, 0.75], ["sql", 1, 0.3333]]);
  });

  it.each([
    ["source", [["google", 3, 2], ["(direct)", 1, 1], ["newsletter", 2, 0]]],
    ["medium", [["cpc", 3, 2], ["(none)", 1, 1], ["email", 2, 0]]],
    ["campaign", [["spring", 3, 2], ["(none)", 3, 1]]],
    ["landing", [["/", 3, 2], ["/pricing", 1, 1], ["/blog/x", 2, 0]]],
  ])("gives the MQL rate by %s, best first", async (dim, expected) => {
    const f = await funnel(`?by=${dim}`);
    expect(f.by[dim]!.map((r) => [r.key, r.visitors, r.reached])).toEqual(expected);
    expect(Object.keys(f.by)).toEqual([dim]);
  });

  it("measures another target stage when asked", async () => {
    const f = await funnel("?stage=sql&by=source");
    expect(f.by.source!.map((r) => [r.key, r.reached])).toEqual([["google", 1], ["(direct)", 0], ["newsletter", 0]]);
  });

  it("counts nobody in a period before the visitors came", async () => {
    const f = await funnel("?from=2020-01-01&to=2020-01-31");
    expect(f.steps.map((s) => s.reached)).toEqual([0, 0, 0, 0]);
    expect(f.by.source).toEqual([]);
  });

  it.each([
    ["2020-01-01", Date.UTC(2020, 0, 1)],
    ["2020-01-01T09:30", Date.UTC(2020, 0, 1, 9, 30)],
    ["2020-01-01T09:30:15.250Z", Date.UTC(2020, 0, 1, 9, 30, 15, 250)],
    ["2020-01-01T09:30:00+02:00", Date.UTC(2020, 0, 1, 7, 30)],
    ["2020-02-29", Date.UTC(2020, 1, 29)],
    [String(Date.UTC(2020, 0, 1)), Date.UTC(2020, 0, 1)],
  ])("reads from=%s as %d", (raw, t) => {
    expect(isoTime(raw) ?? Number(raw)).toBe(t);
  });

  it.each([
    ["days=0", "query.days"],
    ["days=many", "query.days"],
    ["from=yesterday", "query.from"],
    ["from=-5", "query.from"],
    ["from=hello%201", "query.from"],
    ["from=2026-02-31", "query.from"],
    ["from=2026-01-01T24:00", "query.from"],
    ["to=2026-13-01", "query.to"],
    ["from=2026-02-01&to=2026-01-01", "query.to"],
    ["stage=customer", "query.stage"],
    ["by=country", "query.by"],
  ])("refuses %s naming %s", async (q, field) => {
    const res = await adminFetch(`/v1/admin/sites/${site}/funnel?${q}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorResponse).error.issues?.[0]?.path).toBe(field);
  });
});
