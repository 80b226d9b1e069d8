/**
 * The snippet in real Chromium against the running worker: `npm start` (wrangler dev, the demo's
 * rules in local KV, /mql.js served by the worker). Test pages are served on the worker's origin,
 * which the demo rules allow; what the worker applied is read from the visitor self view.
 */
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WireEvent } from "../../worker/wire.js";
import { startStack, type Stack } from "../e2e/support/stack.js";
import { DESKTOP_USER_AGENT, launch, type Browser } from "./support/browser.js";
import { html } from "./support/pages.js";
import { until } from "./support/server.js";

/** Longest wait for the worker to have applied what the browser did (the machine may be busy). */
const APPLIED_TIMEOUT_MS = 45_000;
const TAG = '<script src="/mql.js" data-site="demo" defer></script>';

let stack: Stack;
/** One browser, so one visitor, per test. */
let browser: Browser | undefined;

beforeAll(async () => {
  stack = await startStack();
}, 150_000);
afterEach(async () => {
  await browser?.close();
  browser = undefined;
});
afterAll(async () => {
  await stack?.stop();
});

interface Snapshot {
  stage: string;
  events: number;
  identity: { email?: string };
}
interface Sent {
  events: WireEvent[];
  type: string;
}

/** A new tab whose requests to the collect API are recorded, and which fails the test on any error of the page's own. */
async function tab(pages: Record<string, string>) {
  browser = await launch(DESKTOP_USER_AGENT);
  const page = await browser.context.newPage();
  const errors: string[] = [];
  const sent: Sent[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => {
    if (r.url().endsWith("/v1/collect")) sent.push({ events: JSON.parse(r.postData() ?? "{}").events ?? [], type: r.resourceType() });
  });
  for (const [path, body] of Object.entries(pages)) {
    await page.route(`${stack.base}${path}`, (r) => r.fulfill({ contentType: "text/html; charset=utf-8", body }));
  }
  return { page, errors, sent };
}

/** The visitor id the snippet keeps on the device. */
const visitorOf = (page: Page) => page.evaluate(() => JSON.parse(localStorage.getItem("mql") ?? "{}").v as string);

