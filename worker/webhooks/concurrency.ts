/**
 * Per-target concurrency limit: a counter of sends in flight per (site, target) in this isolate.
 *
 * Why a counter and not a semaphore that waits, or a Durable Object per target: a send that finds
 * the target busy does not wait (a promise resolved from another Durable Object's request would
 * cross request contexts, which workerd does not allow); its message is simply due again a moment
 * later, without counting as a try. A per-target Durable Object would make the limit global at the
 * price of a binding, a migration and a round trip per send. The limit therefore holds per isolate:
 * under wrangler dev, and for a site whose visitors' objects share an isolate, that is the whole
 * limit; across isolates each may send up to the limit. Each visitor sends one message at a time.
 */

const inFlight = new Map<string, number>();

/** Takes a slot for `key` if fewer than `limit` are taken; true if it did. */
export function tryAcquire(key: string, limit: number): boolean {
  const n = inFlight.get(key) ?? 0;
  if (n >= limit) return false;
  inFlight.set(key, n + 1);
  return true;
}

/** Gives back a slot taken by `tryAcquire`. */
export function release(key: string): void {
  const n = (inFlight.get(key) ?? 1) - 1;
  if (n <= 0) inFlight.delete(key);
  else inFlight.set(key, n);
}
