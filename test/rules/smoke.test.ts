import { describe, expect, it } from "vitest";
import demo from "../../rules/demo.json" with { type: "json" };
import { parseRules } from "../../rules/index.js";

describe("the demo rules", () => {
  it("are valid", () => {
    const r = parseRules(demo);
    expect(r.ok ? [] : r.errors).toEqual([]);
  });
});
