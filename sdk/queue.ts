/**
 * The event queue: IndexedDB through idb-keyval, one key per event (ids are time-ordered, so key
 * order is capture order), with a memory fallback. Every write is one readwrite transaction:
 * IndexedDB runs those one at a time across the site's tabs, which makes a claim atomic.
 */
import { createStore, promisifyRequest, type UseStore } from "idb-keyval";
import { batch } from "./batch";
import { CLAIM_MS, IDB_TIMEOUT_MS, QUEUE_MAX } from "./constants";
import type { Rec } from "./types";
import { log } from "./util";

let db: UseStore | 0 = createStore("mql", "q");
/** This page's events not yet acknowledged, by id: the memory fallback and the beacon's source. */
export const mem: Record<string, Rec> = {};
/** Ids this page is sending now. */
export const fly: Record<string, 1> = {};

/** One readwrite transaction; resolves 1 once committed. Throwing, failing or hanging switches the page to memory. */
const tx = (fn: (s: IDBObjectStore) => void) =>
  new Promise((ok, no) => {
    setTimeout(no, IDB_TIMEOUT_MS);
    (db as UseStore)("readwrite", (s) => {
      fn(s);
      return promisifyRequest(s.transaction);
    }).then(ok, no);
  }).then(
    () => 1 as const,
    (e) => {
      log("memory", e);
      db = 0;
    },
  );

/** Stores an event; resolves once it is on IndexedDB (p = 1) or kept in memory only (p = 0). */
export const add = (r: Rec) => {
  mem[r.e.id] = r;
  return tx((s) => {
    s.put(r, r.e.id);
    // Bounded: past QUEUE_MAX the oldest go.
    s.getAllKeys().onsuccess = (e: any) => e.target.result.slice(0, -QUEUE_MAX).forEach((k: string) => s.delete(k) && log("full", k));
  }).then((y) => (r.p = y || 0));
};

/**
 * Claims the next batch for this page: no other tab sends a claimed event until it is freed or
 * the claim runs out.
 */
export const claim = async (): Promise<Rec[]> => {
  const now = Date.now();
  const c = Object.values(mem).filter((r) => r.p === 0 && !fly[r.e.id]);
  let b: Rec[] | undefined;
  await tx((s) => {
    s.getAll().onsuccess = (e: any) =>
      (b = batch(c.concat(e.target.result.filter((r: Rec) => !(r.c! > now))))).forEach((r) => {
        if (r.p !== 0) s.put(((r.c = now + CLAIM_MS), r), r.e.id);
      });
  });
  (b ||= batch(c)).forEach((r) => (fly[r.e.id] = 1));
  return b;
};

/** Forgets events (acknowledged, or refused for good); without ids, forgets everything. */
export const drop = (ids?: string[]) => {
  for (const id in mem) if (!ids || ids.includes(id)) delete mem[id];
  tx((s) => (ids ? ids.forEach((id) => s.delete(id)) : s.clear()));
};

/** Releases the claim on events that were not delivered. */
export const free = (b: Rec[]) =>
  tx((s) =>
    b.forEach((r) => {
      if (r.c) s.put(((r.c = 0), r), r.e.id);
    }),
  );
