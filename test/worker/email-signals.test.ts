/**
 * Email opens and clicks: tokens minted by the admin API for a campaign's recipients; an open is a
 * 1x1 GIF that scores the recipient's lead; a click redirects only to a link the token signed, and
 * a landing page on the site gets a single-use token that identifies the browser as the recipient.
 * Image proxies and link scanners get the same answers and never score.
 */
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../worker/identity/tokens.js";
import { adminFetch, BROWSER_UA, collectOk, nextIp, pageView, snapshot, uid } from "./support/client.js";
import { byRule, IDENTITY_SECRET, identitySite, leadByEmail } from "./support/identity.js";

const PERSON = { "user-agent": BROWSER_UA, "accept-language": "en-GB,en;q=0.9" };

interface Minted {
  recipients: { email: string; lead: string; open: string; links: { url: string; href: string }[] }[];
}

let site: string;
let origin: string;

beforeAll(async () => {
  ({ site, origin } = await identitySite());
});

async function mint(body: Record<string, unknown>): Promise<Response> {
  return adminFetch(`/v1/admin/sites/${site}/email-tokens`, { method: "POST", body: JSON.stringify(body) });
}

/** Open and click links for one new recipient: the site's pricing page and a third-party calendar. */
async function recipient(): Promise<{ email: string; open: string; pricing: string; calendar: string }> {
  const email = `${uid("r").toLowerCase()}@acme.example`;
  const res = await mint({ campaign: "launch", recipients: [email], links: [`${origin}/pricing`, "https://calendar.example/book?with=sales"] });
  expect(res.status).toBe(201);
  const { recipients: [r] } = (await res.json()) as Minted;
  return { email, open: r!.open, pricing: r!.links[0]!.href, calendar: r!.links[1]!.href };
}

const get = (url: string, headers: Record<string, string> = PERSON, method = "GET") =>
  SELF.fetch(url, { method, headers: { "cf-connecting-ip": nextIp(), ...headers }, redirect: "manual" });

describe("email opens", () => {
  it("answer a 1x1 GIF and score the recipient's lead once per minute, identifying it", async () => {
    const r = await recipient();
    const res = await get(r.open);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/gif");
    expect(new Uint8Array(await res.arrayBuffer()).slice(0, 6)).toEqual(new TextEncoder().encode("GIF89a"));
    await get(r.open);
    const lead = (await leadByEmail(site, r.email))!;
    expect(lead.events).toBe(1);
    expect(byRule(lead.explanation.rules)).toEqual({ "email-open": [1, 2] });
    expect(lead.identity.email).toBe(r.email);
    expect(lead.stage).toBe("lead");
  });

  it.each([
    ["Gmail's image proxy", { "user-agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)" }],
    ["Yahoo's image proxy", { "user-agent": "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html" }],
    ["Apple Mail Privacy Protection", { "user-agent": "Mozilla/5.0" }],
    ["Microsoft's link discovery", { "user-agent": "Microsoft Office Existence Discovery" }],
    ["a mail security gateway", { "user-agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)" }],
    ["a crawler", { "user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)" }],
    ["no user agent", {}],
  ])("from %s answer the image and score nothing", async (_, headers) => {
    const r = await recipient();
    const res = await get(r.open, headers);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/gif");
    expect(res.headers.get("x-mql-scanner")).toBeTruthy();
    const lead = (await leadByEmail(site, r.email))!;
    expect(lead.events).toBe(0);
    expect(lead.scores.total).toBe(0);
  });

  it.each([
    ["a forged token", async () => `${(await mintToken("not-the-worker-secret-but-long-enough!", "open", site, { c: "x", r: "k".repeat(43) }, { ttlS: 3600, now: Date.now() }))}`, 400, "invalid_token"],
    ["an expired token", async () => mintToken(IDENTITY_SECRET, "open", site, { c: "x", r: "k".repeat(43) }, { ttlS: 60, now: Date.now() - 120_000 }), 410, "token_expired"],
    ["a click token", async () => mintToken(IDENTITY_SECRET, "click", site, { c: "x", r: "k".repeat(43), u: [] }, { ttlS: 60, now: Date.now() }), 400, "invalid_token"],
    ["garbage", async () => "not-a-token", 400, "invalid_token"],
  ])("refuse %s", async (_, make, status, code) => {
    const res = await get(`https://edge.test/v1/e/open/${await make()}.gif`);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
  });
});

