/**
 * How a visitor Durable Object reports to the console's index (D1).
 *
 * Why from the object's alarm, after answering: `/v1/collect` only schedules the alarm
 * (`INDEX_FLUSH_DELAY_MS` ahead; an earlier one is kept), so the hot path gains no D1 round trip.
 * Every batch that arrives before the alarm fires is reported together, in one D1 batch (one
 * round trip, one transaction): the summary row, the stages entered, the new raw events and the
 * webhook deliveries. The alarm is durable and lives in the same storage as the events, so a
 * report can be late but never lost; a failed write is retried by the next alarm
 * (`INDEX_RETRY_MS`). `ctx.waitUntil` would lose the write if the object were evicted or D1
 * failed. Writes are idempotent (upserts, INSERT OR IGNORE), so a report sent twice is harmless.
 *
 * What is already reported is remembered in the object (`index_cursor`: the last event row sent;
 * `index_mark`: a fingerprint of events and outbox), so an alarm that only delivered webhooks
 * reports only when something changed.
 */
import type { VisitorState } from "../../rules/index.js";
import type { Env } from "../env.js";
import type { Profile } from "../visitor-object.js";
import { getEngine } from "../rules-cache.js";
import { withIndex } from "./schema.js";

/** How long after a batch the object reports it: batches arriving meanwhile go in the same write. */
export const INDEX_FLUSH_DELAY_MS = 1_000;
/** Wait before retrying a report D1 refused. */
export const INDEX_RETRY_MS = 30_000;
/** Events sent per report (17 statements); a visitor with more is reported over several. */
export const INDEX_EVENTS_PER_REPORT = 200;
/** Most bound parameters in one D1 statement. */
const D1_PARAMS_MAX = 100;

/** KV key that lists a visitor for rebuilds (the index itself may be what was lost). */
export const registryKey = (site: string, visitor: string) => `visitors:${site}:${visitor}`;

type Row = Record<string, SqlStorageValue>;

function kvGet(sql: SqlStorage, k: string): string | undefined {
  const row = sql.exec("SELECT v FROM kv WHERE k = ?", k).toArray()[0];
  return row ? String(row.v) : undefined;
}

function kvPut(sql: SqlStorage, k: string, v: string): void {
  sql.exec("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", k, v);
}

/**
 * Called by collect after its transaction: remembers the site (a visitor without a page view has
 * no profile to say it) and makes sure the alarm fires within `INDEX_FLUSH_DELAY_MS`.
 */
export async function scheduleReport(storage: DurableObjectStorage, site: string, now: number): Promise<void> {
  storage.sql.exec("INSERT OR IGNORE INTO kv (k, v) VALUES ('index_site', ?)", site);
  const at = now + INDEX_FLUSH_DELAY_MS;
  const current = await storage.getAlarm();
  if (current === null || current > at) await storage.setAlarm(at);
}

/**
 * Reports what changed since the last report. `rebuild` sends everything again (after the index
 * was lost). Answers when to try again: now-ish when more events wait, later after a failure,
 * null when everything is reported.
 */
