import { describe, expect, it } from "vitest";
import saas40 from "../../rules/examples/saas-40.json" with { type: "json" };
import { compileCondition } from "../../rules/compile-condition.js";
import { compileDispatch, pathSegments, requiredProperties } from "../../rules/compile-dispatch.js";
import { emptyState, parseRules, type Condition, type EngineEvent, type Rule } from "../../rules/index.js";
import { prng } from "./fixtures.js";

const glob = (g: string | string[]): Condition => ({ field: "path", glob: g });

describe("the first path segments a condition needs", () => {
  it.each<{ name: string; when: Condition; segments: string[] | null }>([
    { name: "a literal path", when: glob("/pricing"), segments: ["pricing"] },
    { name: "a literal path with a trailing slash", when: glob("/pricing/"), segments: ["pricing"] },
    { name: "one segment under", when: glob("/pricing/*"), segments: ["pricing"] },
    { name: "anything under, in capitals", when: glob("/Pricing/**"), segments: ["pricing"] },
    { name: "the root", when: glob("/"), segments: [""] },
    { name: "several globs", when: glob(["/compare/*", "/alternatives/*"]), segments: ["compare", "alternatives"] },
    { name: "a wildcard in the first segment", when: glob("/pri*"), segments: null },
    { name: "a ? in the first segment", when: glob("/pric?ng/x"), segments: null },
    { name: "a wildcard first", when: glob("/*/pricing"), segments: null },
    { name: "a whole-path wildcard", when: glob("**"), segments: null },
    { name: "a relative glob", when: glob("pricing"), segments: null },
    { name: "a segment beyond ASCII", when: glob("/café/*"), segments: null },
    { name: "one glob of a list open", when: glob(["/pricing", "*"]), segments: null },
    { name: "path compared with eq (toLowerCase can fold beyond ASCII)", when: { field: "path", eq: "/pricing" }, segments: null },
    { name: "path startsWith", when: { field: "path", startsWith: "/pricing" }, segments: null },
    { name: "another field", when: { field: "url", glob: "/pricing" }, segments: null },
    { name: "all: the narrowest part", when: { all: [glob(["/a", "/b"]), { field: "landing", eq: true }, glob("/a/*")] }, segments: ["a"] },
    { name: "all with no path part", when: { all: [{ field: "landing", eq: true }] }, segments: null },
    { name: "any: every part's", when: { any: [glob("/a"), glob(["/b/*", "/c"])] }, segments: ["a", "b", "c"] },
    { name: "any with a part open", when: { any: [glob("/a"), { field: "landing", eq: true }] }, segments: null },
    { name: "not", when: { not: glob("/a") }, segments: null },
  ])("$name: $segments", ({ when, segments }) => {
    const got = pathSegments(when);
    expect(got === null ? null : [...got].sort()).toEqual(segments === null ? null : [...segments].sort());
  });
});

describe("the event properties a condition needs", () => {
  it.each<{ name: string; when: Condition; properties: string[] }>([
    { name: "a field of the event", when: { field: "country", in: ["FR"] }, properties: ["country"] },
    { name: "utm from the query", when: { field: "utm.source", eq: "linkedin" }, properties: ["query"] },
    { name: "a query value", when: { field: "query.ref", exists: true }, properties: ["query"] },
    { name: "the referrer host", when: { field: "referrer.host", eq: "g2.com" }, properties: ["referrerHost"] },
    { name: "the form id", when: { field: "form.id", eq: "demo" }, properties: ["form"] },
    { name: "form fields", when: { field: "fields.job_title", contains: "vp" }, properties: ["fields"] },
    { name: "props", when: { field: "props.seats", gte: 100 }, properties: ["props"] },
    { name: "a flag equal to false", when: { field: "landing", eq: false }, properties: ["landing"] },
    { name: "exists false holds without it", when: { field: "referrer", exists: false }, properties: [] },
    { name: "the email, which the visitor may carry", when: { field: "email.kind", eq: "corporate" }, properties: [] },
    { name: "traits, which the visitor may carry", when: { field: "traits.plan", eq: "pro" }, properties: [] },
    { name: "the type every event has", when: { field: "type", eq: "page_view" }, properties: [] },
    { name: "all: every part's", when: { all: [{ field: "landing", eq: true }, { field: "visit", gte: 2 }] }, properties: ["landing", "visit"] },
    { name: "any: what every part needs", when: { any: [{ field: "utm.source", eq: "x" }, { field: "query.ref", exists: true }] }, properties: ["query"] },
    { name: "any: nothing in common", when: { any: [{ field: "utm.source", eq: "x" }, { field: "landing", eq: true }] }, properties: [] },
    { name: "not", when: { not: { field: "landing", eq: true } }, properties: [] },
  ])("$name: $properties", ({ when, properties }) => {
    expect([...requiredProperties(when)].sort()).toEqual([...properties].sort());
  });
});

