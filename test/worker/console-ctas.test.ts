/**
 * CTA results: impressions, clicks, dismissals and conversions per CTA and variant, and the A/B
 * verdict (leader, confidence, winner) from a two-proportion z-test.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { abVerdict, normalCdf, twoProportionZ } from "../../worker/console/ab-test.js";
import { targetStage } from "../../worker/console/cta-stats.js";
import { adminFetch, seedRules, uid, type ErrorResponse } from "./support/client.js";
import { consoleRules, consoleSite, getJson, play } from "./console-support.js";

describe("the A/B test", () => {
  it.each([[0, 0.5], [1.96, 0.975], [-1.96, 0.025], [1, 0.8413], [3, 0.99865], [-5, 0.0000003]])("normalCdf(%d) is %d", (z, p) => {
    expect(normalCdf(z)).toBeCloseTo(p, 4);
  });

  it("measures the z of 20 out of 100 against 10 out of 100 at 1.98", () => {
    expect(twoProportionZ({ id: "a", n: 100, x: 20 }, { id: "b", n: 100, x: 10 })).toBeCloseTo(1.98, 2);
  });

  it.each<[string, { id: string; n: number; x: number }[], { leader: string | null; winner: string | null; confidence: [number, number] | null; lift: number | null }]>([
    ["no data", [{ id: "a", n: 0, x: 0 }, { id: "b", n: 0, x: 0 }], { leader: null, winner: null, confidence: null, lift: null }],
    // Nothing to compare: no confidence at all, rather than a "0 %" that reads as a measured loss.
    ["one variant seen", [{ id: "a", n: 50, x: 5 }, { id: "b", n: 0, x: 0 }], { leader: "a", winner: null, confidence: null, lift: null }],
    ["a single variant", [{ id: "a", n: 50, x: 5 }], { leader: "a", winner: null, confidence: null, lift: null }],
    ["a clear winner", [{ id: "a", n: 400, x: 40 }, { id: "b", n: 400, x: 80 }], { leader: "b", winner: "b", confidence: [0.999, 1], lift: 1 }],
    ["a lead too small to call", [{ id: "a", n: 100, x: 11 }, { id: "b", n: 100, x: 10 }], { leader: "a", winner: null, confidence: [0.55, 0.65], lift: 0.1 }],
    ["equal rates: a coin toss", [{ id: "a", n: 100, x: 10 }, { id: "b", n: 200, x: 20 }], { leader: "b", winner: null, confidence: [0.5, 0.5], lift: 0 }],
    ["three variants: the weakest comparison counts", [{ id: "a", n: 400, x: 80 }, { id: "b", n: 400, x: 76 }, { id: "c", n: 400, x: 20 }],
      { leader: "a", winner: null, confidence: [0.6, 0.7], lift: 0.0526 }],
    ["no conversions anywhere", [{ id: "a", n: 100, x: 0 }, { id: "b", n: 100, x: 0 }], { leader: "a", winner: null, confidence: [0.5, 0.5], lift: null }],
  ])("%s", (_, arms, expected) => {
    const v = abVerdict(arms);
    expect({ leader: v.leader, winner: v.winner, lift: v.lift }).toEqual({ leader: expected.leader, winner: expected.winner, lift: expected.lift });
    if (expected.confidence === null) expect(v.confidence).toBeNull();
    else {
      expect(v.confidence).toBeGreaterThanOrEqual(expected.confidence[0]);
      expect(v.confidence).toBeLessThanOrEqual(expected.confidence[1]);
    }
  });
});

describe("targetStage", () => {
  const stages = ["visitor", "lead", "mql", "sql"];
  it.each<[string[] | undefined, string | null]>([
    [["visitor"], "lead"], [["visitor", "lead"], "mql"], [["mql"], "sql"], [["sql"], null], [undefined, null], [["lead", "gone"], "mql"],
  ])("a CTA for %j aims at %s", (ctaStages, target) => {
    expect(targetStage({ stages: ctaStages }, stages)).toBe(target);
  });
});

describe("GET /v1/admin/sites/:site/ctas", () => {
  let site: string;
  interface Stats {
    ctas: { id: string; target: string | null; variants: Record<string, number | string | null>[]; verdict: { leader: string | null; winner: string | null; confidence: number | null; lift: number | null } }[];
  }

  /** Waits until the clock has moved on, so the next batch is recorded strictly later. */
  const tick = async () => {
    const t = Date.now();
    while (Date.now() <= t + 1) await new Promise((r) => setTimeout(r, 1));
  };

  beforeAll(async () => {
    let origin: string;
    ({ site, origin } = await consoleSite("cta"));
    const cta = (type: "cta_impression" | "cta_click" | "cta_dismiss", variant: string) => ({ cta: type, id: "offer", variant });
    // Saw a, clicked, then downloaded the white paper with a work address: converted (form and MQL).
    const v1 = await play(site, origin, [{ identify: "a@helios.example" }, cta("cta_impression", "a"), cta("cta_click", "a")]);
    await tick();
    await play(site, origin, [{ form: "whitepaper" }], v1);
    // Saw a and dismissed it.
    await play(site, origin, [cta("cta_impression", "a"), cta("cta_dismiss", "a")]);
    // Submitted a form, then saw b and clicked: the form came first, so no conversion.
    const v3 = await play(site, origin, [{ form: "whitepaper", email: "c@gmail.com" }]);
    await tick();
    await play(site, origin, [cta("cta_impression", "b"), cta("cta_click", "b")], v3);
    // Saw b twice.
    await play(site, origin, [cta("cta_impression", "b"), cta("cta_impression", "b")]);
  });

  it("counts each variant's impressions, clicks, dismissals and conversions", async () => {
    const s = await getJson<Stats>(`/v1/admin/sites/${site}/ctas?days=1`);
    expect(s.ctas).toHaveLength(1);
    const offer = s.ctas[0]!;
    expect(offer.target).toBe("mql");
    expect(offer.variants).toEqual([
      { id: "a", impressions: 2, viewers: 2, clicks: 1, clickers: 1, dismissals: 1, conversions: 1, ctr: 0.5, conversionRate: 0.5 },
      { id: "b", impressions: 3, viewers: 2, clicks: 1, clickers: 1, dismissals: 0, conversions: 0, ctr: 0.5, conversionRate: 0 },
    ]);
    expect(offer.verdict).toMatchObject({ leader: "a", winner: null });
    expect(offer.verdict.confidence).toBeGreaterThan(0.5);
    expect(offer.verdict.confidence).toBeLessThan(0.95);
  });

  it("counts nothing outside the period", async () => {
    const s = await getJson<Stats>(`/v1/admin/sites/${site}/ctas?from=2020-01-01&to=2020-02-01`);
    expect(s.ctas[0]!.variants.map((v) => v.impressions)).toEqual([0, 0]);
    // Nobody saw them: a rate out of nobody is unknown, not 0.
    expect(s.ctas[0]!.variants.map((v) => [v.ctr, v.conversionRate])).toEqual([[null, null], [null, null]]);
    expect(s.ctas[0]!.verdict.leader).toBeNull();
    expect(s.ctas[0]!.verdict.confidence).toBeNull();
  });

  it("has nothing to compare for a CTA of one variant: no confidence, no winner", async () => {
    const solo = uid("cts").toLowerCase().replace(/_/g, "-").slice(0, 60);
    const origin = `https://${solo}.example`;
    await seedRules({ ...consoleRules(solo, origin), ctas: [{ id: "solo", kind: "banner", stages: ["lead"], variants: [{ id: "a", text: "Get the white paper" }] }] } as { site: { id: string } });
    await play(solo, origin, [{ cta: "cta_impression", id: "solo", variant: "a" }, { cta: "cta_click", id: "solo", variant: "a" }]);
    const s = await getJson<Stats>(`/v1/admin/sites/${solo}/ctas?days=1`);
    expect(s.ctas.map((c) => [c.id, c.variants.length])).toEqual([["solo", 1]]);
    expect(s.ctas[0]!.variants[0]).toMatchObject({ impressions: 1, clicks: 1, ctr: 1, conversionRate: 0 });
    expect(s.ctas[0]!.verdict).toEqual({ leader: "a", confidence: null, winner: null, lift: null });
  });

  it.each([["days=-3", "query.days"], ["from=soon", "query.from"]])("refuses %s naming %s", async (q, field) => {
    const res = await adminFetch(`/v1/admin/sites/${site}/ctas?${q}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorResponse).error.issues?.[0]?.path).toBe(field);
  });
});
