/**
 * The account engine: an account's scores are made from its people's latest scores (per group:
 * sum, max or average), and its stages are entered when their conditions hold over its scores and
 * its people (how many, how many gave a signal, how many reached a lead stage). Pure, like the
 * visitor engine: the members and the clock are passed in. Stages only move forward; each stage
 * entered fires the account webhooks that listen to it.
 */
import type { Scores } from "./score.js";
import { round2 } from "./score.js";
import type { AccountCondition, RulesDocument, Webhook } from "./schema.js";
import type { WebhookDue } from "./engine.js";
import type { StageChange } from "./state.js";

/** What an account knows of one of its people: their latest scores, signals and stage. */
export interface AccountMember {
  scores: Scores;
  /** Times each rule counted for them. */
  signals: Record<string, number>;
  stage: string;
  at: number;
}

/** An account's state. */
export interface AccountState {
  stage: string;
  stageHistory: StageChange[];
  members: Record<string, AccountMember>;
}

/** What an update did. */
export interface AccountUpdate {
  state: AccountState;
  scores: Scores;
  transitions: StageChange[];
  webhooks: WebhookDue[];
}

/** A compiled `accounts` section. */
export interface AccountEngine {
  initialState(): AccountState;
  scores(members: Record<string, AccountMember>): Scores;
  /** Sets (or, with null, removes) one member and re-evaluates the stages. `cause` names what changed. */
  update(state: AccountState, member: string, report: AccountMember | null, now: number, cause: string): AccountUpdate;
}

type Test = (scores: Scores, members: AccountMember[]) => boolean;

/** Compiles the rules' `accounts` section; undefined when the rules have none. */
export function compileAccounts(doc: RulesDocument): AccountEngine | undefined {
  const accounts = doc.accounts;
  if (accounts === undefined) return undefined;
  const leadStages = doc.stages.map((s) => s.id);
  const how = doc.groups.map((g) => [g.id, accounts.scores?.[g.id] ?? (g.id === "fit" ? "max" : "sum")] as const);
  const stageIds = accounts.stages.map((s) => s.id);
  const tests = accounts.stages.map((s) => (s.when === undefined ? null : compile(s.when, leadStages)));
  const stageHooks = accounts.webhooks.filter((w): w is Webhook & { on: { stageEntered: string[] } } => "stageEntered" in w.on);
  const scoreHooks = accounts.webhooks.filter((w): w is Webhook & { on: { scoreReached: { score: string; value: number } } } => "scoreReached" in w.on);

  function scores(members: Record<string, AccountMember>): Scores {
    const list = Object.values(members);
    const out: Scores = {};
    let total = 0;
    for (const [group, kind] of how) {
      const values = list.map((m) => m.scores[group] ?? 0);
      const v = values.length === 0 ? 0
        : kind === "max" ? Math.max(...values)
        : kind === "avg" ? values.reduce((a, b) => a + b, 0) / values.length
        : values.reduce((a, b) => a + b, 0);
      out[group] = round2(v);
      total += out[group]!;
    }
    out.total = round2(total);
    return out;
  }

  function update(state: AccountState, member: string, report: AccountMember | null, now: number, cause: string): AccountUpdate {
    const wasScores = scores(state.members);
    const members = { ...state.members };
    if (report === null) delete members[member];
    else members[member] = report;
    const next: AccountState = { ...state, members };
    const now_ = scores(members);
    const list = Object.values(members);
    const transitions: StageChange[] = [];
    const current = stageIds.indexOf(next.stage);
    for (let i = stageIds.length - 1; i > current; i--) {
      if (!tests[i]!(now_, list)) continue;
      const change: StageChange = { from: next.stage, to: stageIds[i]!, at: now, event: cause, reason: describe(accounts!.stages[i]!.when!) };
      const skipped = stageIds.slice(current + 1, i);
      if (skipped.length > 0) change.skipped = skipped;
      next.stage = change.to;
      next.stageHistory = next.stageHistory.concat(change).slice(-50);
      transitions.push(change);
      break;
    }
    const webhooks: WebhookDue[] = [];
    for (const t of transitions) {
      for (const w of stageHooks) {
        if (w.on.stageEntered.includes(t.to)) webhooks.push({ webhook: w.id, target: w.target, trigger: "stage_entered", stage: t.to, event: cause, at: now, key: `${w.id}:${t.to}` });
      }
    }
    for (const w of scoreHooks) {
      const { score, value } = w.on.scoreReached;
      if ((wasScores[score] ?? 0) < value && (now_[score] ?? 0) >= value) {
        webhooks.push({ webhook: w.id, target: w.target, trigger: "score_reached", score: { name: score, value: now_[score] ?? 0, threshold: value }, event: cause, at: now, key: `${w.id}:score:${value}` });
      }
    }
    return { state: next, scores: now_, transitions, webhooks };
  }

  return { initialState: () => ({ stage: stageIds[0]!, stageHistory: [], members: {} }), scores, update };
}

function compile(c: AccountCondition, leadStages: string[]): Test {
  if ("score" in c) return (s) => (s[c.score] ?? 0) >= c.gte;
  if ("signal" in c) {
    const n = c.members ?? 1;
    return (_, m) => m.filter((x) => (x.signals[c.signal] ?? 0) > 0).length >= n;
  }
  if ("stage" in c) {
    const n = c.members ?? 1;
    const at = leadStages.indexOf(c.stage);
    return (_, m) => m.filter((x) => leadStages.indexOf(x.stage) >= at).length >= n;
  }
  if ("members" in c) return (_, m) => m.length >= c.members;
  if ("all" in c) {
    const parts = c.all.map((p) => compile(p, leadStages));
    return (s, m) => parts.every((p) => p(s, m));
  }
  if ("any" in c) {
    const parts = c.any.map((p) => compile(p, leadStages));
    return (s, m) => parts.some((p) => p(s, m));
  }
  const inner = compile(c.not, leadStages);
  return (s, m) => !inner(s, m);
}

/** The reason text of an account stage condition ("3 people with signal pricing"). */
function describe(c: AccountCondition): string {
  if ("score" in c) return `${c.score} >= ${c.gte}`;
  if ("signal" in c) return `${c.members ?? 1} ${(c.members ?? 1) === 1 ? "person" : "people"} with signal ${c.signal}`;
  if ("stage" in c) return `${c.members ?? 1} ${(c.members ?? 1) === 1 ? "person" : "people"} at ${c.stage} or later`;
  if ("members" in c) return `${c.members} ${c.members === 1 ? "person" : "people"}`;
  if ("all" in c) return c.all.map(describe).join(" and ");
  if ("any" in c) return c.any.map(describe).join(" or ");
  return `not (${describe(c.not)})`;
}