export async function reportToIndex(storage: DurableObjectStorage, env: Env, now = Date.now(), rebuild = false): Promise<number | null> {
  if (!env.INDEX) return null;
  const sql = storage.sql;
  const stateText = kvGet(sql, "state");
  if (stateText === undefined) return null;
  const state = JSON.parse(stateText) as VisitorState;
  const profile = JSON.parse(kvGet(sql, "profile") ?? "{}") as Profile;
  const site = profile.site ?? kvGet(sql, "index_site");
  if (!site) return null;
  // A rebuild starts over: the next reports resend everything from the first event.
  if (rebuild) sql.exec("DELETE FROM kv WHERE k IN ('index_cursor', 'index_mark')");
  const cursor = Number(kvGet(sql, "index_cursor") ?? 0);
  const maxRow = Number(sql.exec("SELECT coalesce(max(rowid), 0) AS n FROM events").one().n);
  const outboxSig = String(sql.exec("SELECT count(*) || ':' || coalesce(sum(attempts), 0) || ':' || coalesce(group_concat(status), '') AS s FROM outbox").one().s);
  const mark = `${maxRow}|${outboxSig}`;
  if (kvGet(sql, "index_mark") === mark) return null;

  const events = sql.exec("SELECT rowid AS r, id, type, received_at, body FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?", cursor, INDEX_EVENTS_PER_REPORT).toArray();
  const lastRow = events.length > 0 ? Number(events[events.length - 1]!.r) : cursor;
  try {
    const engine = await getEngine(env.RULES, site, now);
    const scores = engine ? engine.scores(state, now) : {};
    const ruleTotals = sql.exec("SELECT rule, sum(points) AS points FROM ledger GROUP BY rule").toArray()
      .map((r) => ({ rule: String(r.rule), points: Number(r.points) }));
    const stageOrder = engine?.rules.stages.map((s) => s.id) ?? [];
    const outbox = sql.exec("SELECT id, webhook, target, status, attempts, created_at, last_error FROM outbox").toArray();
    const db = env.INDEX;
    await withIndex(db, () => db.batch([
      leadUpsert(db, site, state, profile, scores, ruleTotals, now),
      ...rowsInsert(db, "INSERT INTO lead_stages (site, visitor, stage, at)", "ON CONFLICT DO UPDATE SET at = min(at, excluded.at)",
        stageEntries(state, stageOrder).map(([stage, at]) => [site, state.visitor, stage, at])),
      ...rowsInsert(db, "INSERT OR IGNORE INTO lead_events (site, visitor, id, type, at, cta, variant, body)", "", events.map((e) => eventRow(site, state.visitor, e))),
      ...rowsInsert(db, "INSERT INTO deliveries (site, id, visitor, webhook, target, status, attempts, created_at, last_error)",
        "ON CONFLICT DO UPDATE SET status = excluded.status, attempts = excluded.attempts, last_error = excluded.last_error",
        outbox.map((m) => [site, String(m.id), state.visitor, String(m.webhook), String(m.target), String(m.status), Number(m.attempts), Number(m.created_at), m.last_error ?? null])),
    ]));
    if (kvGet(sql, "index_registered") === undefined) {
      await env.RULES.put(registryKey(site, state.visitor), "", { metadata: { firstSeen: state.firstSeen } });
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
  const state = kvGet(storage.sql, "state");
  const profile = kvGet(storage.sql, "profile");
  if (state === undefined) return;
  const visitor = (JSON.parse(state) as VisitorState).visitor;
  const site = (JSON.parse(profile ?? "{}") as Profile).site ?? kvGet(storage.sql, "index_site");
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

function leadUpsert(db: D1Database, site: string, state: VisitorState, profile: Profile, scores: Record<string, number>,
  ruleTotals: { rule: string; points: number }[], now: number): D1PreparedStatement {
  const ft = profile.firstTouch;
  const id = state.identity;
  return db.prepare(`INSERT OR REPLACE INTO leads (site, visitor, stage, total, fit, engagement, scores, email, email_kind, domain, company,
      traits, identified, first_seen, last_seen, events, source, medium, campaign, referrer, landing, rules, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).bind(
    site, state.visitor, state.stage, scores.total ?? 0, scores.fit ?? 0, scores.engagement ?? 0, JSON.stringify(scores),
    id.email ?? null, id.kind ?? null, id.domain ?? null, companyOf(id), JSON.stringify(id.traits), id.email ? 1 : 0,
    state.firstSeen, state.lastSeen, state.events,
    ft?.source ?? null, ft?.medium ?? null, ft?.campaign ?? null, ft?.referrerHost ?? null, ft?.path ?? null,
    JSON.stringify(ruleTotals), now,
  );
}

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
 * Multi-row INSERTs of `rows`, as few statements as D1's 100 bound parameters allow: a report
 * stays within the queries one invocation may make (50 on the free plan).
 */
function rowsInsert(db: D1Database, head: string, tail: string, rows: unknown[][]): D1PreparedStatement[] {
  if (rows.length === 0) return [];
  const width = rows[0]!.length;
  const per = Math.floor(D1_PARAMS_MAX / width);
  const out: D1PreparedStatement[] = [];
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    const values = chunk.map(() => `(${Array(width).fill("?").join(", ")})`).join(", ");
    out.push(db.prepare(`${head} VALUES ${values} ${tail}`).bind(...chunk.flat()));
  }
  return out;
}


/**
 * The visitor's alarm with the index around webhook delivery: report first (so the index never
 * waits behind a slow webhook target), deliver, report again (the deliveries' outcomes). Answers
 * when the alarm must fire next, or null.
 */
export async function reportAroundDelivery(storage: DurableObjectStorage, env: Env, deliver: () => Promise<number | null>): Promise<number | null> {
  const before = await reportToIndex(storage, env);
  const next = await deliver();
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
