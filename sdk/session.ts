/**
 * The visitor on this device: id, visits (30 min idle ends one), last stage, consent. Kept in
 * localStorage so the site's tabs share one visit clock (read again at each event); written only
 * once storing is allowed, in memory before that or when storage throws.
 */
import { STATE_KEY, VISIT_IDLE_MS } from "./constants";
import { rid, store } from "./util";

/** What the device remembers about its visitor. */
export interface State {
  /** Visitor id. */
  v: string;
  /** Visits so far (ordinal of the current one). */
  n: number;
  /** Last activity, ms since the epoch. */
  t: number;
  /** The last event started a visit. */
  f?: boolean;
  /** Consent was given. */
  c?: unknown;
}

let st: State | undefined;
/** A new visitor, with consent `c` kept. */
const fresh = (c?: unknown): State => ({ v: rid(), n: 0, t: 0, c });
/** Storing on the device and sending are allowed (no consent needed, or consent given). */
export let allowed: unknown;
/** Sets whether storing and sending are allowed. */
export const allow = (y: unknown) => (allowed = y);

/** The current state (a new visitor when the device has none); `f` changes it and writes it when allowed. */
export const state = (f?: (s: State) => unknown): State => {
  st = store(STATE_KEY) || st || fresh();
  if (f) {
    f(st!);
    if (allowed) store(STATE_KEY, st);
  }
  return st!;
};

/** Advances the visit clock: after VISIT_IDLE_MS idle the event starts a new visit (`f`). */
export const touch = (now: number) =>
  state((s) => {
    if ((s.f = !(now - s.t < VISIT_IDLE_MS))) s.n++;
    s.t = now;
  });

/** A new visitor (consent given stays given). */
export const reset = () => state((s) => (st = fresh(s.c)));

/** A new visitor in memory, without consent: what consent withdrawn leaves. */
export const forget = () => (st = fresh());
