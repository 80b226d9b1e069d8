/**
 * What a try's outcome means and when the next one is due. Failed for good: an answer saying the
 * body itself is wrong (400, 413, 422: the same body sent again cannot pass) and redirects (3xx,
 * never followed); 410 Gone also disables the target. Everything else is retried over about a
 * day: network errors, timeouts, 5xx, 429, and the 401, 403, 404 or 408 of a CRM whose
 * credentials, endpoint or limits are put right meanwhile (the receiver's own 401 on a signature
 * it cannot verify included: the secret can be fixed).
 */

/** Pause after each failed try: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then dead letter. */
export const BACKOFF_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000] as const;
/** Tries before a message becomes a dead letter. */
export const ATTEMPTS_MAX = BACKOFF_MS.length + 1;
/** Backoff pauses vary by up to this share either way, so retries of many visitors spread out. */
export const JITTER_RATIO = 0.1;
/** Longest Retry-After honoured; longer ones are cut to it. */
export const RETRY_AFTER_MAX_MS = 36_000_000;

/** How one try ended. */
export type Verdict =
  | { kind: "delivered" }
  | { kind: "retry"; retryAfterMs?: number }
  | { kind: "failed" }
  | { kind: "gone" };

/** The verdict on an HTTP answer. */
export function verdictOf(status: number, retryAfter: string | null, now: number): Verdict {
  if (status >= 200 && status < 300) return { kind: "delivered" };
  if (status === 410) return { kind: "gone" };
  if (status < 400 || status === 400 || status === 413 || status === 422) return { kind: "failed" };
  const ms = retryAfterMs(retryAfter, now);
  return ms === undefined ? { kind: "retry" } : { kind: "retry", retryAfterMs: ms };
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now (bounded); undefined if absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 1000), RETRY_AFTER_MAX_MS);
}

/**
 * When try `attempt + 1` is due after try `attempt` (1-based) failed and asked to retry, or null
 * when that was the last try. `random` returns [0, 1) (injectable so tests can pin it).
 */
export function nextTryAt(attempt: number, now: number, verdict: { retryAfterMs?: number }, random: () => number = Math.random): number | null {
  if (attempt >= ATTEMPTS_MAX) return null;
  const base = BACKOFF_MS[attempt - 1]!;
  const backoff = Math.round(base * (1 + JITTER_RATIO * (2 * random() - 1)));
  // Retry-After is the least wait, not the schedule: a CRM asking for 3 s each time does not spend a day's tries in 30 s.
  return now + Math.max(backoff, verdict.retryAfterMs ?? 0);
}