/** The visitor as the worker knows it (the self view), or null before it has applied anything. */
async function snapshot(visitor: string): Promise<Snapshot | null> {
  const res = await fetch(`${stack.base}/v1/visitors/demo/${visitor}`);
  return res.ok ? ((await res.json()) as Snapshot) : null;
}
/** Waits until the worker's view of `visitor` passes `check`. */
async function applied(visitor: string, check: (s: Snapshot) => boolean, what: string): Promise<Snapshot> {
  let last: Snapshot | null = null;
  const end = Date.now() + APPLIED_TIMEOUT_MS;
  while (Date.now() < end) {
    last = await snapshot(visitor).catch(() => null);
    if (last && check(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; the worker has ${JSON.stringify(last)}`);
}

describe("the snippet against the running worker", () => {
  it("has a page view scored, then a form submitted right before navigating away delivered by beacon", async () => {
    const { page, errors, sent } = await tab({});
    await page.goto(`${stack.base}/demo`);
    const visitor = await visitorOf(page);
    await applied(visitor, (s) => s.events == 1, "the page view");

    for (const [name, value] of [["name", "Ada Lovelace"], ["email", "ada@acme.io"], ["company", "Acme"], ["job_title", "VP Marketing"]]) {
      await page.fill(`#demo-request [name=${name}]`, value!);
    }
    // Submitted and gone in one task: no page is left to send it but the beacon.
    await page.evaluate(() => {
      document.querySelector<HTMLButtonElement>("#demo-request button")!.click();
      location.assign("about:blank");
    });
    await page.waitForURL("about:blank");
    const s = await applied(visitor, (s) => s.events == 3, "the form submission and the identify it triggered");
    expect([s.stage, s.identity.email]).toEqual(["sql", "ada@acme.io"]);
    expect(sent.filter((r) => r.type == "fetch").flatMap((r) => r.events.map((e) => e.type))).toEqual(["page_view"]);
    expect(errors).toEqual([]);
  }, 120_000);

  it("keeps 200 events captured offline across two reloads, and the worker applies each exactly once", async () => {
    const { page, errors, sent } = await tab({ "/sdk-test/app": html("App", TAG) });
    const offline = (r: { abort(code: string): Promise<void> }) => r.abort("internetdisconnected");
    await page.route("**/v1/collect", offline);
    const burst = async (from: number) => {
      await page.waitForFunction(() => (window as any).mql?.track);
      const before = sent.length;
      await page.evaluate((from) => {
        for (let i = from; i < from + 100; i++) (window as any).mql.track("offline", { i });
      }, from);
      // The page tried to send them and met the closed network before it goes away.
      await until(() => sent.length > before, "a send after the burst", APPLIED_TIMEOUT_MS);
    };
    await page.goto(`${stack.base}/sdk-test/app`);
    await burst(0);
    await page.reload();
    await burst(100);
    await page.reload();
    await page.waitForFunction(() => (window as any).mql?.track);
    const visitor = await visitorOf(page);
    // Requests were cut; only a beacon from a page that went away before its first failure may have gone through.
    expect((await snapshot(visitor))?.events ?? 0).toBeLessThan(204);

    await page.unroute("**/v1/collect", offline);
    await page.reload();
    // 4 page views and the 200 events, each once; beacons of the reloaded pages may carry some twice.
    await applied(visitor, (s) => s.events >= 204, "all 204 events");
    // The visitor object applies an event id once: 204 applied means every one of them, none twice.
    expect((await snapshot(visitor))!.events).toBe(204);
    expect(errors).toEqual([]);
  }, 120_000);

  it("renders the worker's CTA for an MQL, reports its click and dismissal, and the dismissal holds", async () => {
    const { page, errors, sent } = await tab({ "/sdk-test/app": html("App", TAG) });
    await page.goto(`${stack.base}/sdk-test/app`);
    await page.waitForFunction(() => (window as any).mql?.identify);
    // 40 fit points and 10 for pricing, identified: an MQL (the demo rules' demo offer is a slide-in for MQLs).
    await page.evaluate(() => (window as any).mql.identify("dana@helios.example", { job_title: "VP Marketing", company_size: 400, country: "FR" }));
    await page.evaluate(() => history.pushState({}, "", "/pricing"));
    const offer = page.locator("dialog.slide_in");
    await offer.waitFor({ state: "visible", timeout: APPLIED_TIMEOUT_MS });
    expect(await offer.locator("a").getAttribute("href")).toBe("/demo");
    await offer.locator("a").click();
    await page.waitForURL(/\/demo$/);

    await page.goto(`${stack.base}/sdk-test/app`);
    await offer.waitFor({ state: "visible", timeout: APPLIED_TIMEOUT_MS });
    await offer.locator("button").click();
    await offer.waitFor({ state: "detached" });
    await until(() => sent.some((r) => r.events.some((e) => e.type == "cta_dismiss")), "the dismissal", APPLIED_TIMEOUT_MS);
    // Every event sent so far (the dismissal included) applied before the next page asks for CTAs.
    const sentIds = new Set(sent.flatMap((r) => r.events.map((e) => e.id)));
    await applied(await visitorOf(page), (s) => s.stage == "mql" && s.events >= sentIds.size, "the MQL and the dismissal");

    // Dismissed: the worker does not offer it again, on this page or the next.
    await page.reload();
    await page.waitForFunction(() => (window as any).mql?.track);
    await page.evaluate(() => (window as any).mql.track("after dismissal"));
    await until(() => sent.some((r) => r.events.some((e) => e.name == "after dismissal")), "the next request", APPLIED_TIMEOUT_MS);
    // Distinct events: a beacon of a page that went away may carry an event that is sent again later.
    const of = (type: string) => [...new Map(sent.flatMap((r) => r.events.filter((e) => e.type == type).map((e) => [e.id, [e.element, e.props?.variant]] as const))).values()];
    // The click left its page by beacon, which this tab's request events may not show; the copy sent
    // again once its claim runs out (a beacon gets no acknowledgement) does show.
    await until(() => of("cta_click").length > 0, "the click on the wire", APPLIED_TIMEOUT_MS);
    expect(of("cta_click")).toHaveLength(1);
    expect(of("cta_click")[0]![0]).toBe("demo-offer");
    expect(of("cta_dismiss")).toHaveLength(1);
    // Shown on the first page and the page after the click; /demo, where the click led, may show its own hero slot.
    expect(of("cta_impression").filter(([cta]) => cta == "demo-offer")).toHaveLength(2);
    expect(await offer.count()).toBe(0);
    expect(errors).toEqual([]);
  }, 150_000);

  it("keeps the host page working, and still delivers, when IndexedDB throws", async () => {
    const host = `<button id="b" onclick="this.textContent = +this.textContent + 1">0</button><script>window.after = "ran"</script>`;
    const block = `<script>Object.defineProperty(window, "indexedDB", { get() { throw new DOMException("blocked", "SecurityError") } })</script>`;
    const { page, errors } = await tab({ "/sdk-test/no-idb": html("No IndexedDB", host, block + TAG) });
    await page.goto(`${stack.base}/sdk-test/no-idb`);
    await page.click("#b");
    await page.click("#b");
    expect([await page.textContent("#b"), await page.evaluate(() => (window as any).after)]).toEqual(["2", "ran"]);
    await page.evaluate(() => (window as any).mql.track("works"));
    await applied(await visitorOf(page), (s) => s.events == 2, "the page view and the event");
    expect(errors).toEqual([]);
  }, 120_000);
});
