/**
 * The same faults as offline-unload.browser.test.ts, with the real product on the other end: the
 * built snippet served by `npm start` (wrangler dev on workerd, the demo's rules in local KV, real
 * Durable Objects), reached through a tap (support/collect-tap.ts) that records every request as
 * it arrived, beacons of closing tabs included, and takes the network down on demand.
 *
 * What the worker stored is read from the visitor's self view (`events`: events applied, each
 * event id once). What the browser sent is read from the tap: every event id and what it carried.
 * A visitor is exact when the worker applied as many events as were captured and the tap saw each
 * captured event under one id only: `lost` = captured - applied, `duplicated` = applied - captured
 * or a captured event seen under a second id (the worker could not tell it from a new one).
 *
 * Sizes: CI runs 10 close-the-tab trials; RELIABILITY_FULL=1 runs 100.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WireEvent } from "../../../worker/wire.js";
import { ADMIN_TOKEN, startStack, type Stack } from "../../e2e/support/stack.js";
import { DESKTOP_USER_AGENT, launch, type Browser } from "../../sdk/support/browser.js";
import { html } from "../../sdk/support/pages.js";
import { until } from "../../sdk/support/server.js";
import { startTap, type Tap } from "../support/collect-tap.js";
import { record } from "../support/figures.js";

const FULL = process.env.RELIABILITY_FULL === "1";
const CLOSE_TRIALS = FULL ? 100 : 10;
/** Longest wait for the worker to have applied what the browser did (the machine may be busy). */
const APPLIED_TIMEOUT_MS = 45_000;

let stack: Stack;
let tap: Tap;
let browser: Browser;

beforeAll(async () => {
  stack = await startStack();
  const tag = `<script src="/mql.js" data-site="demo" defer></script>`;
  tap = await startTap(stack.base, {
    "/rel/app": html("App", tag),
    "/rel/form": html("Form", `<form id="lead" action="/rel/thanks"><input name="email" type="email"><input name="trial"><button>Send</button></form>${tag}`),
    "/rel/thanks": html("Thanks", "<p>Thanks</p>"),
  });
  // The pages live on the tap's origin: the site's rules allow it, as a site owner adds a domain.
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const rules = (await (await fetch(`${stack.base}/v1/admin/sites/demo/rules`, { headers: admin })).json()) as { version: string; site: { origins: string[] } };
  rules.site.origins.push(tap.url);
  rules.version = `${rules.version}+tap`; // another document, another version
  const put = await fetch(`${stack.base}/v1/admin/sites/demo/rules`, { method: "PUT", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify(rules) });
  expect(put.status).toBe(200);
  browser = await launch(DESKTOP_USER_AGENT);
}, 150_000);
afterAll(async () => {
  await browser?.close();
  await tap?.close();
  await stack?.stop();
});

async function tab(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  return { page, errors };
}
const ready = (page: Page) => page.waitForFunction(() => (window as any).mql?.track);
/** The visitor id the snippet keeps on the device. */
const visitorOf = (page: Page) => page.evaluate(() => JSON.parse(localStorage.getItem("mql") ?? "{}").v as string);

