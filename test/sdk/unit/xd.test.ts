/**
 * Cross-domain continuation (happy-dom, fetch mocked with the worker's answers): a `mql_t` token in
 * the URL is taken off and redeemed at /v1/identity/continue; links to the site's other domains get
 * a token from /v1/identity/xd on pointerdown or focus, added on click while it has over 10 s left.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { XD_MIN_LEFT_MS } from "../../../sdk/constants";
import type { Rec } from "../../../sdk/types";

const ENDPOINT = "https://w.example";
/** A new page: fresh instances of the snippet's modules, on the shared localStorage. */
async function tab(options: { domains?: string } = {}) {
  vi.resetModules();
  const util = await import("../../../sdk/util");
  Object.assign(util.cfg, { site: "acme", endpoint: ENDPOINT, ...options });
  const session = await import("../../../sdk/session");
  session.allow(1);
  return { ...(await import("../../../sdk/xd")), ...(await import("../../../sdk/queue")), ...session };
}
/** Changes the URL without the snippet's history hook. */
const go = (url: string) => History.prototype.replaceState.call(history, { app: 1 }, "", url);
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
/** The requests fetch was called with: path and parsed body. */
const calls = (fetch: { mock: { calls: unknown[][] } }) =>
  fetch.mock.calls.map(([url, init]) => ({ path: new URL(String(url)).pathname, body: JSON.parse((init as RequestInit).body as string), init }));
const settle = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => localStorage.clear());
afterEach(() => {
  vi.restoreAllMocks();
  go("/");
});

