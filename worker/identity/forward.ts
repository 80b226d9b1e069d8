/**
 * How a visitor object joins a lead and feeds it. Once the visitor has an email (an identify call,
 * a form, an email link it landed from) and the identity secret is set, it computes its lead key
 * and keeps a pointer `lead` = { key, email, cursor } in its own storage. After every batch it sends
 * the lead every stored event past `cursor` (the events table's rowid), then moves the cursor: at
 * least once (a failed send is sent again after the next batch), and the lead stores each event id
 * once, so each event is scored once. The first send carries the visitor's whole history and the
 * stage webhooks it already sent, which the lead will not send again.
 */
import type { VisitorState } from "../../rules/index.js";
import type { Env } from "../env.js";
import { hasTable } from "../sql-tables.js";
import { identitySecret, leadKeyOf, normaliseEmail } from "./keys.js";
import { leadName, type LeadAnswer, type LeadEvent } from "./lead-object.js";

/** A visitor's pointer to its lead. */
export interface LeadLink {
  site: string;
  key: string;
  email: string;
  /** Rowid of the last event the lead acknowledged. */
  cursor: number;
}

/** Events sent to the lead per call (a long history goes over several). */
const FORWARD_CHUNK = 2000;
/** When the lead could not take the events, the visitor's alarm tries again this much later. */
export const FORWARD_RETRY_MS = 30_000;

/** The visitor's lead pointer, if it has one. */
export function leadLink(sql: SqlStorage): LeadLink | undefined {
  const row = sql.exec("SELECT v FROM kv WHERE k = 'lead'").toArray()[0];
  return row ? (JSON.parse(String(row.v)) as LeadLink) : undefined;
}

/**
 * Whether the visitor's webhooks are the lead's business: it is linked, or its state now names an
 * address it will be linked by. Decided inside the batch's transaction, so that the stage changes
 * of the batch that identifies a visitor are announced once, by the lead.
 */
export function belongsToLead(sql: SqlStorage, env: Env, state: VisitorState, stitch: boolean): boolean {
  if (!stitch) return false;
  if (leadLink(sql) !== undefined) return true;
  const email = state.identity.email;
  return identitySecret(env) !== undefined && email !== undefined && normaliseEmail(email) !== undefined;
}

/** The lead's object. */
export function leadStub(env: Env, site: string, key: string) {
  return env.LEAD.get(env.LEAD.idFromName(leadName(site, key)));
}

/** The forward in progress per visitor object: one at a time, each next one from the cursor the last one left. */
const running = new WeakMap<SqlStorage, Promise<unknown>>();

/**
 * Links the visitor when it has an address, then sends the lead its events past the cursor.
 * Answers the lead's view (stage, scores, CTAs), or undefined when the site does not stitch, the
 * visitor has no lead, or the lead could not be reached: the visitor's own view stands, and its
 * alarm is set to send the events again (they also go with the next batch). Forwards of one visitor
 * run one after the other, so a burst of batches sends each event about once instead of the whole
 * history per batch.
 */
export function forwardToLead(
  storage: DurableObjectStorage, env: Env, input: { site: string; visitor: string; page: string | undefined; now: number }, state: VisitorState, stitch: boolean,
): Promise<LeadAnswer | undefined> {
  if (!stitch) return Promise.resolve(undefined);
  const sql = storage.sql;
  const run = (running.get(sql) ?? Promise.resolve()).then(async () => {
    const answer = await forwardNow(sql, env, input, state);
    if (answer === "failed") {
      const at = Date.now() + FORWARD_RETRY_MS;
      const current = await storage.getAlarm();
      if (current === null || current > at) await storage.setAlarm(at);
      return undefined;
    }
    return answer;
  });
  running.set(sql, run.catch(() => undefined));
  return run;
}

/** Whether the visitor has events its lead has not acknowledged (its alarm sends them). */
export function forwardPending(sql: SqlStorage): boolean {
  const link = leadLink(sql);
  return link !== undefined && sql.exec("SELECT 1 FROM events WHERE rowid > ? LIMIT 1", link.cursor).toArray().length > 0;
}

