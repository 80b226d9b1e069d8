/**
 * The console's cross-visitor index in D1: one row per visitor (its summary), the first time each
 * stage was entered, the raw events (for rule simulation and CTA counts), sales feedback and
 * webhook deliveries. Every row is derived from the visitor Durable Objects, which stay the source
 * of truth: the index can be dropped and rebuilt from them (see `index-writer.ts`).
 *
 * Tables are created on first use (CREATE TABLE IF NOT EXISTS), once per isolate: that works the
 * same under `wrangler dev`, in the workerd tests and on a fresh production database, offline,
 * with no migration step anyone could forget.
 */

const DDL = [
  `CREATE TABLE IF NOT EXISTS leads (
    site TEXT NOT NULL, visitor TEXT NOT NULL, stage TEXT NOT NULL,
    total REAL NOT NULL, fit REAL NOT NULL, engagement REAL NOT NULL, scores TEXT NOT NULL,
    email TEXT, email_kind TEXT, domain TEXT, company TEXT, traits TEXT NOT NULL, identified INTEGER NOT NULL,
    first_seen INTEGER, last_seen INTEGER, events INTEGER NOT NULL,
    source TEXT, medium TEXT, campaign TEXT, referrer TEXT, landing TEXT,
    rules TEXT NOT NULL, updated_at INTEGER NOT NULL,
    lead TEXT, lead_stage TEXT, lead_total REAL, company_folded TEXT,
    PRIMARY KEY (site, visitor))`,
  "CREATE INDEX IF NOT EXISTS leads_seen ON leads (site, last_seen)",
  "CREATE INDEX IF NOT EXISTS leads_first ON leads (site, first_seen)",
  `CREATE TABLE IF NOT EXISTS lead_stages (
    site TEXT NOT NULL, visitor TEXT NOT NULL, stage TEXT NOT NULL, at INTEGER NOT NULL,
    PRIMARY KEY (site, visitor, stage))`,
  `CREATE TABLE IF NOT EXISTS lead_events (
    site TEXT NOT NULL, visitor TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, at INTEGER NOT NULL,
    cta TEXT, variant TEXT, body TEXT NOT NULL,
    PRIMARY KEY (site, visitor, id))`,
  "CREATE INDEX IF NOT EXISTS lead_events_at ON lead_events (site, at)",
  "CREATE INDEX IF NOT EXISTS lead_events_cta ON lead_events (site, cta, at)",
  `CREATE TABLE IF NOT EXISTS feedback (
    site TEXT NOT NULL, visitor TEXT NOT NULL, stage TEXT NOT NULL, verdict TEXT NOT NULL,
    reason TEXT, by TEXT, at INTEGER NOT NULL, rules TEXT NOT NULL,
    PRIMARY KEY (site, visitor, stage))`,
  `CREATE TABLE IF NOT EXISTS deliveries (
    site TEXT NOT NULL, id TEXT NOT NULL, visitor TEXT NOT NULL, webhook TEXT NOT NULL, target TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL, created_at INTEGER NOT NULL, last_error TEXT,
    stage TEXT, score TEXT, next_at INTEGER,
    PRIMARY KEY (site, id))`,
  "CREATE INDEX IF NOT EXISTS deliveries_created ON deliveries (site, created_at)",
];

/** Text as the console's searches compare it: composed, then lower-cased in every script. */
export const fold = (text: string | null | undefined): string | null => (text == null ? null : text.normalize("NFC").toLowerCase());

/**
 * Columns added to a table after its first release: a database created before them gets them here
 * (SQLite has no ADD COLUMN IF NOT EXISTS). Their rows read null until their visitors report again.
 */
const ADDED_COLUMNS: Record<string, [column: string, type: string][]> = {
  // What a message reports (the stage entered, or the score reached as JSON) and when a pending one is tried next.
  deliveries: [["stage", "TEXT"], ["score", "TEXT"], ["next_at", "INTEGER"]],
  // The lead (one person across browsers) a stitched visitor belongs to, as of its last report.
  leads: [["lead", "TEXT"], ["lead_stage", "TEXT"], ["lead_total", "REAL"],
    // The company as searches compare it (SQLite's lower() folds ASCII only: "ÉCLAIR" would not match "éclair").
    ["company_folded", "TEXT"]],
};

async function addMissingColumns(db: D1Database): Promise<void> {
  for (const [table, columns] of Object.entries(ADDED_COLUMNS)) {
    const have = new Set((await db.prepare(`PRAGMA table_info(${table})`).all<{ name: string }>()).results.map((c) => c.name));
    const missing = columns.filter(([c]) => !have.has(c));
    if (missing.length === 0) continue;
    try {
      await db.batch(missing.map(([c, type]) => db.prepare(`ALTER TABLE ${table} ADD COLUMN ${c} ${type}`)));
    } catch (e) {
      // Another isolate added them meanwhile.
      if (!/duplicate column/i.test(String((e as Error).message))) throw e;
    }
  }
}

/** Whether this isolate has created (or found) the tables. */
let ready = false;

/**
 * Creates the index tables if they are missing (once per isolate, again after a failure). Callers
 * that come while it runs create them too rather than wait on another request's write (workerd
 * refuses one Durable Object waiting on another's I/O); the statements are idempotent.
 */
export async function ensureSchema(db: D1Database): Promise<void> {
  if (ready) return;
  await db.batch(DDL.map((q) => db.prepare(q)));
  await addMissingColumns(db);
  ready = true;
}

/**
 * Runs `work` against a database whose tables exist. A database dropped (or put back from an older
 * copy) while this isolate was alive answers "no such table" or lacks a column: the schema is
 * created again and the work retried once.
 */
export async function withIndex<T>(db: D1Database, work: () => Promise<T>): Promise<T> {
  await ensureSchema(db);
  try {
    return await work();
  } catch (e) {
    if (!/no such table|no such column|has no column named/i.test(String((e as Error).message))) throw e;
    ready = false;
    await ensureSchema(db);
    return work();
  }
}
