/**
 * `GET /v1/admin/sites/:site/deliveries`: the site's webhook messages across visitors, from the
 * index (each visitor object reports its outbox there after delivering), each with what it reports
 * (`stage` entered, or `score` reached) and, while pending, when it is tried next (`nextAt`). A message's every try
 * and the replay of a dead letter stay with the visitor's own endpoints
 * (`GET .../visitors/:id/webhooks`, `POST .../visitors/:id/webhooks/:msg/replay`), which the console calls.
 */
import { Hono } from "hono";
import type { Env } from "../env.js";
import { index } from "./db.js";
import { queryEnum, queryInt, queryPeriod, siteEngine } from "./params.js";

/** Most messages listed at once. */
export const DELIVERIES_PAGE_MAX = 200;

export const deliveries = new Hono<{ Bindings: Env }>();

/** The score a message reports (`{ name, value, threshold }`, kept as JSON), or null for a stage change. */
function scoreOf(text: unknown): { name: string; value: number; threshold: number } | null {
  if (typeof text !== "string") return null;
  try {
    return JSON.parse(text) as { name: string; value: number; threshold: number };
  } catch {
    return null;
  }
}

deliveries.get("/v1/admin/sites/:site/deliveries", async (c) => {
  const { site } = await siteEngine(c);
  const { from, to } = queryPeriod(c, 30);
  const status = queryEnum(c, "status", ["pending", "delivered", "dead"] as const);
  const limit = queryInt(c, "limit", 1, DELIVERIES_PAGE_MAX, 100);
  const db = index(c.env);
  const where = `d.site = ? AND d.created_at >= ? AND d.created_at < ?${status ? " AND d.status = ?" : ""}`;
  const binds = [site, from, to, ...(status ? [status] : [])];
  const [rows, totals] = await db.run(() => Promise.all([
    db.d1.prepare(`SELECT d.id, d.visitor, d.webhook, d.target, d.status, d.attempts, d.created_at, d.last_error, d.stage, d.score, d.next_at, l.email
      FROM deliveries d LEFT JOIN leads l ON l.site = d.site AND l.visitor = d.visitor WHERE ${where} ORDER BY d.created_at DESC, d.id LIMIT ?`).bind(...binds, limit).all(),
    db.d1.prepare(`SELECT d.status, count(*) AS n, sum(d.attempts) AS attempts FROM deliveries d WHERE d.site = ? AND d.created_at >= ? AND d.created_at < ? GROUP BY d.status`).bind(site, from, to).all(),
  ]));
  const byStatus: Record<string, { messages: number; attempts: number }> = { pending: { messages: 0, attempts: 0 }, delivered: { messages: 0, attempts: 0 }, dead: { messages: 0, attempts: 0 } };
  for (const t of totals.results) byStatus[String(t.status)] = { messages: Number(t.n), attempts: Number(t.attempts ?? 0) };
  return c.json({
    site, from, to, totals: byStatus,
    deliveries: rows.results.map((r) => ({
      id: String(r.id), visitor: String(r.visitor), email: r.email ?? null, webhook: String(r.webhook), target: String(r.target),
      status: String(r.status), attempts: Number(r.attempts), createdAt: Number(r.created_at), lastError: r.last_error ?? null,
      stage: r.stage ?? null, score: scoreOf(r.score), nextAt: r.status === "pending" && r.next_at !== null ? Number(r.next_at) : null,
    })),
  });
});
