/** Visits and return visits, derived on the device: 30 minutes idle end a visit; the site's tabs share one clock. */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { VISIT_IDLE_MS } from "../../../sdk/constants";

/** A new page: its own instance of the module, on the shared localStorage. */
async function tab() {
  vi.resetModules();
  return import("../../../sdk/session");
}
const MIN = 60_000;

beforeEach(() => localStorage.clear());

describe("visits", () => {
  it.each([
    ["the first event starts visit 1", [0], [1, true]],
    ["29 minutes later it is the same visit", [0, 29 * MIN], [1, false]],
    ["activity keeps a visit going past 30 minutes", [0, 20 * MIN, 40 * MIN, 55 * MIN], [1, false]],
    ["after 30 minutes idle a return visit starts", [0, VISIT_IDLE_MS], [2, true]],
    ["a third visit the next day", [0, VISIT_IDLE_MS, 24 * 60 * MIN], [3, true]],
  ])("%s", async (_, times, [n, f]) => {
    const s = await tab();
    s.allow(1);
    let st;
    for (const t of times) st = s.touch(1_800_000_000_000 + t);
    expect([st!.n, st!.f]).toEqual([n, f]);
  });

  it("shares the visit and the visitor between the site's tabs", async () => {
    const a = await tab();
    a.allow(1);
    const first = a.touch(1e12);
    const b = await tab();
    b.allow(1);
    const second = b.touch(1e12 + 10 * MIN);
    expect([second.v, second.n, second.f]).toEqual([first.v, 1, false]);
  });

  it("writes nothing on the device until storing is allowed", async () => {
    const s = await tab();
    s.allow(0);
    s.touch(1e12);
    expect(localStorage.length).toBe(0);
    s.allow(1);
    s.touch(1e12 + MIN);
    expect(JSON.parse(localStorage.getItem("mql")!)).toMatchObject({ n: 1 });
  });

  it("reset() starts a new visitor and keeps consent", async () => {
    const s = await tab();
    s.allow(1);
    s.state((st) => (st.c = 1));
    const before = s.touch(1e12);
    s.reset();
    const after = s.touch(1e12 + MIN);
    expect(after.v).not.toBe(before.v);
    expect([after.n, after.f, after.c]).toEqual([1, true, 1]);
  });

  it("forget() (consent withdrawn) leaves a new visitor in memory, without consent, and writes nothing", async () => {
    const s = await tab();
    s.allow(1);
    s.state((st) => (st.c = 1));
    const before = s.touch(1e12);
    s.allow(0);
    localStorage.clear();
    s.forget();
    const after = s.touch(1e12 + MIN);
    expect(after.v).not.toBe(before.v);
    expect(after.c).toBeUndefined();
    expect(localStorage.length).toBe(0);
  });
});

describe("event ids", () => {
  it("made in one millisecond sort in the order they were made (IndexedDB sends in key order)", async () => {
    vi.resetModules();
    const { rid } = await import("../../../sdk/util");
    vi.spyOn(Date, "now").mockReturnValue(1_800_000_000_000);
    const ids = Array.from({ length: 200 }, () => rid());
    vi.restoreAllMocks();
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(200);
    expect(ids.every((id) => /^[\w-]{8,64}$/.test(id))).toBe(true);
  });
});
