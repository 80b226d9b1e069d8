/**
 * The scoring engine: `compile(rules)` builds an evaluator from closures, indexed by event type so
 * an event is tested only against the rules that listen to it; `apply(state, event, now)` returns
 * the next state with the ledger entries, stage changes and webhooks it causes. Pure: no I/O, the
 * clock is passed in, and the same events in the same order give the same state.
 */
import { compileCondition, type EventTest } from "./compile-condition.js";
import { compileStageCondition, type StageTest } from "./compile-stage.js";
import { emailDomain, emailKind } from "./email.js";
import type { EngineEvent, EventType } from "./event.js";
import { addPoints, inactivityLoss, round2, scoresAt, type LedgerEntry, type Scores } from "./score.js";
import type { Group, RulesDocument, Webhook } from "./schema.js";
import { selectCtas, type CtaDecision, type Page } from "./select-ctas.js";
import { explain, type Explanation } from "./explain.js";
import { bump, DAY_MS, emptyState, type StageChange, type VisitorState } from "./state.js";

const STAGE_HISTORY_MAX = 50;

/** A webhook the rules say is due, to be written to the outbox with the state change. */
export interface WebhookDue {
  webhook: string;
  target: string;
  /** `stage_entered` or `score_reached`. */
  trigger: "stage_entered" | "score_reached";
  /** The stage entered, or the score that reached its value. */
  stage?: string;
  score?: { name: string; value: number; threshold: number };
  event: string;
  at: number;
  /** Stable for this webhook and this event: the idempotency key of the delivery. */
  key: string;
}

/** What applying one event did. */
export interface ApplyResult {
  state: VisitorState;
  entries: LedgerEntry[];
  transitions: StageChange[];
  webhooks: WebhookDue[];
}

/** A rule with what the hot path reads resolved once: window, cap, group, half-life, demotion. */
interface CompiledRule {
  id: string;
  test: EventTest | null;
  /** Times per window; Infinity when the rule has no cap. */
  times: number;
  per: Per;
  points: number;
  group: string;
  halfLifeDays: number | undefined;
  label: string;
  /** Index of the stage the rule demotes to, or -1. */
  demoteTo: number;
}

/** A cap window as a small integer, so the windows of an event are computed once per event. */
type Per = 0 | 1 | 2;
const PER_EVER = 0;
const PER_DAY = 1;
const PER_WEEK = 2;

/** A compiled rules document. */
export interface Engine {
  readonly version: string;
  readonly rules: RulesDocument;
  /** The state of a visitor nobody has seen yet. */
  initialState(visitor: string): VisitorState;
  /** Applies one event at `now`. */
  apply(state: VisitorState, event: EngineEvent, now: number): ApplyResult;
  /** Scores at `now` for every group and `total`. */
  scores(state: VisitorState, now: number): Scores;
  /** The CTAs to show now on a page. */
  ctas(state: VisitorState, page: Page, now: number): CtaDecision[];
  /** Where every point came from and why each stage was entered. */
  explain(state: VisitorState, ledger: readonly LedgerEntry[], now: number): Explanation;
}

