import { describe, expect, it } from "vitest";
import { compileStageCondition } from "../../rules/compile-stage.js";
import { emptyState, type Scores, type StageCondition, type VisitorState } from "../../rules/index.js";

const describeRule = (id: string) => ({ demo: "Requested a demo" })[id] ?? id;
const anonymous = emptyState("v", "visitor", ["fit", "engagement"]);
const known: VisitorState = {
  ...anonymous,
  identity: { email: "jo@acme.example", domain: "acme.example", kind: "corporate", traits: {} },
  counts: { demo: { n: 1, win: 0, wn: 1 }, webinar: { n: 2, win: 0, wn: 2 } },
};
const scores: Scores = { fit: 25, engagement: 30, total: 55 };

describe("a stage condition", () => {
  it.each<{ name: string; when: StageCondition; state: VisitorState; reason: string | null }>([
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
  ])("$name gives $reason", ({ when, state, reason }) => {
    expect(compileStageCondition(when, describeRule)(scores, state)).toBe(reason);
  });
});
