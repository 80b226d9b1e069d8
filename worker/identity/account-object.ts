/**
 * One Durable Object per (site, account): the company its leads roll up into. It keeps each
 * member lead's latest report (scores, signals, stage), computes the account's scores and stages
 * with the pure account engine (rules/account.ts), and writes account webhooks to its outbox in
 * the same transaction, delivered by its alarm with the shared code of worker/webhooks/. Each
 * (webhook, stage) fires once per account. When its last member is removed (erasure, or a lead
 * that changed company) the account keeps nothing.
 */
import { DurableObject } from "cloudflare:workers";
import { compileAccounts, type AccountState, type Engine, type WebhookDue } from "../../rules/index.js";
import type { Env } from "../env.js";
import { getEngine } from "../rules-cache.js";
import { ATTEMPTS_DDL, OUTBOX_DDL, deadLetterKey, listOutbox, type OutboxMessage } from "../webhooks/deliver.js";
import { alarmBy, runDelivery } from "../webhooks/alarm.js";
import type { WebhookPayload } from "../webhooks/templates.js";
import type { AccountRef, MemberReport } from "./accounts.js";
import { leadId } from "./lead-object.js";

/** The admin view of an account. */
export interface AccountSnapshot {
  site: string;
  account: string;
  name: string;
  stage: string;
  scores: Record<string, number>;
  members: { lead: string; stage: string; scores: Record<string, number>; at: number }[];
  stages: AccountState["stageHistory"];
  outbox: { id: string; webhook: string; status: string; attempts: number }[];
}


export class AccountObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private delivering: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.migrate();
  }

  private migrate(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL); ${OUTBOX_DDL} ${ATTEMPTS_DDL}`);
  }

  private get(k: string): string | undefined {
    const row = this.sql.exec("SELECT v FROM kv WHERE k = ?", k).toArray()[0];
    return row ? String(row.v) : undefined;
  }

  private put(k: string, v: string): void {
    this.sql.exec("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", k, v);
  }

  /** Sets a member's latest report and re-evaluates the account. */
  async report(site: string, account: AccountRef, report: MemberReport, now: number): Promise<void> {
    const engine = await getEngine(this.env.RULES, site, now);
    if (!engine) throw new Error(`site ${site} has no rules`);
    const accounts = compileAccounts(engine.rules);
    if (!accounts) return;
    const enqueued = this.ctx.storage.transactionSync(() => {
      this.put("site", site);
      this.put("key", account.key);
      if (this.get("name") === undefined) this.put("name", account.name);
      const state = this.load(accounts.initialState());
      const result = accounts.update(state, report.lead, { scores: report.scores, signals: report.signals, stage: report.stage, at: report.at }, now, leadId(report.lead));
      this.put("state", JSON.stringify(result.state));
      let n = 0;
      for (const due of result.webhooks) if (this.enqueue(engine, site, due, result.state, result.scores, result.transitions, now)) n++;
      return n;
    });
    if (enqueued > 0) await this.scheduleDelivery(now);
  }

  /** Removes a member (its share of the scores goes); an account left with nobody keeps nothing. */
  async remove(site: string, lead: string, now: number): Promise<void> {
    const engine = await getEngine(this.env.RULES, site, now);
    const accounts = engine ? compileAccounts(engine.rules) : undefined;
    const empty = this.ctx.storage.transactionSync(() => {
      const text = this.get("state");
      if (text === undefined) return true;
      const state = JSON.parse(text) as AccountState;
      const members = { ...state.members };
      delete members[lead];
      // Removing a person re-computes the scores; stages stay (they only move forward).
      const next: AccountState = accounts ? accounts.update(state, lead, null, now, leadId(lead)).state : { ...state, members };
      next.members = members;
      this.put("state", JSON.stringify(next));
      return Object.keys(members).length === 0;
    });
    if (empty) await this.wipe();
  }

  /** The account's scores, stage and members; null for an account nobody belongs to. */
  async snapshot(now: number): Promise<AccountSnapshot | null> {
    const site = this.get("site");
    const text = this.get("state");
    if (site === undefined || text === undefined) return null;
    const engine = await getEngine(this.env.RULES, site, now);
    const accounts = engine ? compileAccounts(engine.rules) : undefined;
    const state = JSON.parse(text) as AccountState;
    return {
      site, account: this.get("key")!, name: this.get("name") ?? this.get("key")!, stage: state.stage,
      scores: accounts ? accounts.scores(state.members) : {},
      members: Object.entries(state.members).map(([lead, m]) => ({ lead: leadId(lead), stage: m.stage, scores: m.scores, at: m.at })),
      stages: state.stageHistory,
      outbox: listOutbox(this.sql).map((m) => ({ id: m.id, webhook: m.webhook, status: m.status, attempts: m.attempts })),
    };
  }

  /** Every webhook message of the account with every try. */
  async webhooks(): Promise<OutboxMessage[]> {
    return listOutbox(this.sql);
  }

  /** Delivers due account webhooks. */
  override async alarm(): Promise<void> {
    const run = this.delivering.then(() => this.deliverNow());
    this.delivering = run.catch(() => undefined);
    await run;
  }

  private deliverNow(): Promise<void> {
    return runDelivery(this.ctx.storage, this.env);
  }

  /** Makes sure the alarm fires by `at` (an earlier alarm is kept). */
  private scheduleDelivery(at: number): Promise<void> {
    return alarmBy(this.ctx.storage, at);
  }

  private async wipe(): Promise<void> {
    const site = this.get("site");
    if (site !== undefined) {
      for (const row of this.sql.exec("SELECT id FROM outbox WHERE status = 'dead'").toArray()) await this.env.RULES.delete(deadLetterKey(site, String(row.id)));
    }
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.migrate();
  }

  private load(initial: AccountState): AccountState {
    const text = this.get("state");
    return text === undefined ? initial : (JSON.parse(text) as AccountState);
  }

  private enqueue(engine: Engine, site: string, due: WebhookDue, state: AccountState, scores: Record<string, number>, transitions: AccountState["stageHistory"], now: number): boolean {
    const key = this.get("key")!;
    const name = this.get("name") ?? key;
    const transition = transitions.find((t) => t.to === due.stage);
    const payload: WebhookPayload = {
      type: due.trigger === "stage_entered" ? "account.stage_entered" : "account.score_reached",
      timestamp: new Date(now).toISOString(),
      data: {
        site, webhook: due.webhook, rulesVersion: engine.version,
        visitor: {
          id: `acct_${key}`, stage: state.stage, scores, email: null, emailKind: null, traits: { company: name },
          firstSeen: null, lastSeen: now, firstTouch: null,
        },
        ...(due.trigger === "stage_entered"
          ? { stage: { from: transition?.from ?? null, to: due.stage ?? state.stage, reason: transition?.reason ?? null, skipped: transition?.skipped ?? [] } }
          : { score: due.score }),
        explanation: Object.entries(state.members).map(([lead, m]) => ({ rule: leadId(lead), description: `${m.stage}, total ${m.scores.total ?? 0}`, times: 1, points: m.scores.total ?? 0 })),
        page: { path: null, url: null },
        event: due.event,
        account: { id: key, name, members: Object.keys(state.members).length },
      },
    };
    const msg = `msg_${crypto.randomUUID().replace(/-/g, "")}`;
    return this.sql.exec("INSERT OR IGNORE INTO outbox (id, key, webhook, target, payload, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      msg, `account:${due.key}`, due.webhook, due.target, JSON.stringify(payload), now, now).rowsWritten > 0;
  }
}
