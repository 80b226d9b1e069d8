/**
 * Rate limits through Workers' rate-limiting bindings: per client IP and per visitor. The window
 * of each binding is set in wrangler.toml; `Retry-After` is that window.
 */

/** Seconds until a limited client should retry: the bindings' window (wrangler.toml `period`). */
export const RATE_WINDOW_S = 10;

/** Why a request was limited. */
export interface Limited {
  scope: string;
  retryAfter: number;
}

/** Counts one request for `key`; answers how long to wait when over the limit, or undefined. */
export async function limit(binding: RateLimit | undefined, key: string): Promise<Limited | undefined> {
  if (!binding) return undefined;
  const { success } = await binding.limit({ key });
  if (success) return undefined;
  return { scope: key.startsWith("ip:") ? "from this address" : "for this visitor", retryAfter: RATE_WINDOW_S };
}
