/**
 * Compiles a stage's entry condition to a closure that answers with the reason the stage is
 * entered ("total 52 >= 50", "signal demo-request: Requested a demo") or null when it does not hold.
 */
import type { Scores } from "./score.js";
import type { StageCondition } from "./schema.js";
import type { VisitorState } from "./state.js";

/** A compiled stage condition: the reason it holds, or null. */
export type StageTest = (scores: Scores, state: VisitorState) => string | null;

/**
 * What a stage condition reads, by number: the engine numbers the scores and signals a condition
 * names once, at compile time, and reads a score only when a condition needs it (see
 * `compileStageSource`).
 */
export interface StageInputs {
  /** The score numbered `index` (a number `scoreIndex` gave). */
  score(index: number): number;
  /**
   * How many times rule `id` counted ever in `state`: `slot` is the number `signalIndex` gave
   * the rule, or -1 for a rule it does not number (read from `state.counts`).
   */
  signal(slot: number, id: string, state: VisitorState): number;
}

/** A stage condition read from `StageInputs`: the reason it holds, or null. */
export type SourceStageTest = (inputs: StageInputs, state: VisitorState) => string | null;

/** Whether a stage condition holds. */
type Holds = (inputs: StageInputs, state: VisitorState) => boolean;

/**
 * A stage condition in two parts: `holds` is tested on every event of a visitor below the stage,
 * `reason` is built only when it holds, so no reason text is made for a stage not entered.
 */
export interface StageCheck {
  holds: Holds;
  /** Called only when `holds` is true for the same inputs and state. */
  reason: (inputs: StageInputs, state: VisitorState) => string;
}

/** Compiles a stage condition; `describe` names a rule for reasons. */
export function compileStageCondition(c: StageCondition, describe: (ruleId: string) => string): StageTest {
  const names: string[] = [];
  const test = compileStageSource(c, describe, (name) => {
    const i = names.indexOf(name);
    return i >= 0 ? i : names.push(name) - 1;
  }, () => -1);
  return (scores, s) => test(new RecordInputs(scores, names), s);
}

/** Scores from a `Scores` record (by the numbers `compileStageCondition` gave their names), signals from the state. */
class RecordInputs implements StageInputs {
  constructor(private readonly scores: Scores, private readonly names: readonly string[]) {}
  score(index: number): number {
    return this.scores[this.names[index]!] ?? 0;
  }
  signal(_slot: number, id: string, state: VisitorState): number {
    return state.counts[id]?.n ?? 0;
  }
}

/**
 * Compiles a stage condition that reads `StageInputs`: `scoreIndex` numbers a score name, or
 * answers -1 for a name that is no score (it reads as 0); `signalIndex` numbers a rule, or answers
 * -1 for a rule read from the state's counts.
 */
export function compileStageSource(
  c: StageCondition,
  describe: (ruleId: string) => string,
  scoreIndex: (name: string) => number,
  signalIndex: (ruleId: string) => number,
): SourceStageTest {
  const { holds, reason } = compileStageCheck(c, describe, scoreIndex, signalIndex);
  return (inputs, s) => (holds(inputs, s) ? reason(inputs, s) : null);
}

type Index = (name: string) => number;

/** `compileStageSource` in its two parts, for a caller that tests often and explains seldom. */
export function compileStageCheck(c: StageCondition, describe: (ruleId: string) => string, scoreIndex: Index, signalIndex: Index): StageCheck {
  if ("score" in c) {
    const { score, gte } = c;
    const i = scoreIndex(score);
    if (i < 0) return { holds: () => 0 >= gte, reason: () => `${score} 0 >= ${gte}` };
    return {
      holds: (inputs) => inputs.score(i) >= gte,
      reason: (inputs) => `${score} ${inputs.score(i)} >= ${gte}`,
    };
  }
  if ("signal" in c) {
    const { signal } = c;
    const times = c.times ?? 1;
    const label = `signal ${describe(signal)}${times > 1 ? ` x${times}` : ""}`;
    const slot = signalIndex(signal);
    return { holds: (inputs, s) => inputs.signal(slot, signal, s) >= times, reason: () => label };
  }
  if ("identified" in c) {
    const want = c.identified;
    return {
      holds: (_, s) => (s.identity.email !== undefined) === want,
      reason: (_, s) => (want ? `identified as ${s.identity.email}` : "not identified"),
    };
  }
  if ("all" in c) {
    const parts = c.all.map((p) => compileStageCheck(p, describe, scoreIndex, signalIndex));
    return {
      holds: allOf(parts.map((p) => p.holds)),
      reason: (inputs, s) => parts.map((p) => p.reason(inputs, s)).join(" and "),
    };
  }
  if ("any" in c) {
    const parts = c.any.map((p) => compileStageCheck(p, describe, scoreIndex, signalIndex));
    return {
      holds: anyOf(parts.map((p) => p.holds)),
      // The reason of the first part that holds, as the parts are tested in order.
      reason: (inputs, s) => {
        for (const p of parts) if (p.holds(inputs, s)) return p.reason(inputs, s);
        return "";
      },
    };
  }
  const inner = compileStageCheck(c.not, describe, scoreIndex, signalIndex).holds;
  return { holds: (inputs, s) => !inner(inputs, s), reason: () => "not (condition)" };
}

/** Every part holds, tested in order up to the first that does not (short lists unrolled). */
function allOf(parts: readonly Holds[]): Holds {
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2) {
    const [a, b] = parts as [Holds, Holds];
    return (inputs, s) => a(inputs, s) && b(inputs, s);
  }
  if (parts.length === 3) {
    const [a, b, c] = parts as [Holds, Holds, Holds];
    return (inputs, s) => a(inputs, s) && b(inputs, s) && c(inputs, s);
  }
  return (inputs, s) => {
    for (let i = 0; i < parts.length; i++) if (!parts[i]!(inputs, s)) return false;
    return true;
  };
}

/** Some part holds, tested in order up to the first that does (short lists unrolled). */
function anyOf(parts: readonly Holds[]): Holds {
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2) {
    const [a, b] = parts as [Holds, Holds];
    return (inputs, s) => a(inputs, s) || b(inputs, s);
  }
  if (parts.length === 3) {
    const [a, b, c] = parts as [Holds, Holds, Holds];
    return (inputs, s) => a(inputs, s) || b(inputs, s) || c(inputs, s);
  }
  return (inputs, s) => {
    for (let i = 0; i < parts.length; i++) if (parts[i]!(inputs, s)) return true;
    return false;
  };
}
