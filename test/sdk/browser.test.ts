/**
 * The snippet in real Chromium, against a local stand-in for the worker (support/server.ts).
 * One browser for the file; each test has its own server, so its own origin and storage.
 */
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WireEvent } from "../../worker/wire.js";
import { launch, type Browser } from "./support/browser.js";
import { html, STUB } from "./support/pages.js";
import { startServer, until, type TestServer } from "./support/server.js";

let browser: Browser;
let t: TestServer;
const pages: Page[] = [];

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const p of pages.splice(0)) await p.close().catch(() => {});
  await t?.close();
});

/** A new tab that fails the test on any error of the page's own. */
async function tab(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // Network failures the tests inject show up as "Failed to load resource": not the page's errors.
  page.on("console", (m) => m.type() == "error" && !m.text().startsWith("Failed to load resource") && errors.push(m.text()));
  pages.push(page);
  return { page, errors };
}
const events = (type?: string): WireEvent[] => [...t.stored.values()].filter((e) => !type || e.type == type);
const sentTwice = () => [...t.seen].filter(([, n]) => n > 1);
/**
 * Ids received again after a fetch had delivered them. A beacon gets no answer, so the events it
 * carried stay queued and are sent once more when its claim runs out: only those may come twice.
 */
const resentAfterFetch = () => {
  const fetched = new Set<string>();
  const again: string[] = [];
  for (const r of t.accepted)
    for (const e of r.events) {
      if (fetched.has(e.id)) again.push(e.id);
      if (r.mode == "cors") fetched.add(e.id);
    }
  return again;
};

