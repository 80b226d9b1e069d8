/** CSV export cells: RFC 4180 quoting, and spreadsheet formulas defused. */
import { describe, expect, it } from "vitest";
import { csvCell, toCsv } from "../../worker/console/csv.js";

describe("csvCell", () => {
  it.each([
    ["plain text stays as it is", "Helios", "Helios"],
    ["a comma is quoted", "Helios, Inc.", '"Helios, Inc."'],
    ["a quote is doubled inside quotes", 'the "best" team', '"the ""best"" team"'],
    ["a line break is quoted", "line one\nline two", '"line one\nline two"'],
    ["a formula gets an apostrophe", "=SUM(A1:A9)", "'=SUM(A1:A9)"],
    ["a plus sign gets an apostrophe", "+33 1 23", "'+33 1 23"],
    ["a minus sign gets an apostrophe", "-2+3", "'-2+3"],
    ["an at sign gets an apostrophe", "@cmd", "'@cmd"],
    ["a formula with a quote and a comma is defused and quoted", '=HYPERLINK("x",1)', '"\'=HYPERLINK(""x"",1)"'],
    ["a negative number stays a number", -12.5, "-12.5"],
    ["zero", 0, "0"],
    ["a boolean", true, "true"],
    ["null is empty", null, ""],
    ["undefined is empty", undefined, ""],
    ["NaN is empty", Number.NaN, ""],
  ])("%s", (_, value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });
});

describe("toCsv", () => {
  it("writes a header and rows with CRLF line ends", () => {
    expect(toCsv(["a", "b"], [["x", 1], [null, "y,z"]])).toBe('a,b\r\nx,1\r\n,"y,z"\r\n');
  });
});
