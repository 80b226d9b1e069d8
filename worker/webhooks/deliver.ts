/**
 * Delivers a visitor's outbox: each due message is rendered with its target's template, signed
 * (same webhook-id every try, fresh timestamp and signature), POSTed without following redirects,
 * and its outcome recorded as an attempt. Runs inside the visitor's Durable Object alarm, so it
 * reads and writes the object's SQLite directly.
 *
 * Messages of one target go out in the order they were written: while an earlier one waits for a
 * retry, later ones wait behind it (a CRM never sees SQL before MQL). Across outboxes too, where
 * one says so (`WaitFor`): a stitched lead's message waits for the older ones its browsers still
 * have pending to the same target.
 */
import type { Env } from "../env.js";
import { hasTable } from "../sql-tables.js";
import { deliveryClock } from "./clock.js";
import { nextTryAt, verdictOf, type Verdict } from "./retry.js";
import { sign } from "./sign.js";
import { checkTargetUrl } from "./ssrf.js";
import { DEFAULT_CONCURRENCY, readTargets, targetAuth, targetKey, writeTargets, type Target } from "./targets.js";
import { render, type WebhookPayload } from "./templates.js";
import { targetGate } from "./target-gate.js";

/** A try that gets no answer within this is a timeout (retried). */
export const SEND_TIMEOUT_MS = 15_000;
/** A concurrency lease outlives the longest send by this much. */
const LEASE_MARGIN_MS = 5_000;
/** A message whose target is busy is due again after about this long (not counted as a try). */
export const BUSY_RETRY_MS = 1_000;
/** How long a sender waits in line at a busy target's gate before its message is put back (target-gate.ts). */
export const GATE_WAIT_MS = 10_000;
/** Characters of a failing answer's body kept with the attempt. */
const ERROR_BODY_MAX_CHARS = 200;
const USER_AGENT = "mql-edge-webhooks/1";

/**
 * The outbox table, as every object that sends webhooks creates it (the visitor object, the lead and
 * account objects): one row per message, `key` the idempotency key of the stage change it reports.
 */
export const OUTBOX_DDL = `
  CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, webhook TEXT NOT NULL, target TEXT NOT NULL, payload TEXT NOT NULL,
    created_at INTEGER NOT NULL, next_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending', last_error TEXT);
`;

/** The attempts table, created with the outbox. */
export const ATTEMPTS_DDL = `
  CREATE TABLE IF NOT EXISTS outbox_attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT NOT NULL, at INTEGER NOT NULL, status INTEGER, error TEXT,
    duration_ms INTEGER NOT NULL, outcome TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS outbox_attempts_msg ON outbox_attempts (msg, seq);
`;

/** What happened on one try. `status` is the HTTP status, null when none came back. */
export interface Attempt {
  at: number;
  status: number | null;
  error: string | null;
  durationMs: number;
  /** delivered, retry (another try is due), dead (no further try), or the target was disabled. */
  outcome: "delivered" | "retry" | "dead" | "disabled";
}

/** An outbox message as the admin API lists it. */
export interface OutboxMessage {
  id: string;
  webhook: string;
  target: string;
  status: "pending" | "delivered" | "dead";
  attempts: number;
  createdAt: number;
  nextAt: number | null;
  lastError: string | null;
  tries: Attempt[];
}

/** KV key indexing a site's dead letters (value empty; the metadata says which visitor holds it). */
export function deadLetterKey(site: string, msgId: string): string {
  return `deadletters:${site}:${msgId}`;
}

/** What a KV dead-letter entry carries. */
export interface DeadLetterMeta {
  visitor: string;
  webhook: string;
  target: string;
  at: number;
  error: string | null;
}

type Row = Record<string, SqlStorageValue>;

interface Outcome {
  status: number | null;
  error: string | null;
  durationMs: number;
  verdict: Verdict;
}

/**
 * Sends every due message of the outbox once; answers when the alarm should next fire (the
 * earliest pending message), or null when nothing is pending.
 */
