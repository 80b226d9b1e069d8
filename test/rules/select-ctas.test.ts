import { describe, expect, it } from "vitest";
import { pickVariant, type Cta, type RulesInput, type VisitorState } from "../../rules/index.js";
import { DAY_MS, engineWith, event, HOUR_MS, MONDAY, replay } from "./fixtures.js";

type CtaInput = NonNullable<RulesInput["ctas"]>[number];
const variant = (id: string, weight?: number) => (weight === undefined ? { id, text: `Variant ${id}` } : { id, text: `Variant ${id}`, weight });
const cta = (id: string, kind: CtaInput["kind"], more: Partial<CtaInput> = {}): CtaInput =>
  ({ id, kind, variants: [variant("a")], ...(kind === "inline" ? { slot: "hero" } : {}), ...more });

const stages: RulesInput["stages"] = [
  { id: "visitor" },
  { id: "lead", when: { identified: true } },
  { id: "mql", when: { score: "total", gte: 50 } },
];
const engineOf = (ctas: CtaInput[]) => engineWith({ stages, ctas });
const at = (engine: ReturnType<typeof engineOf>, stage: string, visitor = "visitor-1"): VisitorState => ({ ...engine.initialState(visitor), stage });
const shown = (engine: ReturnType<typeof engineOf>, state: VisitorState, path: string, now = MONDAY) => engine.ctas(state, { path }, now).map((d) => d.id);

describe("CTAs by stage", () => {
  const engine = engineOf([
    cta("chat", "banner", { stages: ["visitor", "lead"] }),
    cta("paper", "inline", { slot: "hero", stages: ["visitor"] }),
    cta("demo", "inline", { slot: "side", stages: ["mql"] }),
    cta("everyone", "inline", { slot: "footer" }),
  ]);

  it.each([
    { stage: "visitor", ids: ["chat", "paper", "everyone"] },
    { stage: "lead", ids: ["chat", "everyone"] },
    { stage: "mql", ids: ["demo", "everyone"] },
  ])("a visitor at $stage sees $ids", ({ stage, ids }) => {
    expect(shown(engine, at(engine, stage), "/")).toEqual(ids);
  });
});

describe("CTAs by page", () => {
  const engine = engineOf([cta("plans", "banner", { pages: ["/pricing", "/plans/**"], excludePages: ["/plans/enterprise"] }), cta("not-on-forms", "inline", { excludePages: ["/demo", "/contact/*"] })]);

  it.each([
    { path: "/pricing", ids: ["plans", "not-on-forms"] },
    { path: "/Pricing/", ids: ["plans", "not-on-forms"] },
    { path: "/plans/team/annual", ids: ["plans", "not-on-forms"] },
    { path: "/plans/enterprise", ids: ["not-on-forms"] },
    { path: "/demo", ids: [] },
    { path: "/contact/sales", ids: [] },
    { path: "/contact", ids: ["not-on-forms"] },
    { path: "/blog", ids: ["not-on-forms"] },
  ])("on $path a visitor sees $ids", ({ path, ids }) => {
    expect(shown(engine, at(engine, "visitor"), path)).toEqual(ids);
  });
});

describe("frequency caps", () => {
  const iso = (s: string) => Date.parse(s);
  const impression = (id: string) => event("cta_impression", { element: id });

  it.each<{ name: string; frequency: NonNullable<Cta["frequency"]>; impressions: string[]; checks: [string, boolean][] }>([
    { name: "twice ever", frequency: { times: 2, per: "ever" }, impressions: ["2026-01-05T10:00:00Z", "2026-01-20T10:00:00Z"], checks: [["2026-01-20T11:00:00Z", false], ["2027-06-01T00:00:00Z", false]] },
    { name: "three times ever (two shown so far)", frequency: { times: 3, per: "ever" }, impressions: ["2026-01-05T10:00:00Z", "2026-01-20T10:00:00Z"], checks: [["2026-01-20T11:00:00Z", true]] },
    { name: "twice per day", frequency: { times: 2, per: "day" }, impressions: ["2026-01-05T10:00:00Z", "2026-01-05T12:00:00Z"], checks: [["2026-01-05T23:59:59.999Z", false], ["2026-01-06T00:00:00Z", true]] },
    { name: "once per week", frequency: { times: 1, per: "week" }, impressions: ["2026-01-07T10:00:00Z"], checks: [["2026-01-11T23:59:59.999Z", false], ["2026-01-12T00:00:00Z", true]] },
  ])("a CTA shown at most $name is hidden once its impressions reach the cap, until the next window", ({ frequency, impressions, checks }) => {
    const engine = engineOf([cta("offer", "modal", { frequency })]);
    const { state } = replay(engine, impressions.map((t) => [iso(t), impression("offer")] as const));
    expect(checks.map(([t]) => shown(engine, state, "/", iso(t)).length === 1)).toEqual(checks.map(([, visible]) => visible));
  });

  it("counts only impressions of that CTA", () => {
    const engine = engineOf([cta("offer", "modal", { frequency: { times: 1 } }), cta("other", "inline")]);
    const { state } = replay(engine, [[MONDAY, impression("other")], [MONDAY, impression("unknown-cta")], [MONDAY, event("cta_click", { element: "offer" })]]);
    expect(shown(engine, state, "/")).toEqual(["offer", "other"]);
    expect(Object.keys(state.ctas)).toEqual(["other"]);
  });
});

