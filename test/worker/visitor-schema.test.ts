/**
 * A visitor object's tables: a new visitor starts with its events, ledger and records only (the
 * outbox comes with its first webhook), and an object created by the earlier schema (every table
 * up front, an AUTOINCREMENT ledger, a rowid kv) keeps taking batches, sending webhooks and
 * reporting to the console's index as before.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { forgetTables } from "../../worker/sql-tables.js";
import { collectOk, pageView, snapshot, storedRows, uid, visitorStub } from "./support/client.js";
import { fireUntil, hookUrl, qualifyingSite } from "./support/receiver-client.js";
import { getJson, reported } from "./console-support.js";

/** The visitor schema of the previous versions of the worker, as their objects hold it. */
const EARLIER_SCHEMA = `
  CREATE TABLE events (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, captured_at INTEGER NOT NULL, received_at INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, at INTEGER NOT NULL, rule TEXT NOT NULL,
    grp TEXT NOT NULL, points REAL NOT NULL, reason TEXT NOT NULL, version TEXT NOT NULL, half_life REAL);
  CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);
  CREATE TABLE outbox (
    id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, webhook TEXT NOT NULL, target TEXT NOT NULL, payload TEXT NOT NULL,
    created_at INTEGER NOT NULL, next_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending', last_error TEXT);
  CREATE TABLE outbox_attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, msg TEXT NOT NULL, at INTEGER NOT NULL, status INTEGER, error TEXT,
    duration_ms INTEGER NOT NULL, outcome TEXT NOT NULL);
  CREATE INDEX outbox_attempts_msg ON outbox_attempts (msg, seq);
  CREATE TABLE used_tokens (n TEXT PRIMARY KEY, exp INTEGER NOT NULL);
`;

/** The tables of the product a visitor's object holds now (not SQLite's nor workerd's own). */
function tables(site: string, visitor: string): Promise<string[]> {
  return runInDurableObject(visitorStub(site, visitor), (_, state) =>
    state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").toArray()
      .map((r) => String(r.name)).filter((name) => !name.startsWith("sqlite_") && !name.startsWith("_cf_")));
}

describe("a visitor object's tables", () => {
  it("start as events, ledger and records; the outbox comes with the first webhook", async () => {
    const { site, origin } = await qualifyingSite(hookUrl(uid("schema")), {}, { pageViewPoints: 20 });
    const visitor = uid("v");
    await collectOk(visitor, [pageView("/", {}, origin)], { site, origin });
    expect(await tables(site, visitor)).toEqual(["events", "kv", "ledger"]);
    expect(await storedRows(site, visitor)).toMatchObject({ events: 1, outbox: 0 });

    const answer = await collectOk(visitor, [pageView("/pricing", {}, origin), pageView("/product", {}, origin)], { site, origin });
    expect(answer.visitor.stage).toBe("mql");
    expect(await tables(site, visitor)).toEqual(["events", "kv", "ledger", "outbox", "outbox_attempts"]);
    await fireUntil(site, visitor, (m) => m.length === 1 && m[0]!.status === "delivered");
  });

  it("of an object created by the earlier schema serve it as they are", async () => {
    const { site, origin } = await qualifyingSite(hookUrl(uid("earlier")));
    const visitor = uid("v");
    // The object as an earlier version left it: every table created up front, nothing stored yet.
    await runInDurableObject(visitorStub(site, visitor), (_, state) => {
      state.storage.sql.exec("DROP TABLE events; DROP TABLE ledger; DROP TABLE kv;");
      state.storage.sql.exec(EARLIER_SCHEMA);
      forgetTables(state.storage.sql); // what a new instance of the object knows: nothing yet
    });

    const answer = await collectOk(visitor, [pageView("/pricing", {}, origin)], { site, origin });
    expect(answer.visitor.stage).toBe("mql");
    const [message] = await fireUntil(site, visitor, (m) => m.length === 1 && m[0]!.status === "delivered");
    expect(message!.tries).toHaveLength(1);
    expect(await storedRows(site, visitor)).toMatchObject({ events: 1, distinctEvents: 1, outbox: 1, kv: 2 });
    expect((await snapshot(site, visitor)).explanation.rules.length).toBeGreaterThan(0);
    // The ledger kept its AUTOINCREMENT sequence, the kv table its rowid.
    const kept = await runInDurableObject(visitorStub(site, visitor), (_, state) => ({
      sequence: state.storage.sql.exec("SELECT seq FROM sqlite_sequence WHERE name = 'ledger'").toArray().length,
      kvRowid: state.storage.sql.exec("SELECT rowid FROM kv LIMIT 1").toArray().length,
    }));
    expect(kept).toEqual({ sequence: 1, kvRowid: 1 });

    await reported(site, visitor);
    const leads = await getJson<{ leads: { visitor: string; stage: string }[] }>(`/v1/admin/sites/${site}/leads`);
    expect(leads.leads).toEqual([expect.objectContaining({ visitor, stage: "mql" })]);
    const deliveries = await getJson<{ deliveries: { id: string; status: string }[] }>(`/v1/admin/sites/${site}/deliveries`);
    expect(deliveries.deliveries).toEqual([expect.objectContaining({ id: message!.id, status: "delivered" })]);
  });
});
