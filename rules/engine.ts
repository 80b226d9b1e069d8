/**
 * The scoring engine: `compile(rules)` builds an evaluator from closures, indexed by event type so
 * an event is tested only against the rules that listen to it; `apply(state, event, now)` returns
 * the next state with the ledger entries, stage changes and webhooks it causes, and
 * `applyAll(state, events, now)` does the same for a batch of one visitor's events. Pure: no I/O,
 * the clock is passed in, the state given is never written to, and the same events in the same
 * order give the same state, whether applied one by one or in batches of any size.
 */
import { compileCondition, SharedReads, type EventTest } from "./compile-condition.js";
import { compileDispatch, type Dispatch } from "./compile-dispatch.js";
import { compileStageCheck, type StageCheck, type StageInputs } from "./compile-stage.js";
import { emailDomain, emailKind } from "./email.js";
import type { EngineEvent } from "./event.js";
import { clampToGroup, faded, inactivityLoss, rawPoints, round2, scoresAt, type LedgerEntry, type Scores } from "./score.js";
import type { Condition, Group, RulesDocument, Webhook } from "./schema.js";
import { selectCtas, type CtaDecision, type Page } from "./select-ctas.js";
import { explain, type Explanation } from "./explain.js";
import { bump, DAY_MS, emptyState, type Counter, type FadingSum, type StageChange, type VisitorState } from "./state.js";

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

/** A webhook made due by an event of a batch, with the visitor as that event left it. */
export interface BatchWebhook extends WebhookDue {
  /**
   * The visitor's state right after the event that made the webhook due (what its payload
   * describes), where later events of the batch have not yet changed it.
   */
  state: VisitorState;
}

/** What applying a batch of events did, in the order of the events. */
export interface BatchResult {
  /** The state after the last event: the input state itself for an empty batch. */
  state: VisitorState;
  /** The ledger entries of every event, each naming its event. */
  entries: LedgerEntry[];
  /** The stage changes of every event, each naming its event. */
  transitions: StageChange[];
  /** The webhooks due, each naming its event and carrying the state that event left. */
  webhooks: BatchWebhook[];
}

/** A rule with what the hot path reads resolved once: window, cap, group, half-life, demotion. */
interface CompiledRule {
  id: string;
  /** The number of the rule's counter: one per rule id. */
  slot: number;
  test: EventTest | null;
  /** Times per window; Infinity when the rule has no cap. */
  times: number;
  per: Per;
  points: number;
  group: string;
  /** The number of the rule's group: its place in the document's groups. */
  groupSlot: number;
  halfLifeDays: number | undefined;
  label: string;
  /** `label (`: the start of a ledger reason naming what in the event matched. */
  labelOpen: string;
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
  /**
   * Applies a batch of one visitor's events in order: the same state, ledger entries, stage
   * changes and webhooks as applying them one by one with `apply`, without making a new state per
   * event (the state given is copied once, then the copy is updated). `now` is the time of every
   * event (as the worker scores a batch when it arrives) or one time per event (as a replay).
   */
  applyAll(state: VisitorState, events: readonly EngineEvent[], now: number | ArrayLike<number>): BatchResult;
  /** Scores at `now` for every group and `total`. */
  scores(state: VisitorState, now: number): Scores;
  /** The CTAs to show now on a page. */
  ctas(state: VisitorState, page: Page, now: number): CtaDecision[];
  /** Where every point came from and why each stage was entered. */
  explain(state: VisitorState, ledger: readonly LedgerEntry[], now: number): Explanation;
}

/**
 * The state a call is writing, owned by that call (`apply` or `applyAll`; one at a time, as calls
 * never nest): a copy of the state given whose groups record and group points are copied on their
 * first write, then written in place. The rules' counters are held by number in typed arrays, each
 * read from the state's counts record the first time its rule is, and written back as one new
 * record when the call hands the state out (`finish`); a record is never written to. Each `begin`
 * starts a new epoch: marks of an older epoch are stale, so no array is cleared between calls. It
 * also computes the scores stage conditions read, each the first time one is read.
 */
