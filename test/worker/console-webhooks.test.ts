/**
 * Webhook deliveries in the console: the site's messages across visitors, reported to the index by
 * the alarm that delivered them, with dead letters that the replay brings back.
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { adminFetch, uid, type ErrorResponse } from "./support/client.js";
import { fireUntil, hookUrl, plan, qualifiedVisitor, qualifyingSite } from "./support/receiver-client.js";
import { consoleSite, getJson } from "./console-support.js";

interface Deliveries {
  totals: Record<string, { messages: number; attempts: number }>;
  deliveries: { id: string; visitor: string; webhook: string; target: string; status: string; attempts: number; lastError: string | null }[];
}

describe("GET /v1/admin/sites/:site/deliveries", () => {
  it("lists a delivered message, reported by the alarm that delivered it", async () => {
    const { site, origin } = await qualifyingSite(hookUrl(uid("ok")));
    const visitor = await qualifiedVisitor(site, origin);
    const [m] = await fireUntil(site, visitor, (x) => x[0]?.status === "delivered");
    const d = await getJson<Deliveries>(`/v1/admin/sites/${site}/deliveries`);
    expect(d.deliveries).toEqual([expect.objectContaining({ id: m!.id, visitor, webhook: "crm", target: "crm", status: "delivered", attempts: 1, lastError: null })]);
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
