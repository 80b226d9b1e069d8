/**
 * One Durable Object per (site, lead): a person across browsers, devices and domains. Its name is
 * the keyed hash of the person's normalised email (keys.ts), never the address.
 *
 * Visitor objects stay the writers of their own events (dedup, acknowledgement); once a visitor
 * is identified it is linked here and forwards every event it stores (at least once, from a cursor:
 * see `VisitorObject.forwardToLead`). This object keeps the union of its visitors' events, each once
 * (the primary key is the event id, stamped at capture), and scores them with the site's engine in
 * time order (received time, then capture time, then id). An event that arrives in order is applied
 * on top of the state; one older than the last applied (a second device linked with its past) makes
 * the lead replay its whole history, so the result is exactly what one device sending the same events
 * at the same times would have got: a capped rule hit on two devices counts once.
 *
 * Retention (privacy.retentionDays) holds here too: events received before it are removed, and the
 * state they left is kept as the base a replay starts from (with the ledger entries they earned),
 * so a later merge replays only the events still kept and the points of the removed ones stay. An
 * event that reaches the lead already past the retention is neither kept nor scored here (its own
 * visitor removes it as well).
 *
 * Stages never move backwards on a merge (a replay that ends lower keeps the stage the lead had; a
 * demotion rule still demotes). Webhooks: each (webhook, stage) is announced once per lead, ever:
 * the `announced` table holds what this lead, or one of its visitors before it was linked, already
 * sent; outbox rows are written in the same transaction as the state, delivered by this object's
 * alarm with the shared code of worker/webhooks/.
 */
import { DurableObject } from "cloudflare:workers";
import { DAY_MS, normalizeEvent, type Engine, type EngineEvent, type LedgerEntry, type VisitorState, type WebhookDue, type StageChange, type Explanation } from "../../rules/index.js";
import { visitorStub, type Env } from "../env.js";
import { getEngine } from "../rules-cache.js";
import { ATTEMPTS_DDL, OUTBOX_DDL, deadLetterKey, listOutbox, requeue, type OutboxMessage } from "../webhooks/deliver.js";
import { alarmBy, runDelivery } from "../webhooks/alarm.js";
import { RETENTION_CHECK_MS, retentionMs } from "../retention.js";
import type { WebhookPayload } from "../webhooks/templates.js";
import { ownHosts, touches, touchOf, type FirstTouch } from "../first-touch.js";
import type { WireAction } from "../wire.js";
import type { LeadView } from "./forward.js";
import { reportOutbox } from "../console/index-writer.js";
import { accountOf, accountStub, type MemberReport } from "./accounts.js";
import { normaliseEmail } from "./keys.js";
import { USED_TOKENS_DDL, useOnce } from "./once.js";

/** An event as a lead receives it: with the time its visitor received it (the time it is scored at). */
export interface LeadEvent {
  event: EngineEvent;
  capturedAt: number;
  receivedAt: number;
}

/** Events for a lead, from a linked visitor or from an email signal. */
export interface LeadInput {
  site: string;
  /** The lead key (keys.ts `leadKeyOf`). */
  lead: string;
  /** The address the lead was first identified with; later ones do not replace it. */
  email: string;
  /** The visitor the events come from (linked on first contact); absent for email signals. */
  visitor?: string;
  events: LeadEvent[];
  /** Webhooks the visitor sent before it was linked (stages, and scores as `score:<name>:<threshold>`): never sent again for the lead. */
  announced?: { webhook: string; stage: string }[];
  /** Path the CTAs are chosen for. */
  page?: string;
  now: number;
}

/** What a lead answers: its stage, scores and the CTAs for the page. */
export interface LeadAnswer {
  lead: string;
  stage: string;
  score: { fit: number; engagement: number; total: number } & Record<string, number>;
  actions: WireAction[];
  /** How many times events changed the lead: a visitor keeps the view of the highest (forward.ts `storeLeadView`). */
  changes: number;
}

