import { describe, expect, it } from "vitest";
import demo from "../../rules/demo.json" with { type: "json" };
import { parseRules, type EngineEvent } from "../../rules/index.js";
import { engineFor, event, MONDAY, pageView, replay } from "./fixtures.js";

const MINUTE_MS = 60_000;
const engine = engineFor(demo);
const minutes = (...steps: [number, EngineEvent][]) => steps.map(([m, e]) => [MONDAY + m * MINUTE_MS, e] as const);

describe("rules/demo.json", () => {
  it("is a valid rules document", () => {
    const result = parseRules(demo);
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  describe("a prospect who reads, downloads the white paper, then asks for a demo", () => {
    const whitePaper = event("form_submit", {
      path: "/resources/lead-scoring-benchmark",
      form: { id: "whitepaper" },
      email: "jo.martin@acme-industries.example",
      fields: { job_title: "Director of Marketing" },
    });
    const journey = replay(engine, minutes(
      [0, pageView("/", { landing: true, visit: 1 })],
      [2, pageView("/pricing")],
      [5, pageView("/customers/globex")],
      [8, pageView("/pricing")],
      [15, whitePaper],
    ));
    const qualifiedAt = MONDAY + 15 * MINUTE_MS;

    it("is a marketing-qualified lead after the white paper, having skipped lead", () => {
      expect(journey.state.stage).toBe("mql");
      expect(journey.transitions).toEqual([
        { from: "visitor", to: "mql", at: qualifiedAt, event: whitePaper.id, reason: "total 64 >= 50 and identified as jo.martin@acme-industries.example", skipped: ["lead"] },
      ]);
    });

    it("scores 25 for fit and 39 for engagement", () => {
      expect(engine.scores(journey.state, qualifiedAt)).toEqual({ fit: 25, engagement: 39, total: 64 });
    });

    it("explains every point", () => {
      const explained = engine.explain(journey.state, journey.ledger, qualifiedAt);
      expect(explained.rules.map((r) => [r.description, r.times, r.now])).toEqual([
        ["Viewed pricing", 2, 20],
        ["Corporate email address", 1, 15],
        ["Downloaded the white paper", 1, 10],
        ["Decision-making job title", 1, 10],
        ["Read a case study", 1, 5],
        ["Viewed a page", 4, 4],
      ]);
      expect(explained.entries.map((e) => e.reason)).toContain("Downloaded the white paper (whitepaper)");
      expect(explained.stages.map((s) => s.reason)).toEqual(["total 64 >= 50 and identified as jo.martin@acme-industries.example"]);
    });

    it("tells the CRM it qualified", () => {
      expect(journey.webhooks).toEqual([
        { webhook: "crm-qualified", target: "crm", trigger: "stage_entered", stage: "mql", event: whitePaper.id, at: qualifiedAt, key: `${whitePaper.id}:crm-qualified:mql` },
      ]);
    });

    it("is offered a demo, not the white paper again", () => {
      expect(engine.ctas(journey.state, { path: "/pricing" }, qualifiedAt).map((c) => c.id)).toEqual(["demo-offer", "hero-demo"]);
      expect(engine.ctas(journey.state, { path: "/demo" }, qualifiedAt).map((c) => c.id)).toEqual(["hero-demo"]);
    });

    const demoRequest = event("form_submit", { path: "/demo", form: { id: "demo-request" }, email: "jo.martin@acme-industries.example" });
    const requested = replay(engine, minutes([30, demoRequest]), journey.state);

    it("is sales-qualified by the demo request, with a reason a salesperson can read", () => {
      expect(requested.state.stage).toBe("sql");
      expect(requested.transitions.map((t) => [t.from, t.to, t.reason])).toEqual([["mql", "sql", "signal Requested a demo"]]);
      // Engagement halves every 60 days: half an hour already shows at 0.01.
      expect(engine.scores(requested.state, MONDAY + 30 * MINUTE_MS)).toEqual({ fit: 25, engagement: 78.99, total: 103.99 });
      expect(requested.webhooks.map((w) => [w.stage, w.key])).toEqual([["sql", `${demoRequest.id}:crm-qualified:sql`]]);
    });

    it("earns no second fit bonus for the same email", () => {
      expect(requested.ledger.map((e) => e.rule)).toEqual(["demo-request"]);
    });

    it("goes back to lead on unsubscribing", () => {
      const { state, ledger } = replay(engine, minutes([60, event("custom", { name: "unsubscribe" })]), requested.state);
      expect(state.stage).toBe("lead");
      expect(ledger.map((e) => [e.rule, e.points])).toEqual([["unsubscribe", -20]]);
    });
  });

  it("a free-mail visitor who looks at careers does not qualify", () => {
    const { state, transitions, webhooks } = replay(engine, minutes(
      [0, pageView("/", { landing: true, visit: 1 })],
      [3, pageView("/careers/senior-engineer")],
      [6, event("identify", { email: "sam.lee@gmail.com", traits: { job_title: "Software engineer" } })],
      [9, pageView("/pricing")],
    ));
    expect(state.stage).toBe("lead");
    expect(transitions.map((t) => t.to)).toEqual(["lead"]);
    expect(webhooks).toEqual([]);
    expect(engine.scores(state, MONDAY + 9 * MINUTE_MS)).toEqual({ fit: -10, engagement: 3, total: -7 });
  });

  it.each<{ name: string; events: [number, EngineEvent][]; scores: Record<string, number>; stage: string }>([
    { name: "pricing counts three times at most", events: [1, 2, 3, 4].map((m) => [m, pageView("/pricing")]), scores: { fit: 0, engagement: 34, total: 34 }, stage: "visitor" },
    { name: "a return visit from a paid campaign", events: [[0, pageView("/", { landing: true, visit: 2, query: { utm_medium: "CPC" } })]], scores: { fit: 0, engagement: 9, total: 9 }, stage: "visitor" },
    { name: "blog articles count five times a week", events: [1, 2, 3, 4, 5, 6].map((m) => [m, pageView(`/blog/2026/post-${m}`)]), scores: { fit: 0, engagement: 16, total: 16 }, stage: "visitor" },
    { name: "a competitor who identifies", events: [[0, event("identify", { email: "kim@rival-analytics.example" })]], scores: { fit: -35, engagement: 0, total: -35 }, stage: "lead" },
    { name: "a big company in a served country", events: [[0, event("identify", { email: "a@globex.example", traits: { company_size: "1,000+", country: "de", job_title: "VP Sales" } })]], scores: { fit: 40, engagement: 0, total: 40 }, stage: "lead" },
    { name: "contacting sales", events: [[0, event("form_submit", { form: { id: "contact-sales" }, email: "a@globex.example" })]], scores: { fit: 15, engagement: 30, total: 45 }, stage: "sql" },
  ])("$name: $scores.total points, stage $stage", ({ events, scores, stage }) => {
    const { state } = replay(engine, minutes(...events));
    expect(engine.scores(state, MONDAY + 10 * MINUTE_MS)).toEqual(scores);
    expect(state.stage).toBe(stage);
  });
});