/** Compiles a validated rules document (see `parseRules`). */
export function compile(doc: RulesDocument): Engine {
  const groups: readonly Group[] = doc.groups;
  const groupById = new Map(groups.map((g) => [g.id, g]));
  const ruleById = new Map(doc.rules.map((r) => [r.id, r]));
  const describe = (id: string) => ruleById.get(id)?.description ?? id;
  const stageIds = doc.stages.map((s) => s.id);
  const stageIndex = new Map(stageIds.map((s, i) => [s, i]));
  const stageTests: (StageTest | null)[] = doc.stages.map((s) => (s.when ? compileStageCondition(s.when, describe) : null));

  const byType = new Map<EventType, CompiledRule[]>();
  for (const rule of doc.rules) {
    if (!rule.enabled) continue;
    const per = rule.cap?.per ?? "ever";
    const compiled: CompiledRule = {
      id: rule.id,
      test: rule.when ? compileCondition(rule.when) : null,
      times: rule.cap?.times ?? Infinity,
      per: per === "day" ? PER_DAY : per === "week" ? PER_WEEK : PER_EVER,
      points: rule.points,
      group: rule.group,
      halfLifeDays: rule.decay?.halfLifeDays ?? groupById.get(rule.group)?.decay?.halfLifeDays,
      label: rule.description ?? rule.id,
      demoteTo: rule.demoteTo === undefined ? -1 : (stageIndex.get(rule.demoteTo) ?? 0),
    };
    // A type listed twice in `on` must not make the rule count twice for one event.
    for (const type of new Set(typeof rule.on === "string" ? [rule.on] : rule.on)) {
      let list = byType.get(type);
      if (!list) byType.set(type, (list = []));
      list.push(compiled);
    }
  }

  const stageHooks = doc.webhooks.filter((w): w is Webhook & { on: { stageEntered: string[] } } => "stageEntered" in w.on);
  const scoreHooks = doc.webhooks.filter((w): w is Webhook & { on: { scoreReached: { score: string; value: number } } } => "scoreReached" in w.on);
  const hasInactivity = groups.some((g) => g.inactivity !== undefined);
  const ctaPer = new Map(doc.ctas.map((c) => [c.id, c.frequency?.per ?? "ever"] as const));
  const lastStage = stageIds.length - 1;

  function apply(state: VisitorState, event: EngineEvent, now: number): ApplyResult {
    const entries: LedgerEntry[] = [];
    const transitions: StageChange[] = [];
    const webhooks: WebhookDue[] = [];
    // A shallow copy with every field named keeps one object shape for all states (a spread of
    // states of many shapes is slow); the records inside are copied only when they change.
    const next: VisitorState = {
      visitor: state.visitor,
      stage: state.stage,
      stageHistory: state.stageHistory,
      firstSeen: state.firstSeen,
      lastSeen: state.lastSeen,
      events: state.events,
      groups: state.groups,
      counts: state.counts,
      identity: state.identity,
      ctas: state.ctas,
    };
    if (state.hold !== undefined) next.hold = state.hold;
    if (next.firstSeen === null) next.firstSeen = now;

    if (hasInactivity) writeInactivity(next, state, event, now, entries);
    const before = scoreHooks.length > 0 ? scoresAt(next, groups, now) : undefined;

    if (event.email !== undefined || event.traits !== undefined) identify(next, event);

    let demoted = false;
    const candidates = byType.get(event.type);
    if (candidates !== undefined) {
      const day = Math.floor(now / DAY_MS);
      // Same windows as `windowOf`: 1970-01-01 was a Thursday, shifting by 3 days starts weeks on Monday.
      const week = Math.floor((day + 3) / 7);
      for (let k = 0; k < candidates.length; k++) {
        const c = candidates[k]!;
        if (c.test !== null && !c.test(event, next)) continue;
        const win = c.per === PER_EVER ? 0 : c.per === PER_DAY ? day : week;
        const counter = next.counts[c.id];
        if (counter !== undefined) {
          const used = c.per === PER_EVER ? counter.n : counter.win === win ? counter.wn : 0;
          if (used >= c.times) continue;
        }
        if (next.counts === state.counts) next.counts = { ...state.counts };
        next.counts[c.id] = counter === undefined
          ? { n: 1, win, wn: 1 }
          : { n: counter.n + 1, win, wn: counter.win === win ? counter.wn + 1 : 1 };
        if (c.points !== 0) {
          const g = c.group;
          if (next.groups === state.groups) next.groups = { ...state.groups };
          next.groups[g] = addPoints(next.groups[g] ?? { base: 0, fading: [] }, c.points, c.halfLifeDays, now);
          const entry: LedgerEntry = {
            event: event.id,
            at: now,
            rule: c.id,
            group: g,
            points: c.points,
            reason: reasonFor(c.label, event),
            version: doc.version,
          };
          if (c.halfLifeDays !== undefined) entry.halfLifeDays = c.halfLifeDays;
          entries.push(entry);
        }
        if (c.demoteTo >= 0 && c.demoteTo < (stageIndex.get(next.stage) ?? 0)) {
          transitions.push(changeStage(next, stageIds[c.demoteTo]!, now, event.id, `demoted by ${c.label}`));
          demoted = true;
        }
      }
    }

    if (event.type === "cta_impression" || event.type === "cta_dismiss") rememberCta(next, event, ctaPer, now);

    next.lastSeen = now;
    next.events = state.events + 1;

    // Scores are needed for the hold, the stage conditions and score webhooks only: a visitor in
    // the last stage with no hold and no score webhook skips them.
    const current = stageIndex.get(next.stage) ?? 0;
    const needScores = demoted || next.hold !== undefined || current < lastStage || before !== undefined;
    const after = needScores ? scoresAt(next, groups, now) : undefined;
    if (demoted) next.hold = { total: after!.total ?? 0, at: now };
    else if (next.hold !== undefined && (after!.total ?? 0) > next.hold.total) delete next.hold;
    if (!demoted && next.hold === undefined) {
      for (let i = lastStage; i > current; i--) {
        const reason = stageTests[i]!(after!, next);
        if (reason === null) continue;
        const skipped = stageIds.slice(current + 1, i);
        transitions.push(changeStage(next, stageIds[i]!, now, event.id, reason, skipped));
        break;
      }
    }

    for (const t of transitions) {
      for (const w of stageHooks) {
        if (!w.on.stageEntered.includes(t.to)) continue;
        webhooks.push({ webhook: w.id, target: w.target, trigger: "stage_entered", stage: t.to, event: event.id, at: now, key: `${event.id}:${w.id}:${t.to}` });
      }
    }
    if (before !== undefined) {
      for (const w of scoreHooks) {
        const { score, value } = w.on.scoreReached;
        const was = before[score] ?? 0;
        const is = after![score] ?? 0;
        if (was < value && is >= value) {
          webhooks.push({
            webhook: w.id, target: w.target, trigger: "score_reached", score: { name: score, value: is, threshold: value },
            event: event.id, at: now, key: `${event.id}:${w.id}`,
          });
        }
      }
    }
    return { state: next, entries, transitions, webhooks };
  }

  function writeInactivity(next: VisitorState, state: VisitorState, event: EngineEvent, now: number, entries: LedgerEntry[]): void {
    for (const group of groups) {
      const points = next.groups[group.id];
      if (group.inactivity === undefined || points === undefined) continue;
      const loss = inactivityLoss(group, points.base, next.lastSeen, now);
      if (loss.points <= 0) continue;
      const lost = round2(loss.points);
      if (next.groups === state.groups) next.groups = { ...state.groups };
      next.groups[group.id] = addPoints(points, -lost, undefined, now);
      entries.push({
        event: event.id, at: now, rule: "inactivity", group: group.id, points: -lost,
        reason: `${loss.days} day${loss.days > 1 ? "s" : ""} without activity past ${group.inactivity.afterDays}`,
        version: doc.version,
      });
    }
  }

  function changeStage(next: VisitorState, to: string, now: number, eventId: string, reason: string, skipped: string[] = []): StageChange {
    const change: StageChange = { from: next.stage, to, at: now, event: eventId, reason };
    if (skipped.length > 0) change.skipped = skipped;
    next.stage = to;
    const history = next.stageHistory.concat(change);
    next.stageHistory = history.length > STAGE_HISTORY_MAX ? history.slice(-STAGE_HISTORY_MAX) : history;
    return change;
  }

  return {
    version: doc.version,
    rules: doc,
    initialState: (visitor) => emptyState(visitor, stageIds[0]!, groups.map((g) => g.id)),
    apply,
    scores: (state, now) => scoresAt(state, groups, now),
    ctas: (state, page, now) => selectCtas(doc.ctas, state, page, now),
    explain: (state, ledger, now) => explain(doc, state, ledger, now),
  };
}