/** The admin view of a lead. */
export interface LeadSnapshot {
  site: string;
  lead: string;
  email: string | null;
  stage: string;
  scores: Record<string, number>;
  identity: VisitorState["identity"];
  visitors: string[];
  account: string | null;
  events: number;
  firstSeen: number | null;
  lastSeen: number | null;
  explanation: Explanation;
  outbox: { id: string; webhook: string; status: string; attempts: number }[];
}

/** What erasing a lead removed, for the caller to follow (its visitors, its account). */
export interface LeadErased {
  existed: boolean;
  site: string | null;
  visitors: string[];
  account: string | null;
}

/** The public id of a lead. */
export const leadId = (key: string) => `ld_${key}`;
/** The Durable Object name of a lead. */
export const leadName = (site: string, key: string) => `${site}:lead:${key}`;

const WEBHOOK_EXPLANATION_MAX = 10;
/** How soon after events change a lead its other visitors are told its stage and total (several batches, one notice). */
const MEMBERS_NOTICE_DELAY_MS = 2_000;
/** When a visitor could not be told, the lead's alarm tries again this much later. */
const MEMBERS_RETRY_MS = 30_000;
/** Clicks on two different links of one mail within this are a link scanner's, not a person's. */
export const LINK_BURST_MS = 3_000;

type SortKey = [number, number, string];
type Row = Record<string, SqlStorageValue>;

const before = (a: SortKey, b: SortKey) => a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);

