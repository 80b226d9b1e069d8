/**
 * The clock of webhook delivery: when a message is due, when its next try is, when it became a
 * dead letter. One seam so that a test can live through a day of retries in seconds (it moves
 * `now`); the signature timestamp stays wall-clock time, because receivers check it against theirs.
 */
export const deliveryClock = {
  /** Milliseconds since the epoch. */
  now: (): number => Date.now(),
};
