/**
 * The scoring bookkeeping of rules/examples/saas-40.json written by hand, for the reference scorers
 * the engine is measured against (the if-chain and json-rules-engine): caps per rule (ever, per
 * UTC day, per ISO week), points per group with the engagement half-life, the fit maximum,
 * identity, demotion (and the hold that follows it), the four stages and their webhooks, and a
 * ledger entry per point earned.
 * It updates the visitor's state in place, as code written for one site would, and keeps the
 * engine's state shape so both are compared with the engine's own score function.
 */
import type { EngineEvent } from "../rules/event.js";
import { emailDomain, emailKind } from "../rules/email.js";
import { faded, round2, type LedgerEntry } from "../rules/score.js";
import type { RulesDocument } from "../rules/schema.js";
import { DAY_MS, emptyState, type StageChange, type VisitorState } from "../rules/state.js";

const PER_EVER = 0;
const PER_DAY = 1;
const PER_WEEK = 2;
const STAGE_HISTORY_MAX = 50;
const STAGES: readonly string[] = ["visitor", "lead", "mql", "sql"];
const LEAD = 1;
const MQL = 2;
const SQL = 3;

/** One rule's bookkeeping: what it is worth and how often it counts. */
export interface RuleSlot {
  id: string;
  /** Position in the document: rules count in this order. */
  index: number;
  group: string;
  points: number;
  /** Times per window; Infinity when the rule has no cap. */
  times: number;
  per: number;
  halfLifeDays: number | undefined;
  label: string;
  /** Stage index the rule demotes to, or -1. */
  demoteTo: number;
}

/** A stage-entered webhook due. */
export interface HookDue {
  webhook: string;
  target: string;
  stage: string;
  event: string;
  at: number;
  key: string;
}

/** The bookkeeping of one scorer, with the outputs of the event being applied. */
export interface Bookkeeping {
  readonly version: string;
  /** Every enabled rule, in document order. */
  readonly slots: readonly RuleSlot[];
  /** The rule named `id` (throws when the document has no such rule). */
  slot(id: string): RuleSlot;
  newState(visitor: string): VisitorState;
  /** Clears the outputs of the previous event. */
  begin(): void;
  /**
   * Records the email and traits an event carries. Returns false when the event carries an email
   * that is not an address (its domain and kind then read as unknown).
   */
  identify(state: VisitorState, event: EngineEvent): boolean;
  /** Counts a matched rule unless its cap is reached: points, ledger entry, demotion. */
  count(state: VisitorState, slot: RuleSlot, event: EngineEvent, now: number): void;
  /** Ends the event: activity, then the furthest stage whose condition holds. */
  settle(state: VisitorState, event: EngineEvent, now: number): void;
  readonly ledger: LedgerEntry[];
  readonly transitions: StageChange[];
  readonly webhooks: HookDue[];
}

