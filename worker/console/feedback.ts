/**
 * Sales feedback: sales accept or reject an MQL or SQL, from the console or from the CRM with the
 * admin token (`POST /v1/admin/sites/:site/feedback`, by visitor id or email), and the console
 * shows each rule's precision so marketing and sales tune the model together.
 *
 * The rules that gave the lead points are kept with the verdict: precision reflects what the
 * lead looked like when sales judged it, not after later rule changes.
 */
import { Hono } from "hono";
import * as z from "zod/mini";
import type { Engine } from "../../rules/index.js";
import type { Env } from "../env.js";
import { ApiError } from "../errors.js";
import { index } from "./db.js";
import { ID, jsonBody, queryPeriod, siteEngine, VISITOR_ID } from "./params.js";
import { latestPerLead, rulePrecision, type Judged } from "./precision.js";

/** Largest feedback body. */
export const FEEDBACK_BODY_MAX_BYTES = 4096;

const FeedbackSchema = z.strictObject({
  visitor: z.optional(z.string().check(z.regex(VISITOR_ID, "expected a visitor id: 8-64 letters, digits, _ or -"))),
  email: z.optional(z.string().check(z.maxLength(254), z.regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, "expected an email address"))),
  verdict: z.enum(["accepted", "rejected"]),
  stage: z.optional(z.string().check(z.regex(ID, "expected a stage id"))),
  reason: z.optional(z.string().check(z.maxLength(500))),
  by: z.optional(z.string().check(z.maxLength(100))),
});

/** The stages sales judge: MQL and every later one (or the last stage when there is no "mql"). */
export function judgedStages(engine: Engine): string[] {
  const ids = engine.rules.stages.map((s) => s.id);
  const from = ids.indexOf("mql");
  return ids.slice(from >= 0 ? from : ids.length - 1);
}

export const feedback = new Hono<{ Bindings: Env }>();

feedback.post("/v1/admin/sites/:site/feedback", async (c) => {
  const { site, engine } = await siteEngine(c);
  const body = await jsonBody(c, FeedbackSchema, FEEDBACK_BODY_MAX_BYTES);
  if (body.visitor !== undefined && body.email !== undefined) {
    throw new ApiError(400, "invalid_body", "$.visitor: give the visitor id or the email, not both", [{ path: "$.visitor", message: "expected exactly one of visitor or email" }]);
  }
  if (body.visitor === undefined && body.email === undefined) {
    throw new ApiError(400, "invalid_body", "$.visitor: expected the visitor id or the lead's email (as $.email)", [{ path: "$.visitor", message: "expected exactly one of visitor or email" }]);
  }
  const judged = judgedStages(engine);
  if (body.stage !== undefined && !judged.includes(body.stage)) {
    throw new ApiError(400, "invalid_body", `$.stage: expected one of ${judged.join(", ")}`, [{ path: "$.stage", message: `expected a stage sales judge: ${judged.join(", ")}` }]);
  }
  const db = index(c.env);
  const lead = await db.run(() => (body.visitor !== undefined
    ? db.d1.prepare("SELECT visitor, rules FROM leads WHERE site = ? AND visitor = ?").bind(site, body.visitor)
    : db.d1.prepare("SELECT visitor, rules FROM leads WHERE site = ? AND email = ? ORDER BY last_seen DESC LIMIT 1").bind(site, body.email!.trim().toLowerCase())).first<{ visitor: string; rules: string }>());
  if (!lead) throw new ApiError(404, "unknown_lead", `no lead ${body.visitor !== undefined ? `"${body.visitor}"` : `with email "${body.email}"`} on site "${site}"`);
  const reached = (await db.d1.prepare("SELECT stage FROM lead_stages WHERE site = ? AND visitor = ?").bind(site, lead.visitor).all<{ stage: string }>()).results.map((r) => r.stage);
  const stage = body.stage ?? [...judged].reverse().find((s) => reached.includes(s));
  if (stage === undefined || !reached.includes(stage)) {
    throw new ApiError(409, "not_qualified", `visitor "${lead.visitor}" has not reached ${stage ?? judged.join(" or ")}: sales judge qualified leads only`);
  }
  const at = Date.now();
  await db.d1.prepare(`INSERT INTO feedback (site, visitor, stage, verdict, reason, by, at, rules) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO UPDATE SET verdict = excluded.verdict, reason = excluded.reason, by = excluded.by, at = excluded.at, rules = excluded.rules`)
    .bind(site, lead.visitor, stage, body.verdict, body.reason ?? null, body.by ?? null, at, lead.rules).run();
  return c.json({ ok: true, site, visitor: lead.visitor, stage, verdict: body.verdict, at });
});

feedback.get("/v1/admin/sites/:site/feedback", async (c) => {
  const { site, engine } = await siteEngine(c);
  const { from, to } = queryPeriod(c, 90);
  const db = index(c.env);
  const rows = await db.run(() => db.d1.prepare(`SELECT f.visitor, f.stage, f.verdict, f.reason, f.by, f.at, f.rules, l.email, l.company
    FROM feedback f LEFT JOIN leads l ON l.site = f.site AND l.visitor = f.visitor WHERE f.site = ? AND f.at >= ? AND f.at < ? ORDER BY f.at DESC`).bind(site, from, to).all());
  const judged: Judged[] = rows.results.map((r) => ({ visitor: String(r.visitor), verdict: r.verdict as Judged["verdict"], at: Number(r.at), rules: JSON.parse(String(r.rules)) as Judged["rules"] }));
  const latest = latestPerLead(judged);
  const accepted = latest.filter((j) => j.verdict === "accepted").length;
  const describe = new Map(engine.rules.rules.map((r) => [r.id, r.description ?? r.id]));
  return c.json({
    site, from, to,
    overall: { accepted, rejected: latest.length - accepted, precision: latest.length === 0 ? null : Math.round((accepted / latest.length) * 10_000) / 10_000 },
    rules: rulePrecision(judged).map((r) => ({ ...r, description: describe.get(r.rule) ?? r.rule })),
    feedback: rows.results.map((r) => ({ visitor: r.visitor, email: r.email, company: r.company, stage: r.stage, verdict: r.verdict, reason: r.reason, by: r.by, at: r.at })),
  });
});
