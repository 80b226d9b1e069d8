/**
 * Compiles a stage's entry condition to a closure that answers with the reason the stage is
 * entered ("total 52 >= 50", "signal demo-request: Requested a demo") or null when it does not hold.
 */
import type { Scores } from "./score.js";
import type { StageCondition } from "./schema.js";
import type { VisitorState } from "./state.js";

/** A compiled stage condition: the reason it holds, or null. */
export type StageTest = (scores: Scores, state: VisitorState) => string | null;

/** Compiles a stage condition; `describe` names a rule for reasons. */
export function compileStageCondition(c: StageCondition, describe: (ruleId: string) => string): StageTest {
  if ("score" in c) {
    const { score, gte } = c;
    return (scores) => {
      const v = scores[score] ?? 0;
      return v >= gte ? `${score} ${v} >= ${gte}` : null;
    };
  }
  if ("signal" in c) {
    const { signal } = c;
    const times = c.times ?? 1;
    const label = `signal ${describe(signal)}${times > 1 ? ` x${times}` : ""}`;
    return (_, s) => ((s.counts[signal]?.n ?? 0) >= times ? label : null);
  }
  if ("identified" in c) {
    const want = c.identified;
    return (_, s) => (s.identity.email !== undefined) === want
      ? (want ? `identified as ${s.identity.email}` : "not identified")
      : null;
  }
  if ("all" in c) {
    const parts = c.all.map((p) => compileStageCondition(p, describe));
    return (scores, s) => {
      const reasons: string[] = [];
      for (const p of parts) {
        const r = p(scores, s);
        if (r === null) return null;
        reasons.push(r);
      }
      return reasons.join(" and ");
    };
  }
  if ("any" in c) {
    const parts = c.any.map((p) => compileStageCondition(p, describe));
    return (scores, s) => {
      for (const p of parts) {
        const r = p(scores, s);
        if (r !== null) return r;
      }
      return null;
    };
  }
  const inner = compileStageCondition(c.not, describe);
  return (scores, s) => (inner(scores, s) === null ? "not (condition)" : null);
}
