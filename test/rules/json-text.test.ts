/** JSON text written by people: where it stops being JSON, and the CLI's report of it. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../rules/cli.js";
import { locateJsonError, parseJsonText, pointAt } from "../../rules/json-text.js";
import { prng } from "./fixtures.js";

describe("parseJsonText", () => {
  it("parses JSON as JSON.parse does", () => {
    const text = readFileSync("rules/demo.json", "utf8");
    expect(parseJsonText(text)).toEqual({ ok: true, value: JSON.parse(text) });
    expect(parseJsonText("0")).toEqual({ ok: true, value: 0 });
  });

  it.each([
    ["a trailing comma in an object", '{\n  "a": 1,\n}', 3, 1, "a property name in double quotes", '"}"'],
    ["a trailing comma in an array", "[1, 2,]", 1, 7, "a value: an object, array, string, number, true, false or null", '"]"'],
    ["a missing comma", '{\n  "a": 1\n  "b": 2\n}', 3, 3, '"," or "}" after a property value', '"\\""'],
    ["a missing colon", '{ "a" 1 }', 1, 7, '":" after the property name', '"1"'],
    ["a single-quoted name", "{ 'a': 1 }", 1, 3, "a property name in double quotes", "\"'\""],
    ["an unquoted name", "{ version: 1 }", 1, 3, "a property name in double quotes", '"v"'],
    ["an unclosed string", '{ "a": "b }', 1, 12, "a closing double quote", "the end of the text"],
    ["a line break inside a string", '{ "a": "b\n" }', 1, 10, "no control character inside a string (a line break is written \\n)", "a line break"],
    ["a bad escape", '["a\\x"]', 1, 5, 'an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\u and 4 hexadecimal digits', '"x"'],
    ["a short \\u escape", '["\\u12"]', 1, 4, "\\u followed by 4 hexadecimal digits", '"u"'],
    ["a leading zero", "[01]", 1, 3, "a digit, or the end of the number", '"1"'],
    ["a number ending in a dot", "[1.]", 1, 3, "a digit, or the end of the number", '"."'],
    ["a lone minus", "[-]", 1, 3, "a digit", '"]"'],
    ["a capitalised literal", "[True]", 1, 2, "a value: an object, array, string, number, true, false or null", '"T"'],
    ["NaN", '{"a": NaN}', 1, 7, "a value: an object, array, string, number, true, false or null", '"N"'],
    ["a comment", '{\n  // points\n  "a": 1\n}', 2, 3, "a property name in double quotes", '"/"'],
    ["text after the value", '{"a": 1}\n{"b": 2}', 2, 1, "the end of the text after the JSON value", '"{"'],
    ["an unclosed object", '{"a": [1, 2]', 1, 13, '"," or "}" after a property value', "the end of the text"],
    ["an empty text", "", 1, 1, "a value: an object, array, string, number, true, false or null", "the end of the text"],
    ["a byte order mark", "\uFEFF{}", 1, 1, "a value: an object, array, string, number, true, false or null", "U+FEFF (a byte order mark)"],
  ])("%s: line and column of the first error, what was expected and found", (_, text, line, column, expected, found) => {
    expect(() => JSON.parse(text)).toThrow();
    const parsed = parseJsonText(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toMatchObject({ line, column, expected, found });
    expect(parsed.error.message).toBe(`line ${line}, column ${column}: expected ${expected}, found ${found}`);
  });

  it("agrees with JSON.parse on 2,000 damaged copies of the demo rules, and points at the damage, after it or at the start of its token", () => {
    const text = JSON.stringify(JSON.parse(readFileSync("rules/demo.json", "utf8")), null, 2);
    const random = prng(7);
    const junk = ['"', ",", "}", "]", "{", "[", ":", "\\", "\n", "x", "0", "-", ".", "e", " ", "t"];
    let broken = 0;
    for (let k = 0; k < 2_000; k++) {
      const at = Math.floor(random() * text.length);
      const roll = random();
      const damaged = roll < 0.4 ? text.slice(0, at) + text.slice(at + 1) // a character deleted
        : roll < 0.8 ? text.slice(0, at) + junk[Math.floor(random() * junk.length)] + text.slice(at) // one inserted
        : text.slice(0, at); // cut short
      let valid = true;
      try {
        JSON.parse(damaged);
      } catch {
        valid = false;
      }
      const error = locateJsonError(damaged);
      expect(error === undefined, `copy ${k}: JSON.parse says ${valid ? "valid" : "invalid"}`).toBe(valid);
      if (error === undefined) continue;
      broken++;
      // Everything before the damage is the original text, so the first error is at it, after it,
      // or at the start of the token it damaged ("fase" is wrong from its "f").
      expect(error.offset).toBeGreaterThanOrEqual(Math.min(at, damaged.length) - "false".length);
      expect(damaged.split("\n")[error.line - 1]!.length + 1).toBeGreaterThanOrEqual(error.column);
    }
    expect(broken).toBeGreaterThan(1_000);
  });

  it("leaves text nested deeper than it scans to JSON.parse's message", () => {
    const text = "[".repeat(5_000);
    const parsed = parseJsonText(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message.length).toBeGreaterThan(0);
  });

  it("points at the column under the line, cutting long lines around it", () => {
    const text = '{\n  "a": 1,\n}';
    expect(pointAt(text, locateJsonError(text)!)).toBe("}\n^");
    const long = `{"a": [${"1, ".repeat(100)}x]}`;
    const shown = pointAt(long, locateJsonError(long)!).split("\n");
    expect(shown[0]).toMatch(/^\.\.\..*x\]\}$/);
    expect(shown[0]![shown[1]!.length - 1]).toBe("x");
  });
});

describe("rules check of a file that is not JSON", () => {
  const dir = mkdtempSync(join(tmpdir(), "mql-json-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());

  function check(text: string): { code: number; err: string } {
    const file = join(dir, "rules.json");
    writeFileSync(file, text);
    const err: string[] = [];
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    vi.spyOn(console, "error").mockImplementation((s: string) => void err.push(s));
    return { code: main(["check", file]), err: err.join("\n").replaceAll(file, "FILE") };
  }

  it("names the file, line and column, says what was expected, and shows the line", () => {
    const demo = readFileSync("rules/demo.json", "utf8").split("\n");
    const line = demo.findIndex((l) => l.includes('"version"'));
    demo[line] = demo[line]!.replace(/,\s*$/, "");
    const { code, err } = check(demo.join("\n"));
    expect(code).toBe(1);
    const next = demo[line + 1]!;
    const column = next.search(/\S/) + 1;
    expect(err).toBe(`FILE:${line + 2}:${column}: not valid JSON: expected "," or "}" after a property value, found "\\""\n  ${next}\n  ${" ".repeat(column - 1)}^`);
  });

  it("reads a file that starts with a byte order mark", () => {
    expect(check(`\uFEFF${readFileSync("rules/demo.json", "utf8")}`).code).toBe(0);
  });
});
