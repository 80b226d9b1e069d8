import { describe, expect, it } from "vitest";
import { compileStageCheck, compileStageCondition, compileStageSource, type StageInputs } from "../../rules/compile-stage.js";
import { emptyState, type Scores, type StageCondition, type VisitorState } from "../../rules/index.js";

const describeRule = (id: string) => ({ demo: "Requested a demo" })[id] ?? id;
const anonymous = emptyState("v", "visitor", ["fit", "engagement"]);
const known: VisitorState = {
  ...anonymous,
  identity: { email: "jo@acme.example", domain: "acme.example", kind: "corporate", traits: {} },
  counts: { demo: { n: 1, win: 0, wn: 1 }, webinar: { n: 2, win: 0, wn: 2 } },
};
const scores: Scores = { fit: 25, engagement: 30, total: 55 };

const cases: { name: string; when: StageCondition; state: VisitorState; reason: string | null }[] = [
    { name: "a total at the threshold", when: { score: "total", gte: 55 }, state: anonymous, reason: "total 55 >= 55" },
    { name: "a total below the threshold", when: { score: "total", gte: 55.01 }, state: anonymous, reason: null },
    { name: "a group score", when: { score: "fit", gte: 20 }, state: anonymous, reason: "fit 25 >= 20" },
    { name: "a group with no score yet", when: { score: "intent", gte: 0 }, state: anonymous, reason: "intent 0 >= 0" },
    { name: "a signal seen", when: { signal: "demo" }, state: known, reason: "signal Requested a demo" },
    { name: "a signal never seen", when: { signal: "demo" }, state: anonymous, reason: null },
    { name: "a signal seen often enough", when: { signal: "webinar", times: 2 }, state: known, reason: "signal webinar x2" },
    { name: "a signal not seen often enough", when: { signal: "webinar", times: 3 }, state: known, reason: null },
    { name: "identified, when identified", when: { identified: true }, state: known, reason: "identified as jo@acme.example" },
    { name: "identified, when anonymous", when: { identified: true }, state: anonymous, reason: null },
    { name: "not identified, when anonymous", when: { identified: false }, state: anonymous, reason: "not identified" },
    { name: "not identified, when identified", when: { identified: false }, state: known, reason: null },
    { name: "all holding", when: { all: [{ score: "total", gte: 50 }, { identified: true }] }, state: known, reason: "total 55 >= 50 and identified as jo@acme.example" },
    { name: "all with one part failing", when: { all: [{ score: "total", gte: 50 }, { identified: true }] }, state: anonymous, reason: null },
    { name: "any with the first part holding", when: { any: [{ signal: "demo" }, { score: "total", gte: 50 }] }, state: known, reason: "signal Requested a demo" },
    { name: "any with a later part holding", when: { any: [{ signal: "demo" }, { score: "total", gte: 50 }] }, state: anonymous, reason: "total 55 >= 50" },
    { name: "any with no part holding", when: { any: [{ signal: "demo" }, { score: "total", gte: 80 }] }, state: anonymous, reason: null },
    { name: "not of a failing part", when: { not: { signal: "demo" } }, state: anonymous, reason: "not (condition)" },
    { name: "not of a holding part", when: { not: { signal: "demo" } }, state: known, reason: null },
    { name: "all of any and not", when: { all: [{ any: [{ score: "fit", gte: 100 }, { score: "engagement", gte: 30 }] }, { not: { identified: false } }] }, state: known, reason: "engagement 30 >= 30 and not (condition)" },
];

describe("a stage condition", () => {
  it.each(cases)("$name gives $reason", ({ when, state, reason }) => {
    expect(compileStageCondition(when, describeRule)(scores, state)).toBe(reason);
  });
});

describe("a stage condition reading numbered scores and signals", () => {
  // Scores numbered as the engine numbers them; "intent" is no score. Signals numbered for "demo" only.
  const scoreNames = ["fit", "engagement", "total"];
  const signalSlots = ["demo"];
  const reads: string[] = [];
  const inputs: StageInputs = {
    score: (i) => (reads.push(scoreNames[i]!), scores[scoreNames[i]!] ?? 0),
    signal: (slot, id, state) => (reads.push(`signal ${id}`), slot >= 0 ? (state.counts[signalSlots[slot]!]?.n ?? 0) : (state.counts[id]?.n ?? 0)),
  };
  const compileBoth = (when: StageCondition) => {
    const scoreIndex = (name: string) => scoreNames.indexOf(name);
    const signalIndex = (rule: string) => signalSlots.indexOf(rule);
    return { test: compileStageSource(when, describeRule, scoreIndex, signalIndex), check: compileStageCheck(when, describeRule, scoreIndex, signalIndex) };
  };

  it.each(cases)("$name gives $reason", ({ when, state, reason }) => {
    const { test, check } = compileBoth(when);
    expect(test(inputs, state)).toBe(reason);
    expect(check.holds(inputs, state)).toBe(reason !== null);
    if (reason !== null) expect(check.reason(inputs, state)).toBe(reason);
  });

  it.each<{ name: string; when: StageCondition; state: VisitorState; read: string[] }>([
    { name: "all stops at the first part that fails", when: { all: [{ identified: true }, { score: "total", gte: 1 }] }, state: anonymous, read: [] },
    { name: "any stops at the first part that holds", when: { any: [{ signal: "demo" }, { score: "fit", gte: 1 }] }, state: known, read: ["signal demo"] },
    { name: "any reads on while parts fail", when: { any: [{ signal: "demo" }, { signal: "webinar", times: 5 }, { score: "fit", gte: 100 }] }, state: anonymous, read: ["signal demo", "signal webinar", "fit"] },
    { name: "a score that is no score reads nothing", when: { score: "intent", gte: 0 }, state: anonymous, read: [] },
  ])("$name: reads $read", ({ when, state, read }) => {
    reads.length = 0;
    compileBoth(when).check.holds(inputs, state);
    expect(reads).toEqual(read);
  });
});