describe("email clicks", () => {
  it("redirect to the signed landing page with a claim that identifies the browser there, once", async () => {
    const r = await recipient();
    const res = await get(r.pricing);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(`${location.origin}${location.pathname}`).toBe(`${origin}/pricing`);
    const claim = location.searchParams.get("mql_t")!;
    expect(claim).toMatch(/^[\w-]+\.[\w-]+$/);
    expect(byRule((await leadByEmail(site, r.email))!.explanation.rules)).toEqual({ "email-click": [1, 5] });

    const visitor = uid("v");
    const redeem = (token: string, from = origin) => SELF.fetch("https://edge.test/v1/identity/continue", {
      method: "POST", headers: { origin: from, "content-type": "text/plain", "cf-connecting-ip": nextIp() }, body: JSON.stringify({ site, visitor, token }),
    });
    const first = await redeem(claim);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ visitor, continued: "email", stage: "lead" });
    const lead = (await leadByEmail(site, r.email))!;
    expect(lead.visitors).toEqual([visitor]);
    // The landing browser records the click too: its visitor is scored for it, the lead it joined counts it once.
    expect(byRule(lead.explanation.rules)).toEqual({ "email-click": [1, 5], "corporate-email": [1, 15] });
    const landed = await snapshot(site, visitor);
    expect(byRule(landed.explanation.rules)).toEqual({ "email-click": [1, 5], "corporate-email": [1, 15] });
    expect(landed.profile.firstTouch).toMatchObject({ path: "/pricing", medium: "email", campaign: "launch" });
    expect((await redeem(claim)).status).toBe(409);
  });

  it("on a site that does not stitch, credit the click to the browser that lands, with its campaign as first touch", async () => {
    const { site: own, origin: o } = await identitySite({}, { stitch: false });
    const email = `${uid("r").toLowerCase()}@acme.example`;
    const minted = await adminFetch(`/v1/admin/sites/${own}/email-tokens`, { method: "POST", body: JSON.stringify({ campaign: "spring", recipients: [email], links: [`${o}/pricing`] }) });
    const { recipients: [r] } = (await minted.json()) as Minted;
    const claim = new URL((await get(r!.links[0]!.href)).headers.get("location")!).searchParams.get("mql_t")!;
    const visitor = uid("v");
    const res = await SELF.fetch("https://edge.test/v1/identity/continue", {
      method: "POST", headers: { origin: o, "content-type": "text/plain", "cf-connecting-ip": nextIp() }, body: JSON.stringify({ site: own, visitor, token: claim }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ visitor, continued: "email", score: { total: 20 } });
    // The browser's page view follows: the visit's first touch stays the email's.
    await collectOk(visitor, [pageView("/pricing", {}, o)], { site: own, origin: o });
    const landed = await snapshot(own, visitor);
    expect(byRule(landed.explanation.rules)).toMatchObject({ "email-click": [1, 5], "corporate-email": [1, 15], pricing: [1, 10] });
    expect(landed.identity.email).toBe(email);
    expect(landed.profile.firstTouch).toMatchObject({ path: "/pricing", medium: "email", campaign: "spring" });
  });

  it("redirect to a signed third-party link without any token", async () => {
    const r = await recipient();
    const res = await get(r.calendar);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://calendar.example/book?with=sales");
  });

  it.each([
    ["another site", "https://evil.example/"],
    ["a signed link with a parameter added", "PRICING?next=https://evil.example/"],
    ["a look-alike host", "https://www.ORIGINHOST.evil.example/pricing"],
    ["a protocol-relative URL", "//evil.example/pricing"],
    ["a javascript: URL", "javascript:alert(1)"],
    ["a data: URL", "data:text/html,<script>alert(1)</script>"],
  ])("never redirect to %s", async (_, target) => {
    const r = await recipient();
    const base = r.pricing.slice(0, r.pricing.indexOf("?u="));
    const u = target.replace("PRICING", `${origin}/pricing`).replace("ORIGINHOST", new URL(origin).host);
    const res = await get(`${base}?u=${encodeURIComponent(u)}`);
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    const body = (await res.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(body.error.issues[0]!.path).toBe("u");
  });

  it("refuse a click without u, naming the parameter", async () => {
    const r = await recipient();
    const res = await get(r.pricing.slice(0, r.pricing.indexOf("?u=")));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_query", issues: [{ path: "u" }] } });
  });

  it.each([
    ["a link scanner", { "user-agent": "Mozilla/5.0 (compatible; Proofpoint URL Defense)", "accept-language": "en" }],
    ["an HTTP client without Accept-Language", { "user-agent": BROWSER_UA }],
  ])("from %s redirect without a claim and score nothing", async (_, headers) => {
    const r = await recipient();
    const res = await get(r.pricing, headers);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${origin}/pricing`);
    expect((await leadByEmail(site, r.email))!.events).toBe(0);
  });
});

describe("a scanner that drives a real browser", () => {
  it("is recognised by following several links of one mail within seconds: only the first click counts", async () => {
    const r = await recipient();
    const first = await get(r.pricing);
    expect(new URL(first.headers.get("location")!).searchParams.get("mql_t")).toBeTruthy();
    const second = await get(r.calendar);
    expect(second.status).toBe(302);
    expect(second.headers.get("location")).toBe("https://calendar.example/book?with=sales");
    expect(second.headers.get("x-mql-scanner")).toContain("link scanner");
    expect(byRule((await leadByEmail(site, r.email))!.explanation.rules)).toEqual({ "email-click": [1, 5] });
  });

  it("is not suspected when a person clicks the same link twice", async () => {
    const r = await recipient();
    await get(r.pricing);
    const again = await get(r.pricing);
    expect(again.headers.get("x-mql-scanner")).toBeNull();
    expect(new URL(again.headers.get("location")!).searchParams.get("mql_t")).toBeTruthy();
  });
});

describe("minting email tokens", () => {
  it.each([
    ["no campaign", { recipients: ["a@acme.example"] }, "$.campaign"],
    ["a bad address", { campaign: "c", recipients: ["not an address"] }, "$.recipients[0]"],
    ["no recipients", { campaign: "c", recipients: [] }, "$.recipients"],
    ["a link that is not http(s)", { campaign: "c", recipients: ["a@acme.example"], links: ["javascript:alert(1)"] }, "$.links[0]"],
    ["a life past a year", { campaign: "c", recipients: ["a@acme.example"], days: 400 }, "$.days"],
  ])("refuses %s, naming the field", async (_, body, path) => {
    const res = await mint(body);
    expect(res.status).toBe(400);
    const error = ((await res.json()) as { error: { issues: { path: string }[] } }).error;
    expect(error.issues.map((i) => i.path)).toContain(path);
  });

  it("needs the admin token", async () => {
    const res = await adminFetch(`/v1/admin/sites/${site}/email-tokens`, { method: "POST", body: "{}" }, null);
    expect(res.status).toBe(401);
  });
});
