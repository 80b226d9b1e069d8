/**
 * Which tables an object's SQLite holds, read once per object instance from `sqlite_master` (one
 * query instead of a CREATE TABLE IF NOT EXISTS per table on every wake-up). Objects create the
 * tables every request needs when they start and the others (a visitor's outbox, its used tokens)
 * the first time they are written; readers of such a table ask `hasTable` first, so an object
 * that never needed it answers as if it were empty.
 */

const known = new WeakMap<SqlStorage, Set<string>>();

/** The tables of the object's database (cached for the instance). */
function tables(sql: SqlStorage): Set<string> {
  let names = known.get(sql);
  if (!names) {
    names = new Set(sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray().map((r) => String(r.name)));
    known.set(sql, names);
  }
  return names;
}

/** Whether the table exists. */
export function hasTable(sql: SqlStorage, name: string): boolean {
  return tables(sql).has(name);
}

/**
 * Creates the tables of `ddl` (name -> statements) that are missing, in one `exec`. Answers
 * whether it created any. Inside a transaction that later rolls back, call `forgetTables`.
 */
export function ensureTables(sql: SqlStorage, ddl: Record<string, string>): boolean {
  const names = tables(sql);
  const missing = Object.keys(ddl).filter((t) => !names.has(t));
  if (missing.length === 0) return false;
  sql.exec(missing.map((t) => ddl[t]).join("\n"));
  for (const t of missing) names.add(t);
  return true;
}

/** Forgets what is known of the tables (after `deleteAll`, or a transaction that created one rolled back). */
export function forgetTables(sql: SqlStorage): void {
  known.delete(sql);
}

/** Writes a key of an object's `kv` table (one statement text for every caller, so each object prepares it once). */
export function kvPut(sql: SqlStorage, k: string, v: string): void {
  sql.exec("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", k, v);
}

/** The keys of a visitor's `kv` table read on every wake-up: its records, its index bookkeeping and its lead's view. */
const VISITOR_KEYS = "'state', 'profile', 'index_site', 'index_cursor', 'index_mark', 'index_registered', 'lead_view'";

/** A visitor's records and index bookkeeping, in one read (one statement for collect and the index report alike). */
export function visitorKv(sql: SqlStorage): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of sql.exec(`SELECT k, v FROM kv WHERE k IN (${VISITOR_KEYS})`)) out.set(String(r.k), String(r.v));
  return out;
}
