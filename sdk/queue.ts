/**
 * The event queue: IndexedDB through idb-keyval, one key per event (ids are time-ordered, so key
 * order is capture order), with a memory fallback. Every write is one readwrite transaction:
 * IndexedDB runs those one at a time across the site's tabs, which makes a claim atomic.
 */
import { createStore, promisifyRequest, type UseStore } from "idb-keyval";
import { batch } from "./batch";
import { CLAIM_MS, IDB_TIMEOUT_MS, QUEUE_MAX } from "./constants";
import type { Rec } from "./types";
import { log, now } from "./util";

let db: UseStore | 0 = createStore("mql", "q");
/**
 * This page's events not yet acknowledged, by id: the memory fallback and the beacon's source.
 * A claim made by this page is kept on these records too (`c`), so the beacon skips what is on its way.
 */
export const mem: Record<string, Rec> = {};
/**
 * When a claim seen by the last `claim()` runs out (0: none). Events claimed by a page that went
 * away mid-request are sent again then, even if this page captures nothing more.
 */
export let due = 0;

/** One readwrite transaction; resolves 1 once committed. Throwing, failing or hanging switches the page to memory. */
const tx = (fn: (s: IDBObjectStore) => void) =>
  new Promise((ok, no) => {
    setTimeout(no, IDB_TIMEOUT_MS);
    (db as UseStore)("readwrite", (s) => (fn(s), promisifyRequest(s.transaction))).then(ok, no);
  }).then(
    () => 1 as const,
    (e) => {
      log(e);
      db = 0;
    },
  );

/** Keys past QUEUE_MAX, oldest first: the ones to drop. */
const over = (keys: string[]) => keys.slice(0, -QUEUE_MAX);

/** Stores an event; resolves once it is on IndexedDB (p = 1) or kept in memory only (p = 0). */
export const add = (r: Rec) => {
  over(Object.keys((mem[r.e.id] = r, mem))).map((k) => delete mem[k]);
  return tx((s) => {
    s.put(r, r.e.id);
    s.getAllKeys().onsuccess = (e: any) => over(e.target.result).map((k) => s.delete(k));
  }).then((y) => (r.p = y || 0));
};

/** Claims `b` until `t` (0 releases it), in the transaction `s` or in a new one. */
export const hold = (b: Rec[], t: number, s?: IDBObjectStore) => {
  const put = (s: IDBObjectStore) => b.map((r) => s.put(r, r.e.id));
  b.map((r) => (r.c = t));
  s ? put(s) : tx(put);
};

/**
 * Claims the next batch for this page: no other tab (and no beacon of this one) sends a claimed
 * event until it is freed or the claim runs out. Without IndexedDB, the batch comes from this
 * page's events in memory. The records of this page's own events are the ones in `mem`.
 */
export const claim = async (): Promise<Rec[]> => {
  const t = now();
  due = 0;
  const ok = (r: Rec) => !(r.c! > t && (due = r.c!));
  let b = batch(Object.values(mem).filter(ok));
  await tx((s) => {
    s.getAll().onsuccess = (e: any) => hold((b = batch(e.target.result.filter(ok)).map((r: Rec) => mem[r.e.id] || r)), t + CLAIM_MS, s);
  });
  // In memory only, the claim is on this page's records alone.
  b.map((r) => (r.c = t + CLAIM_MS));
  return b;
};

/** Forgets events (acknowledged, or refused for good); without ids, forgets everything. */
export const drop = (ids?: string[] | false) => {
  for (const id in mem) if (!ids || ids.includes(id)) delete mem[id];
  tx((s) => (ids ? ids.map((id) => s.delete(id)) : s.clear()));
};
