/**
 * Webhook deliveries in the console: the site's messages across visitors, reported to the index by
 * the alarm that delivered them, with dead letters that the replay brings back.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { adminFetch, collectOk, pageView, uid, type ErrorResponse } from "./support/client.js";
import { fireUntil, hookUrl, messages, plan, qualifiedVisitor, qualifyingSite } from "./support/receiver-client.js";
import { consoleSite, getJson } from "./console-support.js";

interface Deliveries {
  totals: Record<string, { messages: number; attempts: number }>;
  deliveries: {
    id: string; visitor: string; webhook: string; target: string; status: string; attempts: number; lastError: string | null;
    stage: string | null; score: { name: string; value: number; threshold: number } | null; nextAt: number | null;
  }[];
}

describe("GET /v1/admin/sites/:site/deliveries", () => {
  it("lists a delivered message, reported by the alarm that delivered it", async () => {
    const { site, origin } = await qualifyingSite(hookUrl(uid("ok")));
    const visitor = await qualifiedVisitor(site, origin);
    const [m] = await fireUntil(site, visitor, (x) => x[0]?.status === "delivered");
    const d = await getJson<Deliveries>(`/v1/admin/sites/${site}/deliveries`);
    expect(d.deliveries).toEqual([expect.objectContaining({ id: m!.id, visitor, webhook: "crm", target: "crm", status: "delivered", attempts: 1, lastError: null, stage: "mql", score: null, nextAt: null })]);
    expect(d.totals).toEqual({ pending: { messages: 0, attempts: 0 }, delivered: { messages: 1, attempts: 1 }, dead: { messages: 0, attempts: 0 } });
  });

  it("lists a dead letter with its error, then the replayed message delivered", async () => {
    const name = uid("dead");
    await plan(name, { status: 400 });
    const { site, origin } = await qualifyingSite(hookUrl(name));
    const visitor = await qualifiedVisitor(site, origin);
    const [m] = await fireUntil(site, visitor, (x) => x[0]?.status === "dead");
    const dead = await getJson<Deliveries>(`/v1/admin/sites/${site}/deliveries?status=dead`);
    expect(dead.deliveries).toEqual([expect.objectContaining({ id: m!.id, status: "dead", attempts: 1 })]);
    expect(dead.deliveries[0]!.lastError).toMatch(/400/);
    expect((await getJson<{ deadLetters: { id: string }[] }>(`/v1/admin/sites/${site}/webhooks/dead`)).deadLetters.map((x) => x.id)).toEqual([m!.id]);

    await plan(name, { status: 204 });
    expect((await adminFetch(`/v1/admin/sites/${site}/visitors/${visitor}/webhooks/${m!.id}/replay`, { method: "POST" })).status).toBe(202);
    await fireUntil(site, visitor, (x) => x[0]?.status === "delivered");
    const after = await getJson<Deliveries>(`/v1/admin/sites/${site}/deliveries`);
    // A replay starts a fresh retry schedule: the count is of this round's tries.
    expect(after.deliveries).toEqual([expect.objectContaining({ id: m!.id, status: "delivered", attempts: 1, lastError: null })]);
    expect((await getJson<Deliveries>(`/v1/admin/sites/${site}/deliveries?status=dead`)).deliveries).toEqual([]);
  });

  it("tells a lead's messages apart by what they report (MQL, SQL, a score), and when a pending one is tried next", async () => {
    const name = uid("busy");
    await plan(name, { status: 503 });
    const { site, origin } = await qualifyingSite(hookUrl(name), {}, {
      stages: [{ id: "visitor" }, { id: "mql", when: { score: "total", gte: 50 } }, { id: "sql", when: { score: "total", gte: 100 } }],
      webhooks: [{ id: "crm", target: "crm", on: { stageEntered: ["mql", "sql"] } }, { id: "hot", target: "crm", on: { scoreReached: { score: "total", value: 150 } } }],
    });
    const visitor = await qualifiedVisitor(site, origin);
    await collectOk(visitor, [pageView("/demo", {}, origin)], { site, origin });
    await collectOk(visitor, [pageView("/contact", {}, origin)], { site, origin });
    await fireUntil(site, visitor, (x) => x.length === 3 && x[0]!.attempts >= 1);
    const inObject = await messages(site, visitor);
    const d = await getJson<Deliveries>(`/v1/admin/sites/${site}/deliveries`);
    const about = (id: string) => d.deliveries.find((x) => x.id === id)!;
    expect(inObject.map((m) => [about(m.id).webhook, about(m.id).stage, about(m.id).score])).toEqual([
      ["crm", "mql", null], ["crm", "sql", null], ["hot", null, { name: "total", value: 150, threshold: 150 }],
    ]);
    // Every message is pending (the target answers 503): each with the time the object will try it next.
    for (const m of inObject) {
      expect(about(m.id).status).toBe("pending");
      expect(about(m.id).nextAt).toBe(m.nextAt);
    }
    expect(about(inObject[0]!.id).nextAt).toBeGreaterThan(inObject[0]!.tries[0]!.at);
  });

  it("adds what a message reports to an index created before it was kept", async () => {
    const db = env.INDEX!;
    await db.batch([
      db.prepare("DROP TABLE deliveries"),
      db.prepare(`CREATE TABLE deliveries (site TEXT NOT NULL, id TEXT NOT NULL, visitor TEXT NOT NULL, webhook TEXT NOT NULL, target TEXT NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL, created_at INTEGER NOT NULL, last_error TEXT, PRIMARY KEY (site, id))`),
    ]);
    const { site, origin } = await qualifyingSite(hookUrl(uid("old")));
    await db.prepare("INSERT INTO deliveries VALUES (?, 'msg_old', 'v_old', 'crm', 'crm', 'pending', 1, ?, NULL)").bind(site, Date.now() - 1000).run();
    const visitor = await qualifiedVisitor(site, origin);
    const [m] = await fireUntil(site, visitor, (x) => x[0]?.status === "delivered");
    const d = await getJson<Deliveries>(`/v1/admin/sites/${site}/deliveries`);
    expect(d.deliveries.map((x) => [x.id, x.stage, x.nextAt])).toEqual([[m!.id, "mql", null], ["msg_old", null, null]]);
  });

  it.each([["status=lost", "query.status"], ["limit=0", "query.limit"], ["days=0", "query.days"]])("refuses %s naming %s", async (q, field) => {
    const { site } = await consoleSite("whq");
    const res = await adminFetch(`/v1/admin/sites/${site}/deliveries?${q}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorResponse).error.issues?.[0]?.path).toBe(field);
  });

  it("refuses to list without the admin token", async () => {
    expect((await SELF.fetch("https://edge.test/v1/admin/sites/demo/deliveries")).status).toBe(401);
  });
});