/** Builds the hand-written bookkeeping for the saas-40 document (its groups, stages and webhooks). */
export function createBookkeeping(doc: RulesDocument): Bookkeeping {
  const stageIds = doc.stages.map((s) => s.id);
  if (stageIds.join() !== STAGES.join()) throw new Error(`bookkeeping is written for stages ${STAGES.join(", ")}, not ${stageIds.join(", ")}`);
  const groupIds = doc.groups.map((g) => g.id);
  if (groupIds.join() !== "fit,engagement") throw new Error(`bookkeeping is written for groups fit, engagement, not ${groupIds.join(", ")}`);
  const fitMax = doc.groups[0]!.max ?? Infinity;
  const groupHalfLife = new Map(doc.groups.map((g) => [g.id, g.decay?.halfLifeDays]));
  const stageIndex = new Map<string, number>(STAGES.map((s, i) => [s, i]));

  const slots: RuleSlot[] = [];
  for (const rule of doc.rules) {
    if (!rule.enabled) continue;
    slots.push({
      id: rule.id,
      index: slots.length,
      group: rule.group,
      points: rule.points,
      times: rule.cap?.times ?? Infinity,
      per: rule.cap?.per === "day" ? PER_DAY : rule.cap?.per === "week" ? PER_WEEK : PER_EVER,
      halfLifeDays: rule.decay?.halfLifeDays ?? groupHalfLife.get(rule.group),
      label: rule.description ?? rule.id,
      demoteTo: rule.demoteTo === undefined ? -1 : stageIndex.get(rule.demoteTo)!,
    });
  }
  const byId = new Map(slots.map((s) => [s.id, s]));
  const stageHooks = doc.webhooks.flatMap((w) => ("stageEntered" in w.on ? [{ id: w.id, target: w.target, stages: w.on.stageEntered }] : []));

  const ledger: LedgerEntry[] = [];
  const transitions: StageChange[] = [];
  const webhooks: HookDue[] = [];
  let demoted = false;

  function changeStage(state: VisitorState, to: number, event: EngineEvent, now: number, reason: string): void {
    const change: StageChange = { from: state.stage, to: STAGES[to]!, at: now, event: event.id, reason };
    const from = stageIndex.get(state.stage)!;
    if (to > from + 1) change.skipped = STAGES.slice(from + 1, to);
    state.stage = change.to;
    state.stageHistory.push(change);
    if (state.stageHistory.length > STAGE_HISTORY_MAX) state.stageHistory.shift();
    transitions.push(change);
    for (const hook of stageHooks) {
      if (hook.stages.includes(change.to)) {
        webhooks.push({ webhook: hook.id, target: hook.target, stage: change.to, event: event.id, at: now, key: `${event.id}:${hook.id}:${change.to}` });
      }
    }
  }

  function rawPoints(state: VisitorState, group: string, now: number): number {
    const g = state.groups[group]!;
    let sum = g.base;
    for (const f of g.fading) sum += faded(f.value, f.at, f.halfLifeDays, now);
    return sum;
  }

  return {
    version: doc.version,
    slots,
    slot(id) {
      const s = byId.get(id);
      if (s === undefined) throw new Error(`saas-40 has no rule "${id}"`);
      return s;
    },
    newState: (visitor) => emptyState(visitor, STAGES[0]!, groupIds),
    begin() {
      ledger.length = 0;
      transitions.length = 0;
      webhooks.length = 0;
      demoted = false;
    },
    identify(state, event) {
      if (event.email === undefined && event.traits === undefined) return true;
      const identity = state.identity;
      let ok = true;
      if (event.email !== undefined) {
        const domain = emailDomain(event.email);
        if (domain === undefined) ok = false;
        else {
          identity.email = event.email.trim().toLowerCase();
          identity.domain = domain;
          identity.kind = emailKind(event.email);
        }
      }
      if (event.traits !== undefined) Object.assign(identity.traits, event.traits);
      return ok;
    },
    count(state, slot, event, now) {
      const day = Math.floor(now / DAY_MS);
      const win = slot.per === PER_EVER ? 0 : slot.per === PER_DAY ? day : Math.floor((day + 3) / 7);
      const counter = state.counts[slot.id];
      if (counter === undefined) state.counts[slot.id] = { n: 1, win, wn: 1 };
      else {
        const used = slot.per === PER_EVER ? counter.n : counter.win === win ? counter.wn : 0;
        if (used >= slot.times) return;
        counter.n++;
        counter.wn = counter.win === win ? counter.wn + 1 : 1;
        counter.win = win;
      }
      if (slot.points !== 0) {
        const g = state.groups[slot.group]!;
        const halfLifeDays = slot.halfLifeDays;
        const entry: LedgerEntry = {
          event: event.id, at: now, rule: slot.id, group: slot.group, points: slot.points,
          reason: reasonFor(slot.label, event), version: doc.version,
        };
        if (halfLifeDays === undefined) g.base += slot.points;
        else {
          entry.halfLifeDays = halfLifeDays;
          const f = g.fading.find((x) => x.halfLifeDays === halfLifeDays);
          if (f === undefined) g.fading.push({ halfLifeDays, value: slot.points, at: now });
          else {
            f.value = faded(f.value, f.at, halfLifeDays, now) + slot.points;
            f.at = Math.max(now, f.at);
          }
        }
        ledger.push(entry);
      }
      if (slot.demoteTo >= 0 && slot.demoteTo < stageIndex.get(state.stage)!) {
        changeStage(state, slot.demoteTo, event, now, `demoted by ${slot.label}`);
        demoted = true;
      }
    },
    settle(state, event, now) {
      if (state.firstSeen === null) state.firstSeen = now;
      state.lastSeen = now;
      state.events++;
      const current = stageIndex.get(state.stage)!;
      if (current === SQL && !demoted && state.hold === undefined) return;
      const fit = round2(Math.min(rawPoints(state, "fit", now), fitMax));
      const engagement = round2(rawPoints(state, "engagement", now));
      const total = round2(fit + engagement);
      // A demoted visitor stays down until its total rises above the total it had when demoted.
      if (demoted) {
        state.hold = { total, at: now };
        return;
      }
      if (state.hold !== undefined) {
        if (total <= state.hold.total) return;
        delete state.hold;
      }
      if (current === SQL) return;
      const counts = state.counts;
      const identified = state.identity.email !== undefined;
      if (counts["demo-request"] !== undefined) changeStage(state, SQL, event, now, "signal demo-request");
      else if (counts["contact-sales"] !== undefined) changeStage(state, SQL, event, now, "signal contact-sales");
      else if (fit >= 30 && engagement >= 60) changeStage(state, SQL, event, now, `fit ${fit} >= 30 and engagement ${engagement} >= 60`);
      else if (current < MQL && identified && total >= 50) changeStage(state, MQL, event, now, `total ${total} >= 50`);
      else if (current < MQL && identified && counts["trial-signup"] !== undefined) changeStage(state, MQL, event, now, "signal trial-signup");
      else if (current < LEAD && identified) changeStage(state, LEAD, event, now, `identified as ${state.identity.email}`);
    },
    ledger,
    transitions,
    webhooks,
  };
}

/** "Viewed pricing (/pricing)": the rule's description with what in the event matched. */
function reasonFor(label: string, e: EngineEvent): string {
  let detail: string | undefined;
  switch (e.type) {
    case "page_view": detail = e.path; break;
    case "form_submit": detail = e.form?.id ?? e.form?.name ?? e.path; break;
    case "cta_click": case "cta_impression": case "cta_dismiss": detail = e.element; break;
    case "download": detail = e.href; break;
    case "custom": detail = e.name; break;
    case "identify": detail = e.email; break;
    case "email_click": detail = e.query?.utm_campaign ?? e.path; break;
  }
  return detail ? `${label} (${detail})` : label;
}