export async function deliverDue(sql: SqlStorage, env: Env, waitFor?: WaitFor): Promise<number | null> {
  const rows = pendingRows(sql);
  if (rows.length > 0) {
    const site = (JSON.parse(String(rows[0]!.payload)) as WebhookPayload).data.site;
    const config = await readTargets(env.RULES, site);
    const waiting = new Set<string>();
    for (const row of rows) {
      const targetId = String(row.target);
      if (waiting.has(targetId)) continue;
      if (Number(row.next_at) > deliveryClock.now()) {
        waiting.add(targetId);
        continue;
      }
      // Another outbox may hold older messages to this target (a stitched lead's visitors): they go first.
      const behind = waitFor ? await waitFor(targetId, Number(row.created_at)) : null;
      if (behind !== null) {
        sql.exec("UPDATE outbox SET next_at = ? WHERE id = ?", Math.max(behind, deliveryClock.now() + BUSY_RETRY_MS), row.id);
        waiting.add(targetId);
        continue;
      }
      // Still there and pending: an erasure may have run while earlier sends were out (a visitor's
      // drops its tables, a lead's empties them).
      let there: boolean;
      try {
        there = sql.exec("SELECT 1 FROM outbox WHERE id = ? AND status = 'pending'", row.id).toArray().length > 0;
      } catch (e) {
        if (erased(e)) return null;
        throw e;
      }
      if (!there) continue;
      const payload = JSON.parse(String(row.payload)) as WebhookPayload;
      const target = config.ok ? config.targets.find((t) => t.id === targetId) : undefined;
      const outcome = target
        ? await attempt(env, site, target, String(row.id), payload)
        : { status: null, durationMs: 0, verdict: { kind: "retry" } as Verdict, error: config.ok ? `no target "${targetId}" is configured for site "${site}"` : config.error };
      if (outcome === "busy") {
        sql.exec("UPDATE outbox SET next_at = ? WHERE id = ?", deliveryClock.now() + Math.round(BUSY_RETRY_MS * (0.5 + Math.random())), row.id);
        waiting.add(targetId);
        continue;
      }
      let stillPending: boolean;
      try {
        stillPending = await record(sql, env, site, row, outcome);
      } catch (e) {
        // The visitor was erased while this try was out: nothing is left to record it in, nor to send.
        if (erased(e)) return null;
        throw e;
      }
      if (stillPending) waiting.add(targetId);
      if (outcome.verdict.kind === "gone" && target) {
        const reason = outcome.error ?? "410 Gone";
        await disableTarget(env, site, target.id, reason);
        // The rest of this run sees it disabled too: no second send to a target that said it is gone.
        target.disabled = { at: Date.now(), reason };
      }
    }
  }
  // Read again: a batch may have written a message while this one was sent. Only the first
  // pending message of each target can be due: the others wait behind it.
  let next: number | null = null;
  const first = new Set<string>();
  for (const row of pendingRows(sql)) {
    const target = String(row.target);
    if (first.has(target)) continue;
    first.add(target);
    next = next === null ? Number(row.next_at) : Math.min(next, Number(row.next_at));
  }
  return next === null ? null : Math.max(next, 1);
}

/** Whether `e` says the outbox's tables are gone: the visitor was erased while a send was out. */
const erased = (e: unknown) => /no such table/i.test(String((e as Error).message));

/** The pending messages of an outbox, oldest first (none when the object never had one). */
export function pendingRows(sql: SqlStorage): Row[] {
  if (!hasTable(sql, "outbox")) return [];
  return sql.exec("SELECT id, webhook, target, payload, attempts, next_at, created_at FROM outbox WHERE status = 'pending' ORDER BY rowid").toArray();
}

/**
 * Asked before a message to `target` created at `createdAt` is sent: null when nothing elsewhere
 * must go before it, else when to ask again (the next try of the older message it waits for).
 */
export type WaitFor = (target: string, createdAt: number) => Promise<number | null>;

/**
 * When this outbox's first pending message to `target` (the one the others to it wait behind) is
 * tried next, if it was created before `createdAt`; null when there is none.
 */
export function pendingBefore(sql: SqlStorage, target: string, createdAt: number): number | null {
  if (!hasTable(sql, "outbox")) return null;
  const row = sql.exec("SELECT next_at, created_at FROM outbox WHERE status = 'pending' AND target = ? ORDER BY rowid LIMIT 1", target).toArray()[0];
  return row === undefined || Number(row.created_at) >= createdAt ? null : Number(row.next_at);
}

/** One try of one message; "busy" when the target has no free slot. */
async function attempt(env: Env, site: string, target: Target, id: string, payload: WebhookPayload): Promise<Outcome | "busy"> {
  const fail = (error: string, kind: "retry" | "failed" = "failed"): Outcome => ({ status: null, error, durationMs: 0, verdict: { kind } });
  if (target.disabled) return fail(`target "${target.id}" is disabled (${target.disabled.reason}); set it again to enable it`);
  const url = checkTargetUrl(target.url, { allowLocal: env.WEBHOOK_ALLOW_LOCAL === "true" });
  if (!url.ok) return fail(`target URL refused: ${url.reason}`);
  const key = targetKey(target, env);
  if (!key.ok) return fail(key.error, "retry");
  const auth = targetAuth(target, env);
  if (!auth.ok) return fail(auth.error, "retry");
  const body = render(target.template, payload, id);
  if (!body.ok) return fail(body.error);
  const gate = targetGate(env, site, target.id);
  // A gate that cannot be reached counts as busy: the message is due again shortly, no try spent.
  const lease = await gate.acquireWithin(target.concurrency ?? DEFAULT_CONCURRENCY, SEND_TIMEOUT_MS + LEASE_MARGIN_MS, GATE_WAIT_MS).catch(() => null);
  if (lease === null) return "busy";
  try {
    return await send(url.url, key.key, id, body.body, auth.headers);
  } finally {
    await gate.release(lease).catch(() => undefined); // else the lease runs out on its own
  }
}

