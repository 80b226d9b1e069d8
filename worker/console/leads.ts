/**
 * The console's leads: a sortable, filterable list from the index, its CSV export, and one lead's
 * timeline (its recorded events) with the sales verdicts. The explanation of every point comes from
 * the visitor's own object (`GET /v1/admin/sites/:site/visitors/:id`), which the console calls too.
 */
import { Hono, type Context } from "hono";
import type { Engine } from "../../rules/index.js";
import type { Env } from "../env.js";
import { ApiError } from "../errors.js";
import { toCsv } from "./csv.js";
import { checkStage, pathParam, queryEnum, queryInt, queryText, siteEngine, VISITOR_ID } from "./params.js";
import { index } from "./db.js";
import { fold } from "./schema.js";

/** Most leads in one page of the list, and in one CSV export. */
export const LEADS_PAGE_MAX = 200;
export const CSV_ROWS_MAX = 10_000;
/** Most events on a lead's timeline. */
export const TIMELINE_MAX = 500;

/** Sort keys of the list. */
export const LEAD_SORTS = ["score", "last_seen", "first_seen", "stage", "company", "source"] as const;

/** One lead as the list shows it. */
export interface Lead {
  visitor: string;
  stage: string;
  scores: { total: number; fit: number; engagement: number } & Record<string, number>;
  email: string | null;
  emailKind: string | null;
  company: string | null;
  traits: Record<string, string | number | boolean>;
  source: string;
  medium: string | null;
  campaign: string | null;
  referrer: string | null;
  landing: string | null;
  firstSeen: number | null;
  lastSeen: number | null;
  events: number;
  /** Points per rule (raw, before fading). */
  rules: { rule: string; points: number }[];
  /**
   * On a site that stitches, the lead (one person across browsers) this visitor belongs to, its
   * stage and total as of the visitor's last report: what stages and webhooks go by.
   */
  lead: { id: string; stage: string | null; total: number | null } | null;
}

/** Where a lead came from: its first UTM source, else the referring host, else "(direct)". */
export const SOURCE_SQL = "coalesce(source, referrer, '(direct)')";

type Row = Record<string, unknown>;

/** A row of the leads table as the API answers it. */
export function leadFromRow(r: Row): Lead {
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    visitor: String(r.visitor), stage: String(r.stage),
    scores: JSON.parse(String(r.scores)) as Lead["scores"],
    email: str(r.email), emailKind: str(r.email_kind), company: str(r.company),
    traits: JSON.parse(String(r.traits)) as Lead["traits"],
    source: String(r.source ?? r.referrer ?? "(direct)"), medium: str(r.medium), campaign: str(r.campaign), referrer: str(r.referrer),
    landing: str(r.landing), firstSeen: r.first_seen === null ? null : Number(r.first_seen), lastSeen: r.last_seen === null ? null : Number(r.last_seen),
    events: Number(r.events), rules: JSON.parse(String(r.rules)) as Lead["rules"],
    lead: r.lead === null || r.lead === undefined ? null
      : { id: String(r.lead), stage: str(r.lead_stage), total: r.lead_total === null || r.lead_total === undefined ? null : Number(r.lead_total) },
  };
}

interface Filter {
  where: string;
  binds: unknown[];
  order: string;
  orderBinds: unknown[];
}

/** The WHERE and ORDER BY of a list request, every value bound (never spliced into the SQL). */
function leadFilter(c: Context, site: string, engine: Engine): Filter {
  const where = ["site = ?"];
  const binds: unknown[] = [site];
  const stage = c.req.query("stage");
  if (stage) {
    where.push("stage = ?");
    binds.push(checkStage(engine, "query.stage", stage));
  }
  // A row reported before company_folded existed compares its company as SQLite lower-cases it (ASCII) until it reports again.
  const companyText = "coalesce(company_folded, lower(coalesce(company, '')))";
  const q = queryText(c, "q", 200);
  if (q) {
    where.push(`(instr(lower(coalesce(email, '')), ?) > 0 OR instr(${companyText}, ?) > 0 OR instr(lower(visitor), ?) > 0)`);
    binds.push(fold(q), fold(q), fold(q));
  }
  const company = queryText(c, "company", 200);
  if (company) {
    where.push(`instr(${companyText}, ?) > 0`);
    binds.push(fold(company));
  }
  const source = queryText(c, "source", 200);
  if (source) {
    where.push(`lower(${SOURCE_SQL}) = ?`);
    binds.push(source.toLowerCase());
  }
  const minScore = queryInt(c, "minScore", -1_000_000, 1_000_000, Number.NaN);
  if (!Number.isNaN(minScore)) {
    where.push("total >= ?");
    binds.push(minScore);
  }
  const seenDays = queryInt(c, "seenDays", 1, 3650, 0);
  if (seenDays > 0) {
    where.push("last_seen >= ?");
    binds.push(Date.now() - seenDays * 86_400_000);
  }
  const identified = queryEnum(c, "identified", ["true", "false"] as const);
  if (identified) where.push(identified === "true" ? "identified = 1" : "identified = 0");

  const sort = queryEnum(c, "sort", LEAD_SORTS, "score");
  const dir = queryEnum(c, "order", ["asc", "desc"] as const, sort === "company" || sort === "source" ? "asc" : "desc");
  const stages = engine.rules.stages.map((s) => s.id);
  const key =
    sort === "score" ? "total"
    : sort === "last_seen" ? "last_seen"
    : sort === "first_seen" ? "first_seen"
    : sort === "company" ? "lower(coalesce(company, email, '~'))"
    : sort === "source" ? `lower(${SOURCE_SQL})`
    : `CASE stage ${stages.map(() => "WHEN ? THEN ?").join(" ")} ELSE -1 END`;
  const orderBinds = sort === "stage" ? stages.flatMap((s, i) => [s, i]) : [];
  // Ties break by score then visitor id, so pages never overlap.
  return { where: where.join(" AND "), binds, order: `${key} ${dir.toUpperCase()}, total DESC, visitor ASC`, orderBinds };
}