/** Events the worker applied for `visitor` (0 before it knows the visitor). */
async function applied(visitor: string): Promise<number> {
  const res = await fetch(`${stack.base}/v1/visitors/demo/${visitor}`).catch(() => null);
  return res?.ok ? ((await res.json()) as { events: number }).events : 0;
}
/** Waits until the worker applied `n` events for `visitor`; answers what it applied then. */
async function settle(visitor: string, n: number, ms = APPLIED_TIMEOUT_MS): Promise<number> {
  let got = 0;
  for (const end = Date.now() + ms; Date.now() < end; ) {
    got = await applied(visitor);
    if (got >= n) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return got;
}
/** Every event of `visitor` the tap saw, by id (a copy under the same id counts once). */
function sentBy(visitor: string): Map<string, WireEvent> {
  const out = new Map<string, WireEvent>();
  for (const r of tap.seen) {
    if (r.method != "POST" || !r.url.startsWith("/v1/collect")) continue;
    try {
      const body = JSON.parse(r.body) as { visitor?: string; events?: WireEvent[] };
      if (body.visitor == visitor) for (const e of body.events ?? []) out.set(e.id, e);
    } catch {}
  }
  return out;
}
/** Captured events seen under more than one id, each event named by `key`. */
function copies(visitor: string, key: (e: WireEvent) => string): number {
  const events = [...sentBy(visitor).values()];
  return events.length - new Set(events.map(key)).size;
}
/** Makes the device a new visitor for the pages opened next (a fresh id; consent and the queue stay), and closes `page`. */
async function leaveForNewVisitor(page: Page): Promise<void> {
  await ready(page);
  await page.evaluate(() => (window as any).mql.reset());
  await page.close();
}
/** A tab that makes the device a new visitor. */
async function newVisitor(): Promise<void> {
  const { page } = await tab();
  await page.goto(`${tap.url}/rel/app`);
  await leaveForNewVisitor(page);
}

describe("the snippet under faults against the running worker", () => {
  it("keeps 200 events captured with the network down across two reloads, then the worker applies each once", async () => {
    await newVisitor();
    const { page, errors } = await tab();
    await page.goto(`${tap.url}/rel/app`);
    await ready(page);
    const visitor = await visitorOf(page);
    await settle(visitor, 1);
    tap.down = true;
    for (const from of [0, 100]) {
      await page.evaluate((from) => {
        for (let i = from; i < from + 100; i++) (window as any).mql.track("offline", { i });
      }, from);
      await page.reload();
      await ready(page);
    }
    const whileDown = await applied(visitor);
    tap.down = false;
    await page.reload();
    await ready(page);
    // 4 page views and the 200 events.
    const got = await settle(visitor, 204);
    await new Promise((r) => setTimeout(r, 1_000));
    const final = await applied(visitor);
    const duplicated = Math.max(0, final - 204) + copies(visitor, (e) => (e.type == "custom" ? `i${e.props!.i}` : e.id));
    console.log(`worker offline: applied while down=${whileDown} applied=${final} (of 204) duplicated=${duplicated}`);
    record("worker-offline-reloads", { checks: 204, lost: Math.max(0, 204 - got), duplicated });
    expect(whileDown).toBe(1);
    expect([final, duplicated]).toEqual([204, 0]);
    expect(errors).toEqual([]);
    await page.close();
  }, 150_000);

  it(`applies every form submitted right before its tab closes (${CLOSE_TRIALS} trials, one visitor each), by beacon or on the next visit`, async () => {
    let lost = 0;
    let duplicated = 0;
    let byBeacon = 0;
    const visitors: string[] = [];
    await newVisitor();
    for (let n = 0; n < CLOSE_TRIALS; n++) {
      const { page, errors } = await tab();
      await page.goto(`${tap.url}/rel/form`);
      await ready(page);
      const visitor = await visitorOf(page);
      visitors.push(visitor);
      await page.evaluate(({ n, at }) => {
        (document.querySelector("[name=email]") as HTMLInputElement).value = `trial${n}.${at}@acme.example`;
        (document.querySelector("[name=trial]") as HTMLInputElement).value = `t${n}`;
        (document.querySelector("#lead") as HTMLFormElement).requestSubmit();
      }, { n, at: Date.now() });
      // At once: no wait for the navigation nor for any request.
      await page.close({ runBeforeUnload: true });
      expect(errors).toEqual([]);
      // The page view, the submission and the identify it triggered; then the next visit's page view.
      if ((await settle(visitor, 3, 2_000)) >= 3) byBeacon++;
      const next = await tab();
      await next.page.goto(`${tap.url}/rel/app`);
      await ready(next.page);
      expect(await visitorOf(next.page)).toBe(visitor);
      const got = await settle(visitor, 4);
      lost += Math.max(0, 4 - got);
      expect(next.errors).toEqual([]);
      await leaveForNewVisitor(next.page);
    }
    // Late copies (a beacon that arrived after the next visit sent the same events) show now or never.
    await new Promise((r) => setTimeout(r, 1_000));
    for (const visitor of visitors) {
      duplicated += Math.max(0, (await applied(visitor)) - 4);
      duplicated += copies(visitor, (e) => (e.type == "page_view" ? e.id : `${e.type}:${e.fields?.trial ?? ""}`));
    }
    console.log(`worker close-tab: trials=${CLOSE_TRIALS} complete before the next visit=${byBeacon} lost=${lost} duplicated=${duplicated}`);
    record("worker-close-tab", { checks: CLOSE_TRIALS * 4, lost, duplicated });
    expect([lost, duplicated]).toEqual([0, 0]);
  }, 600_000);

  it("lets 5 tabs of 50 events each drain one queue with the network back: 255 applied once", async () => {
    await newVisitor();
    tap.down = true;
    const tabs = [];
    for (let n = 0; n < 5; n++) {
      const x = await tab();
      await x.page.goto(`${tap.url}/rel/app`);
      await ready(x.page);
      tabs.push(x);
    }
    const visitor = await visitorOf(tabs[0]!.page);
    await Promise.all(tabs.map(({ page }, n) => page.evaluate((n) => {
      for (let i = 0; i < 50; i++) (window as any).mql.track("tab", { n, i });
    }, n)));
    tap.down = false;
    await Promise.all(tabs.map(({ page }) => page.evaluate(() => dispatchEvent(new Event("online")))));
    // The 5 page views and the 250 events.
    const got = await settle(visitor, 255);
    await new Promise((r) => setTimeout(r, 1_000));
    const final = await applied(visitor);
    const duplicated = Math.max(0, final - 255) + copies(visitor, (e) => (e.type == "custom" ? `${e.props!.n}:${e.props!.i}` : e.id));
    console.log(`worker tabs: applied=${final} (of 255) duplicated=${duplicated}`);
    record("worker-five-tabs", { checks: 255, lost: Math.max(0, 255 - got), duplicated });
    expect([final, duplicated]).toEqual([255, 0]);
    expect(tabs.flatMap((x) => x.errors)).toEqual([]);
    for (const { page } of tabs) await page.close();
  }, 150_000);

  it("was answered with no 5xx, through simple requests only (no preflight), none over 60 KB", () => {
    const collect = tap.seen.filter((r) => r.url.startsWith("/v1/collect"));
    const fiveXx = collect.filter((r) => r.status >= 500).length;
    const over = collect.filter((r) => r.bytes > 60 * 1024).length;
    const beacons = collect.filter((r) => r.mode == "no-cors").length;
    console.log(`worker requests: collect=${collect.length} beacons=${beacons} dropped while down=${collect.filter((r) => r.status == 0).length} 5xx=${fiveXx} over60KB=${over}`);
    record("worker-requests", { checks: collect.length, fiveXx });
    expect(collect.length).toBeGreaterThan(20);
    expect(beacons).toBeGreaterThan(0);
    expect(collect.filter((r) => r.method != "POST" || !/^text\/plain/.test(r.contentType ?? ""))).toEqual([]);
    expect([fiveXx, over]).toEqual([0, 0]);
  });
});
