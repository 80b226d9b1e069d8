/**
 * `GET /v1/admin/sites/:site/funnel`: the visitors first seen in a period (the cohort), how many of
 * them reached each stage since, and the rate at which each source, medium, campaign and landing
 * page turned them into the target stage (MQL by default) and into leads sales accepted.
 */
import { Hono } from "hono";
import type { Env } from "../env.js";
import { index } from "./db.js";
import { funnelSteps, rankRates, type RateRow } from "./funnel.js";
import { SOURCE_SQL } from "./leads.js";
import { checkStage, queryEnum, queryPeriod, siteEngine } from "./params.js";

/** Rows per breakdown. */
export const BREAKDOWN_MAX = 50;

const DIMENSIONS = {
  source: SOURCE_SQL,
  medium: "coalesce(medium, '(none)')",
  campaign: "coalesce(campaign, '(none)')",
  landing: "coalesce(landing, '(unknown)')",
} as const;
type Dimension = keyof typeof DIMENSIONS;

const reachedSql = "EXISTS (SELECT 1 FROM lead_stages s WHERE s.site = l.site AND s.visitor = l.visitor AND s.stage = ?)";
const acceptedSql = "EXISTS (SELECT 1 FROM feedback f WHERE f.site = l.site AND f.visitor = l.visitor AND f.verdict = 'accepted')";

export const funnel = new Hono<{ Bindings: Env }>();

funnel.get("/v1/admin/sites/:site/funnel", async (c) => {
  const { site, engine } = await siteEngine(c);
  const { from, to } = queryPeriod(c, 30);
  const stages = engine.rules.stages;
  const ids = stages.map((s) => s.id);
  const target = checkStage(engine, "query.stage", c.req.query("stage") || (ids.includes("mql") ? "mql" : ids[ids.length - 1]!));
  const only = queryEnum(c, "by", Object.keys(DIMENSIONS) as Dimension[]);
  const db = index(c.env);
  const cohort = "FROM leads l WHERE l.site = ? AND l.first_seen >= ? AND l.first_seen < ?";
  const counts = await db.run(() => db.d1.prepare(`SELECT count(*) AS visitors, ${ids.slice(1).map((_, i) => `sum(${reachedSql}) AS s${i}`).join(", ") || "0 AS none"} ${cohort}`)
    .bind(...ids.slice(1), site, from, to).first<Record<string, number | null>>());
  const steps = funnelSteps(stages.map((s, i) => ({ stage: s.id, label: s.label ?? s.id, reached: Number((i === 0 ? counts?.visitors : counts?.[`s${i - 1}`]) ?? 0) })));
  const by: Partial<Record<Dimension, ReturnType<typeof rankRates>>> = {};
  for (const dim of only ? [only] : (Object.keys(DIMENSIONS) as Dimension[])) {
    const rows = await db.d1.prepare(`SELECT ${DIMENSIONS[dim]} AS key, count(*) AS visitors, sum(${reachedSql}) AS reached, sum(${acceptedSql}) AS accepted
      ${cohort} GROUP BY key ORDER BY reached DESC, visitors DESC LIMIT ?`).bind(target, site, from, to, BREAKDOWN_MAX).all<RateRow>();
    by[dim] = rankRates(rows.results.map((r) => ({ key: String(r.key), visitors: Number(r.visitors), reached: Number(r.reached ?? 0), accepted: Number(r.accepted ?? 0) })));
  }
  return c.json({ site, from, to, target, steps, by });
});
