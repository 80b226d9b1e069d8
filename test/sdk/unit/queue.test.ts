/**
 * The event queue on fake-indexeddb: one key per event, bounded, claims shared by the site's tabs
 * (each tab is a fresh instance of the module on one IndexedDB), and the memory fallback.
 */
import { IDBFactory } from "fake-indexeddb";
import { createStore, keys } from "idb-keyval";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { batch } from "../../../sdk/batch";
import { BATCH_MAX, BATCH_MAX_CHARS, CLAIM_MS, IDB_TIMEOUT_MS, QUEUE_MAX } from "../../../sdk/constants";
import type { Rec } from "../../../sdk/types";

type Queue = typeof import("../../../sdk/queue") & { cfg: typeof import("../../../sdk/util").cfg };

/** A new page (tab): its own instance of the queue, on the shared IndexedDB. */
async function tab(): Promise<Queue> {
  vi.resetModules();
  const q = await import("../../../sdk/queue");
  const { cfg } = await import("../../../sdk/util");
  return Object.assign(Object.create(q), { cfg }) as Queue;
}
const rec = (i: number, v = "visitor-1", extra = ""): Rec => ({ e: { id: `evt-${String(i).padStart(6, "0")}`, type: "custom", ts: i, name: extra || undefined }, v });
const ids = (l: Rec[]) => l.map((r) => r.e.id);
const stored = () => keys(createStore("mql", "q"));
const original = Object.getOwnPropertyDescriptor(globalThis, "indexedDB")!;

beforeEach(() => {
  // A fresh IndexedDB per test: no test sees another's events.
  Object.defineProperty(globalThis, "indexedDB", { value: new IDBFactory(), configurable: true, writable: true });
});
afterEach(() => {
  Object.defineProperty(globalThis, "indexedDB", original);
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("the queue on IndexedDB", () => {
  it("stores each event under its id and forgets only the acknowledged ones", async () => {
    const q = await tab();
    const [a, b, c] = [rec(1), rec(2), rec(3)];
    for (const r of [a, b, c]) await q.add(r);
    expect(await stored()).toEqual(ids([a, b, c]));
    expect([a.p, b.p, c.p]).toEqual([1, 1, 1]);
    q.drop([b.e.id]);
    expect(await stored()).toEqual(ids([a, c]));
    expect(Object.keys(q.mem)).toEqual(ids([a, c]));
    q.drop();
    expect(await stored()).toEqual([]);
    expect(q.mem).toEqual({});
  });

  it(`keeps at most ${QUEUE_MAX} events, dropping the oldest`, async () => {
    const q = await tab();
    for (let i = 0; i < QUEUE_MAX + 3; i++) await q.add(rec(i));
    const left = await stored();
    expect(left).toHaveLength(QUEUE_MAX);
    expect(left[0]).toBe(rec(3).e.id);
    expect(Object.keys(q.mem)).toEqual(left);
  }, 60_000);

  it("does not warn without debug", async () => {
    const q = await tab();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    for (let i = 0; i < 3; i++) await q.add(rec(i));
    q.drop();
    expect(warn).not.toHaveBeenCalled();
  });

  it("lets one tab claim a batch: no other tab gets it until it is released or the claim runs out", async () => {
    const a = await tab();
    for (let i = 0; i < 3; i++) await a.add(rec(i));
    const b = await tab();
    const now = Date.now();
    vi.spyOn(Date, "now").mockReturnValue(now);

    expect(ids(await a.claim())).toEqual(ids([rec(0), rec(1), rec(2)]));
    expect(await b.claim()).toEqual([]);
    // b knows when to look again.
    expect(b.due).toBe(now + CLAIM_MS);

    a.hold([rec(0), rec(1), rec(2)], 0);
    expect(ids(await b.claim())).toEqual(ids([rec(0), rec(1), rec(2)]));
    const c = await tab();
    expect(await c.claim()).toEqual([]);

    // b went away mid-request: its claim runs out and c sends the events.
    vi.spyOn(Date, "now").mockReturnValue(now + CLAIM_MS + 1);
    expect(ids(await c.claim())).toEqual(ids([rec(0), rec(1), rec(2)]));
  });

  it("claims this page's own records, so that its beacon skips what is on its way, until released", async () => {
    const q = await tab();
    for (let i = 0; i < 3; i++) await q.add(rec(i));
    const first = await q.claim();
    expect(first.map((r) => r === q.mem[r.e.id])).toEqual([true, true, true]);
    expect(Object.values(q.mem).every((r) => r.c! > Date.now())).toBe(true);
    expect(await q.claim()).toEqual([]);
    q.hold(first, 0);
    expect(Object.values(q.mem).map((r) => r.c)).toEqual([0, 0, 0]);
    expect(ids(await q.claim())).toEqual(ids(first));
  });
});

describe("batches", () => {
  it.each([
    ["at most BATCH_MAX events", Array.from({ length: 60 }, (_, i) => rec(i)), BATCH_MAX],
    ["the first visitor's events only", [rec(1, "a"), rec(2, "b"), rec(3, "a")], 2],
    ["events within BATCH_MAX_CHARS", Array.from({ length: 50 }, (_, i) => rec(i, "v", "x".repeat(1_000))), 19],
    ["an event larger than BATCH_MAX_CHARS, alone", [rec(1, "v", "x".repeat(30_000)), rec(2)], 1],
    ["nothing from nothing", [], 0],
  ])("hold %s", (_, list, n) => {
    const b = batch(list);
    expect(b).toHaveLength(n);
    expect(new Set(b.map((r) => r.v)).size).toBeLessThanOrEqual(1);
    expect(b).toEqual(list.filter((r) => r.v == list[0]!.v).slice(0, n));
    if (n > 1) expect(b.reduce((c, r) => c + JSON.stringify(r.e).length, 0)).toBeLessThan(BATCH_MAX_CHARS);
  });
});

describe("the memory fallback", () => {
  const broken: [string, () => void][] = [
    ["IndexedDB throws (blocked storage)", () => Object.defineProperty(globalThis, "indexedDB", { get: () => { throw new DOMException("blocked", "SecurityError"); }, configurable: true })],
    ["open() throws", () => Object.defineProperty(globalThis, "indexedDB", { value: { open: () => { throw new Error("no"); } }, configurable: true })],
    ["the quota is full", () => vi.spyOn(IDBObjectStore.prototype, "put").mockImplementation(() => { throw new DOMException("full", "QuotaExceededError"); })],
  ];
  it.each(broken)("keeps events in memory when %s", async (_, breakIt) => {
    breakIt();
    const q = await tab();
    const r = rec(1);
    await q.add(r);
    expect(r.p).toBe(0);
    expect(ids(await q.claim())).toEqual([r.e.id]);
    // Claimed in memory: not handed out again while the claim holds.
    expect(await q.claim()).toEqual([]);
    q.drop([r.e.id]);
    expect(await q.claim()).toEqual([]);
  });

  it(`keeps events in memory when IndexedDB hangs for ${IDB_TIMEOUT_MS} ms`, async () => {
    vi.useFakeTimers();
    Object.defineProperty(globalThis, "indexedDB", { value: { open: () => ({}) }, configurable: true });
    const q = await tab();
    const r = rec(1);
    let done = false;
    void q.add(r).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(IDB_TIMEOUT_MS - 1);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect([done, r.p]).toEqual([true, 0]);
    // Later calls do not wait on IndexedDB any more.
    const claimed = q.claim();
    await vi.advanceTimersByTimeAsync(0);
    expect(ids(await claimed)).toEqual([r.e.id]);
  });
});
