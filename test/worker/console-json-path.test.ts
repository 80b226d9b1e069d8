/** The console editor's helpers: which line an error path is on, and the next version to suggest. */
import { describe, expect, it } from "vitest";
// @ts-expect-error the console is plain JavaScript served as is (no types, no build)
import { lineOfPath, nextVersion, pathOffsets } from "../../demo-site/console/json-path.js";

const doc = `{
  "version": "c1",
  "rules": [
    { "id": "a", "points": 1 },
    {
      "id": "b",
      "points": "ten",
      "when": { "field": "path", "odd key": [1, 2] }
    }
  ],
  "stages": []
}`;

describe("lineOfPath", () => {
  it.each([
    ["the root", "$", 1],
    ["a top-level key", "$.version", 2],
    ["an array item on one line", "$.rules[0]", 4],
    ["a key inside it", "$.rules[0].points", 4],
    ["a key of a multi-line item", "$.rules[1].points", 7],
    ["a quoted key", '$.rules[1].when["odd key"][1]', 8],
    ["a missing key: its parent's line", "$.rules[1].group", 5],
    ["an item past the end: the array's line", "$.stages[3]", 11],
  ])("finds %s", (_, path, line) => {
    expect(lineOfPath(doc, path)).toBe(line);
  });

  it("answers null for text that is not JSON", () => {
    expect(lineOfPath("{ \"a\": ", "$.a")).toBeNull();
  });

  it("reads the same paths JSON.parse accepts, escapes included", () => {
    const text = JSON.stringify({ "a\"b": [{ c: "x\\\"y" }], n: -1.5e3, t: true, z: null }, null, 2);
    expect([...pathOffsets(text).keys()]).toEqual(["$", '$["a\\"b"]', '$["a\\"b"][0]', '$["a\\"b"][0].c', "$.n", "$.t", "$.z"]);
  });
});

describe("nextVersion", () => {
  const day = new Date("2026-12-04T10:00:00Z");
  it.each([
    [[], "2026-12-04.1"],
    [["2026-12-04.1"], "2026-12-04.2"],
    [["2026-12-03.1", "2026-12-04.1", "2026-12-04.2"], "2026-12-04.3"],
    [["2026-12-04.9"], "2026-12-04.10"],
    [["2026-12-04.2", "2026-12-04.9+port9787", "2026-12-03.12"], "2026-12-04.10"],
    [["v7", "release-2"], "2026-12-04.1"],
  ])("after %j suggests %s", (taken, expected) => {
    expect(nextVersion(taken, day)).toBe(expected);
  });
});
