/**
 * How a visitor Durable Object reports to the console's index (D1).
 *
 * Why from the object's alarm, after answering: `/v1/collect` only schedules the alarm
 * (`INDEX_FLUSH_DELAY_MS` ahead; an earlier one is kept), so the hot path gains no D1 round trip.
 * Every batch that arrives before the alarm fires is reported together, in one D1 batch (one
 * round trip, one transaction): the summary row, the stages entered, the new raw events and the
 * webhook deliveries, one statement per table whatever the number of rows (they go as one JSON
 * parameter, read by `json_each`). A visitor that keeps sending is reported again 5 to 15 s after
 * its last report (`INDEX_REPORT_INTERVAL_MS`), not a second after each of its pages: D1 is one
 * writer for every visitor of every site, so its writes per visitor are what bounds ingest.
 *
 * The alarm is durable and lives in the same storage as the events, so a report can be late but
 * never lost; a failed write is retried by the next alarm (`INDEX_RETRY_MS`). `ctx.waitUntil`
 * would lose the write if the object were evicted or D1 failed. Writes are idempotent (upserts,
 * INSERT OR IGNORE), so a report sent twice is harmless.
 *
 * What is already reported is remembered in the object (`index_cursor`: the last event row sent;
 * `index_mark`: a fingerprint of events, outbox and the lead's view), so an alarm that only
 * delivered webhooks reports only when something changed, and the deliveries go only when the
 * outbox changed. A visitor's lead tells it when other browsers or emails move the lead
 * (`leadChanged`), and the visitor reports again.
 */
import type { VisitorState } from "../../rules/index.js";
import type { Env } from "../env.js";
import type { Profile } from "../visitor-object.js";
import { getEngine } from "../rules-cache.js";
import { hasTable, kvPut, visitorKv } from "../sql-tables.js";
import { alarmBy } from "../webhooks/alarm.js";
import { fold, withIndex } from "./schema.js";
import type { LeadView } from "../identity/forward.js";

/** How long after a batch the object reports it: batches arriving meanwhile go in the same write. */
export const INDEX_FLUSH_DELAY_MS = 1_000;
/**
 * Time between two reports of a visitor that keeps sending, on average: its batches go in one
 * write every 5 to 15 s (at random, so that visitors who started together do not all write at
 * once), instead of one write per page it views (D1 takes one writer at a time).
 */
export const INDEX_REPORT_INTERVAL_MS = 10_000;
/** Wait before retrying a report D1 refused. */
export const INDEX_RETRY_MS = 30_000;
/** Events sent per report; a visitor with more is reported over several. */
export const INDEX_EVENTS_PER_REPORT = 200;

/** KV key that lists a visitor for rebuilds (the index itself may be what was lost). */
export const registryKey = (site: string, visitor: string) => `visitors:${site}:${visitor}`;

/** Characters of event rows per report: far below the 2 MB D1 takes in one parameter. */
const INDEX_REPORT_MAX_CHARS = 500_000;

type Row = Record<string, SqlStorageValue>;

/** One visitor's report: the rows of each index table (site and visitor included). */
interface IndexReport {
  lead: unknown[];
  stages: unknown[][];
  events: unknown[][];
  deliveries: unknown[][];
}

const LEAD_COLUMNS = ["site", "visitor", "stage", "total", "fit", "engagement", "scores", "email", "email_kind", "domain", "company",
  "traits", "identified", "first_seen", "last_seen", "events", "source", "medium", "campaign", "referrer", "landing", "rules", "updated_at",
  "lead", "lead_stage", "lead_total", "company_folded"];

const SQL = {
  leads: `INSERT OR REPLACE INTO leads (${LEAD_COLUMNS.join(", ")}) SELECT ${columns(LEAD_COLUMNS.length)} FROM json_each(?)`,
  stages: `INSERT INTO lead_stages (site, visitor, stage, at) SELECT ${columns(4)} FROM json_each(?) WHERE true
    ON CONFLICT DO UPDATE SET at = min(at, excluded.at)`,
  events: `INSERT OR IGNORE INTO lead_events (site, visitor, id, type, at, cta, variant, body) SELECT ${columns(8)} FROM json_each(?)`,
  deliveries: `INSERT INTO deliveries (site, id, visitor, webhook, target, status, attempts, created_at, last_error, stage, score, next_at) SELECT ${columns(12)} FROM json_each(?) WHERE true
    ON CONFLICT DO UPDATE SET status = excluded.status, attempts = excluded.attempts, last_error = excluded.last_error,
      stage = excluded.stage, score = excluded.score, next_at = excluded.next_at`,
};