export const leads = new Hono<{ Bindings: Env }>();

leads.get("/v1/admin/sites/:site/leads", async (c) => {
  const { site, engine } = await siteEngine(c);
  const f = leadFilter(c, site, engine);
  const limit = queryInt(c, "limit", 1, LEADS_PAGE_MAX, 50);
  const offset = queryInt(c, "offset", 0, 1_000_000, 0);
  const db = index(c.env);
  const [count, rows] = await db.run(() => Promise.all([
    db.d1.prepare(`SELECT count(*) AS n FROM leads WHERE ${f.where}`).bind(...f.binds).first<{ n: number }>(),
    db.d1.prepare(`SELECT * FROM leads WHERE ${f.where} ORDER BY ${f.order} LIMIT ? OFFSET ?`).bind(...f.binds, ...f.orderBinds, limit, offset).all(),
  ]));
  return c.json({
    site, total: count?.n ?? 0, limit, offset,
    stages: engine.rules.stages.map((s) => ({ id: s.id, label: s.label ?? s.id })),
    leads: rows.results.map(leadFromRow),
  });
});

leads.get("/v1/admin/sites/:site/leads.csv", async (c) => {
  const { site, engine } = await siteEngine(c);
  const f = leadFilter(c, site, engine);
  const db = index(c.env);
  const rows = await db.run(() => db.d1.prepare(`SELECT * FROM leads WHERE ${f.where} ORDER BY ${f.order} LIMIT ?`).bind(...f.binds, ...f.orderBinds, CSV_ROWS_MAX).all());
  const list = rows.results.map(leadFromRow);
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  const csv = toCsv(
    ["visitor", "stage", "total", "fit", "engagement", "email", "company", "source", "medium", "campaign", "landing_page", "first_seen", "last_seen", "events", "lead", "lead_stage", "lead_total"],
    list.map((l) => [l.visitor, l.stage, l.scores.total, l.scores.fit, l.scores.engagement, l.email, l.company, l.source, l.medium, l.campaign, l.landing, iso(l.firstSeen), iso(l.lastSeen), l.events,
      l.lead?.id ?? null, l.lead?.stage ?? null, l.lead?.total ?? null]),
  );
  return c.body(csv, 200, {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="leads-${site}-${new Date().toISOString().slice(0, 10)}.csv"`,
    "cache-control": "no-store",
  });
});

leads.get("/v1/admin/sites/:site/leads/:id", async (c) => {
  const { site } = await siteEngine(c);
  const visitor = pathParam(c, "id", VISITOR_ID, "expected 8-64 letters, digits, _ or -");
  const db = index(c.env);
  const [row, events, stages, feedback] = await db.run(() => Promise.all([
    db.d1.prepare("SELECT * FROM leads WHERE site = ? AND visitor = ?").bind(site, visitor).first(),
    db.d1.prepare("SELECT id, type, at, body FROM lead_events WHERE site = ? AND visitor = ? ORDER BY at DESC, id DESC LIMIT ?").bind(site, visitor, TIMELINE_MAX).all(),
    db.d1.prepare("SELECT stage, at FROM lead_stages WHERE site = ? AND visitor = ? ORDER BY at").bind(site, visitor).all(),
    db.d1.prepare("SELECT stage, verdict, reason, by, at FROM feedback WHERE site = ? AND visitor = ? ORDER BY at").bind(site, visitor).all(),
  ]));
  if (!row) throw new ApiError(404, "unknown_lead", `no visitor "${visitor}" in the index of site "${site}"`);
  return c.json({
    site,
    lead: leadFromRow(row),
    stages: stages.results.map((s) => ({ stage: String(s.stage), at: Number(s.at) })),
    timeline: events.results.map((e) => ({ id: String(e.id), type: String(e.type), at: Number(e.at), ...(JSON.parse(String(e.body)) as object) })),
    feedback: feedback.results,
  });
});
