/**
 * One Durable Object per (site, visitor). It is the only writer of the visitor's score, so every
 * event is applied in order and exactly once: a batch is deduplicated on event ids, scored, and
 * its ledger entries, new state and webhook outbox rows are written in one SQLite transaction.
 * The answer leaves only after that write is durable (workerd's output gate), so an acknowledged
 * event is never lost and a resent one is never scored twice.
 */
import { DurableObject } from "cloudflare:workers";
import type { EngineEvent, Engine, LedgerEntry, VisitorState, WebhookDue, StageChange, Explanation } from "../rules/index.js";
import { forgetEventsBefore, forgetInIndex, nextReportAt, reportAll, reportAroundDelivery, reportToIndex, scheduleReport } from "./console/index-writer.js";
import type { Env } from "./env.js";
import { ownHosts, touches, touchOf, type FirstTouch } from "./first-touch.js";
import { belongsToLead, forwardPending, forwardToLead, leadLink, storeLeadView, type LeadView } from "./identity/forward.js";
import { leadId } from "./identity/lead-object.js";
import { USED_TOKENS_DDL, useOnce } from "./identity/once.js";
import { getEngine } from "./rules-cache.js";
import { ensureTables, forgetTables, hasTable, kvPut, visitorKv } from "./sql-tables.js";
import { ATTEMPTS_DDL, deadLetterKey, listOutbox, OUTBOX_DDL, pendingBefore, pendingRows, requeue, type OutboxMessage } from "./webhooks/deliver.js";
import { alarmBy, runDelivery } from "./webhooks/alarm.js";
import { RETENTION_CHECK_MS, retentionMs } from "./retention.js";
import type { WebhookPayload } from "./webhooks/templates.js";
import type { CollectResponse, WireAction } from "./wire.js";

/** A batch handed over by the collect route: events already validated and normalised. */
export interface BatchInput {
  site: string;
  visitor: string;
  /** Path the CTAs are chosen for. */
  page: string | undefined;
  events: { event: EngineEvent; capturedAt: number }[];
  now: number;
}

/** What the worker keeps about a visitor besides the scoring state. */
export interface Profile {
  site: string;
  firstTouch?: FirstTouch;
  lastPage?: string;
}

/** The admin view of a visitor. */
export interface VisitorSnapshot {
  site: string;
  visitor: string;
  stage: string;
  scores: Record<string, number>;
  identity: VisitorState["identity"];
  firstSeen: number | null;
  lastSeen: number | null;
  events: number;
  profile: Profile;
  explanation: Explanation;
  outbox: { id: string; webhook: string; target: string; status: string; attempts: number; createdAt: number }[];
}

/** Top rules carried in a webhook to explain the score. */
const WEBHOOK_EXPLANATION_MAX = 10;

/**
 * The tables every visitor needs from its first batch. The ledger's `seq` is the rowid (rows are
 * never deleted but all at once, so it only grows) and `kv` is keyed by its primary key alone:
 * fewer pages written per batch than AUTOINCREMENT's sequence table and a rowid table with its
 * own index. Objects created before keep their tables as they were; the same statements serve both.
 */
const CORE_TABLES: Record<string, string> = {
  events: "CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, type TEXT NOT NULL, captured_at INTEGER NOT NULL, received_at INTEGER NOT NULL, body TEXT NOT NULL);",
  ledger: `CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY, event TEXT NOT NULL, at INTEGER NOT NULL, rule TEXT NOT NULL,
    grp TEXT NOT NULL, points REAL NOT NULL, reason TEXT NOT NULL, version TEXT NOT NULL, half_life REAL);`,
  kv: "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;",
};
/** The webhook outbox and its tries: created with the visitor's first webhook (most visitors never qualify). */
const OUTBOX_TABLES: Record<string, string> = { outbox: OUTBOX_DDL, outbox_attempts: ATTEMPTS_DDL };
/** Nonces of the tokens the visitor used: created with its first cross-domain hand-off. */
const TOKEN_TABLES: Record<string, string> = { used_tokens: USED_TOKENS_DDL };

type Row = Record<string, SqlStorageValue>;

