import { describe, expect, it } from "vitest";
import { bump, countIn, emptyState, windowOf } from "../../rules/index.js";

const at = (iso: string) => Date.parse(iso);

describe("the window of an instant", () => {
  it.each([
    { per: "day", a: "2026-01-05T00:00:00Z", b: "2026-01-05T23:59:59.999Z", same: true },
    { per: "day", a: "2026-01-05T23:59:59.999Z", b: "2026-01-06T00:00:00Z", same: false },
    { per: "week", a: "2026-01-05T00:00:00Z", b: "2026-01-11T23:59:59.999Z", same: true },
    { per: "week", a: "2026-01-11T23:59:59.999Z", b: "2026-01-12T00:00:00Z", same: false },
    { per: "week", a: "2025-12-29T00:00:00Z", b: "2026-01-04T23:00:00Z", same: true },
    { per: "week", a: "1970-01-01T00:00:00Z", b: "1970-01-04T23:59:59Z", same: true },
    { per: "week", a: "1970-01-04T23:59:59Z", b: "1970-01-05T00:00:00Z", same: false },
    { per: "ever", a: "2020-01-01T00:00:00Z", b: "2030-06-01T00:00:00Z", same: true },
  ] as const)("per $per: $a and $b are in the same window: $same", ({ per, a, b, same }) => {
    expect(windowOf(per, at(a)) === windowOf(per, at(b))).toBe(same);
  });
});

describe("a counter", () => {
  it("counts every occurrence ever and those in the current window", () => {
    const monday = at("2026-01-05T10:00:00Z");
    const tuesday = at("2026-01-06T10:00:00Z");
    let c = bump(undefined, "day", monday);
    c = bump(c, "day", monday);
    expect([countIn(c, "day", monday), countIn(c, "ever", monday)]).toEqual([2, 2]);
    expect(countIn(c, "day", tuesday)).toBe(0);
    c = bump(c, "day", tuesday);
    expect([countIn(c, "day", tuesday), c.n]).toEqual([1, 3]);
  });

  it("counts nothing before the first occurrence", () => {
    expect(countIn(undefined, "week", 0)).toBe(0);
  });
});

describe("the state of a new visitor", () => {
  it("is at the first stage with empty groups and no identity", () => {
    expect(emptyState("v-1", "visitor", ["fit", "engagement"])).toEqual({
      visitor: "v-1",
      stage: "visitor",
      stageHistory: [],
      firstSeen: null,
      lastSeen: null,
      events: 0,
      groups: { fit: { base: 0, fading: [] }, engagement: { base: 0, fading: [] } },
      counts: {},
      identity: { traits: {} },
      ctas: {},
    });
  });
});