describe("the snippet in Chromium", () => {
  it("records a landing page view from an email, replays the stub's calls, then records SPA navigation", async () => {
    t = await startServer();
    t.page("/welcome", html("Welcome", `${STUB}<script>mql.track("early", { step: 1 })</script>${t.tag("defer")}`));
    const { page, errors } = await tab();
    await page.goto(`${t.site}/welcome?utm_source=news&utm_medium=email`);
    await until(() => events("page_view").length == 1 && events("custom").length == 1, "the page view and the replayed call");

    const [view] = events("page_view");
    expect(view).toMatchObject({ url: `${t.site}/welcome?utm_source=news&utm_medium=email`, title: "Welcome", visit: 1, landing: true });
    expect(events("email_click")).toHaveLength(1);
    expect(events("custom")[0]).toMatchObject({ name: "early", props: { step: 1 } });
    // The page goes as its URL: the worker reads its path (hash routes included) as it reads events'.
    expect(t.accepted[0]).toMatchObject({ page: `${t.site}/welcome?utm_source=news&utm_medium=email`, contentType: "text/plain;charset=UTF-8" });

    await page.evaluate(() => history.pushState({}, "", "/pricing"));
    await until(() => events("page_view").length == 2, "the SPA page view");
    const spa = events("page_view")[1]!;
    expect(spa).toMatchObject({ url: `${t.site}/pricing`, referrer: `${t.site}/welcome?utm_source=news&utm_medium=email`, visit: 1 });
    expect(spa.landing).toBeUndefined();
    expect(events("email_click")).toHaveLength(1);

    expect([t.invalid, t.preflights, errors]).toEqual([[], 0, []]);
  });

  it("delivers a form submitted right before navigating away, by beacon, without secrets", async () => {
    t = await startServer();
    t.page(
      "/contact",
      html(
        "Contact",
        `<form id="demo" action="/thanks">
          <input name="email" type="email" value="ada@acme.io">
          <input name="company" value="Acme">
          <input name="password" type="password" value="hunter2">
          <input name="token" type="hidden" value="csrf">
          <input name="cardnumber" autocomplete="cc-number" value="4242424242424242">
          <input name="notes" data-mql-ignore value="private">
          <input name="news" type="checkbox" value="yes">
          <button>Send</button>
        </form>${t.tag("defer")}`,
      ),
    );
    t.page("/thanks", html("Thanks", "<p>Thanks</p>"));
    const { page, errors } = await tab();
    await page.goto(`${t.site}/contact`);
    await until(() => events("page_view").length == 1, "the page view");
    await page.click("button");
    await page.waitForURL(/thanks/);
    await until(() => events("form_submit").length == 1 && events("identify").length == 1, "the form submission");

    const [form] = events("form_submit");
    expect(form).toMatchObject({ form: { id: "demo" }, fields: { email: "ada@acme.io", company: "Acme" } });
    expect(Object.keys(form!.fields!).sort()).toEqual(["company", "email"]);
    expect(events("identify")[0]).toMatchObject({ email: "ada@acme.io", traits: { company: "Acme" } });
    const carrier = t.accepted.find((r) => r.events.some((e) => e.id == form!.id));
    expect(carrier?.mode).toBe("no-cors"); // sendBeacon, not fetch
    expect([t.invalid, errors]).toEqual([[], []]);
  });

  it("keeps 200 events captured offline across two reloads, then stores each exactly once", async () => {
    t = await startServer();
    t.page("/app", html("App", t.tag("defer")));
    t.fail = "offline";
    const { page, errors } = await tab();
    const burst = (from: number) =>
      page.evaluate((from) => {
        for (let i = from; i < from + 100; i++) (window as any).mql.track("offline", { i });
      }, from);
    await page.goto(`${t.site}/app`);
    await page.waitForFunction(() => (window as any).mql?.track);
    await burst(0);
    await page.reload();
    await page.waitForFunction(() => (window as any).mql?.track);
    await burst(100);
    await page.reload();
    await page.waitForFunction(() => (window as any).mql?.track);
    expect(t.stored.size).toBe(0);
    expect(t.failed).toBeGreaterThan(0);

    t.fail = null;
    await page.reload();
    // Events a reloaded page was sending when it went away stay claimed for CLAIM_MS (15 s): the
    // open page sends them when the claim runs out, without any new event to trigger it.
    await until(() => events("custom").length == 200, "all 200 events", 45_000);
    const got = events("custom").map((e) => e.props!.i as number);
    expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(events("page_view")).toHaveLength(4);
    // The last offline page may still beacon its events as it goes (its first request had not failed yet).
    expect(resentAfterFetch()).toEqual([]);
    expect(sentTwice().length).toBeLessThanOrEqual(t.accepted.filter((r) => r.mode == "no-cors").reduce((n, r) => n + r.events.length, 0));
    expect([t.invalid, errors]).toEqual([[], []]);
  }, 90_000);

  it("renders CTAs as text in shadow roots, and reports impressions, clicks and dismissals", async () => {
    t = await startServer();
    t.actions = [
      {
        id: "demo-offer",
        kind: "modal",
        variant: { id: "v2", title: "<img src=x onerror=alert(1)>Book a demo", text: "30 minutes with us.", button: { label: "Book", href: "/book" } },
      },
      { id: "trap", kind: "banner", variant: { id: "a", text: "Unsafe link", button: { label: "Go", href: "javascript:alert(1)" } } },
      { id: "hero-cta", kind: "inline", slot: "hero", variant: { id: "b", text: "See pricing", button: { label: "Pricing", href: `${t.site}/pricing` } } },
      { id: "chat", kind: "slide_in", variant: { id: "c", title: "Questions?", text: "Chat with sales." } },
      { id: "side-cta", kind: "inline", slot: "side", variant: { id: "e", text: "Read the case study" } },
      // No such slot on this page: nothing shown, nothing announced, nothing thrown into the page.
      { id: "footer-cta", kind: "inline", slot: "footer", variant: { id: "d", text: "Elsewhere" } },
    ];
    const listen = `<script>mql.on("action", (a) => (window.seen ||= []).push(a.id)); mql.on("stage", (s, v) => (window.stage = [s, v.score.total]))</script>`;
    t.page(
      "/home",
      html("Home", `<style>p,dialog{color:red!important;display:none!important}::part(mql-cta){border-color:rgb(1, 2, 3)}::part(mql-link){color:rgb(4, 5, 6)}</style><div data-mql-slot="hero">Default hero</div><div data-mql-slot="side"><em id="own-side">Default side</em> text</div><script>window.ownSide = document.getElementById("own-side")</script><button id="own">own</button>${STUB}${listen}${t.tag("defer")}`),
    );
    t.page("/pricing", html("Pricing", "<p>Pricing</p>"));
    const { page, errors } = await tab();
    await page.goto(`${t.site}/home`);

    const modal = page.locator("dialog.modal");
    await modal.waitFor({ state: "visible" });
    expect(await modal.getAttribute("aria-label")).toBe("<img src=x onerror=alert(1)>Book a demo");
    expect(await modal.locator("b").textContent()).toBe("<img src=x onerror=alert(1)>Book a demo");
    expect(await page.locator("img").count()).toBe(0);
    expect(await modal.locator("a").getAttribute("href")).toBe("/book");
    // The site's CSS reaches a CTA only through the parts it exposes.
    expect(await modal.evaluate((d) => [getComputedStyle(d).borderTopColor, getComputedStyle(d.querySelector("p")!).color])).toEqual(["rgb(1, 2, 3)", "rgb(0, 0, 0)"]);
    expect(await modal.locator("a").evaluate((a) => getComputedStyle(a).color)).toBe("rgb(4, 5, 6)");
    // The modal holds the focus (the page behind is inert) and Esc closes it.
    expect(await page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.closest("dialog")?.className)).toBe("modal");
    // Tab and Shift+Tab cycle inside the dialog: the focus never leaves for the page or the browser's UI.
    const focused = () => page.evaluate(() => [document.hasFocus(), document.activeElement?.shadowRoot?.activeElement?.textContent]);
    const cycle = [];
    for (const key of ["Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab"]) {
      await page.keyboard.press(key);
      cycle.push(await focused());
    }
    expect(cycle).toEqual([[true, "Book"], [true, "×"], [true, "Book"], [true, "×"], [true, "Book"]]);
    await page.keyboard.press("Escape");
    await modal.waitFor({ state: "detached" });

    await expect.poll(() => page.locator("dialog.banner").isVisible()).toBe(true);
    expect(await page.locator("dialog.banner a").count()).toBe(0);
    // No title: an empty <b>, labelled by its text.
    expect(await page.locator("dialog.banner b").textContent()).toBe("");
    expect(await page.locator("dialog.banner").getAttribute("aria-label")).toBe("Unsafe link");
    await page.locator("dialog.banner button").click();
    await page.locator("dialog.banner").waitFor({ state: "detached" });

    const chat = page.locator("dialog.slide_in");
    expect([await chat.isVisible(), await chat.locator("b").textContent(), await chat.locator("a").count()]).toEqual([true, "Questions?", 0]);
    expect(await page.evaluate(() => [(window as any).seen, (window as any).stage])).toEqual([["demo-offer", "trap", "hero-cta", "chat", "side-cta"], ["lead", 1]]);

    // A dismissed inline CTA gives the slot its own content back, the same nodes.
    const side = page.locator("[data-mql-slot=side]");
    expect(await side.evaluate((e) => [e.textContent?.includes("Default side"), !!e.querySelector("div")?.shadowRoot])).toEqual([false, true]);
    await side.locator("dialog button").click();
    await expect.poll(() => side.evaluate((e) => e.innerHTML)).toBe('<em id="own-side">Default side</em> text');
    expect(await page.evaluate(() => document.getElementById("own-side") === (window as any).ownSide)).toBe(true);

    const slot = page.locator("[data-mql-slot=hero] dialog");
    expect(await slot.textContent()).toContain("See pricing");
    expect(await page.locator("[data-mql-slot=hero]").evaluate((e) => e.textContent)).not.toContain("Default hero");

    // Another answer with the same actions: a dismissed CTA stays closed on this page.
    await page.evaluate(() => (window as any).mql.track("again"));
    await until(() => events("custom").length == 1, "the next answer");
    await page.waitForTimeout(200);
    expect(await page.locator("dialog.modal").count()).toBe(0);

    await slot.locator("a").click();
    await page.waitForURL(/pricing/);
    await until(() => events("cta_click").length == 1, "the click");

    const of = (type: string) => events(type).map((e) => [e.element, e.props?.variant]);
    expect(of("cta_impression").sort()).toEqual([["chat", "c"], ["demo-offer", "v2"], ["hero-cta", "b"], ["side-cta", "e"], ["trap", "a"]]);
    expect(of("cta_dismiss").sort()).toEqual([["demo-offer", "v2"], ["side-cta", "e"], ["trap", "a"]]);
    expect(of("cta_click")).toEqual([["hero-cta", "b"]]);
    expect(events("cta_click")[0]!.href).toBe(`${t.site}/pricing`);
    expect([t.invalid, errors]).toEqual([[], []]);
  });

  it("keeps the host page working, and still delivers, when IndexedDB throws or hangs", async () => {
    t = await startServer();
    const host = `<button id="b" onclick="this.textContent = +this.textContent + 1">0</button>
      <script>window.after = "ran"</script>`;
    const blockIdb = (how: string) => `<script>Object.defineProperty(window, "indexedDB", { get() { ${how} } })</script>`;
    t.page("/throws", html("Throws", host, blockIdb(`throw new DOMException("blocked", "SecurityError")`) + t.tag("defer")));
    t.page("/hangs", html("Hangs", host, blockIdb(`return { open: () => ({}) }`) + t.tag("defer")));

    for (const path of ["/throws", "/hangs"]) {
      const { page, errors } = await tab();
      await page.goto(t.site + path);
      await page.click("#b");
      await page.click("#b");
      expect(await page.textContent("#b")).toBe("2");
      expect(await page.evaluate(() => (window as any).after)).toBe("ran");
      await page.evaluate(() => (window as any).mql.track("works"));
      await until(() => events("custom").filter((e) => e.url!.endsWith(path)).length == 1, `the event on ${path}`);
      expect(events("page_view").filter((e) => e.url!.endsWith(path))).toHaveLength(1);
      expect(errors).toEqual([]);
    }
    expect(sentTwice()).toEqual([]);
    expect(t.invalid).toEqual([]);
  });

  it("lets two tabs drain one queue without sending any event twice", async () => {
    t = await startServer();
    t.page("/app", html("App", t.tag("defer")));
    t.fail = "offline";
    const tabs = [await tab(), await tab()];
    for (const { page } of tabs) {
      await page.goto(`${t.site}/app`);
      await page.waitForFunction(() => (window as any).mql?.track);
    }
    await Promise.all(
      tabs.map(({ page }, n) =>
        page.evaluate((n) => {
          for (let i = 0; i < 75; i++) (window as any).mql.track("tab", { n, i });
        }, n),
      ),
    );
    // Let both tabs store their events, then bring the network back to both at once.
    await tabs[0]!.page.waitForTimeout(300);
    t.fail = null;
    await Promise.all(tabs.map(({ page }) => page.evaluate(() => dispatchEvent(new Event("online")))));
    await until(() => events("custom").length == 150 && events("page_view").length == 2, "all 152 events", 20_000);
    await tabs[0]!.page.waitForTimeout(500);
    expect(sentTwice()).toEqual([]);
    // Both tabs took part in the draining.
    expect(new Set(t.accepted.map((r) => r.events.length)).size).toBeGreaterThan(0);
    expect([t.invalid, ...tabs.map((x) => x.errors)]).toEqual([[], [], []]);
  });

  it("retries network errors, 5xx and 429 (after its Retry-After), and gives up on a refused batch", async () => {
    t = await startServer();
    t.page("/app", html("App", t.tag("defer")));
    const { page, errors } = await tab();
    const failures = async (fail: TestServer["fail"], n: number) => {
      t.fail = fail;
      const from = t.failed;
      await until(() => t.failed >= from + n, `${n} answers of ${fail}`, 20_000);
    };
    // The page view meets a network error, a 500, then a 429 asking for 3 s.
    t.fail = "offline";
    await page.goto(`${t.site}/app`);
    await until(() => t.failed == 1, "the first try");
    await failures(500, 1);
    t.retryAfter = 3;
    await failures(429, 1);
    t.fail = null;
    await until(() => events("page_view").length == 1, "the page view, once the 429 has passed");
    const [, second, third] = t.failedAt;
    // Jittered backoff: 0.5-1 s after the first failure, 1-2 s after the second; then Retry-After.
    expect(second! - t.failedAt[0]!).toBeGreaterThanOrEqual(400);
    expect(third! - second!).toBeGreaterThanOrEqual(900);
    expect(t.accepted[0]!.at - third!).toBeGreaterThanOrEqual(2_900);

    // A refused batch (a 4xx but 429) is dropped, not retried; the next events go through.
    await page.evaluate(() => (window as any).mql.track("refused"));
    await failures(400, 1);
    t.fail = null;
    await page.evaluate(() => (window as any).mql.track("next"));
    await until(() => events("custom").length == 1, "the next event");
    expect(events("custom")[0]!.name).toBe("next");
    expect(t.failed).toBe(4);
    expect(sentTwice()).toEqual([]);
    expect([t.invalid, errors]).toEqual([[], []]);
  }, 60_000);

  it("with consent required, stores and sends nothing before consent(true), and forgets the visitor on consent(false)", async () => {
    t = await startServer();
    t.page("/app", html("App", t.tag('data-consent="required" defer')));
    const { page, errors } = await tab();
    const storage = () =>
      page.evaluate(async () => ({ local: Object.keys(localStorage).sort(), idb: (await indexedDB.databases()).map((d) => d.name) }));
    await page.goto(`${t.site}/app`);
    await page.waitForFunction(() => (window as any).mql?.consent);
    await page.evaluate(() => (window as any).mql.track("before consent"));
    await page.evaluate(() => history.pushState({}, "", "/app/next"));
    expect(await storage()).toEqual({ local: [], idb: [] });

    await page.evaluate(() => (window as any).mql.consent(true));
    await until(() => events("page_view").length == 1, "the page view recorded at consent");
    expect(events("page_view")[0]!.url).toBe(`${t.site}/app/next`);
    expect(events("custom")).toEqual([]);
    expect(t.accepted.map((r) => r.events.map((e) => e.type))).toEqual([["page_view"]]);
    expect((await storage()).local).toContain("mql");

    await page.evaluate(() => (window as any).mql.consent(false));
    await page.evaluate(() => (window as any).mql.track("after revoke"));
    expect((await storage()).local).toEqual([]);
    // Consent given again: a new page view, by a new visitor, and nothing of what was tracked meanwhile.
    await page.evaluate(() => (window as any).mql.consent(true));
    await until(() => events("page_view").length == 2, "the page view at the second consent");
    expect(events("custom")).toEqual([]);
    const visitors = t.accepted.map((r) => r.visitor);
    expect(new Set(visitors).size).toBe(2);
    expect([t.invalid, errors]).toEqual([[], []]);
  });

  it("withdrawn consent writes nothing back when a request in flight then fails", async () => {
    t = await startServer();
    t.page("/app", html("App", t.tag('data-consent="required" defer')));
    const { page, errors } = await tab();
    await page.goto(`${t.site}/app`);
    await page.waitForFunction(() => (window as any).mql?.consent);
    await page.evaluate(() => (window as any).mql.consent(true));
    await until(() => events("page_view").length == 1, "the page view at consent");
    // The next request hangs, then fails after consent is withdrawn.
    let fail!: () => void;
    const failed = new Promise<void>((r) => (fail = r));
    await page.route("**/v1/collect", async (route) => {
      await failed;
      await route.abort("failed");
    });
    await page.evaluate(() => (window as any).mql.track("in flight"));
    await page.waitForTimeout(800);
    await page.evaluate(() => (window as any).mql.consent(false));
    fail();
    await page.waitForTimeout(300);
    const queued = await page.evaluate(() => new Promise<number>((ok) => {
      const open = indexedDB.open("mql");
      open.onsuccess = () => {
        const db = open.result;
        if (!db.objectStoreNames.contains("q")) return ok(0);
        const count = db.transaction("q").objectStore("q").count();
        count.onsuccess = () => ok(count.result);
      };
    }));
    expect(queued).toBe(0);
    expect(await page.evaluate(() => Object.keys(localStorage))).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("applies its CTA's look under a Content-Security-Policy that refuses inline styles", async () => {
    t = await startServer();
    t.actions = [{ id: "bar", kind: "banner", variant: { id: "a", text: "Book a demo", button: { label: "Book", href: "/book" } } }];
    t.page("/strict", html("Strict", t.tag("defer"), `<meta http-equiv="Content-Security-Policy" content="style-src 'self'">`));
    const { page } = await tab();
    const violations: string[] = [];
    page.on("console", (m) => /Content Security Policy/.test(m.text()) && violations.push(m.text()));
    await page.goto(`${t.site}/strict`);
    const banner = page.locator("dialog.banner");
    await banner.waitFor({ state: "visible" });
    expect(await banner.evaluate((d) => [getComputedStyle(d).position, getComputedStyle(d).zIndex])).toEqual(["fixed", "2147483647"]);
    const box = (await banner.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(page.viewportSize()!.height);
    expect(violations).toEqual([]);
  });

  it("sends calls made in one millisecond in the order they were made, and does not record a queued page() twice", async () => {
    t = await startServer();
    const calls = `<script>mql.page(); mql.identify("ada@acme.io"); for (let i = 0; i < 20; i++) mql.track("step", { i })</script>`;
    t.page("/land", html("Land", `${STUB}${calls}${t.tag("defer")}`));
    const { page, errors } = await tab();
    await page.goto(`${t.site}/land`);
    await until(() => events("custom").length == 20, "the 20 steps");
    const order = t.accepted.flatMap((r) => r.events).map((e) => (e.type == "custom" ? `step${(e.props as { i: number }).i}` : e.type));
    expect(order).toEqual(["page_view", "identify", ...Array.from({ length: 20 }, (_, i) => `step${i}`)]);
    expect([t.invalid, errors]).toEqual([[], []]);
  });

  it("stops and empties its queue when the worker answers that the visitor opted out (Global Privacy Control)", async () => {
    t = await startServer();
    t.optedOut = true;
    t.page("/app", html("App", t.tag("defer")));
    const { page, errors } = await tab();
    await page.goto(`${t.site}/app`);
    await until(() => t.accepted.length == 1, "the first answer");
    const queued = () =>
      page.evaluate(
        () =>
          new Promise<number>((ok) => {
            const open = indexedDB.open("mql");
            open.onsuccess = () => {
              const count = open.result.transaction("q").objectStore("q").count();
              count.onsuccess = () => ok(count.result);
            };
          }),
      );
    await expect.poll(queued).toBe(0);
    await page.evaluate(() => {
      (window as any).mql.track("after opt-out");
      history.pushState({}, "", "/elsewhere");
    });
    // A tracked event would have been queued at once and a page view sent on the next task.
    await page.evaluate(() => new Promise((r) => setTimeout(r, 50)));
    expect(await queued()).toBe(0);
    expect(t.accepted).toHaveLength(1);
    expect([t.invalid, errors]).toEqual([[], []]);
  });

  it("identifies, records page views on demand, resets the visitor, and logs only with debug on", async () => {
    t = await startServer();
    t.page("/quiet", html("Quiet", t.tag("defer")));
    t.page("/debug", html("Debug", t.tag("data-debug defer")));
    const logged: Record<string, number> = { "/quiet": 0, "/debug": 0 };
    const { page, errors } = await tab();
    page.on("console", (m) => m.text().startsWith("[mql]") && logged[new URL(page.url()).pathname]!++);
    await page.goto(`${t.site}/quiet`);
    await page.waitForFunction(() => (window as any).mql?.identify);
    await page.evaluate(() => {
      const mql = (window as any).mql;
      mql.identify("ada@acme.io", { job_title: "VP Marketing", seats: 25, trial: true, "": "empty key", big: 1e300, nested: { a: 1 } });
      mql.identify("not an email");
      mql.page();
      mql.reset();
      mql.track("after reset");
    });
    await until(() => events("identify").length == 1 && events("page_view").length == 2 && events("custom").length == 1, "the calls");
    expect(events("identify")[0]).toMatchObject({
      email: "ada@acme.io",
      traits: { job_title: "VP Marketing", seats: 25, trial: true, _: "empty key", big: "1e+300", nested: "[object Object]" },
    });
    const visitorOf = (type: string) => t.accepted.find((r) => r.events.some((e) => e.type == type))!.visitor;
    expect(visitorOf("custom")).not.toBe(visitorOf("identify"));
    expect(events("custom")[0]!.visit).toBe(1);
    expect(logged["/quiet"]).toBe(0);

    await page.goto(`${t.site}/debug`);
    await until(() => events("page_view").length == 3, "the debug page view");
    await expect.poll(() => logged["/debug"]).toBeGreaterThan(0);
    expect([t.invalid, errors]).toEqual([[], []]);
  });

  it("continues as the same visitor on another of the site's domains through a link it decorates, and takes the token off the URL", async () => {
    t = await startServer();
    const tag = t.tag('data-domains="127.0.0.1" defer');
    // Tells the test when the page has read the token's answer (the snippet reads it in the same task).
    const watch = `<script>const f = fetch; fetch = (...a) => f(...a).then((r) => (String(a[0]).endsWith("/v1/identity/xd") && r.clone().json().then(() => setTimeout(() => (window.tokenRead = true))), r))</script>`;
    t.page("/www", html("WWW", `<a id="shop" href="${t.site2}/shop?ref=www">Shop</a>${tag}`, watch));
    t.page("/shop", html("Shop", tag));
    const { page, errors } = await tab();
    await page.goto(`${t.site}/www`);
    await until(() => events("page_view").length == 1, "the page view on the first domain");
    const visitor = t.accepted[0]!.visitor;

    // Focus (a keyboard user tabbing to the link, or the press of a pointer) asks for a token ahead of the click.
    await page.focus("#shop");
    await page.waitForFunction(() => (window as any).tokenRead);
    await page.click("#shop");
    await page.waitForURL(`${t.site2}/shop?ref=www`);
    await until(() => events("page_view").length == 2, "the page view on the second domain");

    const [xd, redeem] = t.identity;
    expect(t.identity).toHaveLength(2);
    expect(xd).toMatchObject({ path: "/v1/identity/xd", origin: t.site, body: { site: "acme", visitor, to: t.site2 }, status: 200 });
    expect(redeem).toMatchObject({ path: "/v1/identity/continue", origin: t.site2, body: { site: "acme" }, status: 200 });
    const token = (redeem!.body as { token: string }).token;
    expect(xd!.answer).toEqual({ token, param: "mql_t", expiresAt: expect.any(Number), expiresIn: expect.any(Number) });
    // The landing page view is the same visitor's, and its URL does not carry the token.
    const landing = t.accepted.find((r) => r.page == `${t.site2}/shop?ref=www`)!;
    expect(landing.visitor).toBe(visitor);
    expect(landing.events[0]).toMatchObject({ type: "page_view", url: `${t.site2}/shop?ref=www` });
    expect(await page.evaluate(() => JSON.parse(localStorage.getItem("mql")!).v)).toBe(visitor);

    // The token is spent: presented again, the worker refuses it (without CORS headers, so Chromium
    // reports the failed fetch) and the page goes on as the visitor it is.
    await page.goto(`${t.site2}/shop?mql_t=${encodeURIComponent(token)}`);
    await until(() => t.identity.length == 3 && events("page_view").length == 3, "the second redemption and its page view");
    expect(t.identity[2]).toMatchObject({ path: "/v1/identity/continue", status: 409, code: "token_used" });
    expect(page.url()).toBe(`${t.site2}/shop`);
    expect(t.accepted.at(-1)!.visitor).toBe(visitor);
    expect([t.invalid, errors.filter((e) => !/blocked by CORS policy/.test(e))]).toEqual([[], []]);
  });
});