function identify(next: VisitorState, event: EngineEvent): void {
  const identity = { ...next.identity, traits: next.identity.traits };
  if (event.email !== undefined) {
    const domain = emailDomain(event.email);
    if (domain !== undefined) {
      identity.email = event.email.trim().toLowerCase();
      identity.domain = domain;
      identity.kind = emailKind(event.email);
    }
  }
  if (event.traits !== undefined) identity.traits = { ...identity.traits, ...event.traits };
  next.identity = identity;
}

function rememberCta(next: VisitorState, event: EngineEvent, ctaPer: Map<string, "ever" | "day" | "week">, now: number): void {
  const id = event.element;
  const per = id === undefined ? undefined : ctaPer.get(id);
  if (id === undefined || per === undefined) return;
  const memory = next.ctas[id];
  next.ctas = { ...next.ctas };
  if (event.type === "cta_dismiss") next.ctas[id] = { shown: memory?.shown ?? { n: 0, win: 0, wn: 0 }, dismissedAt: now };
  else {
    const shown = bump(memory?.shown, per, now);
    next.ctas[id] = memory?.dismissedAt === undefined ? { shown } : { shown, dismissedAt: memory.dismissedAt };
  }
}

/** "Viewed pricing (/pricing)": the rule's description with what in the event matched. */
function reasonFor(label: string, e: EngineEvent): string {
  const detail =
    e.type === "page_view" ? e.path
    : e.type === "form_submit" ? (e.form?.id ?? e.form?.name ?? e.path)
    : e.type === "cta_click" || e.type === "cta_impression" || e.type === "cta_dismiss" ? e.element
    : e.type === "download" ? e.href
    : e.type === "custom" ? e.name
    : e.type === "identify" ? e.email
    : e.type === "email_click" || e.type === "email_open" ? e.query?.utm_campaign ?? e.path
    : undefined;
  return detail ? `${label} (${detail})` : label;
}
