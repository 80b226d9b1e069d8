/**
 * The history of a site's rules in KV (rules/store.ts): every document made active is kept under
 * its version, whichever way it was published, so any of them can be rolled back to.
 */
import { historyKey, OUTSIDE_NOTE, parseRulesText, rulesKey, sameDocument, storedText, versionTakenMessage, type VersionMeta } from "../rules/store.js";
import type { RulesDocument } from "../rules/index.js";
import type { Env } from "./env.js";
import { ApiError } from "./errors.js";
import { forgetRules } from "./rules-cache.js";

/**
 * Keeps the active document in the history if it got there another way (older releases, a direct
 * KV write), so it can be rolled back to. When it was published is not known: the time of the
 * publish or rollback that replaces it would be the next version's, not its own.
 */
export async function keepActive(env: Env, site: string, active: RulesDocument): Promise<void> {
  const key = historyKey(site, active.version);
  if ((await env.RULES.get(key)) !== null) return;
  const meta: VersionMeta = { note: OUTSIDE_NOTE, publishedAt: null };
  await env.RULES.put(key, storedText(active), { metadata: meta });
}

/** The active document, or null when the site has none or its stored one no longer validates. */
export async function readActive(env: Env, site: string): Promise<RulesDocument | null> {
  const text = await env.RULES.get(rulesKey(site));
  return text === null ? null : parseRulesText(text);
}

/** 409 when `doc`'s version already names another document (in the history, or the active one). */
export async function refuseTakenVersion(env: Env, site: string, doc: RulesDocument, active: RulesDocument | null): Promise<string | null> {
  const text = storedText(doc);
  const kept = await env.RULES.get(historyKey(site, doc.version));
  const taken = kept !== null ? !sameDocument(kept, text) : active !== null && active.version === doc.version && storedText(active) !== text;
  if (taken) {
    const { message, issue } = versionTakenMessage(doc.version);
    throw new ApiError(409, "version_exists", message, [issue]);
  }
  return kept;
}

/**
 * Makes `doc` the active rules: the outgoing document and this one kept in the history (this one
 * with `meta` unless it was there already), then the active key, then this isolate's cache.
 */
export async function publish(env: Env, site: string, doc: RulesDocument, active: RulesDocument | null, meta: VersionMeta, alreadyKept: boolean): Promise<void> {
  if (active !== null && active.version !== doc.version) await keepActive(env, site, active);
  if (!alreadyKept) await env.RULES.put(historyKey(site, doc.version), storedText(doc), { metadata: meta });
  await env.RULES.put(rulesKey(site), storedText(doc));
  forgetRules(site);
}