export class LeadObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private delivering: Promise<void> = Promise.resolve();
  /** When this instance last applied the site's retention, and when its next event expires (see keepRetention). */
  private retainedAt = 0;
  private expiresAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.migrate();
  }

  private migrate(): void {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS members (visitor TEXT PRIMARY KEY, linked_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY, visitor TEXT, type TEXT NOT NULL, captured_at INTEGER NOT NULL, received_at INTEGER NOT NULL, body TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS events_order ON events (received_at, captured_at, id);
      CREATE TABLE IF NOT EXISTS ledger (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, at INTEGER NOT NULL, rule TEXT NOT NULL,
        grp TEXT NOT NULL, points REAL NOT NULL, reason TEXT NOT NULL, version TEXT NOT NULL, half_life REAL);
      CREATE TABLE IF NOT EXISTS announced (key TEXT PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS clicks (mail TEXT NOT NULL, href TEXT NOT NULL, at INTEGER NOT NULL);
      ${OUTBOX_DDL}
      ${ATTEMPTS_DDL}
      ${USED_TOKENS_DDL}
    `);
  }

  private get(k: string): string | undefined {
    const row = this.sql.exec("SELECT v FROM kv WHERE k = ?", k).toArray()[0];
    return row ? String(row.v) : undefined;
  }

  private put(k: string, v: string): void {
    this.sql.exec("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", k, v);
  }

  /** Records the lead's address (first one wins) so email signals can name it; answers the lead id. */
  async register(site: string, key: string, email: string): Promise<string> {
    this.ctx.storage.transactionSync(() => {
      this.put("site", site);
      this.put("key", key);
      if (this.get("email") === undefined) this.put("email", email);
    });
    return leadId(key);
  }

  /** The lead's address, or null when it was never registered nor identified. */
  async address(): Promise<string | null> {
    return this.get("email") ?? null;
  }

  /** Uses a single-use token's nonce; false when it was used before. */
  async useToken(n: string, expS: number, now: number): Promise<boolean> {
    return useOnce(this.sql, n, expS, now);
  }

  /**
   * Records an email open or click of the lead's own. The event carries the lead's address (the
   * recipient is who opened or clicked), so a lead known only from a mailing is identified by it.
   * A click on another link of the same mail (`mail`) within `LINK_BURST_MS` of the last is a
   * scanner following every link, even one that looks like a browser: not scored ("burst").
   * Answers "unknown" when the lead has no address (it was never registered).
   */
  async signal(input: { site: string; lead: string; kind: "open" | "click"; campaign: string; url?: string; mail?: string; id: string; now: number }): Promise<"recorded" | "burst" | "unknown"> {
    const email = this.get("email");
    if (email === undefined) return "unknown";
    if (input.kind === "click" && input.mail !== undefined && input.url !== undefined) {
      this.sql.exec("DELETE FROM clicks WHERE at < ?", input.now - DAY_MS);
      const burst = this.sql.exec("SELECT 1 FROM clicks WHERE mail = ? AND href != ? AND at > ? LIMIT 1", input.mail, input.url, input.now - LINK_BURST_MS).toArray().length > 0;
      this.sql.exec("INSERT INTO clicks (mail, href, at) VALUES (?, ?, ?)", input.mail, input.url, input.now);
      if (burst) return "burst";
    }
    const event = emailSignalEvent(input.kind, input.id, email, input.campaign, input.url);
    await this.ingest({ site: input.site, lead: input.lead, email, events: [{ event, capturedAt: input.now, receivedAt: input.now }], now: input.now });
    return "recorded";
  }

  /** Stores and scores events (each once, in time order); answers the lead's stage, scores and CTAs. */
  async ingest(input: LeadInput): Promise<LeadAnswer> {
    const engine = await getEngine(this.env.RULES, input.site, input.now);
    if (!engine) throw new Error(`site ${input.site} has no rules`);
    const id = leadId(input.lead);
    let enqueued = 0;
    let changed = false;
    const state = this.ctx.storage.transactionSync(() => {
      this.put("site", input.site);
      this.put("key", input.lead);
      if (this.get("email") === undefined) this.put("email", input.email);
      const own = normaliseEmail(this.get("email")!);
      if (input.visitor !== undefined) this.sql.exec("INSERT OR IGNORE INTO members (visitor, linked_at) VALUES (?, ?)", input.visitor, input.now);
      for (const a of input.announced ?? []) this.sql.exec("INSERT OR IGNORE INTO announced (key) VALUES (?)", `${a.webhook}:${a.stage}`);

      const fresh: { key: SortKey; event: EngineEvent }[] = [];
      const cutoff = input.now - retentionMs(engine);
      for (const { event, capturedAt, receivedAt } of input.events) {
        if (receivedAt < cutoff) continue; // past the retention: its visitor removes it too
        const scored = ownEmailOnly(event, own);
        const { id: eventId, ...body } = scored;
        const stored = this.sql.exec("INSERT OR IGNORE INTO events (id, visitor, type, captured_at, received_at, body) VALUES (?, ?, ?, ?, ?, ?)",
          eventId, input.visitor ?? null, event.type, capturedAt, receivedAt, JSON.stringify(body));
        if (stored.rowsWritten > 0) fresh.push({ key: [receivedAt, capturedAt, eventId], event: scored });
      }
      const previous = this.loadState(engine, id);
      if (fresh.length === 0) return previous;
      changed = true;
      this.put("changes", String(Number(this.get("changes") ?? 0) + 1));

      const cursorText = this.get("cursor");
      const cursor = cursorText === undefined ? null : (JSON.parse(cursorText) as SortKey);
      const inOrder = cursor === null || fresh.every((f) => before(f.key, cursor) > 0);
      let todo: { key: SortKey; event: EngineEvent }[];
      let state: VisitorState;
      if (inOrder) {
        todo = fresh.sort((a, b) => before(a.key, b.key));
        state = previous;
      } else {
        // An event older than the last one applied: the whole history again, from the state the
        // events past the retention left (from scratch when none was removed).
        todo = this.sql.exec("SELECT id, captured_at, received_at, body FROM events ORDER BY received_at, captured_at, id").toArray()
          .map((r) => ({ key: keyOf(r), event: eventOf(r) }));
        const base = this.get("base_state");
        state = base === undefined ? engine.initialState(id) : (JSON.parse(base) as VisitorState);
        this.sql.exec("DELETE FROM ledger WHERE seq > ?", Number(this.get("base_seq") ?? 0));
        const baseTouch = this.get("base_first_touch");
        if (baseTouch === undefined) this.sql.exec("DELETE FROM kv WHERE k = 'first_touch'");
        else this.put("first_touch", baseTouch);
      }
      const dues: { due: WebhookDue; transitions: StageChange[]; event: EngineEvent }[] = [];
      let firstTouch = this.get("first_touch");
      for (const { key, event } of todo) {
        const result = engine.apply(state, event, key[0]);
        state = result.state;
        for (const e of result.entries) this.insertLedger(e);
        for (const due of result.webhooks) dues.push({ due, transitions: result.transitions, event });
        if (firstTouch === undefined && touches(event)) {
          firstTouch = JSON.stringify(touchOf(event, key[0], ownHosts(engine)));
          this.put("first_touch", firstTouch);
        }
      }
      const stageIds = engine.rules.stages.map((s) => s.id);
      if (!inOrder && stageIds.indexOf(state.stage) < stageIds.indexOf(previous.stage)) {
        // A merge never moves a lead backwards: it keeps the stage (and the story of it) it had.
        state = { ...state, stage: previous.stage, stageHistory: previous.stageHistory };
      }
      this.put("state", JSON.stringify(state));
      this.put("cursor", JSON.stringify(todo[todo.length - 1]!.key));
      for (const d of dues) if (this.enqueue(engine, input.site, id, d.due, state, d.transitions, d.event, input.now)) enqueued++;
      return state;
    });
    if (enqueued > 0) await this.scheduleDelivery(input.now);
    if (changed && this.members().some((v) => v !== input.visitor)) {
      // The lead's other browsers hear of it from the alarm, off this request's path. The flag holds
      // the change it was raised for: a notice sent meanwhile does not clear a later one.
      this.put("members_due", this.get("changes") ?? "0");
      await alarmBy(this.ctx.storage, input.now + MEMBERS_NOTICE_DELAY_MS);
    }
    if (input.now - this.retainedAt >= RETENTION_CHECK_MS) await this.keepRetention(engine, input.now);
    if (changed || this.get("account_due") !== undefined) await this.rollUp(engine, input.site, state, input.now);
    const scores = engine.scores(state, input.now);
    return {
      lead: id, stage: state.stage,
      score: { ...scores, fit: scores.fit ?? 0, engagement: scores.engagement ?? 0, total: scores.total ?? 0 },
      actions: engine.ctas(state, { path: input.page ?? "/" }, input.now),
      changes: Number(this.get("changes") ?? 0),
    };
  }

  /**
   * Tells each of the lead's visitors its stage and total after events changed it (from another
   * browser, or an email): what the console's index shows beside each visitor's own row. A visitor
   * that cannot be reached is told again on a later alarm; each keeps the latest view it heard of.
   */
  private async noticeMembers(now: number): Promise<void> {
    const site = this.get("site");
    const key = this.get("key");
    const due = this.get("members_due");
    if (due === undefined || site === undefined || key === undefined) return;
    const engine = await getEngine(this.env.RULES, site, now);
    if (!engine) return;
    const id = leadId(key);
    const state = this.loadState(engine, id);
    const view: LeadView = { id, stage: state.stage, total: engine.scores(state, now).total ?? 0, changes: Number(this.get("changes") ?? 0) };
    const told = await Promise.allSettled(this.members().map((v) => visitorStub(this.env, site, v).leadChanged(view, now)));
    const failed = told.filter((t) => t.status === "rejected").length;
    if (failed === 0) this.sql.exec("DELETE FROM kv WHERE k = 'members_due' AND v = ?", due);
    else {
      console.error(`lead ${site}:${key}: ${failed} of its visitors not told of its stage and total; told again later`);
      await alarmBy(this.ctx.storage, now + MEMBERS_RETRY_MS);
    }
  }

  /**
   * Reports the lead to its account (the company of its corporate email domain, or its `company`
   * trait); moves it when that changes. Only after events changed the lead; a failed report is
   * retried on the next call that reaches the lead: the account keeps each member's latest report
   * only, so a late one is harmless.
   */
  private async rollUp(engine: Engine, site: string, state: VisitorState, now: number): Promise<void> {
    if (engine.rules.accounts === undefined) return;
    const account = accountOf(state.identity);
    const was = this.get("account");
    const key = this.get("key")!;
    const report: MemberReport = {
      lead: key, scores: engine.scores(state, now),
      signals: Object.fromEntries(Object.entries(state.counts).map(([rule, c]) => [rule, c.n])),
      stage: state.stage, email: this.get("email") ?? null, at: now,
    };
    try {
      if (was !== undefined && was !== account?.key) await accountStub(this.env, site, was).remove(site, key, now);
      if (account !== undefined) await accountStub(this.env, site, account.key).report(site, account, report, now);
      if (account === undefined) this.sql.exec("DELETE FROM kv WHERE k = 'account'");
      else this.put("account", account.key);
      this.sql.exec("DELETE FROM kv WHERE k = 'account_due'");
    } catch (e) {
      // Reported again with the lead's next events (or the next time anything reaches it).
      this.put("account_due", "1");
      console.error(`lead ${site}:${key}: account report failed: ${(e as Error).message}`);
    }
  }

  /** The lead's state, scores, visitors and the explanation of every point; null for an unknown lead. */
  async snapshot(now: number): Promise<LeadSnapshot | null> {
    const site = this.get("site");
    if (site === undefined) return null;
    const engine = await getEngine(this.env.RULES, site, now);
    if (!engine) throw new Error(`site ${site} has no rules`);
    const key = this.get("key")!;
    const state = this.loadState(engine, leadId(key));
    const ledger = this.sql.exec("SELECT * FROM ledger ORDER BY seq").toArray().map(ledgerFromRow);
    return {
      site, lead: leadId(key), email: this.get("email") ?? null, stage: state.stage, scores: engine.scores(state, now),
      identity: state.identity, visitors: this.members(), account: this.get("account") ?? null,
      events: Number(this.sql.exec("SELECT count(*) AS n FROM events").one().n), firstSeen: state.firstSeen, lastSeen: state.lastSeen,
      explanation: engine.explain(state, ledger, now),
      outbox: listOutbox(this.sql).map((m) => ({ id: m.id, webhook: m.webhook, status: m.status, attempts: m.attempts })),
    };
  }

  /** Every webhook message of the lead with every try; null for an unknown lead. */
  async webhooks(): Promise<OutboxMessage[] | null> {
    return this.get("site") === undefined ? null : listOutbox(this.sql);
  }

  /** Queues a dead letter again, same webhook-id; says why not when it is not one. */
  async replay(msgId: string): Promise<"unknown" | "not_dead" | OutboxMessage> {
    const refused = await requeue(this.sql, this.env, msgId);
    if (refused) return refused;
    await this.scheduleDelivery(Date.now());
    return listOutbox(this.sql).find((m) => m.id === msgId)!;
  }

  /** Erases the lead's storage; answers its visitors and account so the caller erases those too. */
  async erase(): Promise<LeadErased> {
    const site = this.get("site") ?? null;
    const out: LeadErased = { existed: site !== null, site, visitors: this.members(), account: this.get("account") ?? null };
    const dead = this.sql.exec("SELECT id FROM outbox WHERE status = 'dead'").toArray();
    if (site !== null) for (const row of dead) await this.env.RULES.delete(deadLetterKey(site, String(row.id)));
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.migrate();
    return out;
  }

  /** Delivers due webhooks (same code and guarantees as the visitor object's alarm), and applies the retention when an event expires. */
  override async alarm(): Promise<void> {
    const run = this.delivering.then(() => this.deliverNow());
    this.delivering = run.catch(() => undefined);
    await run;
    const now = Date.now();
    await this.noticeMembers(now);
    if (now >= this.expiresAt || now - this.retainedAt >= RETENTION_CHECK_MS) {
      const site = this.get("site");
      const engine = site === undefined ? undefined : await getEngine(this.env.RULES, site);
      if (engine) await this.keepRetention(engine, now);
    }
    if (this.expiresAt > now && Number.isFinite(this.expiresAt)) await alarmBy(this.ctx.storage, this.expiresAt);
  }

  /**
   * The site's retention: events received before it are removed, after the state they leave (on top
   * of the last base) is kept as the base replays start from, with the ledger entries they earned
   * (`base_seq`: the ledger is in the events' order, so theirs come first) and the first touch.
   * Sets the alarm for the next event to expire.
   */
  private async keepRetention(engine: Engine, now: number): Promise<void> {
    this.retainedAt = now;
    const keepMs = retentionMs(engine);
    const key = this.get("key");
    if (key === undefined) return;
    this.ctx.storage.transactionSync(() => {
      const expired = this.sql.exec("SELECT id, captured_at, received_at, body FROM events WHERE received_at < ? ORDER BY received_at, captured_at, id", now - keepMs).toArray();
      if (expired.length > 0) {
        const base = this.get("base_state");
        let state = base === undefined ? engine.initialState(leadId(key)) : (JSON.parse(base) as VisitorState);
        let firstTouch = this.get("base_first_touch");
        for (const r of expired) {
          const event = eventOf(r);
          state = engine.apply(state, event, Number(r.received_at)).state;
          if (firstTouch === undefined && touches(event)) firstTouch = JSON.stringify(touchOf(event, Number(r.received_at), ownHosts(engine)));
        }
        this.put("base_state", JSON.stringify(state));
        if (firstTouch !== undefined) this.put("base_first_touch", firstTouch);
        const seq = Number(this.sql.exec("SELECT coalesce(max(seq), 0) AS s FROM ledger WHERE event IN (SELECT value FROM json_each(?))", JSON.stringify(expired.map((r) => String(r.id)))).one().s);
        if (seq > Number(this.get("base_seq") ?? 0)) this.put("base_seq", String(seq));
        this.sql.exec("DELETE FROM events WHERE received_at < ?", now - keepMs);
      }
      const oldest = this.sql.exec("SELECT min(received_at) AS at FROM events").one().at;
      this.expiresAt = oldest === null ? Number.POSITIVE_INFINITY : Number(oldest) + keepMs + 1;
    });
    if (Number.isFinite(this.expiresAt)) await alarmBy(this.ctx.storage, this.expiresAt);
  }

  /**
   * Delivers the lead's due messages, each after any older message its visitors still have pending
   * to the same target (a stage a browser announced before it was linked): a CRM never gets SQL from
   * the lead while that browser's MQL is still being retried. A visitor that cannot be asked does
   * not hold the lead back.
   */
  private deliverNow(): Promise<void> {
    const site = this.get("site");
    const members = this.members();
    const waitFor = async (target: string, createdAt: number): Promise<number | null> => {
      if (site === undefined) return null;
      const next = await Promise.all(members.map((v) =>
        visitorStub(this.env, site, v).pendingBefore(target, createdAt).catch(() => null)));
      const due = next.filter((t): t is number => t !== null);
      return due.length === 0 ? null : Math.min(...due);
    };
    // The console's Webhooks page lists the lead's messages too (its visitors report their own).
    const report = async (send: () => Promise<number | null>) => {
      const next = await send();
      const key = this.get("key");
      if (site !== undefined && key !== undefined) {
        await reportOutbox(this.sql, this.env, site, leadId(key))
          .catch((e) => console.error(`lead ${site}:${key}: webhooks not reported to the index: ${(e as Error).message}`));
      }
      return next;
    };
    return runDelivery(this.ctx.storage, this.env, report, members.length > 0 ? waitFor : undefined);
  }

  /** Makes sure the alarm fires by `at` (an earlier alarm is kept). */
  private scheduleDelivery(at: number): Promise<void> {
    return alarmBy(this.ctx.storage, at);
  }

  private members(): string[] {
    return this.sql.exec("SELECT visitor FROM members ORDER BY linked_at, visitor").toArray().map((r) => String(r.visitor));
  }

  private loadState(engine: Engine, id: string): VisitorState {
    const text = this.get("state");
    return text === undefined ? engine.initialState(id) : (JSON.parse(text) as VisitorState);
  }

  private insertLedger(e: LedgerEntry): void {
    this.sql.exec("INSERT INTO ledger (event, at, rule, grp, points, reason, version, half_life) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      e.event, e.at, e.rule, e.group, e.points, e.reason, e.version, e.halfLifeDays ?? null);
  }

  /** Writes the outbox row of a webhook due unless this lead already announced it; answers whether it is new. */
  private enqueue(engine: Engine, site: string, id: string, due: WebhookDue, state: VisitorState, transitions: StageChange[], event: EngineEvent, now: number): boolean {
    const key = due.trigger === "stage_entered" ? `${due.webhook}:${due.stage}` : `${due.webhook}:score:${due.score!.name}:${due.score!.threshold}`;
    if (this.sql.exec("INSERT OR IGNORE INTO announced (key) VALUES (?)", key).rowsWritten === 0) return false;
    const transition = transitions.find((t) => t.to === due.stage);
    const ledger = this.sql.exec("SELECT * FROM ledger ORDER BY seq").toArray().map(ledgerFromRow);
    const explanation = engine.explain(state, ledger, now);
    const firstTouch = this.get("first_touch");
    const payload: WebhookPayload = {
      type: due.trigger === "stage_entered" ? "visitor.stage_entered" : "visitor.score_reached",
      timestamp: new Date(now).toISOString(),
      data: {
        site, webhook: due.webhook, rulesVersion: engine.version,
        visitor: {
          id, stage: state.stage, scores: explanation.scores, email: state.identity.email ?? this.get("email") ?? null,
          emailKind: state.identity.kind ?? null, traits: state.identity.traits, firstSeen: state.firstSeen, lastSeen: state.lastSeen,
          firstTouch: firstTouch === undefined ? null : (JSON.parse(firstTouch) as FirstTouch),
        },
        ...(due.trigger === "stage_entered"
          ? { stage: { from: transition?.from ?? null, to: due.stage ?? state.stage, reason: transition?.reason ?? null, skipped: transition?.skipped ?? [] } }
          : { score: due.score }),
        explanation: explanation.rules.slice(0, WEBHOOK_EXPLANATION_MAX).map((r) => ({ rule: r.rule, description: r.description, times: r.times, points: r.now })),
        page: { path: event.path ?? null, url: event.url ?? null },
        event: event.id,
        // The account of the identity this message describes: the roll-up that stores it runs after the batch.
        lead: { id, visitors: this.members(), account: engine.rules.accounts === undefined ? null : (accountOf(state.identity)?.key ?? null) },
      },
    };
    const msg = `msg_${crypto.randomUUID().replace(/-/g, "")}`;
    return this.sql.exec("INSERT OR IGNORE INTO outbox (id, key, webhook, target, payload, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      msg, `lead:${key}`, due.webhook, due.target, JSON.stringify(payload), now, now).rowsWritten > 0;
  }
}

/**
 * An email open or click as it is scored: the recipient's address, the campaign as its UTM medium
 * and campaign (rules on `utm.medium` match it as a tracked link's), the link for a click.
 */
export function emailSignalEvent(kind: "open" | "click", id: string, email: string, campaign: string, url?: string): EngineEvent {
  const event = normalizeEvent({ id, type: kind === "open" ? "email_open" : "email_click", email, props: { campaign }, ...(url ? { url } : {}) });
  event.query = { utm_medium: "email", utm_campaign: campaign, ...event.query };
  return event;
}

/**
 * The event as the lead scores it: an address other than the lead's own (a second person typing
 * theirs on a shared browser) is not the lead's identity, so it is dropped; the rest of the event counts.
 */
function ownEmailOnly(event: EngineEvent, own: string | undefined): EngineEvent {
  if (event.email === undefined || normaliseEmail(event.email) === own) return event;
  const { email: _other, ...rest } = event;
  return rest;
}

const keyOf = (r: Row): SortKey => [Number(r.received_at), Number(r.captured_at), String(r.id)];
const eventOf = (r: Row): EngineEvent => ({ id: String(r.id), ...JSON.parse(String(r.body)) }) as EngineEvent;

function ledgerFromRow(r: Row): LedgerEntry {
  const e: LedgerEntry = {
    event: String(r.event), at: Number(r.at), rule: String(r.rule), group: String(r.grp),
    points: Number(r.points), reason: String(r.reason), version: String(r.version),
  };
  if (r.half_life !== null && r.half_life !== undefined) e.halfLifeDays = Number(r.half_life);
  return e;
}
