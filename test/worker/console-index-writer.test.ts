/** What a visitor object reports about itself: the stages it entered and who it works for. */
import { describe, expect, it } from "vitest";
import { emptyState, type StageChange, type VisitorState } from "../../rules/index.js";
import { companyOf, stageEntries } from "../../worker/console/index-writer.js";

const ORDER = ["visitor", "lead", "mql", "sql"];

function state(firstSeen: number | null, history: Omit<StageChange, "event" | "reason">[]): VisitorState {
  return { ...emptyState("v", "visitor", ["fit"]), firstSeen, stageHistory: history.map((h) => ({ ...h, event: "e", reason: "r" })) };
}

describe("stageEntries", () => {
  it.each<[string, VisitorState, [string, number][]]>([
    ["nobody seen yet", state(null, []), []],
    ["a first visit", state(10, []), [["visitor", 10]]],
    ["step by step", state(10, [{ from: "visitor", to: "lead", at: 20 }, { from: "lead", to: "mql", at: 30 }]), [["visitor", 10], ["lead", 20], ["mql", 30]]],
    ["a demo request skips lead and MQL", state(10, [{ from: "visitor", to: "sql", at: 40, skipped: ["lead", "mql"] }]), [["visitor", 10], ["lead", 40], ["mql", 40], ["sql", 40]]],
    ["a demotion enters nothing; coming back keeps the first time", state(10, [
      { from: "visitor", to: "mql", at: 20, skipped: ["lead"] }, { from: "mql", to: "lead", at: 30 }, { from: "lead", to: "mql", at: 50 },
    ]), [["visitor", 10], ["lead", 20], ["mql", 20]]],
  ])("%s", (_, s, expected) => {
    expect(stageEntries(s, ORDER)).toEqual(expected);
  });
});

describe("companyOf", () => {
  it.each<[string, VisitorState["identity"], string | null]>([
    ["a company trait", { traits: { company: "Helios" }, domain: "gmail.com", kind: "free" }, "Helios"],
    ["a company_name trait", { traits: { company_name: "Orbit" } }, "Orbit"],
    ["a corporate email's domain", { traits: {}, email: "a@vega.example", domain: "vega.example", kind: "corporate" }, "vega.example"],
    ["a free-mail address says nothing", { traits: {}, email: "a@gmail.com", domain: "gmail.com", kind: "free" }, null],
    ["an empty trait is ignored", { traits: { company: "" }, domain: "vega.example", kind: "corporate" }, "vega.example"],
    ["a number is not a company", { traits: { company: 42 } }, null],
  ])("%s", (_, identity, expected) => {
    expect(companyOf(identity)).toBe(expected);
  });
});