/** POSTs a signed body; never throws. */
export async function send(url: URL, key: Uint8Array, id: string, body: string, extra: Record<string, string> = {}): Promise<Outcome> {
  const started = Date.now();
  const headers = { ...extra, ...(await sign(key, id, started / 1000, body)), "content-type": "application/json", "user-agent": USER_AGENT };
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
  } catch (e) {
    const err = e as Error;
    const timedOut = err.name === "TimeoutError" || err.name === "AbortError";
    return { status: null, durationMs: Date.now() - started, verdict: { kind: "retry" }, error: timedOut ? `no answer within ${SEND_TIMEOUT_MS} ms` : `network error: ${err.message}` };
  }
  const durationMs = Date.now() - started;
  const verdict = verdictOf(res.status, res.headers.get("retry-after"), deliveryClock.now());
  let error: string | null = null;
  if (verdict.kind !== "delivered") {
    const location = res.headers.get("location");
    const text = (await res.text().catch(() => "")).slice(0, ERROR_BODY_MAX_CHARS).trim();
    error = res.status >= 300 && res.status < 400
      ? `HTTP ${res.status}: redirect${location ? ` to ${location}` : ""} not followed`
      : `HTTP ${res.status}${text ? `: ${text}` : ""}`;
  } else {
    await res.body?.cancel();
  }
  return { status: res.status, durationMs, verdict, error };
}

/** Writes a try's outcome; answers whether the message is still pending. */
async function record(sql: SqlStorage, env: Env, site: string, row: Row, o: Outcome): Promise<boolean> {
  const now = deliveryClock.now();
  const tries = Number(row.attempts) + 1;
  const next = o.verdict.kind === "retry" ? nextTryAt(tries, now, o.verdict) : null;
  const status = o.verdict.kind === "delivered" ? "delivered" : next === null ? "dead" : "pending";
  const outcome: Attempt["outcome"] = o.verdict.kind === "gone" ? "disabled" : status === "pending" ? "retry" : status;
  sql.exec("INSERT INTO outbox_attempts (msg, at, status, error, duration_ms, outcome) VALUES (?, ?, ?, ?, ?, ?)",
    row.id, now, o.status, o.error, o.durationMs, outcome);
  sql.exec("UPDATE outbox SET status = ?, attempts = ?, next_at = ?, last_error = ? WHERE id = ?",
    status, tries, next ?? now, o.error, row.id);
  if (status === "dead") {
    const payload = JSON.parse(String(row.payload)) as WebhookPayload;
    const meta: DeadLetterMeta = { visitor: payload.data.visitor.id, webhook: String(row.webhook), target: String(row.target), at: now, error: o.error };
    await env.RULES.put(deadLetterKey(site, String(row.id)), "", { metadata: meta });
  }
  return status === "pending";
}

/** A 410 says the endpoint is gone for good: the target is disabled until it is set again. */
async function disableTarget(env: Env, site: string, id: string, reason: string): Promise<void> {
  const config = await readTargets(env.RULES, site);
  if (!config.ok) return;
  const targets = config.targets.map((t) => (t.id === id ? { ...t, disabled: { at: Date.now(), reason } } : t));
  await writeTargets(env.RULES, site, targets);
}

/** Every message of the outbox with every try, oldest first. */
export function listOutbox(sql: SqlStorage): OutboxMessage[] {
  if (!hasTable(sql, "outbox")) return [];
  const tries = new Map<string, Attempt[]>();
  for (const a of sql.exec("SELECT msg, at, status, error, duration_ms, outcome FROM outbox_attempts ORDER BY seq").toArray()) {
    const list = tries.get(String(a.msg)) ?? [];
    list.push({ at: Number(a.at), status: a.status === null ? null : Number(a.status), error: a.error === null ? null : String(a.error), durationMs: Number(a.duration_ms), outcome: String(a.outcome) as Attempt["outcome"] });
    tries.set(String(a.msg), list);
  }
  return sql.exec("SELECT id, webhook, target, status, attempts, created_at, next_at, last_error FROM outbox ORDER BY rowid").toArray().map((r) => ({
    id: String(r.id), webhook: String(r.webhook), target: String(r.target), status: String(r.status) as OutboxMessage["status"],
    attempts: Number(r.attempts), createdAt: Number(r.created_at), nextAt: r.status === "pending" ? Number(r.next_at) : null,
    lastError: r.last_error === null ? null : String(r.last_error), tries: tries.get(String(r.id)) ?? [],
  }));
}

/** Why a message cannot be replayed, or null once it is queued again (as the next due message). */
export async function requeue(sql: SqlStorage, env: Env, msgId: string): Promise<"unknown" | "not_dead" | null> {
  if (!hasTable(sql, "outbox")) return "unknown";
  const row = sql.exec("SELECT status, payload FROM outbox WHERE id = ?", msgId).toArray()[0];
  if (!row) return "unknown";
  if (row.status !== "dead") return "not_dead";
  sql.exec("UPDATE outbox SET status = 'pending', attempts = 0, next_at = ?, last_error = NULL WHERE id = ?", deliveryClock.now(), msgId);
  const site = (JSON.parse(String(row.payload)) as WebhookPayload).data.site;
  await env.RULES.delete(deadLetterKey(site, msgId));
  return null;
}
