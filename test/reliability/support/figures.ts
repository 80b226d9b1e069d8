/**
 * Figures of the reliability suite. Each suite prints one marked line per result; the
 * `npm run test:reliability` script adds them up into its last line
 * (`reliability: lost=<n> duplicated=<n> 5xx=<n> xss=<n> checks=<n>`). Printing works the same
 * inside workerd and in Node, where the suites run.
 */
export interface Figures {
  checks: number;
  lost?: number;
  duplicated?: number;
  fiveXx?: number;
  xss?: number;
}

/** The marker the script looks for. */
export const FIGURE_MARK = "reliability-figure";

/** Prints one suite's figures. */
export function record(suite: string, f: Figures): void {
  console.log(`${FIGURE_MARK} ${JSON.stringify({ suite, ...f })}`);
}
