/** `rules simulate`: replays recorded events; with --compare, who would change stage going from the rules in service to the draft. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { localEndpoint, localStateDir } from "../../rules/cli.js";
import { runCli } from "./fixtures.js";

const EVENTS = "rules/examples/demo-events.ndjson";
const dir = mkdtempSync(join(tmpdir(), "mql-simulate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** rules/demo.json with free-mail addresses worth +100 instead of -10 (fit stops at its maximum, 60): tom, a free-mail lead, becomes an MQL. */
function draft(): string {
  const doc = JSON.parse(readFileSync("rules/demo.json", "utf8"));
  doc.rules.find((r: { id: string }) => r.id === "free-mail").points = 100;
  const file = join(dir, "draft.json");
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

const run = runCli;

describe("rules simulate", () => {
  it("prints each visitor's final stage and scores, and how many reached each stage", () => {
    const { code, out } = run(["simulate", "rules/demo.json", EVENTS]);
    expect(code).toBe(0);
    expect(out).toMatch(/^jane\s+sql\s+35\s/m);
    expect(out).toMatch(/^tom\s+lead\s+-10\s/m);
    expect(out).toContain("visitors=4 events=21 reached: lead=3 mql=2 sql=1");
  });

  it("with --compare OTHER, reports the change from OTHER (in service) to FILE (the draft)", () => {
    const file = draft();
    const { code, out } = run(["simulate", file, EVENTS, "--compare", "rules/demo.json"]);
    expect(code).toBe(0);
    expect(out.split("\n")).toEqual([
      `rules/demo.json -> ${file}: 1 visitor would change stage`,
      expect.stringMatching(/^ {2}tom: lead -> mql \(total -17\.82 -> 52\.18\)$/),
      "reached before: lead=3 mql=2 sql=1",
      "reached after:  lead=3 mql=3 sql=1",
    ]);
  });

  it("with --json, names the current and the draft results apart", () => {
    const file = draft();
    const { code, out } = run(["simulate", file, EVENTS, "--compare", "rules/demo.json", "--json"]);
    expect(code).toBe(0);
    const json = JSON.parse(out);
    expect(json.current.reached).toEqual({ lead: 3, mql: 2, sql: 1 });
    expect(json.draft.reached).toEqual({ lead: 3, mql: 3, sql: 1 });
    expect(json.changes).toEqual([{ visitor: "tom", from: "lead", to: "mql", totalFrom: -17.82, totalTo: 52.18 }]);
  });

  it("lists every bad line of an events file, with its field or its JSON column, and scores nothing", () => {
    const lines = readFileSync(EVENTS, "utf8").trim().split("\n");
    lines.splice(1, 0, '{"visitor":"x","at":1,"event":{"type":"nope"}}');
    lines.splice(4, 0, '{"visitor":"y",');
    lines.push('{"visitor":"z","at":-5,"event":{"type":"page_view","url":"https://www.northwind.example/"}}');
    const file = join(dir, "bad.ndjson");
    writeFileSync(file, lines.join("\n"));
    const { code, out, err } = run(["simulate", "rules/demo.json", file]);
    expect(code).toBe(1);
    expect(out).toBe("");
    expect(err.split("\n")).toEqual([
      `${file}: 3 problems:`,
      expect.stringMatching(/^ {2}line 2: \$\.event\.type: .*expected one of "page_view"/),
      "  line 5, column 16: not valid JSON: expected a property name in double quotes, found the end of the text",
      expect.stringMatching(new RegExp(`^ {2}line ${lines.length}: \\$\\.at: `)),
    ]);
  });

  it.each([
    [["chek", "rules/demo.json"], 'rules: unknown command "chek": check, push, simulate or email-links'],
    [[], "rules: expected a command: check, push, simulate or email-links"],
    [["simulate", "rules/demo.json", EVENTS, "--jsn"], "rules simulate: unknown option --jsn"],
    [["simulate", "rules/demo.json"], "rules simulate: missing EVENTS.ndjson"],
    [["check", "rules/demo.json", "rules/other.json"], 'rules check: unexpected argument "rules/other.json"'],
  ])("says what is wrong with %j before the usage, exit 1", (argv, first) => {
    const { code, err } = run(argv);
    expect(code).toBe(1);
    expect(err.split("\n")[0]).toBe(first);
    expect(err).toContain("usage:");
  });

  it.each([["--help"], ["-h"], ["help"]])("prints the usage for %s, exit 0", (flag) => {
    const { code, out } = run([flag]);
    expect(code).toBe(0);
    expect(out.split("\n")[0]).toBe("usage:");
  });

  it("says a rules file that is not there does not exist, exit 1", () => {
    const { code, err } = run(["simulate", join(dir, "draft-missing.json"), EVENTS]);
    expect(code).toBe(1);
    expect(err).toBe(`${join(dir, "draft-missing.json")}: cannot read: no such file`);
  });

  it("pushes to npm start's store: $MQL_DEV_DIR/state, .mql-dev/state unless set", () => {
    expect(localStateDir({})).toBe(join(".mql-dev", "state"));
    expect(localStateDir({ MQL_DEV_DIR: "/tmp/other-dev" })).toBe("/tmp/other-dev/state");
    expect(localEndpoint({})).toBe("http://127.0.0.1:8787");
    expect(localEndpoint({ PORT: "8937" })).toBe("http://127.0.0.1:8937");
  });

  it("refuses a missing events file with its name, exit 1", () => {
    const { code, err } = run(["simulate", "rules/demo.json", join(dir, "nope.ndjson")]);
    expect(code).toBe(1);
    expect(err).toContain("nope.ndjson");
  });
});
