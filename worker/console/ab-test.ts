/**
 * A/B verdicts, pure: which variant converts best and how sure we can be, by a two-proportion
 * z-test between the leader and each other variant. The confidence is the one-sided probability
 * that the leader's true rate is higher (normal approximation); with three or more variants the
 * weakest of those comparisons is reported, so a winner beats every rival, not just the runner-up.
 */

/** One variant: `n` visitors saw it, `x` of them converted. */
export interface Arm {
  id: string;
  n: number;
  x: number;
}

/** The verdict of a test. */
export interface AbVerdict {
  /** The variant with the best rate (null without data). */
  leader: string | null;
  /**
   * Probability that the leader beats every other variant (0.5 means a coin toss); null when fewer
   * than two variants were seen, so there is nothing to compare (a "0 %" would read as a measured loss).
   */
  confidence: number | null;
  /** The leader when `confidence` reaches the threshold, else null. */
  winner: string | null;
  /** Relative lift of the leader over the best other variant (0.25 = +25 %), null when that rate is 0. */
  lift: number | null;
}

/** Confidence needed to call a winner. */
export const WINNER_CONFIDENCE = 0.95;

/** The standard normal CDF, by the Abramowitz-Stegun 7.1.26 erf approximation (error below 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** The z statistic of rate a minus rate b, with the pooled standard error; 0 when it is undefined. */
export function twoProportionZ(a: Arm, b: Arm): number {
  if (a.n === 0 || b.n === 0) return 0;
  const pooled = (a.x + b.x) / (a.n + b.n);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n));
  return se === 0 ? 0 : (a.x / a.n - b.x / b.n) / se;
}

const rate = (a: Arm) => (a.n === 0 ? 0 : a.x / a.n);

/** The leader of the arms, how sure it leads, and whether that makes it the winner. */
export function abVerdict(arms: readonly Arm[], threshold = WINNER_CONFIDENCE): AbVerdict {
  const live = arms.filter((a) => a.n > 0);
  if (live.length === 0) return { leader: null, confidence: null, winner: null, lift: null };
  const sorted = [...live].sort((a, b) => rate(b) - rate(a) || b.n - a.n);
  const leader = sorted[0]!;
  if (sorted.length === 1) return { leader: leader.id, confidence: null, winner: null, lift: null };
  const confidence = Math.min(...sorted.slice(1).map((other) => normalCdf(twoProportionZ(leader, other))));
  const second = rate(sorted[1]!);
  const rounded = Math.round(confidence * 10_000) / 10_000;
  return {
    leader: leader.id,
    confidence: rounded,
    winner: confidence >= threshold ? leader.id : null,
    lift: second === 0 ? null : Math.round(((rate(leader) - second) / second) * 10_000) / 10_000,
  };
}