describe("the rules picked for an event", () => {
  const parsed = parseRules(saas40);
  if (!parsed.ok) throw new Error("saas-40 is invalid");
  const extra: Rule[] = [
    { id: "kelvin", on: "page_view", when: { field: "path", eq: "/\u212a" }, points: 1, group: "engagement", enabled: true },
    { id: "root", on: "page_view", when: glob("/"), points: 1, group: "engagement", enabled: true },
    { id: "not-blog", on: "page_view", when: { not: glob("/blog/**") }, points: 1, group: "engagement", enabled: true },
    { id: "no-referrer", on: "page_view", when: { field: "referrer", exists: false }, points: 1, group: "engagement", enabled: true },
    { id: "utm-or-landing", on: "page_view", when: { any: [{ field: "utm.source", exists: true }, { field: "landing", eq: true }] }, points: 1, group: "engagement", enabled: true },
  ];
  const rules = [...parsed.rules.rules, ...extra].filter((r) => r.on === "page_view" || (Array.isArray(r.on) && r.on.includes("page_view")));
  const tests = new Map(rules.map((r) => [r, r.when === undefined ? null : compileCondition(r.when)]));
  const dispatch = compileDispatch(rules, (r) => r.when)!;
  const state = emptyState("v", "visitor", ["fit", "engagement"]);
  const holding = (e: EngineEvent) => rules.filter((r) => tests.get(r) === null || tests.get(r)!(e, state)).map((r) => r.id);
  const picked = (e: EngineEvent) => dispatch.rulesFor(e).map((r) => r.id);
  const view = (fields: Partial<EngineEvent>): EngineEvent => ({ id: "evt-00000001", type: "page_view", ...fields });

  const paths: unknown[] = [
    "/pricing", "/PRICING", "/pricing/", "/Pricing/Team", "/pricing//", "/pricing/team/annual", "/pri", "/pricingx", "/prıcing", "/pricing\n",
    "/blog", "/blog/", "/Blog/2026/x", "/careers", "/CAREERS/eng", "/trust/soc2", "/security/", "/\u212a", "/k", "/", "//", "", "pricing",
    "/compare/hubspot", "/alternatives/x/", "/app/dashboard", "/login", undefined, 42, null,
  ];
  const extras: Partial<EngineEvent>[] = [
    {},
    { landing: true, visit: 2, country: "FR" },
    { landing: true, visit: 1, country: "US", query: { utm_medium: "CPC", utm_source: "LinkedIn", utm_campaign: "ABM-q4" } },
    { query: { ref: "agency" }, referrerHost: "www.G2.com" },
    { landing: false, referrer: "https://x.example/" },
  ];

  it.each(paths.flatMap((path) => extras.map((more) => ({ path, more }))))("path $path with $more: every rule that holds, in order", ({ path, more }) => {
    const e = view({ ...more, path: path as string });
    const got = picked(e);
    expect(got.filter((id) => holding(e).includes(id))).toEqual(holding(e));
    expect(rules.map((r) => r.id).filter((id) => got.includes(id))).toEqual(got);
  });

  it("holds for random events too", () => {
    const rand = prng(5);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    for (let i = 0; i < 3000; i++) {
      const e = view({ path: pick(paths) as string, ...pick(extras), ...(rand() < 0.3 ? { referrerHost: pick(["g2.com", "www.capterra.com", "example.com"]) } : {}) });
      const got = picked(e);
      expect(got.filter((id) => holding(e).includes(id))).toEqual(holding(e));
    }
  });

  it.each([
    { name: "a blog page", e: view({ path: "/blog/2026/x" }), left: ["pricing", "pricing-plan", "careers", "security", "paid-campaign", "served-country", "return-visit", "review-site"] },
    { name: "a pricing page", e: view({ path: "/Pricing" }), left: ["blog", "docs", "case-study", "paid-campaign", "abm-campaign"] },
    { name: "a page without a path", e: view({}), left: ["pricing", "blog", "root"] },
  ])("leaves out the rules that cannot hold on $name", ({ e, left }) => {
    const got = picked(e);
    for (const id of left) expect(got).not.toContain(id);
    expect(got).toContain("page-view");
  });

  it("is not needed when no condition names a segment or a property", () => {
    expect(compileDispatch([{ when: { field: "email.kind", eq: "free" } as Condition }, { when: undefined }], (r) => r.when)).toBeNull();
  });
});
