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
 * A stage condition in two parts: `holds` is tested on every event of a visitor below the stage,
 * `reason` is built only when it holds, so no reason text is made for a stage not entered.
 */
interface CompiledStage {
  holds: (scores: Scores, state: VisitorState) => boolean;
  /** Called only when `holds` is true for the same scores and state. */
  reason: (scores: Scores, state: VisitorState) => string;
}

/** Compiles a stage condition; `describe` names a rule for reasons. */
export function compileStageCondition(c: StageCondition, describe: (ruleId: string) => string): StageTest {
  const { holds, reason } = compileStage(c, describe);
  return (scores, s) => (holds(scores, s) ? reason(scores, s) : null);
}

function compileStage(c: StageCondition, describe: (ruleId: string) => string): CompiledStage {
  if ("score" in c) {
    const { score, gte } = c;
    return {
      holds: (scores) => (scores[score] ?? 0) >= gte,
      reason: (scores) => `${score} ${scores[score] ?? 0} >= ${gte}`,
    };
  }
  if ("signal" in c) {
    const { signal } = c;
    const times = c.times ?? 1;
    const label = `signal ${describe(signal)}${times > 1 ? ` x${times}` : ""}`;
    return { holds: (_, s) => (s.counts[signal]?.n ?? 0) >= times, reason: () => label };
  }
  if ("identified" in c) {
    const want = c.identified;
    return {
      holds: (_, s) => (s.identity.email !== undefined) === want,
      reason: (_, s) => (want ? `identified as ${s.identity.email}` : "not identified"),
    };
  }
  if ("all" in c) {
    const parts = c.all.map((p) => compileStage(p, describe));
    return {
      holds: (scores, s) => {
        for (const p of parts) if (!p.holds(scores, s)) return false;
        return true;
      },
      reason: (scores, s) => parts.map((p) => p.reason(scores, s)).join(" and "),
    };
  }
  if ("any" in c) {
    const parts = c.any.map((p) => compileStage(p, describe));
    return {
      holds: (scores, s) => {
        for (const p of parts) if (p.holds(scores, s)) return true;
        return false;
      },
      // The reason of the first part that holds, as the parts are tested in order.
      reason: (scores, s) => {
        for (const p of parts) if (p.holds(scores, s)) return p.reason(scores, s);
        return "";
      },
    };
  }
  const inner = compileStage(c.not, describe);
  return { holds: (scores, s) => !inner.holds(scores, s), reason: () => "not (condition)" };
}