class Work implements StageInputs {
  state!: VisitorState;
  /** Index of the state's stage. */
  stage = 0;
  /** The time of the event being applied. */
  at = Number.NaN;
  private epoch = 0;
  private ownGroups = false;
  /** Per group slot, the epoch its points were copied in. */
  private readonly groupEpoch: Float64Array;

  /**
   * Per counter slot: the epoch its counter was read from the state given in, whether the rule had
   * a counter then (it has one when this is the current epoch), its fields, and the epoch it last
   * changed in; the slots changed, in the order they first changed.
   */
  private readonly loadedIn: Float64Array;
  private readonly present: Float64Array;
  private readonly n: Float64Array;
  private readonly win: Float64Array;
  private readonly wn: Float64Array;
  private readonly changedIn: Float64Array;
  private readonly changed: number[] = [];

  /** Per score (groups in document order, then `total`), its value and the reading it belongs to. */
  private readonly values: Float64Array;
  private readonly computed: Float64Array;
  private reading = 0;
  private now = Number.NaN;

  constructor(private readonly groups: readonly Group[], private readonly ids: readonly string[], groupSlots: number) {
    const slots = ids.length;
    this.groupEpoch = new Float64Array(groupSlots);
    this.loadedIn = new Float64Array(slots);
    this.present = new Float64Array(slots);
    this.n = new Float64Array(slots);
    this.win = new Float64Array(slots);
    this.wn = new Float64Array(slots);
    this.changedIn = new Float64Array(slots);
    this.values = new Float64Array(groups.length + 1);
    this.computed = new Float64Array(groups.length + 1);
  }

  /** Starts writing a copy of `state`, whose stage has index `stage`. */
  begin(state: VisitorState, stage: number): void {
    this.state = copyState(state);
    this.stage = stage;
    this.ownGroups = false;
    this.changed.length = 0;
    this.epoch++;
    this.reading++;
  }

  /**
   * The state written, with a new counts record when a counter changed: the record given with
   * the changed counters in their places and the new ones after them, in the order they first
   * counted (the order one `apply` per event gives). Ends the call: `begin` again before writing.
   */
  finish(): VisitorState {
    const changed = this.changed;
    if (changed.length === 0) return this.state;
    const counts = hashRecord<Counter>();
    const given = this.state.counts;
    for (const id in given) counts[id] = given[id]!;
    for (let i = 0; i < changed.length; i++) {
      const s = changed[i]!;
      counts[this.ids[s]!] = { n: this.n[s]!, win: this.win[s]!, wn: this.wn[s]! };
    }
    changed.length = 0;
    this.state.counts = counts;
    return this.state;
  }

  /** Reads the counter of `slot` from the state given: a value that is no counter reads as none. */
  private load(slot: number): void {
    const epoch = this.epoch;
    this.loadedIn[slot] = epoch;
    const counter = this.state.counts[this.ids[slot]!] as Counter | null | undefined;
    if (typeof counter !== "object" || counter === null) {
      this.present[slot] = 0;
      return;
    }
    this.present[slot] = epoch;
    this.n[slot] = counter.n;
    this.win[slot] = counter.win;
    this.wn[slot] = counter.wn;
  }

  /**
   * Counts the rule of counter `slot` once in window `win` unless it already counted `times`
   * times in that window (ever, when `ever`). Returns whether it counted.
   */
  count(slot: number, win: number, ever: boolean, times: number): boolean {
    const epoch = this.epoch;
    if (this.loadedIn[slot] !== epoch) this.load(slot);
    if (this.present[slot] !== epoch) {
      this.present[slot] = epoch;
      this.n[slot] = 1;
      this.win[slot] = win;
      this.wn[slot] = 1;
    } else {
      const same = this.win[slot] === win;
      const used = ever ? this.n[slot]! : same ? this.wn[slot]! : 0;
      if (used >= times) return false;
      this.n[slot] = this.n[slot]! + 1;
      this.wn[slot] = same ? this.wn[slot]! + 1 : 1;
      this.win[slot] = win;
    }
    if (this.changedIn[slot] !== epoch) {
      this.changedIn[slot] = epoch;
      this.changed.push(slot);
    }
    return true;
  }

