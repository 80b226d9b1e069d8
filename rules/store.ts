/**
 * Where a site's rules live in the RULES KV namespace, for the worker and the CLI alike: the active
 * document under `rules:<site>`, every version ever made active under
 * `rules-history:<site>:<version>` (the document; its metadata says how and when it was published).
 *
 * A version names one document, forever: every ledger entry records the version that produced it,
 * so explaining a score later depends on it. Making active a document whose version is already
 * taken by other content is refused, whichever way it comes (console, PUT, CLI).
 */
import { parseRules } from "./validate.js";
import type { RulesDocument } from "./schema.js";

export const rulesKey = (site: string) => `rules:${site}`;
export const historyKey = (site: string, version: string) => `rules-history:${site}:${version}`;

/** What the history keeps about a version besides the document. */
export interface VersionMeta {
  note: string;
  /** When the version was published; null when that is unknown (it went live before the history kept it). */
  publishedAt: number | null;
  restoredAt?: number;
  restoreNote?: string;
}

/** The note of a version the history took in after it went live (its publish time unknown). */
export const OUTSIDE_NOTE = "published outside the console";
/** The notes of versions published through the admin API and the CLI. */
export const API_NOTE = "published with PUT /v1/admin/sites/:site/rules";
export const CLI_NOTE = "pushed with npm run rules -- push";

/** A document's stored form: the validated document with its defaults, as JSON. */
export const storedText = (doc: RulesDocument): string => JSON.stringify(doc);

/** Whether two stored texts are the same document (read back through the schema, so older stored forms compare by content). */
export function sameDocument(a: string, b: string): boolean {
  if (a === b) return true;
  const [da, db] = [parseRulesText(a), parseRulesText(b)];
  return da !== null && db !== null && storedText(da) === storedText(db);
}

/** The refusal of a version already taken by other content, with the JSON path to change. */
export function versionTakenMessage(version: string): { message: string; issue: { path: string; message: string } } {
  return {
    message: `version "${version}" was already published with other content: give the document a new version`,
    issue: { path: "$.version", message: `expected a version other than "${version}" (already published with other content)` },
  };
}

/** A stored document read back through the schema, or null when it is not JSON or no longer validates. */
export function parseRulesText(text: string): RulesDocument | null {
  try {
    const parsed = parseRules(JSON.parse(text));
    return parsed.ok ? parsed.rules : null;
  } catch {
    return null;
  }
}
