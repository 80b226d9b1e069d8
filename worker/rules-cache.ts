/**
 * Rules from KV, validated and compiled once per isolate. A cached engine is rechecked against KV
 * after `RULES_REFRESH_MS`, and KV's edge cache keeps a read for `KV_CACHE_TTL_S`: a published
 * change is in use everywhere within 30 s + 30 s = 60 s (at once in the isolate that took the
 * admin call, which forgets its copy). A document that fails validation is never used: the last valid engine
 * stays in service, and a site whose only document is invalid is unknown.
 */
import { compile, parseRules, type Engine } from "../rules/index.js";
import { rulesKey } from "../rules/store.js";

/** How long an isolate trusts its compiled rules before rechecking KV. */
export const RULES_REFRESH_MS = 30_000;
/** How long KV's edge cache may serve a rules document read (its minimum). */
const KV_CACHE_TTL_S = 30;

/** The KV key of a site's rules document. */
export { rulesKey };

interface Cached {
  engine: Engine | undefined;
  text: string | null;
  checkedAt: number;
}

/** A recheck still running after this long is taken as lost (its request ended): the next caller rechecks. */
const REFRESH_LOST_MS = 10_000;

const cache = new Map<string, Cached>();
/** When the recheck of a site's rules in flight started. */
const refreshing = new Map<string, number>();

/**
 * The compiled rules of a site, or undefined when the site has no valid rules. The caller that
 * finds the engine due for a recheck reads KV and waits for it; callers meanwhile get the engine
 * in service rather than share that read (a KV read belongs to the request that made it: workerd
 * refuses another request's, or another Durable Object's, waiting on it).
 */
export async function getEngine(kv: KVNamespace, site: string, now = Date.now()): Promise<Engine | undefined> {
  const hit = cache.get(site);
  if (hit && now - hit.checkedAt < RULES_REFRESH_MS) return hit.engine;
  const since = refreshing.get(site);
  if (hit && since !== undefined && Date.now() - since < REFRESH_LOST_MS) return hit.engine;
  refreshing.set(site, Date.now());
  try {
    return await refresh(kv, site, hit, now);
  } finally {
    refreshing.delete(site);
  }
}

async function refresh(kv: KVNamespace, site: string, before: Cached | undefined, now: number): Promise<Engine | undefined> {
  const text = await kv.get(rulesKey(site), { cacheTtl: KV_CACHE_TTL_S });
  // Another caller may have read the same document meanwhile: its engine is reused, not compiled again.
  const hit = cache.get(site) ?? before;
  if (hit && text === hit.text) {
    hit.checkedAt = now;
    return hit.engine;
  }
  let engine = hit?.engine;
  if (text === null) engine = undefined;
  else {
    const parsed = safeParse(text);
    if (parsed) engine = compile(parsed);
    else console.warn(`rules for site ${site} in KV are invalid; keeping version ${hit?.engine?.version ?? "(none)"}`);
  }
  cache.set(site, { engine, text, checkedAt: now });
  return engine;
}

function safeParse(text: string) {
  try {
    const result = parseRules(JSON.parse(text));
    return result.ok ? result.rules : undefined;
  } catch {
    return undefined;
  }
}

/** Forgets a site's cached rules in this isolate (after an admin update). */
export function forgetRules(site: string): void {
  cache.delete(site);
}
