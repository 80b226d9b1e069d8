/**
 * A visitor's scoring state: small, JSON-serialisable, and enough to score the next event without
 * reading the ledger. Half-life points are kept as one running sum per half-life (exponential decay
 * composes), so the state stays the same size however many events a visitor sends.
 */
import type { EmailKind } from "./email.js";

/** Milliseconds in a day: decay, caps and inactivity count in UTC days. */
export const DAY_MS = 86_400_000;

/** How many times something counted: ever, and within the current day or week window. */
export interface Counter {
  /** Times ever. */
  n: number;
  /** The window the `wn` count belongs to (UTC day number or ISO week number). */
  win: number;
  /** Times within window `win`. */
  wn: number;
}

/** Points that fade with one half-life, summed and valued at time `at`. */
export interface FadingSum {
  halfLifeDays: number;
  value: number;
  at: number;
}

/** The raw (unclamped) points of one score group. */
export interface GroupPoints {
  /** Points that do not fade. */
  base: number;
  fading: FadingSum[];
}

/** A stage change: forward on a condition, or back when a rule demotes. */
export interface StageChange {
  from: string;
  to: string;
  at: number;
  event: string;
  reason: string;
  /** Stages passed over on the way (a demo request goes from visitor straight to SQL). */
  skipped?: string[];
}

/** What the visitor told us about themselves. */
export interface Identity {
  email?: string;
  domain?: string;
  kind?: EmailKind;
  traits: Record<string, string | number | boolean>;
}

/** The state of one visitor. */
export interface VisitorState {
  visitor: string;
  stage: string;
  /** The last stage changes, newest last (at most 50 kept). */
  stageHistory: StageChange[];
  firstSeen: number | null;
  lastSeen: number | null;
  /** Events applied. */
  events: number;
  groups: Record<string, GroupPoints>;
  /** Per rule: how many times it counted. */
  counts: Record<string, Counter>;
  identity: Identity;
  /**
   * Set by a demotion: the visitor stays at or below the stage it was moved back to until its total
   * rises above the total it had then (new activity re-qualifies, old signals alone do not).
   */
  hold?: { total: number; at: number };
  /** Per CTA: impressions and last dismissal. */
  ctas: Record<string, { shown: Counter; dismissedAt?: number }>;
}

/** The state of a visitor nobody has seen yet. */
export function emptyState(visitor: string, firstStage: string, groups: readonly string[]): VisitorState {
  const points: Record<string, GroupPoints> = {};
  for (const g of groups) points[g] = { base: 0, fading: [] };
  return {
    visitor,
    stage: firstStage,
    stageHistory: [],
    firstSeen: null,
    lastSeen: null,
    events: 0,
    groups: points,
    counts: {},
    identity: { traits: {} },
    ctas: {},
  };
}

/** The window number of a time: UTC day, or ISO week (Monday to Sunday, UTC), or 0 for "ever". */
export function windowOf(per: "ever" | "day" | "week", now: number): number {
  if (per === "ever") return 0;
  const day = Math.floor(now / DAY_MS);
  // 1970-01-01 was a Thursday: shifting by 3 days makes weeks start on Monday.
  return per === "day" ? day : Math.floor((day + 3) / 7);
}

/** How many times something counted within the window of `now`. */
export function countIn(counter: Counter | undefined, per: "ever" | "day" | "week", now: number): number {
  if (counter === undefined) return 0;
  if (per === "ever") return counter.n;
  return counter.win === windowOf(per, now) ? counter.wn : 0;
}

/** A counter with one more occurrence at `now`. */
export function bump(counter: Counter | undefined, per: "ever" | "day" | "week", now: number): Counter {
  const win = windowOf(per, now);
  if (counter === undefined) return { n: 1, win, wn: 1 };
  return { n: counter.n + 1, win, wn: counter.win === win ? counter.wn + 1 : 1 };
}