/** An outbox's messages as the index reports them (what each reports comes from its payload). */
function outboxRows(sql: SqlStorage): Record<string, SqlStorageValue>[] {
  if (!hasTable(sql, "outbox")) return [];
  return sql.exec(`SELECT id, webhook, target, status, attempts, created_at, last_error, next_at,
    json_extract(payload, '$.data.stage.to') AS stage, json_extract(payload, '$.data.score') AS score FROM outbox ORDER BY rowid`).toArray();
}

/** A fingerprint of an outbox's messages and tries: the deliveries are reported again only when it changes. */
function outboxSignature(outbox: readonly Record<string, SqlStorageValue>[]): string {
  return `${outbox.length}:${outbox.reduce((n, m) => n + Number(m.attempts), 0)}:${outbox.map((m) => String(m.status)).join(",")}`;
}

/** A message's row of `deliveries`, for the visitor (or stitched lead) `owner`. */
function deliveryRow(site: string, owner: string, m: Record<string, SqlStorageValue>): unknown[] {
  // The next try's time as of the last try (the outbox is reported again after each try, not when a busy target pushes it back).
  return [site, String(m.id), owner, String(m.webhook), String(m.target), String(m.status), Number(m.attempts), Number(m.created_at), m.last_error ?? null,
    m.stage ?? null, m.score ?? null, m.status === "pending" ? Number(m.next_at) : null];
}

/**
 * Reports the outbox of a stitched lead (`owner`: its ld_ id) to the index's deliveries, after each
 * of its delivery runs, when a try or a new message changed it (`outbox_reported` in the object's
 * kv remembers the last one reported): the console's Webhooks page lists the lead's messages with
 * the visitors'.
 */
export async function reportOutbox(sql: SqlStorage, env: Env, site: string, owner: string): Promise<void> {
  if (!env.INDEX) return;
  const outbox = outboxRows(sql);
  const signature = outboxSignature(outbox);
  if (outbox.length === 0 || sql.exec("SELECT v FROM kv WHERE k = 'outbox_reported'").toArray()[0]?.v === signature) return;
  const db = env.INDEX;
  await withIndex(db, () => db.prepare(SQL.deliveries).bind(JSON.stringify(outbox.map((m) => deliveryRow(site, owner, m)))).run());
  kvPut(sql, "outbox_reported", signature);
}

/** `json_extract` of the first `n` elements of each array of a `json_each`. */
function columns(n: number): string {
  return Array.from({ length: n }, (_, i) => `json_extract(value, '$[${i}]')`).join(", ");
}

/** Writes a visitor's report: one D1 batch (one transaction), one statement per table that has rows. */
function writeReport(db: D1Database, report: IndexReport): Promise<unknown> {
  const rows = { leads: [report.lead], stages: report.stages, events: report.events, deliveries: report.deliveries };
  const statements = (Object.keys(SQL) as (keyof typeof SQL)[])
    .filter((t) => rows[t].length > 0)
    .map((t) => db.prepare(SQL[t]).bind(JSON.stringify(rows[t])));
  return withIndex(db, () => db.batch(statements));
}

/**
 * Called by collect after its transaction (which records the site: a visitor without a page view
 * has no profile to say it): makes sure the alarm fires `INDEX_FLUSH_DELAY_MS` after the batch,
 * or at `notBefore` (set by the visitor's last report, `nextReportAt`) if that is later.
 */
export function scheduleReport(storage: DurableObjectStorage, now: number, notBefore = 0): Promise<void> {
  return alarmBy(storage, Math.max(now + INDEX_FLUSH_DELAY_MS, notBefore));
}

/** The earliest time of a visitor's next report after one at `now`: 5 to 15 s later, at random. */
export function nextReportAt(now: number): number {
  return now + Math.round(INDEX_REPORT_INTERVAL_MS * (0.5 + Math.random()));
}

/**
 * Reports what changed since the last report. `rebuild` sends everything again (after the index
 * was lost). Answers when to try again: now-ish when more events wait, later after a failure,
 * null when everything is reported.
 */