async function forwardNow(
  sql: SqlStorage, env: Env, input: { site: string; visitor: string; page: string | undefined; now: number }, state: VisitorState,
): Promise<LeadAnswer | undefined | "failed"> {
  const secret = identitySecret(env);
  if (secret === undefined) return undefined;
  let link = leadLink(sql);
  if (link === undefined) {
    const email = state.identity.email;
    const key = email === undefined ? undefined : await leadKeyOf(secret, input.site, email);
    if (email === undefined || key === undefined) return undefined;
    link = { site: input.site, key, email, cursor: 0 };
    // The first address wins: a visitor belongs to one lead (a shared browser calls reset() between people).
    sql.exec("INSERT OR IGNORE INTO kv (k, v) VALUES ('lead', ?)", JSON.stringify(link));
    link = leadLink(sql)!;
  }
  const announced = link.cursor === 0 ? announcedStages(sql) : [];
  const stub = leadStub(env, input.site, link.key);
  let answer: LeadAnswer | undefined;
  try {
    let cursor = link.cursor;
    do {
      const rows = sql.exec("SELECT rowid AS r, id, captured_at, received_at, body FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?", cursor, FORWARD_CHUNK).toArray();
      const events: LeadEvent[] = rows.map((r) => ({
        event: { id: String(r.id), ...JSON.parse(String(r.body)) }, capturedAt: Number(r.captured_at), receivedAt: Number(r.received_at),
      }));
      answer = await stub.ingest({ site: input.site, lead: link.key, email: link.email, visitor: input.visitor, events, announced, ...(input.page ? { page: input.page } : {}), now: input.now });
      if (rows.length === 0) break;
      cursor = Number(rows[rows.length - 1]!.r);
      const current = leadLink(sql);
      // Another batch may have moved the cursor further meanwhile: it only moves forward.
      if (current && cursor > current.cursor) sql.exec("UPDATE kv SET v = ? WHERE k = 'lead'", JSON.stringify({ ...current, cursor }));
      if (rows.length < FORWARD_CHUNK) break;
    } while (true);
  } catch (e) {
    console.error(`visitor ${input.site}:${input.visitor}: lead unreachable, events kept for a later try: ${(e as Error).message}`);
    return "failed";
  }
  if (answer !== undefined) rememberLeadView(sql, answer);
  return answer;
}

/** The lead as this visitor last heard of it: what the console's index shows beside the visitor's own row. */
export interface LeadView {
  id: string;
  stage: string;
  total: number;
  /** How many times events had changed the lead then: a view never replaces a later one. */
  changes: number;
}

function rememberLeadView(sql: SqlStorage, answer: LeadAnswer): void {
  storeLeadView(sql, { id: answer.lead, stage: answer.stage, total: answer.score.total, changes: answer.changes });
}

/**
 * Keeps the lead's stage and total (read by the index report, console/index-writer.ts) unless the
 * view kept is of the same lead and later: answers and notices of the lead can cross. Answers
 * whether the view kept changed.
 */
export function storeLeadView(sql: SqlStorage, view: LeadView): boolean {
  const kept = leadView(sql);
  if (kept !== undefined && kept.id === view.id && (kept.changes ?? 0) > view.changes) return false;
  const text = JSON.stringify(view);
  if (kept !== undefined && JSON.stringify(kept) === text) return false;
  sql.exec("INSERT OR REPLACE INTO kv (k, v) VALUES ('lead_view', ?)", text);
  return true;
}

/** The lead view a visitor keeps, if it belongs to a lead. */
export function leadView(sql: SqlStorage): LeadView | undefined {
  const row = sql.exec("SELECT v FROM kv WHERE k = 'lead_view'").toArray()[0];
  return row ? (JSON.parse(String(row.v)) as LeadView) : undefined;
}

/**
 * Webhooks the visitor wrote to its own outbox before it was linked: each stage entered, and each
 * score reached as `score:<name>:<threshold>` (the lead's own key for it), so the lead does not
 * announce them again when it replays the visitor's history.
 */
function announcedStages(sql: SqlStorage): { webhook: string; stage: string }[] {
  const out: { webhook: string; stage: string }[] = [];
  if (!hasTable(sql, "outbox")) return out;
  for (const r of sql.exec("SELECT webhook, payload FROM outbox").toArray()) {
    const data = (JSON.parse(String(r.payload)) as { data?: { stage?: { to?: string }; score?: { name?: string; threshold?: number } } }).data;
    const to = data?.stage?.to;
    if (typeof to === "string") out.push({ webhook: String(r.webhook), stage: to });
    const score = data?.score;
    if (typeof score?.name === "string" && typeof score.threshold === "number") out.push({ webhook: String(r.webhook), stage: `score:${score.name}:${score.threshold}` });
  }
  return out;
}