  signal(slot: number, id: string, state: VisitorState): number {
    if (slot < 0) return state.counts[id]?.n ?? 0;
    const epoch = this.epoch;
    if (this.loadedIn[slot] !== epoch) this.load(slot);
    return this.present[slot] === epoch ? this.n[slot]! : 0;
  }

  /** Adds points earned at `now` to group `id` (slot `slot`), as `addPoints` does. */
  earn(slot: number, id: string, points: number, halfLifeDays: number | undefined, now: number): void {
    let record = this.state.groups;
    if (!this.ownGroups) {
      record = this.state.groups = { ...record };
      this.ownGroups = true;
    }
    let g = record[id];
    if (g === undefined || this.groupEpoch[slot] !== this.epoch) {
      g = record[id] = g === undefined ? { base: 0, fading: [] } : { base: g.base, fading: g.fading.map(copyFading) };
      this.groupEpoch[slot] = this.epoch;
    }
    if (halfLifeDays === undefined) {
      g.base = g.base + points;
      return;
    }
    const fading = g.fading;
    let i = 0;
    while (i < fading.length && fading[i]!.halfLifeDays !== halfLifeDays) i++;
    if (i === fading.length) fading.push({ halfLifeDays, value: points, at: now });
    else {
      const f = fading[i]!;
      f.value = faded(f.value, f.at, halfLifeDays, now) + points;
      f.at = Math.max(now, f.at);
    }
  }

  /** Scores read from here on are those of the state at `now`. */
  readScoresAt(now: number): void {
    this.now = now;
    this.reading++;
  }

  score(index: number): number {
    if (this.computed[index] === this.reading) return this.values[index]!;
    const groups = this.groups;
    let value: number;
    if (index < groups.length) {
      // As `scoresAt`: raw points less inactivity not yet written, clamped, to 0.01.
      const group = groups[index]!;
      const points = this.state.groups[group.id];
      let raw = 0;
      if (points !== undefined) {
        raw = rawPoints(points, this.now);
        if (group.inactivity !== undefined) raw = raw - inactivityLoss(group, points.base, this.state.lastSeen, this.now).points;
      }
      value = round2(clampToGroup(group, raw));
    } else {
      let total = 0;
      for (let i = 0; i < groups.length; i++) total += this.score(i);
      value = round2(total);
    }
    this.values[index] = value;
    this.computed[index] = this.reading;
    return value;
  }
}

