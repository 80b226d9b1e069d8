/**
 * A rule's precision: of the judged leads it gave points to, the share sales accepted. Pure; one
 * verdict per lead (its latest), and only rules that added points count as contributing.
 */
import { wilsonLower } from "./funnel.js";

/** A lead sales judged, with the rules that gave it points when it was judged. */
export interface Judged {
  visitor: string;
  verdict: "accepted" | "rejected";
  at: number;
  rules: { rule: string; points: number }[];
}

/** How one rule fared with sales. */
export interface RulePrecision {
  rule: string;
  accepted: number;
  rejected: number;
  /** accepted / (accepted + rejected). */
  precision: number;
  /** The precision these numbers guarantee at 95 % (Wilson lower bound). */
  low: number;
}

/** The latest verdict of each lead. */
export function latestPerLead(judged: readonly Judged[]): Judged[] {
  const last = new Map<string, Judged>();
  for (const j of judged) {
    const seen = last.get(j.visitor);
    if (!seen || j.at >= seen.at) last.set(j.visitor, j);
  }
  return [...last.values()];
}

/** Precision of every rule that contributed to a judged lead, most precise first (then most judged). */
export function rulePrecision(judged: readonly Judged[]): RulePrecision[] {
  const byRule = new Map<string, { accepted: number; rejected: number }>();
  for (const j of latestPerLead(judged)) {
    for (const r of new Set(j.rules.filter((x) => x.points > 0).map((x) => x.rule))) {
      const s = byRule.get(r) ?? { accepted: 0, rejected: 0 };
      s[j.verdict]++;
      byRule.set(r, s);
    }
  }
  return [...byRule].map(([rule, s]) => {
    const n = s.accepted + s.rejected;
    return { rule, ...s, precision: Math.round((s.accepted / n) * 10_000) / 10_000, low: wilsonLower(s.accepted, n) };
  }).sort((a, b) => b.precision - a.precision || b.accepted + b.rejected - (a.accepted + a.rejected) || (a.rule < b.rule ? -1 : 1));
}