describe("dismissal", () => {
  const dismissed = (dismissDays: number | undefined, afterMs: number) => {
    const engine = engineOf([cta("offer", "slide_in", dismissDays === undefined ? {} : { dismissDays })]);
    const { state } = replay(engine, [[MONDAY, event("cta_dismiss", { element: "offer" })]]);
    return shown(engine, state, "/", MONDAY + afterMs).length === 0;
  };

  it.each([
    { dismissDays: 7, after: "7 days less 1 ms", ms: 7 * DAY_MS - 1, hidden: true },
    { dismissDays: 7, after: "7 days", ms: 7 * DAY_MS, hidden: false },
    { dismissDays: undefined, after: "29 days", ms: 29 * DAY_MS, hidden: true },
    { dismissDays: undefined, after: "30 days", ms: 30 * DAY_MS, hidden: false },
    { dismissDays: 0, after: "1 ms", ms: 1, hidden: false },
  ])("with dismissDays $dismissDays, a dismissed CTA is hidden after $after: $hidden", ({ dismissDays, ms, hidden }) => {
    expect(dismissed(dismissDays, ms)).toBe(hidden);
  });

  it("is not an impression", () => {
    const engine = engineOf([cta("offer", "slide_in", { frequency: { times: 1 }, dismissDays: 1 })]);
    const { state } = replay(engine, [[MONDAY, event("cta_dismiss", { element: "offer" })]]);
    expect(shown(engine, state, "/", MONDAY + 2 * DAY_MS)).toEqual(["offer"]);
  });
});

describe("how many CTAs at once", () => {
  it.each<{ name: string; ctas: CtaInput[]; ids: string[] }>([
    { name: "one overlay, the highest priority", ctas: [cta("banner", "banner"), cta("modal", "modal", { priority: 5 }), cta("chat", "slide_in", { priority: 2 })], ids: ["modal"] },
    { name: "one overlay, the first of equal priority", ctas: [cta("banner", "banner", { priority: 3 }), cta("modal", "modal", { priority: 3 })], ids: ["banner"] },
    { name: "a negative priority loses to the default", ctas: [cta("low", "modal", { priority: -1 }), cta("normal", "banner")], ids: ["normal"] },
    { name: "one CTA per slot, the highest priority", ctas: [cta("paper", "inline"), cta("demo", "inline", { priority: 1 })], ids: ["demo"] },
    { name: "one CTA per slot, the first of equal priority", ctas: [cta("paper", "inline"), cta("demo", "inline")], ids: ["paper"] },
    { name: "one CTA in each slot", ctas: [cta("paper", "inline", { slot: "hero" }), cta("demo", "inline", { slot: "footer" })], ids: ["paper", "demo"] },
    { name: "an overlay first, then the slots", ctas: [cta("paper", "inline"), cta("chat", "slide_in")], ids: ["chat", "paper"] },
    { name: "an ineligible CTA leaves room for the next", ctas: [cta("mql-only", "modal", { stages: ["mql"], priority: 9 }), cta("banner", "banner")], ids: ["banner"] },
  ])("$name", ({ ctas, ids }) => {
    const engine = engineOf(ctas);
    expect(shown(engine, at(engine, "visitor"), "/")).toEqual(ids);
  });

  it("says the kind, the slot and the variant of each CTA", () => {
    const engine = engineOf([cta("paper", "inline", { slot: "hero" }), cta("chat", "slide_in")]);
    expect(engine.ctas(at(engine, "visitor"), { path: "/" }, MONDAY)).toEqual([
      { id: "chat", kind: "slide_in", variant: { id: "a", text: "Variant a", weight: 1 } },
      { id: "paper", kind: "inline", slot: "hero", variant: { id: "a", text: "Variant a", weight: 1 } },
    ]);
  });
});

describe("A/B variants", () => {
  const visitors = Array.from({ length: 10_000 }, (_, i) => `v-${i.toString(36)}-${((i * 2654435761) >>> 0).toString(16)}`);
  const engine = engineOf([
    cta("ab", "banner", { variants: [variant("a", 1), variant("b", 3)] }),
    cta("abc", "inline", { variants: [variant("a", 1), variant("b", 1), variant("c", 2)] }),
  ]);
  const [ab, abc] = engine.rules.ctas as [Cta, Cta];

  it("a visitor keeps their variant across pages, stages, days and events", () => {
    for (const visitor of visitors.slice(0, 200)) {
      const first = engine.ctas(at(engine, "visitor", visitor), { path: "/" }, MONDAY)[0]!.variant.id;
      const later = replay(engine, [[MONDAY + HOUR_MS, event("page_view", { path: "/x" })]], at(engine, "mql", visitor)).state;
      expect(engine.ctas(later, { path: "/pricing" }, MONDAY + 40 * DAY_MS)[0]!.variant.id).toBe(first);
      expect(pickVariant(ab, visitor).id).toBe(first);
    }
  });

  it("different visitors get different variants", () => {
    expect(new Set(visitors.slice(0, 50).map((v) => pickVariant(ab, v).id))).toEqual(new Set(["a", "b"]));
  });

  it.each([
    { name: "1:3", target: ab, shares: { a: 0.25, b: 0.75 } },
    { name: "1:1:2", target: abc, shares: { a: 0.25, b: 0.25, c: 0.5 } },
  ])("10,000 visitors split close to the weights $name", ({ target, shares }) => {
    const counts: Record<string, number> = {};
    for (const v of visitors) {
      const id = pickVariant(target, v).id;
      counts[id] = (counts[id] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(Object.keys(shares).sort());
    for (const [id, share] of Object.entries(shares)) expect(Math.abs(counts[id]! / visitors.length - share), id).toBeLessThan(0.02);
  });

  it("splits a CTA independently of another CTA's split", () => {
    const both = visitors.filter((v) => pickVariant(ab, v).id === "b" && pickVariant(abc, v).id === "c").length;
    expect(Math.abs(both / visitors.length - 0.75 * 0.5)).toBeLessThan(0.02);
  });
});