/** Compiles a validated rules document (see `parseRules`). */
export function compile(doc: RulesDocument): Engine {
  const groups: readonly Group[] = doc.groups;
  const groupById = new Map(groups.map((g) => [g.id, g]));
  const ruleById = new Map(doc.rules.map((r) => [r.id, r]));
  const describe = (id: string) => ruleById.get(id)?.description ?? id;
  const stageIds = doc.stages.map((s) => s.id);
  const stageIndex = new Map(stageIds.map((s, i) => [s, i]));

  // Counters are numbered one per enabled rule id, groups in document order (then any group a
  // rule of a document that was not validated names).
  const counterSlots = new Map<string, number>();
  const groupSlots = new Map(groups.map((g, i) => [g.id, i]));
  const byType = new Map<string, CompiledRule[]>();
  const conditions = new Map<CompiledRule, Condition | undefined>();
  const reads = new SharedReads();
  for (const rule of doc.rules) if (rule.enabled && rule.when) reads.count(rule.when);
  for (const rule of doc.rules) {
    if (!rule.enabled) continue;
    const per = rule.cap?.per ?? "ever";
    let slot = counterSlots.get(rule.id);
    if (slot === undefined) counterSlots.set(rule.id, (slot = counterSlots.size));
    let groupSlot = groupSlots.get(rule.group);
    if (groupSlot === undefined) groupSlots.set(rule.group, (groupSlot = groupSlots.size));
    const compiled: CompiledRule = {
      id: rule.id,
      slot,
      test: rule.when ? compileCondition(rule.when, reads) : null,
      times: rule.cap?.times ?? Infinity,
      per: per === "day" ? PER_DAY : per === "week" ? PER_WEEK : PER_EVER,
      points: rule.points,
      group: rule.group,
      groupSlot,
      halfLifeDays: rule.decay?.halfLifeDays ?? groupById.get(rule.group)?.decay?.halfLifeDays,
      label: rule.description ?? rule.id,
      labelOpen: `${rule.description ?? rule.id} (`,
      demoteTo: rule.demoteTo === undefined ? -1 : (stageIndex.get(rule.demoteTo) ?? 0),
    };
    conditions.set(compiled, rule.when);
    // A type listed twice in `on` must not make the rule count twice for one event.
    for (const type of new Set(typeof rule.on === "string" ? [rule.on] : rule.on)) {
      let list = byType.get(type);
      if (!list) byType.set(type, (list = []));
      list.push(compiled);
    }
  }
  // Per event type, its rules, picked by the first segment of the event's path and the properties
  // it carries when their conditions need them (see compile-dispatch.ts).
  const rulesOf = new Map<string, { all: CompiledRule[]; dispatch: Dispatch<CompiledRule> | null }>();
  for (const [type, all] of byType) rulesOf.set(type, { all, dispatch: compileDispatch(all, (r) => conditions.get(r)) });
  const inactive = groups.filter((g) => g.inactivity !== undefined).map((g) => ({ group: g, slot: groupSlots.get(g.id)! }));

  const scoreNumbers = new Map<string, number>(groups.map((g, i) => [g.id, i]));
  scoreNumbers.set("total", groups.length);
  const stageChecks: (StageCheck | null)[] = doc.stages.map((s) =>
    s.when ? compileStageCheck(s.when, describe, (name) => scoreNumbers.get(name) ?? -1, (rule) => counterSlots.get(rule) ?? -1) : null);
  const stageHooks = doc.webhooks.filter((w): w is Webhook & { on: { stageEntered: string[] } } => "stageEntered" in w.on);
  const scoreHooks = doc.webhooks.filter((w): w is Webhook & { on: { scoreReached: { score: string; value: number } } } => "scoreReached" in w.on);
  const ctaPer = new Map(doc.ctas.map((c) => [c.id, c.frequency?.per ?? "ever"] as const));
  const lastStage = stageIds.length - 1;
  const version = doc.version;
  const TOTAL = groups.length;
  const w = new Work(groups, [...counterSlots.keys()], groupSlots.size);

  /** Applies one event to `w.state` at `w.at`, appending what it did to the three lists. */
  function step(event: EngineEvent, entries: LedgerEntry[], transitions: StageChange[], webhooks: WebhookDue[]): void {
    const next = w.state;
    const now = w.at;
    const firstTransition = transitions.length;
    if (next.firstSeen === null) next.firstSeen = now;

    if (inactive.length > 0) writeInactivity(next, event, now, entries);
    const before = scoreHooks.length > 0 ? scoresAt(next, groups, now) : undefined;

    if (event.email !== undefined || event.traits !== undefined) identify(next, event);

    let demoted = false;
    // What in the event matched, for ledger reasons: read once, on the first entry.
    let detail: string | undefined | null = null;
    const rules = rulesOf.get(event.type);
    if (rules !== undefined) {
      const candidates = rules.dispatch === null ? rules.all : rules.dispatch.rulesFor(event);
      reads.next();
      const day = Math.floor(now / DAY_MS);
      // Same windows as `windowOf`: 1970-01-01 was a Thursday, shifting by 3 days starts weeks on Monday.
      const week = Math.floor((day + 3) / 7);
      for (let k = 0; k < candidates.length; k++) {
        const c = candidates[k]!;
        if (c.test !== null && !c.test(event, next)) continue;
        if (!w.count(c.slot, c.per === PER_EVER ? 0 : c.per === PER_DAY ? day : week, c.per === PER_EVER, c.times)) continue;
        if (c.points !== 0) {
          w.earn(c.groupSlot, c.group, c.points, c.halfLifeDays, now);
          if (detail === null) detail = detailOf(event);
          // "Viewed pricing (/pricing)": the rule's description with what in the event matched.
          const reason = detail ? c.labelOpen + detail + ")" : c.label;
          entries.push(c.halfLifeDays === undefined
            ? { event: event.id, at: now, rule: c.id, group: c.group, points: c.points, reason, version }
            : { event: event.id, at: now, rule: c.id, group: c.group, points: c.points, reason, version, halfLifeDays: c.halfLifeDays });
        }
        if (c.demoteTo >= 0 && c.demoteTo < w.stage) {
          transitions.push(changeStage(next, c.demoteTo, now, event.id, `demoted by ${c.label}`));
          demoted = true;
        }
      }
    }

    if (event.type === "cta_impression" || event.type === "cta_dismiss") rememberCta(next, event, ctaPer, now);

    next.lastSeen = now;
    next.events = next.events + 1;

    // Scores are read only by the hold, the stage conditions and score webhooks, each score the
    // first time one of them needs it.
    w.readScoresAt(now);
    const current = w.stage;
    if (demoted) next.hold = { total: w.score(TOTAL), at: now };
    else if (next.hold !== undefined && w.score(TOTAL) > next.hold.total) delete next.hold;
    if (!demoted && next.hold === undefined) {
      for (let i = lastStage; i > current; i--) {
        const check = stageChecks[i];
        if (check == null || !check.holds(w, next)) continue;
        transitions.push(changeStage(next, i, now, event.id, check.reason(w, next), stageIds.slice(current + 1, i)));
        break;
      }
    }

    for (let k = firstTransition; k < transitions.length; k++) {
      const t = transitions[k]!;
      for (const hook of stageHooks) {
        if (!hook.on.stageEntered.includes(t.to)) continue;
        webhooks.push({ webhook: hook.id, target: hook.target, trigger: "stage_entered", stage: t.to, event: event.id, at: now, key: `${event.id}:${hook.id}:${t.to}` });
      }
    }
    if (before !== undefined) {
      const after = scoresAt(next, groups, now);
      for (const hook of scoreHooks) {
        const { score, value } = hook.on.scoreReached;
        const was = before[score] ?? 0;
        const is = after[score] ?? 0;
        if (was < value && is >= value) {
          webhooks.push({
            webhook: hook.id, target: hook.target, trigger: "score_reached", score: { name: score, value: is, threshold: value },
            event: event.id, at: now, key: `${event.id}:${hook.id}`,
          });
        }
      }
    }
  }

  function writeInactivity(next: VisitorState, event: EngineEvent, now: number, entries: LedgerEntry[]): void {
    for (const { group, slot } of inactive) {
      const points = next.groups[group.id];
      if (group.inactivity === undefined || points === undefined) continue;
      const loss = inactivityLoss(group, points.base, next.lastSeen, now);
      if (loss.points <= 0) continue;
      const lost = round2(loss.points);
      w.earn(slot, group.id, -lost, undefined, now);
      entries.push({
        event: event.id, at: now, rule: "inactivity", group: group.id, points: -lost,
        reason: `${loss.days} day${loss.days > 1 ? "s" : ""} without activity past ${group.inactivity.afterDays}`,
        version,
      });
    }
  }

  function changeStage(next: VisitorState, to: number, now: number, eventId: string, reason: string, skipped: string[] = []): StageChange {
    const change: StageChange = { from: next.stage, to: stageIds[to]!, at: now, event: eventId, reason };
    if (skipped.length > 0) change.skipped = skipped;
    next.stage = change.to;
    w.stage = to;
    const history = next.stageHistory.concat(change);
    next.stageHistory = history.length > STAGE_HISTORY_MAX ? history.slice(-STAGE_HISTORY_MAX) : history;
    return change;
  }

  function apply(state: VisitorState, event: EngineEvent, now: number): ApplyResult {
    const entries: LedgerEntry[] = [];
    const transitions: StageChange[] = [];
    const webhooks: WebhookDue[] = [];
    w.begin(state, stageIndex.get(state.stage) ?? 0);
    w.at = now;
    step(event, entries, transitions, webhooks);
    return { state: w.finish(), entries, transitions, webhooks };
  }

  function applyAll(state: VisitorState, events: readonly EngineEvent[], now: number | ArrayLike<number>): BatchResult {
    const entries: LedgerEntry[] = [];
    const transitions: StageChange[] = [];
    const webhooks: BatchWebhook[] = [];
    if (typeof now !== "number" && now.length !== events.length) {
      throw new RangeError(`applyAll: ${events.length} events but ${now.length} times`);
    }
    if (events.length === 0) return { state, entries, transitions, webhooks };
    const due: WebhookDue[] = [];
    w.begin(state, stageIndex.get(state.stage) ?? 0);
    for (let i = 0; i < events.length; i++) {
      w.at = typeof now === "number" ? now : now[i]!;
      step(events[i]!, entries, transitions, due);
      if (due.length === 0) continue;
      // The state this event left goes out with its webhooks: the next events write to a copy.
      const left = w.finish();
      for (const d of due) webhooks.push({ ...d, state: left });
      due.length = 0;
      if (i < events.length - 1) w.begin(left, w.stage);
    }
    return { state: w.finish(), entries, transitions, webhooks };
  }

  return {
    version: doc.version,
    rules: doc,
    initialState: (visitor) => emptyState(visitor, stageIds[0]!, groups.map((g) => g.id)),
    apply,
    applyAll,
    scores: (state, now) => scoresAt(state, groups, now),
    ctas: (state, page, now) => selectCtas(doc.ctas, state, page, now),
    explain: (state, ledger, now) => explain(doc, state, ledger, now),
  };
}

