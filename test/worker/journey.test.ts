import { beforeAll, describe, expect, it } from "vitest";
import { adminFetch, collect, pageView, seedRules, uid } from "./support/client.js";

beforeAll(() => seedRules());

describe("a visitor's journey through the demo rules", () => {
  it("reaches MQL after the white paper, then SQL on a demo request, with every point explained", async () => {
    const visitor = uid("v");
    const steps = [
      [pageView("/")],
      [pageView("/pricing")],
      [pageView("/pricing")],
      [pageView("/customers/acme-logistics")],
      [pageView("/resources/lead-scoring-benchmark")],
    ];
    for (const batch of steps) expect((await collect(visitor, batch)).status).toBe(200);

    const form = {
      id: uid("ev"), type: "form_submit", ts: Date.now(), url: "http://127.0.0.1:8787/resources/lead-scoring-benchmark",
      form: { id: "whitepaper" }, fields: { job_title: "Marketing Director" }, email: "jane@acme-logistics.example",
    };
    const mql = await collect(visitor, [form], { page: "/pricing" });
    const body = (await mql.json()) as { ack: string[]; visitor: { stage: string; score: Record<string, number> }; actions: { id: string }[] };
    expect(body.ack).toEqual([form.id]);
    expect(body.visitor.stage).toBe("mql");
    expect(body.visitor.score).toMatchObject({ fit: 25, engagement: 40, total: 65 });
    expect(body.actions.map((a) => a.id)).toEqual(["demo-offer", "hero-demo"]);

    const demo = { ...form, id: uid("ev"), url: "http://127.0.0.1:8787/demo", form: { id: "demo-request" } };
    const sql = (await (await collect(visitor, [demo], { page: "/demo" })).json()) as { visitor: { stage: string } };
    expect(sql.visitor.stage).toBe("sql");

    const res = await adminFetch(`/v1/admin/sites/demo/visitors/${visitor}`);
    expect(res.status).toBe(200);
    const snap = (await res.json()) as {
      stage: string;
      identity: { email: string; kind: string };
      explanation: { rules: { rule: string; times: number; points: number }[]; stages: { to: string; reason: string }[] };
      outbox: { webhook: string }[];
    };
    expect(snap.stage).toBe("sql");
    expect(snap.identity).toMatchObject({ email: "jane@acme-logistics.example", kind: "corporate" });
    const byRule = Object.fromEntries(snap.explanation.rules.map((r) => [r.rule, [r.times, r.points]]));
    expect(byRule).toEqual({
      "page-view": [5, 5], pricing: [2, 20], "case-study": [1, 5], "white-paper": [1, 10],
      "corporate-email": [1, 15], "decision-maker": [1, 10], "demo-request": [1, 40],
    });
    expect(snap.explanation.stages.map((s) => s.to)).toEqual(["mql", "sql"]);
    expect(snap.explanation.stages[0]!.reason).toContain("total 65 >= 50");
    expect(snap.explanation.stages[1]!.reason).toContain("Requested a demo");
    expect(snap.outbox.map((o) => o.webhook)).toEqual(["crm-qualified", "crm-qualified"]);
  });
});
