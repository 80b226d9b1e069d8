/**
 * What `POST /v1/collect` checks before any state is touched: the site, the page's origin (and the
 * CORS answer), rate limits, privacy signals and bots.
 */
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { BODY_MAX_BYTES } from "../../worker/wire.js";
import {
  adminFetch, BROWSER_UA, collect, collectOk, getVisitor, nextIp, ORIGIN, pageView, seedRules, siteDoc, uid, waitForFreshRateWindow,
  type CollectResponse, type ErrorResponse,
} from "./support/client.js";

const GPC_OFF = { site: "gates-gpc-off", origin: "https://gpc-off.example" };
const DNT_ON = { site: "gates-dnt-on", origin: "https://dnt-on.example" };
/** Rules may spell an origin in capitals; browsers send it in lower case. */
const UPPER = { site: "gates-upper", rules: "https://WWW.Upper-Case.example", page: "https://www.upper-case.example" };

beforeAll(async () => {
  await seedRules();
  await seedRules(siteDoc(GPC_OFF.site, GPC_OFF.origin, {
    site: { id: GPC_OFF.site, origins: [GPC_OFF.origin], privacy: { honorGpc: false, honorDnt: false } },
  }) as { site: { id: string } });
  await seedRules(siteDoc(UPPER.site, UPPER.rules) as { site: { id: string } });
  await seedRules(siteDoc(DNT_ON.site, DNT_ON.origin, {
    site: { id: DNT_ON.site, origins: [DNT_ON.origin], privacy: { honorGpc: true, honorDnt: true } },
  }) as { site: { id: string } });
});

const ZERO = { stage: "visitor", score: { fit: 0, engagement: 0, total: 0 } };

describe("origins and CORS", () => {
  it.each([
    ["another site", "https://evil.example"],
    ["the demo host over https", "https://127.0.0.1:8787"],
    ["the demo host on another port", "http://127.0.0.1:8788"],
    ["an origin with a trailing slash", `${ORIGIN}/`],
    ["a look-alike suffix", `${ORIGIN}.evil.example`],
    ["the opaque origin null", "null"],
  ])("refuses %s with 403 and no CORS header, storing nothing", async (_, origin) => {
    const visitor = uid("v");
    const res = await collect(visitor, [pageView("/pricing")], { origin });
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const body = (await res.json()) as ErrorResponse;
    expect(body.error.code).toBe("origin_not_allowed");
    expect(body.error.message).toContain(origin);
    expect((await getVisitor("demo", visitor)).status).toBe(404);
  });

  it("refuses a request without an Origin header with 403", async () => {
    const visitor = uid("v");
    const res = await collect(visitor, [pageView("/")], { headers: { origin: null } });
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(((await res.json()) as ErrorResponse).error.message).toMatch(/missing Origin/);
    expect((await getVisitor("demo", visitor)).status).toBe(404);
  });

  it.each([ORIGIN, "http://localhost:8787", "HTTP://LOCALHOST:8787"])("accepts the allowed origin %s and echoes it in the CORS header", async (origin) => {
    const res = await collect(uid("v"), [pageView("/")], { origin });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(origin);
    expect(res.headers.get("vary")).toMatch(/origin/i);
  });

  it("accepts the page's origin when the site's rules list it in capitals", async () => {
    const res = await collect(uid("v"), [pageView("/", {}, UPPER.page)], { site: UPPER.site, origin: UPPER.page });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(UPPER.page);
  });

  it("does not accept a site's events from another site's origin", async () => {
    const res = await collect(uid("v"), [pageView("/", {}, GPC_OFF.origin)], { origin: GPC_OFF.origin });
    expect(res.status).toBe(403);
  });

  it("answers an unknown site with 404 naming $.site", async () => {
    const visitor = uid("v");
    const res = await collect(visitor, [pageView("/")], { site: "no-such-site" });
    expect(res.status).toBe(404);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const body = (await res.json()) as ErrorResponse;
    expect(body.error.code).toBe("unknown_site");
    expect(body.error.issues?.map((i) => i.path)).toEqual(["$.site"]);
  });

  it("answers an oversized body sent without a Content-Length (streamed) with 413", async () => {
    const chunk = new TextEncoder().encode(" ".repeat(16 * 1024));
    const { readable: stream, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    // The worker stops reading past the limit and answers at once: the rest of the upload is cut off
    // (workerd logs the broken pipe as "Network connection lost"; that line is expected here).
    const writing = (async () => {
      for (let sent = 0; sent <= BODY_MAX_BYTES; sent += chunk.length) await writer.write(chunk);
      await writer.close();
    })().catch(() => undefined);
    const res = await SELF.fetch("https://edge.test/v1/collect", {
      method: "POST",
      headers: { "content-type": "text/plain", origin: ORIGIN, "user-agent": BROWSER_UA, "cf-connecting-ip": nextIp() },
      body: stream,
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorResponse).error.code).toBe("body_too_large");
    await writer.abort().catch(() => undefined);
    await writing;
  });

  it("answers an unknown route with a JSON 404", async () => {
    const res = await SELF.fetch("https://edge.test/v1/nope", { method: "POST" });
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorResponse).error.code).toBe("not_found");
  });

  it.each([
    ["GET", "/v1/collect", "OPTIONS, POST"],
    ["DELETE", "/v1/admin/sites/demo/rules", "GET, HEAD, PUT"],
    ["PATCH", "/v1/admin/sites/demo/targets/crm", "DELETE, PUT"],
  ])("answers %s %s with a JSON 405 naming the methods it takes", async (method, path, allow) => {
    const res = await adminFetch(path, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe(allow);
    expect(((await res.json()) as ErrorResponse).error.code).toBe("method_not_allowed");
  });
});