export async function reportToIndex(storage: DurableObjectStorage, env: Env, now = Date.now(), rebuild = false): Promise<number | null> {
  if (!env.INDEX) return null;
  const sql = storage.sql;
  // A rebuild starts over: the next reports resend everything from the first event.
  if (rebuild) sql.exec("DELETE FROM kv WHERE k IN ('index_cursor', 'index_mark')");
  const kv = visitorKv(sql);
  const stateText = kv.get("state");
  if (stateText === undefined) return null;
  const cursor = Number(kv.get("index_cursor") ?? 0);
  const rows = sql.exec("SELECT rowid AS r, id, type, received_at, body FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?", cursor, INDEX_EVENTS_PER_REPORT).toArray();
  // The last event row: read past a full page only (the cursor is always an event row, or 0).
  const maxRow = rows.length < INDEX_EVENTS_PER_REPORT
    ? (rows.length > 0 ? Number(rows[rows.length - 1]!.r) : cursor)
    : Number(sql.exec("SELECT coalesce(max(rowid), 0) AS n FROM events").one().n);
  // What each message reports comes from its payload: messages of one lead to one webhook (MQL, then SQL) look alike otherwise.
  const outbox = outboxRows(sql);
  const outboxSig = outboxSignature(outbox);
  const leadText = kv.get("lead_view");
  const mark = `${maxRow}|${outboxSig}|${leadText ?? ""}`;
  const lastMark = kv.get("index_mark");
  if (lastMark === mark) return null;
  const state = JSON.parse(stateText) as VisitorState;
  const profile = JSON.parse(kv.get("profile") ?? "{}") as Profile;
  const site = profile.site ?? kv.get("index_site");
  if (!site) return null;

  // Within the size of one write: the events past it go in the next report.
  const events: unknown[][] = [];
  let size = 0;
  let lastRow = cursor;
  for (const e of rows) {
    const row = eventRow(site, state.visitor, e);
    const chars = String(e.body).length + 200;
    if (events.length > 0 && size + chars > INDEX_REPORT_MAX_CHARS) break;
    events.push(row);
    size += chars;
    lastRow = Number(e.r);
  }
  try {
    const engine = await getEngine(env.RULES, site, now);
    const scores = engine ? engine.scores(state, now) : {};
    const ruleTotals = sql.exec("SELECT rule, sum(points) AS points FROM ledger GROUP BY rule").toArray()
      .map((r) => ({ rule: String(r.rule), points: Number(r.points) }));
    const stageOrder = engine?.rules.stages.map((s) => s.id) ?? [];
    // The deliveries go again only when the outbox changed since the last report.
    const outboxChanged = outbox.length > 0 && (lastMark === undefined || lastMark.split("|")[1] !== outboxSig);
    const visitor = state.visitor;
    const deliveries = (outboxChanged ? outbox : []).map((m) => deliveryRow(site, visitor, m));
    await writeReport(env.INDEX, {
      lead: leadRow(site, state, profile, scores, ruleTotals, now, leadText === undefined ? undefined : (JSON.parse(leadText) as LeadView)),
      stages: stageEntries(state, stageOrder).map(([stage, at]) => [site, visitor, stage, at]),
      events,
      deliveries,
    });
    if (kv.get("index_registered") === undefined) {
      await env.RULES.put(registryKey(site, visitor), "", { metadata: { firstSeen: state.firstSeen } });
      kvPut(sql, "index_registered", "1");
    }
  } catch (e) {
    console.error(`index report of ${site}:${state.visitor} failed: ${(e as Error).message}`);
    return now + INDEX_RETRY_MS;
  }
  kvPut(sql, "index_cursor", String(lastRow));
  if (lastRow < maxRow) return now;
  kvPut(sql, "index_mark", mark);
  return null;
}

/** Removes an erased visitor from the index and the rebuild registry (before its storage is wiped). */
export async function forgetInIndex(storage: DurableObjectStorage, env: Env): Promise<void> {
  if (!env.INDEX) return;
  const kv = visitorKv(storage.sql);
  const state = kv.get("state");
  if (state === undefined) return;
  const visitor = (JSON.parse(state) as VisitorState).visitor;
  const site = (JSON.parse(kv.get("profile") ?? "{}") as Profile).site ?? kv.get("index_site");
  const db = env.INDEX;
  await withIndex(db, () => db.batch(["leads", "lead_stages", "lead_events", "feedback", "deliveries"].map((t) =>
    db.prepare(`DELETE FROM ${t} WHERE site = ? AND visitor = ?`).bind(site, visitor))));
  await env.RULES.delete(registryKey(site, visitor));
}

