/**
 * The answer carries the CTAs to show now on the page: filtered by the visitor's stage and the
 * page, under each CTA's frequency cap, and hidden once dismissed (demo rules).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { parseRules, pickVariant } from "../../rules/index.js";
import { collectOk, demoRules, event, ORIGIN, pageView, seedRules, uid, type CollectResponse } from "./support/client.js";

beforeAll(() => seedRules());

const parsed = parseRules(demoRules);
if (!parsed.ok) throw new Error("the demo rules are invalid");
const demo = parsed.rules;

const identify = (email: string) => event("identify", { email });
const form = (id: string) => event("form_submit", { url: `${ORIGIN}/contact`, form: { id }, email: "jane@acme-logistics.example", fields: { job_title: "Director" } });
const impression = (cta: string, variant = "a") => event("cta_impression", { element: cta, props: { variant } });
const dismiss = (cta: string, variant = "a") => event("cta_dismiss", { element: cta, props: { variant } });

/** Brings a new visitor to a stage of the demo rules. */
async function visitorAt(stage: "visitor" | "lead" | "mql" | "sql"): Promise<string> {
  const visitor = uid("v");
  const steps: Record<typeof stage, object[]> = {
    visitor: [pageView("/")],
    lead: [pageView("/"), identify("jane@gmail.com")],
    // 3 pricing views (33) + white paper (10) + corporate email (15) + decision maker (10) = 68 >= 50, identified.
    mql: [pageView("/pricing"), pageView("/pricing"), pageView("/pricing"), form("whitepaper")],
    sql: [pageView("/"), form("demo-request")],
  };
  const res = await collectOk(visitor, steps[stage]);
  expect(res.visitor.stage).toBe(stage);
  return visitor;
}

const ids = (res: CollectResponse) => res.actions.map((a) => a.id);

describe("CTAs in the answer", () => {
  it.each([
    ["visitor", "/pricing", ["pricing-chat", "hero-whitepaper"]],
    ["visitor", "/", ["hero-whitepaper"]],
    ["visitor", "/pricing/enterprise", ["hero-whitepaper"]],
    ["lead", "/pricing", ["pricing-chat", "hero-whitepaper"]],
    ["lead", "/blog/scoring", ["hero-whitepaper"]],
    ["mql", "/pricing", ["demo-offer", "hero-demo"]],
    ["mql", "/", ["demo-offer", "hero-demo"]],
    ["mql", "/demo", ["hero-demo"]],
    ["mql", "/contact", ["hero-demo"]],
    ["sql", "/", ["sql-thanks"]],
    ["sql", "/pricing", ["sql-thanks"]],
  ] as const)("for a %s on %s: %j", async (stage, page, expected) => {
    const visitor = await visitorAt(stage);
    const res = await collectOk(visitor, [pageView(page)], { page });
    expect(ids(res)).toEqual(expected);
  });

  it("are for the last page viewed in the batch when the request names no page", async () => {
    const visitor = uid("v");
    expect(ids(await collectOk(visitor, [pageView("/"), pageView("/pricing")]))).toEqual(["pricing-chat", "hero-whitepaper"]);
    expect(ids(await collectOk(visitor, [pageView("/pricing"), pageView("/")]))).toEqual(["hero-whitepaper"]);
    // No page view in the batch: the last page the visitor was seen on.
    expect(ids(await collectOk(visitor, [pageView("/pricing"), event("custom", { name: "scroll" })]))).toEqual(["pricing-chat", "hero-whitepaper"]);
    expect(ids(await collectOk(visitor, [event("custom", { name: "scroll" })]))).toEqual(["pricing-chat", "hero-whitepaper"]);
  });

  it.each([
    [`${ORIGIN}/pricing?utm_source=x`, ["pricing-chat", "hero-whitepaper"]],
    [`${ORIGIN}/app#/pricing`, ["pricing-chat", "hero-whitepaper"]],
    [`${ORIGIN}/app#section`, ["hero-whitepaper"]],
  ])("are for the path of a page named by its URL (%s), a hash route's included", async (page, expected) => {
    expect(ids(await collectOk(uid("v"), [event("custom", { name: "scroll" })], { page }))).toEqual(expected);
  });

  it("carry the visitor's variant, the same on every answer, rendered from the rules", async () => {
    const visitor = await visitorAt("mql");
    const first = await collectOk(visitor, [pageView("/")], { page: "/" });
    const offer = first.actions.find((a) => a.id === "demo-offer")!;
    const cta = demo.ctas.find((c) => c.id === "demo-offer")!;
    const variant = pickVariant(cta, visitor);
    expect(offer).toEqual({ id: "demo-offer", kind: "slide_in", variant });
    expect(first.actions.find((a) => a.id === "hero-demo")).toMatchObject({ kind: "inline", slot: "hero" });
    const second = await collectOk(visitor, [pageView("/pricing")], { page: "/pricing" });
    expect(second.actions.find((a) => a.id === "demo-offer")!.variant.id).toBe(variant.id);
  });

  it("stop once the CTA's frequency cap of impressions is reached", async () => {
    const visitor = await visitorAt("visitor");
    const page = { page: "/pricing" };
    // pricing-chat: at most 2 impressions a day.
    expect(ids(await collectOk(visitor, [pageView("/pricing")], page))).toContain("pricing-chat");
    const once = await collectOk(visitor, [impression("pricing-chat")], page);
    expect(ids(once)).toContain("pricing-chat");
    const twice = await collectOk(visitor, [impression("pricing-chat")], page);
    expect(ids(twice)).toEqual(["hero-whitepaper"]);
    expect(ids(await collectOk(visitor, [pageView("/pricing")], page))).toEqual(["hero-whitepaper"]);
    // Impressions are not worth points.
    expect(twice.visitor.score.total).toBe(once.visitor.score.total);
  });

  it("stop after one impression for a CTA shown once ever", async () => {
    const visitor = await visitorAt("sql");
    expect(ids(await collectOk(visitor, [impression("sql-thanks")], { page: "/" }))).toEqual([]);
  });

  it("hide a dismissed CTA and keep the others", async () => {
    const visitor = await visitorAt("visitor");
    const page = { page: "/pricing" };
    expect(ids(await collectOk(visitor, [dismiss("hero-whitepaper")], page))).toEqual(["pricing-chat"]);
    expect(ids(await collectOk(visitor, [pageView("/pricing")], page))).toEqual(["pricing-chat"]);
    expect(ids(await collectOk(visitor, [dismiss("pricing-chat")], page))).toEqual([]);
  });

  it("ignore impressions and dismissals of CTAs the rules do not have", async () => {
    const visitor = await visitorAt("visitor");
    const res = await collectOk(visitor, [impression("no-such-cta"), dismiss("hero-demo-x"), impression("pricing-chat-2")], { page: "/pricing" });
    expect(ids(res)).toEqual(["pricing-chat", "hero-whitepaper"]);
  });

  it("are empty when nothing targets the stage and page", async () => {
    const visitor = await visitorAt("visitor");
    await collectOk(visitor, [dismiss("hero-whitepaper")]);
    expect(ids(await collectOk(visitor, [pageView("/careers/engineer")], { page: "/careers/engineer" }))).toEqual([]);
  });
});
