/** The index database as the console's routes use it: bound, with its tables ensured. */
import type { Env } from "../env.js";
import { ApiError } from "../errors.js";
import { withIndex } from "./schema.js";

/** The index of `env`; 503 when the worker runs without the D1 binding. */
export function index(env: Env): { d1: D1Database; run<T>(work: () => Promise<T>): Promise<T> } {
  const d1 = env.INDEX;
  if (!d1) throw new ApiError(503, "index_unavailable", "the console's index is not configured: add the INDEX D1 binding to wrangler.toml");
  return { d1, run: (work) => withIndex(d1, work) };
}