describe("a page opened with mql_t", () => {
  it("takes the token off the URL, keeping the rest of it and the history state", async () => {
    go("/landing?a=1&mql_t=tok-123&b=2#pricing");
    const x = await tab();
    x.takeToken();
    expect(location.href).toBe(`${location.origin}/landing?a=1&b=2#pricing`);
    expect(history.state).toEqual({ app: 1 });
  });

  it("redeems it once as text/plain, then continues as the visitor the worker names, queued events included", async () => {
    go("/landing?mql_t=tok-123");
    const x = await tab();
    const before = x.state().v;
    const queued: Rec = { e: { id: "evt-0000000001", type: "page_view", ts: 1 }, v: before };
    await x.add(queued);
    x.takeToken();
    const fetch = vi.spyOn(globalThis, "fetch").mockResolvedValue(json(200, { visitor: "visitor_from_www", continued: "xd" }));
    await x.redeem();
    expect(calls(fetch)).toMatchObject([
      { path: "/v1/identity/continue", body: { site: "acme", visitor: before, token: "tok-123" }, init: { method: "POST", keepalive: true } },
    ]);
    // A string body and no content-type: text/plain, a CORS simple request.
    expect(calls(fetch)[0]!.init.headers).toBeUndefined();
    expect(x.state().v).toBe("visitor_from_www");
    expect(JSON.parse(localStorage.getItem("mql")!).v).toBe("visitor_from_www");
    expect(x.mem[queued.e.id]!.v).toBe("visitor_from_www");
    const [stored] = await x.claim();
    expect(stored!.v).toBe("visitor_from_www");
    // Single use: nothing to redeem a second time.
    expect(x.redeem()).toBeFalsy();
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it.each([
    ["the token was used already (409)", () => Promise.resolve(json(409, { error: { code: "token_used" } }))],
    ["it expired (410)", () => Promise.resolve(json(410, { error: { code: "token_expired" } }))],
    ["the network fails (or CORS refuses an error)", () => Promise.reject(new TypeError("Failed to fetch"))],
    ["the answer is not JSON", () => Promise.resolve(new Response("<html>", { status: 502 }))],
  ])("keeps its own visitor when %s", async (_, answer) => {
    go("/landing?mql_t=tok-123");
    const x = await tab();
    const before = x.state().v;
    x.takeToken();
    vi.spyOn(globalThis, "fetch").mockImplementation(answer);
    await expect(x.redeem()).resolves.toBeUndefined();
    expect(x.state().v).toBe(before);
  });

  it.each([
    ["with", "&mql_t=tok-123", ["page_view"]],
    ["without", "", ["page_view", "email_click"]],
  ])("%s a token, records the email click itself or leaves it to the worker, which recorded it when it redirected", async (_, token, types) => {
    go(`/landing?utm_medium=email&utm_campaign=launch${token}`);
    const x = await tab();
    x.takeToken();
    const { capture } = await import("../../../sdk/capture");
    const seen: string[] = [];
    capture((type) => seen.push(type))();
    expect(seen).toEqual(types);
  });

  it("has nothing to redeem without a token", async () => {
    go("/landing?utm_source=x");
    const x = await tab();
    x.takeToken();
    const fetch = vi.spyOn(globalThis, "fetch");
    expect(x.redeem()).toBeFalsy();
    expect(location.search).toBe("?utm_source=x");
    expect(fetch).not.toHaveBeenCalled();
  });
});

describe("links to the site's other domains", () => {
  /** Which page's listeners act: each test's page; earlier pages' listeners (on the same window) stay quiet. */
  let current = 0;
  afterEach(() => {
    current++;
    document.body.innerHTML = "";
  });
  async function page(domains = "shop.example, docs.example") {
    const me = current;
    const x = await tab({ domains });
    x.xd(() => me == current);
    document.body.innerHTML = `
      <a id="shop" href="https://shop.example/cart?x=1"><span>Cart</span></a>
      <a id="docs" href="https://docs.example/">Docs</a>
      <a id="other" href="https://partner.example/">Partner</a>
      <a id="local" href="/pricing">Pricing</a>`;
    return x;
  }
  // The page stays: happy-dom would follow the links clicked (the snippet listens before this, in the capture phase).
  beforeEach(() => document.addEventListener("click", stay));
  afterEach(() => document.removeEventListener("click", stay));
  const stay = (e: Event) => e.preventDefault();
  const link = (id: string) => document.getElementById(id) as HTMLAnchorElement;
  /** Presses the link (which asks for a token), lets the answer arrive, then clicks it. */
  const follow = async (id: string) => {
    fire(link(id), "pointerdown");
    await settle();
    fire(link(id), "click");
  };
  const fire = (el: Element, type: string) => el.dispatchEvent(type == "focus" ? new FocusEvent("focus") : new MouseEvent(type, { bubbles: true, cancelable: true }));
  /** A token answer with `left` ms to go, from a worker whose clock is `skew` ms ahead of this device's. */
  const token = (t: string, left = 120_000, skew = 0) => json(200, { token: t, param: "mql_t", expiresAt: Date.now() + skew + left, expiresIn: left });

  it("fetches a token on pointerdown (once while it is on its way), and adds it to the link on click", async () => {
    const x = await page();
    const fetch = vi.spyOn(globalThis, "fetch").mockResolvedValue(token("T1"));
    fire(link("shop").firstElementChild!, "pointerdown");
    fire(link("shop"), "focus");
    expect(calls(fetch)).toEqual([
      expect.objectContaining({ path: "/v1/identity/xd", body: { site: "acme", visitor: x.state().v, to: "https://shop.example" } }),
    ]);
    await settle();
    fire(link("shop"), "click");
    expect(link("shop").href).toBe("https://shop.example/cart?x=1&mql_t=T1");
  });

  it("fetches on focus too (keyboard), caches the token while it is valid, and spends it on a click", async () => {
    await page();
    const fetch = vi.spyOn(globalThis, "fetch").mockResolvedValueOnce(token("T1")).mockResolvedValueOnce(token("T2"));
    fire(link("docs"), "focus");
    await settle();
    fire(link("docs"), "pointerdown");
    expect(fetch).toHaveBeenCalledTimes(1);
    fire(link("docs"), "auxclick");
    expect(new URL(link("docs").href).searchParams.get("mql_t")).toBe("T1");
    // T1 is single use: the next follow of the link gets T2.
    fire(link("docs"), "pointerdown");
    await settle();
    fire(link("docs"), "click");
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(link("docs").href).toBe("https://docs.example/?mql_t=T2");
  });

  it(`adds no token with ${XD_MIN_LEFT_MS / 1000} s or less left, and fetches a fresh one on the next pointerdown`, async () => {
    await page();
    const fetch = vi.spyOn(globalThis, "fetch").mockResolvedValueOnce(token("T1", XD_MIN_LEFT_MS)).mockResolvedValueOnce(token("T2"));
    await follow("shop");
    expect(link("shop").href).toBe("https://shop.example/cart?x=1");
    await follow("shop");
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(link("shop").href).toBe("https://shop.example/cart?x=1&mql_t=T2");
  });

  it.each([
    ["ahead", 600_000],
    ["behind", -600_000],
  ])("counts a token's time from the answer, so a device clock 10 minutes %s still decorates", async (_, skew) => {
    await page();
    vi.spyOn(globalThis, "fetch").mockResolvedValue(token("T1", 120_000, skew));
    await follow("shop");
    expect(link("shop").href).toBe("https://shop.example/cart?x=1&mql_t=T1");
  });

  it("times a token out by the device's clock: past its time less the margin, it is not used", async () => {
    await page();
    const fetch = vi.spyOn(globalThis, "fetch").mockResolvedValueOnce(token("T1", 60_000)).mockResolvedValueOnce(token("T2"));
    fire(link("shop"), "pointerdown");
    await settle();
    const later = Date.now() + 60_000 - XD_MIN_LEFT_MS;
    vi.spyOn(Date, "now").mockReturnValue(later);
    fire(link("shop"), "click");
    expect(link("shop").href).toBe("https://shop.example/cart?x=1");
    await follow("shop");
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(link("shop").href).toBe("https://shop.example/cart?x=1&mql_t=T2");
  });

  it("puts the link's own href back once the click has been followed: a spent token never stays in it", async () => {
    await page();
    vi.spyOn(globalThis, "fetch").mockResolvedValue(token("T1"));
    await follow("shop");
    expect(link("shop").href).toBe("https://shop.example/cart?x=1&mql_t=T1");
    await settle();
    expect(link("shop").href).toBe("https://shop.example/cart?x=1");
  });

  it.each([
    ["the worker refuses", () => Promise.resolve(json(400, { error: { code: "invalid_body" } }))],
    ["the network fails", () => Promise.reject(new TypeError("Failed to fetch"))],
  ])("leaves the link alone when %s, and asks again next time", async (_, answer) => {
    await page();
    const fetch = vi.spyOn(globalThis, "fetch").mockImplementation(answer);
    await follow("shop");
    expect(link("shop").href).toBe("https://shop.example/cart?x=1");
    fire(link("shop"), "pointerdown");
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it("leaves other links alone: other domains, this page's own host", async () => {
    await page();
    const fetch = vi.spyOn(globalThis, "fetch").mockResolvedValue(token("T1"));
    for (const id of ["other", "local"]) for (const type of ["pointerdown", "focus", "click"]) fire(link(id), type);
    await settle();
    expect(fetch).not.toHaveBeenCalled();
    expect([link("other").href, link("local").href]).toEqual(["https://partner.example/", `${location.origin}/pricing`]);
  });

  it("does nothing while sending is off (no consent, or opted out)", async () => {
    await page();
    current++;
    const fetch = vi.spyOn(globalThis, "fetch").mockResolvedValue(token("T1"));
    fire(link("shop"), "pointerdown");
    fire(link("shop"), "click");
    expect(fetch).not.toHaveBeenCalled();
    expect(link("shop").href).toBe("https://shop.example/cart?x=1");
  });

  it("does nothing without data-domains", async () => {
    const me = current;
    const x = await tab();
    x.xd(() => me == current);
    document.body.innerHTML = '<a id="shop" href="https://shop.example/">Shop</a>';
    const fetch = vi.spyOn(globalThis, "fetch").mockResolvedValue(token("T1"));
    fire(link("shop"), "pointerdown");
    expect(fetch).not.toHaveBeenCalled();
  });
});
