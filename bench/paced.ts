/**
 * Open-loop load at a fixed rate, evenly spaced: request k is due at start + k / rate and leaves
 * then, whatever the answers before it did; its latency counts from when it was due. A worker (or
 * a load generator) that falls behind shows in the latency instead of slowing the load down.
 *
 * autocannon's `overallRate` is not that: each connection's allowance is reset by a timer once a
 * second, so a second's requests leave together at its start, a burst of one per connection, then
 * nothing until the next second; and its coordinated-omission correction takes ceil(1 / rate)
 * (requests per second) as the interval requests are expected at in milliseconds, which is 1 ms
 * for any rate, so a 40 ms answer is recorded as forty answers of 1 to 40 ms. Half of the maximum
 * rate sent that way measures bursts at full speed, not half load.
 */

/** One request of a paced run: its outcome (a status code, or an error's name), or undefined when it was not sent. */
export type Fire = (k: number) => Promise<string> | undefined;

export interface PacedResult {
  /** Requests sent. */
  sent: number;
  /** Requests due that `fire` did not send. */
  skipped: number;
  /** Outcome -> requests. */
  outcomes: Map<string, number>;
  /** Per request sent, ms from when it was due to its outcome, sorted. */
  latencies: number[];
  /** Seconds from the first request due to the last outcome. */
  wallS: number;
}

/** Runs `fire` `rate` times a second for `seconds`, evenly spaced, and waits for every outcome. */
export async function paced(rate: number, seconds: number, fire: Fire): Promise<PacedResult> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const outcomes = new Map<string, number>();
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  let skipped = 0;
  const start = performance.now();
  await new Promise<void>((done) => {
    let k = 0;
    const tick = () => {
      const now = performance.now();
      for (; k < total && start + k * interval <= now; k++) {
        const due = start + k * interval;
        const outcome = fire(k);
        if (outcome === undefined) {
          skipped++;
          continue;
        }
        pending.push(outcome.then((key) => {
          latencies.push(performance.now() - due);
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        }));
      }
      if (k >= total) done();
      else setTimeout(tick, Math.max(0, start + k * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  return { sent: total - skipped, skipped, outcomes, latencies, wallS: (performance.now() - start) / 1000 };
}

/** The value below which `p` percent of the sorted `values` lie (0 for none). */
export const percentile = (sorted: readonly number[], p: number): number =>
  (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0);
