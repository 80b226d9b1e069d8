import { BATCH_MAX, BATCH_MAX_CHARS } from "./constants";
import type { Rec } from "./types";

/**
 * The next batch from `l`: at most BATCH_MAX events of the first event's visitor, within
 * BATCH_MAX_CHARS. The first event is always taken (capture limits keep one event under budget).
 */
export const batch = (l: Rec[]): Rec[] => {
  const b: Rec[] = [];
  let n = 0;
  l.map((r) => ((n += JSON.stringify(r.e).length) < BATCH_MAX_CHARS && !b[BATCH_MAX - 1] && r.v == b[0]?.v) || !b[0] ? b.push(r) : 0);
  return b;
};
