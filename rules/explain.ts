/**
 * The explanation of a visitor's score, for sales and for the console: every group's score, each
 * ledger entry with what it is worth now, the points per rule, and why each stage was entered.
 */
import { faded, round2, scoresAt, type LedgerEntry, type Scores } from "./score.js";
import type { RulesDocument } from "./schema.js";
import type { StageChange, VisitorState } from "./state.js";

/** One ledger entry with its value now. */
export interface ExplainedEntry extends LedgerEntry {
  /** What the points are worth at the time of the explanation (after fading). */
  now: number;
}

/** Points per rule: how many times it counted and what it adds up to now. */
export interface RuleSummary {
  rule: string;
  group: string;
  description: string;
  times: number;
  points: number;
  now: number;
}

/** Everything about where a visitor's score came from. */
export interface Explanation {
  stage: string;
  scores: Scores;
  groups: { id: string; label: string; score: number; max?: number; min?: number; raw: number }[];
  rules: RuleSummary[];
  entries: ExplainedEntry[];
  stages: StageChange[];
}

/** Explains a visitor's state from its ledger at `now`. */
export function explain(doc: RulesDocument, state: VisitorState, ledger: readonly LedgerEntry[], now: number): Explanation {
  const scores = scoresAt(state, doc.groups, now);
  const entries = ledger.map((e) => ({ ...e, now: round2(e.halfLifeDays === undefined ? e.points : faded(e.points, e.at, e.halfLifeDays, now)) }));
  const byRule = new Map<string, RuleSummary>();
  const raw = new Map<string, number>();
  for (const e of entries) {
    raw.set(e.group, (raw.get(e.group) ?? 0) + e.now);
    let s = byRule.get(e.rule);
    if (!s) {
      const description = doc.rules.find((r) => r.id === e.rule)?.description ?? (e.rule === "inactivity" ? "Inactivity" : e.rule);
      byRule.set(e.rule, (s = { rule: e.rule, group: e.group, description, times: 0, points: 0, now: 0 }));
    }
    s.times++;
    s.points += e.points;
    s.now = round2(s.now + e.now);
  }
  return {
    stage: state.stage,
    scores,
    groups: doc.groups.map((g) => {
      const out: Explanation["groups"][number] = { id: g.id, label: g.label ?? g.id, score: scores[g.id] ?? 0, raw: round2(raw.get(g.id) ?? 0) };
      if (g.max !== undefined) out.max = g.max;
      if (g.min !== undefined) out.min = g.min;
      return out;
    }),
    rules: [...byRule.values()].sort((a, b) => Math.abs(b.now) - Math.abs(a.now)),
    entries,
    stages: state.stageHistory,
  };
}