/** The first time each stage was reached, skipped stages included (a demo request passes lead and MQL). */
export function stageEntries(state: VisitorState, order: readonly string[]): [string, number][] {
  const out = new Map<string, number>();
  if (state.firstSeen !== null && order[0] !== undefined) out.set(order[0], state.firstSeen);
  for (const change of state.stageHistory) {
    const from = order.indexOf(change.from);
    const to = order.indexOf(change.to);
    if (from >= 0 && to >= 0 && to < from) continue; // a demotion enters nothing new
    for (const s of [...(change.skipped ?? []), change.to]) if (!out.has(s)) out.set(s, change.at);
  }
  return [...out];
}

/** Who the visitor works for: a trait if they gave one, else a corporate email's domain. */
export function companyOf(identity: VisitorState["identity"]): string | null {
  const t = identity.traits;
  for (const k of ["company", "company_name", "organization"]) if (typeof t[k] === "string" && t[k] !== "") return String(t[k]);
  return identity.kind === "corporate" && identity.domain ? identity.domain : null;
}

/** The visitor's row of `leads`. */
function leadRow(site: string, state: VisitorState, profile: Profile, scores: Record<string, number>,
  ruleTotals: { rule: string; points: number }[], now: number, lead: LeadView | undefined): unknown[] {
  const ft = profile.firstTouch;
  const id = state.identity;
  return [
    site, state.visitor, state.stage, scores.total ?? 0, scores.fit ?? 0, scores.engagement ?? 0, JSON.stringify(scores),
    id.email ?? null, id.kind ?? null, id.domain ?? null, companyOf(id), JSON.stringify(id.traits), id.email ? 1 : 0,
    state.firstSeen, state.lastSeen, state.events,
    ft?.source ?? null, ft?.medium ?? null, ft?.campaign ?? null, ft?.referrerHost ?? null, ft?.path ?? null,
    JSON.stringify(ruleTotals), now,
    lead?.id ?? null, lead?.stage ?? null, lead?.total ?? null, fold(companyOf(id)),
  ];
}

/** An event's row of `lead_events`. */
function eventRow(site: string, visitor: string, e: Row): unknown[] {
  const type = String(e.type);
  let cta: string | null = null;
  let variant: string | null = null;
  if (type.startsWith("cta_")) {
    const body = JSON.parse(String(e.body)) as { element?: string; props?: Record<string, unknown> };
    cta = body.element ?? null;
    variant = typeof body.props?.variant === "string" ? body.props.variant : null;
  }
  return [site, visitor, String(e.id), type, Number(e.received_at), cta, variant, String(e.body)];
}

/**
 * The visitor's alarm with the index around webhook delivery: one report after the delivery (its
 * outcomes and the batches before it), and one more first if the delivery takes longer than
 * `INDEX_FLUSH_DELAY_MS` (a slow webhook target never holds the index back longer than a batch's
 * own delay). Answers when the alarm must fire next, or null.
 */
export async function reportAroundDelivery(storage: DurableObjectStorage, env: Env, deliver: () => Promise<number | null>): Promise<number | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const sending = deliver();
  const slow = await Promise.race([
    sending.then(() => false, () => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), INDEX_FLUSH_DELAY_MS))),
  ]);
  clearTimeout(timer);
  const before = slow ? await reportToIndex(storage, env) : null;
  const next = await sending;
  const after = await reportToIndex(storage, env);
  const times = [before, next, after].filter((t): t is number => t !== null);
  return times.length === 0 ? null : Math.max(1, Math.min(...times));
}

/** Reports everything not yet reported (or, with `rebuild`, everything), now; answers whether it all reached the index. */
export async function reportAll(storage: DurableObjectStorage, env: Env, rebuild = false): Promise<boolean> {
  let again = await reportToIndex(storage, env, Date.now(), rebuild);
  for (let i = 0; again !== null && again <= Date.now() && i < 1000; i++) again = await reportToIndex(storage, env);
  return again === null;
}

/** Removes a visitor's indexed events received before `cutoff` (the site's retention, privacy.retentionDays). */
export async function forgetEventsBefore(env: Env, site: string, visitor: string, cutoff: number): Promise<void> {
  const db = env.INDEX;
  if (!db) return;
  await withIndex(db, () => db.prepare("DELETE FROM lead_events WHERE site = ? AND visitor = ? AND at < ?").bind(site, visitor, cutoff).run());
}
