/**
 * Scores as a pure function of points and the clock. A group's score is its points (half-life
 * points valued now), less any inactivity not yet written to the ledger, clamped to the group's
 * min/max. `total` is the sum of the groups' scores. Scores are compared and shown to 0.01.
 */
import type { Group } from "./schema.js";
import { DAY_MS, type GroupPoints, type VisitorState } from "./state.js";

/** Scores by group id, plus `total`. */
export type Scores = Record<string, number>;

/** One ledger entry: where points came from. */
export interface LedgerEntry {
  /** The event that earned the points. */
  event: string;
  at: number;
  /** The rule id, or `inactivity` for inactivity decay. */
  rule: string;
  group: string;
  points: number;
  reason: string;
  /** The rules version that produced the entry. */
  version: string;
  /** Set when the points fade: they halve every so many days. */
  halfLifeDays?: number;
}

/** Rounds to 0.01: the precision scores are shown and compared at. */
export const round2 = (n: number): number => Math.round(n * 100) / 100 + 0; // + 0 turns -0 into 0

/** The value now of points earned at `at` that halve every `halfLifeDays`. */
export function faded(points: number, at: number, halfLifeDays: number, now: number): number {
  return now <= at ? points : points * Math.pow(2, -(now - at) / (halfLifeDays * DAY_MS));
}

/** A group's raw points valued at `now`. */
export function rawPoints(g: GroupPoints, now: number): number {
  let sum = g.base;
  for (const f of g.fading) sum += faded(f.value, f.at, f.halfLifeDays, now);
  return sum;
}

/** The same points plus `points` earned at `now`. Returns a new object. */
export function addPoints(g: GroupPoints, points: number, halfLifeDays: number | undefined, now: number): GroupPoints {
  if (halfLifeDays === undefined) return { base: g.base + points, fading: g.fading };
  const fading = g.fading.slice();
  let i = 0;
  while (i < fading.length && fading[i]!.halfLifeDays !== halfLifeDays) i++;
  if (i === fading.length) fading.push({ halfLifeDays, value: points, at: now });
  else {
    const f = fading[i]!;
    fading[i] = { halfLifeDays, value: faded(f.value, f.at, halfLifeDays, now) + points, at: Math.max(now, f.at) };
  }
  return { base: g.base, fading };
}

/**
 * Whole days of inactivity past the group's grace period, times its daily loss. It takes from the
 * group's non-fading points only (`base`) and never past zero: half-life points already fade on
 * their own, and a loss that outlived the points it took would drive scores below zero.
 */
export function inactivityLoss(group: Group, base: number, lastSeen: number | null, now: number): { days: number; points: number } {
  if (group.inactivity === undefined || lastSeen === null || base <= 0) return { days: 0, points: 0 };
  const days = Math.floor((now - lastSeen) / DAY_MS) - group.inactivity.afterDays;
  if (days <= 0) return { days: 0, points: 0 };
  return { days, points: Math.min(base, days * group.inactivity.pointsPerDay) };
}

/** Clamps to the group's bounds. */
export function clampToGroup(group: Group, value: number): number {
  if (group.max !== undefined && value > group.max) return group.max;
  if (group.min !== undefined && value < group.min) return group.min;
  return value;
}

/** The visitor's scores at `now`, every group and `total`, to 0.01. */
export function scoresAt(state: VisitorState, groups: readonly Group[], now: number): Scores {
  const out: Scores = {};
  let total = 0;
  for (const group of groups) {
    const points = state.groups[group.id];
    const raw = points === undefined ? 0 : rawPoints(points, now);
    const loss = points === undefined ? 0 : inactivityLoss(group, points.base, state.lastSeen, now).points;
    const score = round2(clampToGroup(group, raw - loss));
    out[group.id] = score;
    total += score;
  }
  out.total = round2(total);
  return out;
}

/**
 * The same scores computed from the ledger alone: every entry valued at `now` (faded where it
 * fades), plus inactivity since `lastSeen` not yet in the ledger. Proves the state holds nothing
 * the ledger does not explain.
 */
export function scoresFromLedger(ledger: readonly LedgerEntry[], groups: readonly Group[], lastSeen: number | null, now: number): Scores {
  const raw = new Map<string, number>();
  const base = new Map<string, number>();
  for (const e of ledger) {
    const v = e.halfLifeDays === undefined ? e.points : faded(e.points, e.at, e.halfLifeDays, now);
    raw.set(e.group, (raw.get(e.group) ?? 0) + v);
    if (e.halfLifeDays === undefined) base.set(e.group, (base.get(e.group) ?? 0) + e.points);
  }
  const out: Scores = {};
  let total = 0;
  for (const group of groups) {
    const r = raw.get(group.id) ?? 0;
    const score = round2(clampToGroup(group, r - inactivityLoss(group, base.get(group.id) ?? 0, lastSeen, now).points));
    out[group.id] = score;
    total += score;
  }
  out.total = round2(total);
  return out;
}