export class VisitorObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private cached: { state: VisitorState; profile: Profile } | undefined;
  /** The site this instance has recorded as the visitor's (`index_site`), so it is written once per instance. */
  private siteRecorded: string | undefined;
  /** The delivery run in progress: alarms (and tests firing them) queue behind it, never overlap. */
  private delivering: Promise<void> = Promise.resolve();
  /** Batches taken by this instance: an alarm run that saw a batch arrive meanwhile sets the alarm again. */
  private batches = 0;
  /** The earliest time of this visitor's next index report, set by the last one (see console/index-writer.ts). */
  private reportNotBefore: number | undefined;
  /** When this instance last applied the site's retention, and when its next event expires (see keepRetention). */
  private retainedAt = 0;
  private expiresAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.migrate();
  }

  /**
   * Creates what is missing of the core tables: nothing but one read of `sqlite_master` for an
   * object that already has them, whatever version of the worker created it.
   */
  private migrate(): void {
    ensureTables(this.sql, CORE_TABLES);
  }

  /** Scores a batch; answers with what was stored, the visitor's stage and scores, and the CTAs for the page. */
  async collect(input: BatchInput): Promise<Omit<CollectResponse, "ack"> & { ack: string[] }> {
    const engine = await getEngine(this.env.RULES, input.site, input.now);
    if (!engine) throw new Error(`site ${input.site} has no rules`);
    const ack = input.events.map((e) => e.event.id);
    const stitch = engine.rules.site.stitch === true;
    let enqueued = 0;
    let state: VisitorState;
    this.batches++;
    try {
      state = this.ctx.storage.transactionSync(() => {
        let { state, profile } = this.load(engine, input.site, input.visitor);
        const [stateBefore, profileBefore] = [state, profile];
        const fresh = this.storeEvents(input);
        // An event stored before (in an earlier batch or earlier in this one) is acknowledged again, never scored twice.
        const events = input.events.filter(({ event }) => fresh.delete(event.id)).map(({ event }) => event);
        const result = engine.applyAll(state, events, input.now);
        state = result.state;
        this.insertLedger(result.entries);
        // The profile each event left, for the webhooks it made due.
        const profiles = new Map<string, Profile>();
        const own = ownHosts(engine);
        for (const event of events) profiles.set(event.id, (profile = touch(profile, event, input.now, own)));
        // A visitor that is, or with this batch becomes, part of a lead leaves its webhooks to the lead (identity/forward.ts).
        if (result.webhooks.length > 0 && !belongsToLead(this.sql, this.env, state, stitch)) {
          for (const due of result.webhooks) {
            const event = events.find((e) => e.id === due.event)!;
            const transitions = result.transitions.filter((t) => t.event === due.event);
            if (this.enqueue(engine, due, due.state, profiles.get(due.event)!, transitions, event, input)) enqueued++;
          }
        }
        this.saveKv(state !== stateBefore ? state : undefined, profile !== profileBefore ? profile : undefined, input.site);
        this.cached = { state, profile };
        return state;
      });
    } catch (e) {
      // Nothing of the batch was written; a table created in it (the outbox) is gone too.
      this.cached = undefined;
      forgetTables(this.sql);
      throw e;
    }
    if (enqueued > 0) await this.scheduleDelivery(input.now);
    if (input.now - this.retainedAt >= RETENTION_CHECK_MS) await this.keepRetention(engine, input.site, state.visitor, input.now);
    const lead = stitch ? await forwardToLead(this.ctx.storage, this.env, { ...input, page: input.page ?? this.cached?.profile.lastPage }, state, stitch) : undefined;
    await scheduleReport(this.ctx.storage, input.now, this.reportNotBefore); // the console's index, batched (console/index-writer.ts)
    if (lead) return { ack, visitor: { stage: lead.stage, score: lead.score }, actions: lead.actions };
    const scores = engine.scores(state, input.now);
    const page = input.page ?? this.cached?.profile.lastPage ?? "/";
    const actions: WireAction[] = engine.ctas(state, { path: page }, input.now);
    return { ack, visitor: { stage: state.stage, score: { ...scores, fit: scores.fit ?? 0, engagement: scores.engagement ?? 0, total: scores.total ?? 0 } }, actions };
  }

  /**
   * Stores the batch's events; answers the ids stored now (an id seen before, in an earlier batch
   * or earlier in this one, is not among them). One statement per event, the same text every
   * time: each object prepares it once, where multi-row statements would be prepared again for
   * every batch size an object sees.
   */
  private storeEvents(input: BatchInput): Set<string> {
    const fresh = new Set<string>();
    for (const { event, capturedAt } of input.events) {
      const { id, ...body } = event;
      const stored = this.sql.exec("INSERT OR IGNORE INTO events (id, type, captured_at, received_at, body) VALUES (?, ?, ?, ?, ?)",
        id, event.type, capturedAt, input.now, JSON.stringify(body));
      if (stored.rowsWritten > 0) fresh.add(id);
    }
    return fresh;
  }

  /** Writes what changed of the visitor's records; the site once per instance (see console/index-writer.ts). */
  private saveKv(state: VisitorState | undefined, profile: Profile | undefined, site: string): void {
    if (state) kvPut(this.sql, "state", JSON.stringify(state));
    if (profile) kvPut(this.sql, "profile", JSON.stringify(profile));
    if (this.siteRecorded !== site) {
      this.sql.exec("INSERT OR IGNORE INTO kv (k, v) VALUES ('index_site', ?)", site);
      this.siteRecorded = site;
    }
  }

  /** The visitor's state, scores, identity and the explanation of every point. */
  async snapshot(site: string, visitor: string, now: number): Promise<VisitorSnapshot | null> {
    const engine = await getEngine(this.env.RULES, site, now);
    if (!engine) throw new Error(`site ${site} has no rules`);
    if (this.sql.exec("SELECT 1 FROM kv WHERE k = 'state'").toArray().length === 0) return null;
    const { state, profile } = this.load(engine, site, visitor);
    const ledger = this.sql.exec("SELECT * FROM ledger ORDER BY seq").toArray().map(ledgerFromRow);
    const outbox = (hasTable(this.sql, "outbox") ? this.sql.exec("SELECT id, webhook, target, status, attempts, created_at FROM outbox ORDER BY created_at, id").toArray() : [])
      .map((r) => ({ id: String(r.id), webhook: String(r.webhook), target: String(r.target), status: String(r.status), attempts: Number(r.attempts), createdAt: Number(r.created_at) }));
    return {
      site, visitor, stage: state.stage, scores: engine.scores(state, now), identity: state.identity,
      firstSeen: state.firstSeen, lastSeen: state.lastSeen, events: state.events, profile,
      explanation: engine.explain(state, ledger, now), outbox,
    };
  }

  /**
   * Delivers due webhooks. Why a Durable Object alarm rather than a Queue: the outbox row is
   * written in the same SQLite transaction as the stage change, and the alarm lives in the same
   * storage, so there is no moment where a message exists but nothing is scheduled to send it;
   * one object per visitor sends that visitor's messages one at a time, in order; it needs no
   * extra binding or consumer, and runs the same under wrangler dev. The retry schedule (about a
   * day) is kept per message in the outbox, not in a queue's redelivery settings.
   */
  override async alarm(): Promise<void> {
    const run = this.delivering.then(() => this.deliverNow());
    this.delivering = run.catch(() => undefined);
    await run;
    await this.forwardPending();
    // A visitor who never comes back still has its events removed on time: by the alarm set for
    // them, or once an hour while the instance lives (not on every index report).
    const now = Date.now();
    if (now >= this.expiresAt || now - this.retainedAt >= RETENTION_CHECK_MS) {
      const site = this.sql.exec("SELECT v FROM kv WHERE k = 'index_site'").toArray()[0]?.v;
      const engine = site === undefined ? undefined : await getEngine(this.env.RULES, String(site));
      if (engine) await this.keepRetention(engine, String(site), this.load(engine, String(site), "").state.visitor, now);
    }
    // The run that fired may have used the alarm set for the next event to expire: set it again
    // (a batch leaves that to the alarm it schedules for the index report).
    if (this.expiresAt > now && Number.isFinite(this.expiresAt)) await alarmBy(this.ctx.storage, this.expiresAt);
  }

  /**
   * The site's retention (privacy.retentionDays): the raw events received before it (pages, form
   * fields, properties) are removed here and from the console's index; the ledger stays, since it is
   * what explains the score (rule, points, reason). Notes when the next event expires, for the alarm.
   */
  private async keepRetention(engine: Engine, site: string, visitor: string, now: number): Promise<void> {
    this.retainedAt = now;
    const keepMs = retentionMs(engine);
    const cutoff = now - keepMs;
    if (this.sql.exec("DELETE FROM events WHERE received_at < ?", cutoff).rowsWritten > 0) {
      try {
        await forgetEventsBefore(this.env, site, visitor, cutoff);
      } catch (e) {
        // The next run removes them: the index is told again.
        console.error(`retention of ${site}:${visitor} in the index failed: ${(e as Error).message}`);
        this.retainedAt = 0;
      }
    }
    const oldest = this.sql.exec("SELECT min(received_at) AS at FROM events").one().at;
    this.expiresAt = oldest === null ? Number.POSITIVE_INFINITY : Number(oldest) + keepMs + 1;
  }

  /** Sends the lead the events it could not take at collect time (identity/forward.ts); a failure sets the alarm again. */
  private async forwardPending(): Promise<void> {
    if (!forwardPending(this.sql)) return;
    const site = leadLink(this.sql)!.site;
    const engine = await getEngine(this.env.RULES, site);
    if (!engine) return;
    const { state } = this.load(engine, site, "");
    await forwardToLead(this.ctx.storage, this.env, { site, visitor: state.visitor, page: undefined, now: Date.now() }, state, engine.rules.site.stitch === true);
  }

  /**
   * One alarm run: with messages pending, the delivery run (the index reported around it);
   * otherwise, as for most visitors, the index report alone. A batch that arrived during the run
   * may not be in what it reported: the alarm is set for it again.
   */
  private async deliverNow(): Promise<void> {
    const batches = this.batches;
    if (pendingRows(this.sql).length > 0) await runDelivery(this.ctx.storage, this.env, (send) => reportAroundDelivery(this.ctx.storage, this.env, send));
    else {
      const next = await reportToIndex(this.ctx.storage, this.env);
      if (next !== null) await this.ctx.storage.setAlarm(Math.max(next, 1));
    }
    this.reportNotBefore = nextReportAt(Date.now());
    if (this.batches !== batches) await scheduleReport(this.ctx.storage, Date.now(), this.reportNotBefore);
  }

  /** Makes sure the alarm fires by `at` (an earlier alarm is kept). */
  private scheduleDelivery(at: number): Promise<void> {
    return alarmBy(this.ctx.storage, at);
  }

  /** Every webhook message of the visitor with every try (time, status or error, duration); null for an unknown visitor. */
  async webhooks(): Promise<OutboxMessage[] | null> {
    if (this.sql.exec("SELECT 1 FROM kv WHERE k = 'state'").toArray().length === 0) return null;
    return listOutbox(this.sql);
  }

  /** Queues a dead letter again, same webhook-id; says why not when it is not one. */
  async replay(msgId: string): Promise<"unknown" | "not_dead" | OutboxMessage> {
    const refused = await requeue(this.sql, this.env, msgId);
    if (refused) return refused;
    await this.scheduleDelivery(Date.now());
    return listOutbox(this.sql).find((m) => m.id === msgId)!;
  }

  /** Reports the visitor to the console's index now (`rebuild`: everything again); answers whether it all got there. */
  async reportIndex(rebuild = false): Promise<boolean> {
    return reportAll(this.ctx.storage, this.env, rebuild);
  }

  /** When this visitor's oldest pending message to `target` created before `createdAt` is tried next (its lead's later messages wait for it), or null. */
  async pendingBefore(target: string, createdAt: number): Promise<number | null> {
    return pendingBefore(this.sql, target, createdAt);
  }

  /** The id of the lead this visitor is part of, or null. */
  async lead(): Promise<{ id: string; key: string } | null> {
    const link = leadLink(this.sql);
    return link ? { id: leadId(link.key), key: link.key } : null;
  }

  /**
   * The lead this visitor belongs to changed (events from another of its browsers, or an email):
   * keeps its stage and total for the console's index, which this visitor reports again. Nothing
   * for a visitor of another lead (it was reset since) or one erased.
   */
  async leadChanged(view: LeadView, now: number): Promise<void> {
    const link = leadLink(this.sql);
    if (link === undefined || leadId(link.key) !== view.id) return;
    if (storeLeadView(this.sql, view)) await scheduleReport(this.ctx.storage, now, this.reportNotBefore);
  }

  /** Uses a single-use token's nonce (a cross-domain hand-off of this visitor); false when it was used before. */
  async useToken(n: string, expS: number, now: number): Promise<boolean> {
    ensureTables(this.sql, TOKEN_TABLES);
    return useOnce(this.sql, n, expS, now);
  }

  /** Erases everything stored about the visitor, pending webhooks included. Answers whether anything existed. */
  async erase(): Promise<boolean> {
    const existed = this.sql.exec("SELECT 1 FROM kv WHERE k = 'state'").toArray().length > 0;
    const dead = hasTable(this.sql, "outbox") ? this.sql.exec("SELECT id, payload FROM outbox WHERE status = 'dead'").toArray() : [];
    for (const row of dead) {
      const site = (JSON.parse(String(row.payload)) as WebhookPayload).data.site;
      await this.env.RULES.delete(deadLetterKey(site, String(row.id)));
    }
    await forgetInIndex(this.ctx.storage, this.env);
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.cached = undefined;
    this.siteRecorded = undefined;
    forgetTables(this.sql);
    this.migrate();
    return existed;
  }

  private load(engine: Engine, site: string, visitor: string): { state: VisitorState; profile: Profile } {
    if (this.cached) return this.cached;
    const kv = visitorKv(this.sql);
    const stateText = kv.get("state");
    const profileText = kv.get("profile");
    const state = stateText !== undefined ? (JSON.parse(stateText) as VisitorState) : engine.initialState(visitor);
    const profile = profileText !== undefined ? (JSON.parse(profileText) as Profile) : { site };
    if (kv.get("index_site") === site) this.siteRecorded = site;
    this.cached = { state, profile };
    return this.cached;
  }

  /** Appends ledger entries, in order. */
  private insertLedger(entries: LedgerEntry[]): void {
    for (const e of entries) {
      this.sql.exec("INSERT INTO ledger (event, at, rule, grp, points, reason, version, half_life) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        e.event, e.at, e.rule, e.group, e.points, e.reason, e.version, e.halfLifeDays ?? null);
    }
  }

  /** Writes the outbox row of a webhook due (once per idempotency key); answers whether it is new. */
  private enqueue(engine: Engine, due: WebhookDue, state: VisitorState, profile: Profile, transitions: StageChange[], event: EngineEvent, input: BatchInput): boolean {
    ensureTables(this.sql, OUTBOX_TABLES);
    const id = `msg_${crypto.randomUUID().replace(/-/g, "")}`;
    const transition = transitions.find((t) => t.to === due.stage);
    const ledger = this.sql.exec("SELECT * FROM ledger ORDER BY seq").toArray().map(ledgerFromRow);
    const explanation = engine.explain(state, ledger, input.now);
    const payload: WebhookPayload = {
      type: due.trigger === "stage_entered" ? "visitor.stage_entered" : "visitor.score_reached",
      timestamp: new Date(input.now).toISOString(),
      data: {
        site: input.site,
        webhook: due.webhook,
        rulesVersion: engine.version,
        visitor: {
          id: input.visitor,
          stage: state.stage,
          scores: explanation.scores,
          email: state.identity.email ?? null,
          emailKind: state.identity.kind ?? null,
          traits: state.identity.traits,
          firstSeen: state.firstSeen,
          lastSeen: state.lastSeen,
          firstTouch: profile.firstTouch ?? null,
        },
        ...(due.trigger === "stage_entered"
          ? { stage: { from: transition?.from ?? null, to: due.stage ?? state.stage, reason: transition?.reason ?? null, skipped: transition?.skipped ?? [] } }
          : { score: due.score }),
        explanation: explanation.rules.slice(0, WEBHOOK_EXPLANATION_MAX).map((r) => ({ rule: r.rule, description: r.description, times: r.times, points: r.now })),
        page: { path: event.path ?? null, url: event.url ?? null },
        event: event.id,
      },
    };
    return this.sql.exec("INSERT OR IGNORE INTO outbox (id, key, webhook, target, payload, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      id, due.key, due.webhook, due.target, JSON.stringify(payload), input.now, input.now).rowsWritten > 0;
  }
}

function ledgerFromRow(r: Row): LedgerEntry {
  const e: LedgerEntry = {
    event: String(r.event), at: Number(r.at), rule: String(r.rule), group: String(r.grp),
    points: Number(r.points), reason: String(r.reason), version: String(r.version),
  };
  if (r.half_life !== null && r.half_life !== undefined) e.halfLifeDays = Number(r.half_life);
  return e;
}

/**
 * The profile after an event: first touch on the first page view or tracked email click (see
 * first-touch.ts), last page on every page view (the same object when nothing changed).
 */
function touch(profile: Profile, event: EngineEvent, now: number, own: ReadonlySet<string>): Profile {
  if (!touches(event)) return profile;
  const page = event.type === "page_view";
  if (profile.firstTouch && (!page || profile.lastPage === event.path)) return profile;
  const next: Profile = page ? { ...profile, lastPage: event.path } : { ...profile };
  if (!profile.firstTouch) next.firstTouch = touchOf(event, now, own);
  return next;
}
