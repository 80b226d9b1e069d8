/**
 * Cross-domain links: the snippet on one of a site's origins gets a short-lived, single-use token
 * for another; the snippet there redeems it and continues as the same visitor. Tokens are bound to
 * the origin they were made for, expire, cannot be forged and work once.
 */
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../worker/identity/tokens.js";
import { collectOk, nextIp, pageView, snapshot, uid } from "./support/client.js";
import { IDENTITY_SECRET, identitySite } from "./support/identity.js";

let site: string;
let www: string;
let shop: string;

beforeAll(async () => {
  ({ site, origin: www, other: shop } = await identitySite());
});

const post = (path: string, from: string, body: unknown) => SELF.fetch(`https://edge.test${path}`, {
  method: "POST", headers: { origin: from, "content-type": "text/plain", "cf-connecting-ip": nextIp() }, body: typeof body === "string" ? body : JSON.stringify(body),
});

async function handOff(visitor: string, from = www, to = shop): Promise<string> {
  const res = await post("/v1/identity/xd", from, { site, visitor, to });
  expect(res.status).toBe(200);
  const before = Date.now();
  const body = (await res.json()) as { token: string; param: string; expiresAt: number; expiresIn: number };
  expect(body.param).toBe("mql_t");
  expect(body.expiresAt - before).toBeLessThanOrEqual(120_000);
  // The time left, for a page whose clock is off: the same instant, counted from the answer.
  expect(body.expiresIn).toBeGreaterThan(119_000);
  expect(body.expiresIn).toBeLessThanOrEqual(120_000);
  expect(Math.abs(before + body.expiresIn - body.expiresAt)).toBeLessThan(1_000);
  return body.token;
}

const redeem = (token: string, at = shop, visitor = uid("v")) => post("/v1/identity/continue", at, { site, visitor, token });

describe("a link to another of the site's domains", () => {
  it("continues the visit as the same visitor: one score across both domains", async () => {
    const visitor = uid("v");
    await collectOk(visitor, [pageView("/pricing", {}, www)], { site, origin: www });
    const res = await redeem(await handOff(visitor));
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(shop);
    expect(await res.json()).toEqual({ visitor, continued: "xd" });
    const after = await collectOk(visitor, [pageView("/customers/acme", {}, shop)], { site, origin: shop });
    expect(after.visitor.score.total).toBe(1 + 10 + 1 + 5);
    expect((await snapshot(site, visitor)).events).toBe(2);
  });

  it("refuses the same token a second time", async () => {
    const token = await handOff(uid("v"));
    expect((await redeem(token)).status).toBe(200);
    const again = await redeem(token);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: "token_used", issues: [{ path: "$.token" }] } });
  });

  it.each([
    ["on the origin it came from (replayed elsewhere)", async () => ({ token: await handOff(uid("v")), at: www }), 403, "wrong_audience"],
    ["after it expired", async () => ({ token: await mintToken(IDENTITY_SECRET, "xd", site, { v: uid("v"), aud: shop }, { ttlS: 120, now: Date.now() - 121_000, once: true }), at: shop }), 410, "token_expired"],
    ["forged with another secret", async () => ({ token: await mintToken("someone-elses-secret-of-enough-length", "xd", site, { v: uid("v"), aud: shop }, { ttlS: 120, now: Date.now(), once: true }), at: shop }), 400, "invalid_token"],
    ["with its visitor changed", async () => {
      const [payload, mac] = (await handOff(uid("v"))).split(".");
      const claims = JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/")));
      const other = btoa(JSON.stringify({ ...claims, v: "victim_visitor_01" })).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      return { token: `${other}.${mac}`, at: shop };
    }, 400, "invalid_token"],
    ["made for another site", async () => ({ token: await mintToken(IDENTITY_SECRET, "xd", "another-site", { v: uid("v"), aud: shop }, { ttlS: 120, now: Date.now(), once: true }), at: shop }), 400, "invalid_token"],
    ["of another purpose (an email open)", async () => ({ token: await mintToken(IDENTITY_SECRET, "open", site, { c: "x", r: "k".repeat(43) }, { ttlS: 120, now: Date.now() }), at: shop }), 400, "invalid_token"],
  ])("refuses a token presented %s", async (_, make, status, code) => {
    const { token, at } = await make();
    const res = await redeem(token, at);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  it.each([
    ["a target that is not one of the site's origins", () => ({ from: www, body: { site, visitor: uid("v"), to: "https://evil.example" } }), 400, "$.to"],
    ["a target that is the page's own origin", () => ({ from: www, body: { site, visitor: uid("v"), to: www } }), 400, "$.to"],
    ["a bad visitor id", () => ({ from: www, body: { site, visitor: "x", to: shop } }), 400, "$.visitor"],
    ["an unknown key", () => ({ from: www, body: { site, visitor: uid("v"), to: shop, extra: 1 } }), 400, "$.extra"],
  ])("issues no token for %s", async (_, make, status, path) => {
    const { from, body } = make();
    const res = await post("/v1/identity/xd", from, body);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { issues: { path: string }[] } }).error.issues[0]!.path).toBe(path);
  });

  it.each([
    ["a body that is not JSON", () => "{", 400, "invalid_json"],
    ["no token", () => ({ site, visitor: uid("v") }), 400, "invalid_body"],
    ["an unknown site", () => ({ site: "no-such-site", visitor: uid("v"), token: "a.b" }), 404, "unknown_site"],
    ["a token that is not one", () => ({ site, visitor: uid("v"), token: "garbage" }), 400, "invalid_token"],
  ])("redeems nothing for %s", async (_, make, status, code) => {
    const res = await post("/v1/identity/continue", shop, make());
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  it("issues no token to a page of another origin", async () => {
    const res = await post("/v1/identity/xd", "https://evil.example", { site, visitor: uid("v"), to: shop });
    expect(res.status).toBe(403);
  });
});