describe("rate limits", () => {
  it("answers 429 with Retry-After past 50 requests per visitor in a window, whatever the address", async () => {
    await waitForFreshRateWindow();
    const visitor = uid("v");
    const results = await Promise.all(Array.from({ length: 51 }, () => collect(visitor, [pageView("/")])));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(50);
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    const limited = results.find((r) => r.status === 429)!;
    expect(limited.headers.get("retry-after")).toBe("10");
    // The snippet reads Retry-After from a cross-origin answer: CORS must expose it.
    expect(limited.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(limited.headers.get("access-control-expose-headers")?.toLowerCase().split(/\s*,\s*/)).toContain("retry-after");
    const body = (await limited.json()) as ErrorResponse;
    expect(body.error.code).toBe("rate_limited");
    expect(body.error.message).toMatch(/for this visitor/);
    // The limited batch was not scored: 50 page views, not 51.
    const snap = await getVisitor("demo", visitor);
    expect((snap.body as { events: number }).events).toBe(50);
  }, 30_000);

  it("answers 429 with Retry-After past 300 requests per address (cf-connecting-ip) in a window", async () => {
    let results: Response[] = [];
    for (let attempt = 1; ; attempt++) {
      // At the start of a 10 s window: 301 requests on a busy machine may take several seconds.
      await waitForFreshRateWindow(9_000);
      const start = Date.now();
      // An address from TEST-NET-1, which no other test uses (nextIp hands out 10.x.x.x); a new one per try.
      const ip = `192.0.2.${Math.floor(Math.random() * 254) + 1}`;
      // Bots are counted against the limits too, and cost nothing to acknowledge.
      const headers = { "cf-connecting-ip": ip, "user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)" };
      results = await Promise.all(Array.from({ length: 301 }, () => collect(uid("v"), [pageView("/")], { headers })));
      // Requests spread over two windows prove nothing about one window's limit: try again.
      if (Math.floor(start / 10_000) === Math.floor(Date.now() / 10_000) || attempt === 3) break;
    }
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(300);
    const limited = results.find((r) => r.status === 429)!;
    expect(limited.headers.get("retry-after")).toBe("10");
    expect(((await limited.json()) as ErrorResponse).error.message).toMatch(/from this address/);
    // Another address is not limited.
    expect((await collect(uid("v"), [pageView("/")], { headers: { "cf-connecting-ip": nextIp() } })).status).toBe(200);
  }, 90_000);
});

describe("bots", () => {
  const bots: [string, string | null][] = [
    ["Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"],
    ["Googlebot smartphone", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"],
    ["bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"],
    ["HeadlessChrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"],
    ["curl", "curl/8.5.0"],
    ["wget", "Wget/1.21.4"],
    ["python-requests", "python-requests/2.32.3"],
    ["Go's HTTP client", "Go-http-client/2.0"],
    ["AhrefsBot", "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"],
    ["facebookexternalhit", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"],
    ["Slackbot", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"],
    ["GPTBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"],
    ["an empty user agent", ""],
    ["no user agent", null],
  ];

  it.each(bots)("acknowledges %s without scoring it", async (_, ua) => {
    const visitor = uid("v");
    const events = [pageView("/pricing"), pageView("/customers/acme")];
    const res = await collect(visitor, events, { headers: { "user-agent": ua } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const body = (await res.json()) as CollectResponse;
    expect(body.ack).toEqual(events.map((e) => e.id));
    expect(body.visitor).toEqual(ZERO);
    expect(body.actions).toEqual([]);
    expect((await getVisitor("demo", visitor)).status).toBe(404);
  });

  it("scores the same batch from a browser", async () => {
    const body = await collectOk(uid("v"), [pageView("/pricing"), pageView("/customers/acme")]);
    expect(body.visitor.score.total).toBe(17);
  });
});

describe("privacy signals", () => {
  it("honours Sec-GPC on a site that honours it: acknowledged, opted out, nothing stored", async () => {
    const visitor = uid("v");
    const events = [pageView("/pricing"), pageView("/")];
    const res = await collect(visitor, events, { headers: { "sec-gpc": "1" } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as CollectResponse;
    expect(body).toEqual({ ack: events.map((e) => e.id), visitor: ZERO, actions: [], optedOut: true });
    expect((await getVisitor("demo", visitor)).status).toBe(404);
  });

  it.each([
    ["Sec-GPC: 0 on a site that honours GPC", "demo", ORIGIN, { "sec-gpc": "0" }],
    ["Sec-GPC: 1 on a site that does not honour GPC", GPC_OFF.site, GPC_OFF.origin, { "sec-gpc": "1" }],
    ["DNT: 1 on a site that does not honour DNT", "demo", ORIGIN, { dnt: "1" }],
    ["DNT: 0 on a site that honours DNT", DNT_ON.site, DNT_ON.origin, { dnt: "0" }],
  ])("scores with %s", async (_, site, origin, headers) => {
    const visitor = uid("v");
    const body = await collectOk(visitor, [pageView("/", {}, origin)], { site, origin, headers });
    expect(body.optedOut).toBeUndefined();
    expect(body.visitor.score.total).toBe(1);
    expect((await getVisitor(site, visitor)).status).toBe(200);
  });

  it("honours DNT: 1 on a site that honours it", async () => {
    const visitor = uid("v");
    const ev = pageView("/", {}, DNT_ON.origin);
    const body = await collectOk(visitor, [ev], { site: DNT_ON.site, origin: DNT_ON.origin, headers: { dnt: "1" } });
    expect(body).toEqual({ ack: [ev.id], visitor: ZERO, actions: [], optedOut: true });
    expect((await getVisitor(DNT_ON.site, visitor)).status).toBe(404);
  });

  it("does not forget a visitor already scored when it later sends GPC, and stores nothing more", async () => {
    const visitor = uid("v");
    await collectOk(visitor, [pageView("/")]);
    const body = await collectOk(visitor, [pageView("/pricing")], { headers: { "sec-gpc": "1" } });
    expect(body.optedOut).toBe(true);
    const snap = await getVisitor("demo", visitor);
    expect((snap.body as { events: number }).events).toBe(1);
  });
});
