/**
 * Funnel arithmetic, pure: conversion between stages, and rates per channel or page ranked by what
 * they can be trusted to deliver (the Wilson lower bound), so 1 MQL out of 1 visitor does not
 * outrank 40 out of 200.
 */

/** One step of the funnel: how many of the cohort reached the stage, and the rates. */
export interface FunnelStep {
  stage: string;
  label: string;
  reached: number;
  /** Share of the previous step that reached this one (1 for the first step); null out of nobody. */
  fromPrevious: number | null;
  /** Share of the whole cohort; null for an empty cohort. */
  fromTop: number | null;
}

/** Rates of a funnel from how many reached each stage, in order (the first is the cohort). */
export function funnelSteps(stages: readonly { stage: string; label: string; reached: number }[]): FunnelStep[] {
  const top = stages[0]?.reached ?? 0;
  return stages.map((s, i) => {
    const prev = i === 0 ? s.reached : stages[i - 1]!.reached;
    // A share of nobody is unknown, not 0 %.
    return { ...s, fromPrevious: prev <= 0 ? null : i === 0 ? 1 : ratio(s.reached, prev), fromTop: top <= 0 ? null : ratio(s.reached, top) };
  });
}

/** a / b, or 0 when b is 0; rounded to 4 decimals. */
export function ratio(a: number, b: number): number {
  return b <= 0 ? 0 : Math.round((a / b) * 10_000) / 10_000;
}

/**
 * The lower bound of the Wilson score interval of `successes` out of `trials` at about 95 %
 * (z = 1.96): the rate one can count on given how little was seen.
 */
export function wilsonLower(successes: number, trials: number, z = 1.96): number {
  if (trials <= 0) return 0;
  const p = successes / trials;
  const z2 = z * z;
  const centre = p + z2 / (2 * trials);
  const margin = z * Math.sqrt((p * (1 - p) + z2 / (4 * trials)) / trials);
  return Math.max(0, Math.round(((centre - margin) / (1 + z2 / trials)) * 10_000) / 10_000);
}

/** One channel or page: visitors, how many qualified, and how many of those sales accepted. */
export interface RateRow {
  key: string;
  visitors: number;
  reached: number;
  accepted: number;
}

/** Rows with their rate and its lower bound, best first (lower bound, then volume, then name). */
export function rankRates(rows: readonly RateRow[]): (RateRow & { rate: number; low: number })[] {
  return rows
    .map((r) => ({ ...r, rate: ratio(r.reached, r.visitors), low: wilsonLower(r.reached, r.visitors) }))
    .sort((a, b) => b.low - a.low || b.reached - a.reached || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