/**
 * A copy of a state with every field named: one object shape for all states (a spread of states of
 * many shapes is slow). The records inside are shared until they are written.
 */
function copyState(state: VisitorState): VisitorState {
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
  return next;
}

/**
 * An empty plain record that V8 keeps as a hash table (deleting a property other than the last one
 * added turns an object's properties into a dictionary), so adding a key is an insert. A record
 * copied by a spread took a new hidden class for each rule id added, in every order visitors add
 * them: writing the counters back was 40% of the engine's time (npm run bench:rules). Still an
 * ordinary object with Object.prototype: JSON, equality and key order are those of any record.
 */
function hashRecord<T>(): Record<string, T> {
  const record: Record<string, unknown> = { a: 0, b: 0 };
  delete record.a;
  delete record.b;
  return record as Record<string, T>;
}

const copyFading = (f: FadingSum): FadingSum => ({ halfLifeDays: f.halfLifeDays, value: f.value, at: f.at });

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
  if (event.traits !== undefined) {
    // A field left empty on a later form ("" or blanks) says nothing: it does not erase what an earlier one said.
    const traits = { ...identity.traits };
    for (const k in event.traits) {
      const v = event.traits[k]!;
      if (typeof v !== "string" || v.trim() !== "" || !(k in traits)) traits[k] = v;
    }
    identity.traits = traits;
  }
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

/** What in an event a ledger reason names: its path, form, element, file, name, email or campaign. */
function detailOf(e: EngineEvent): string | undefined {
  return e.type === "page_view" ? e.path
    : e.type === "form_submit" ? (e.form?.id ?? e.form?.name ?? e.path)
    : e.type === "cta_click" || e.type === "cta_impression" || e.type === "cta_dismiss" ? e.element
    : e.type === "download" ? e.href
    : e.type === "custom" ? e.name
    : e.type === "identify" ? e.email
    : e.type === "email_click" || e.type === "email_open" ? e.query?.utm_campaign ?? e.path
    : undefined;
}
