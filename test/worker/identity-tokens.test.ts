/** Signed tokens: minted and verified with keys derived per site and purpose; anything altered, foreign or late is refused. */
import { describe, expect, it } from "vitest";
import { leadKeyOf, normaliseEmail } from "../../worker/identity/keys.js";
import { mintToken, verifyToken } from "../../worker/identity/tokens.js";

const SECRET = "a-secret-of-at-least-thirty-two-characters";
const NOW = Date.UTC(2026, 11, 4, 8, 0, 0);
const open = (opts: { site?: string; secret?: string; ttlS?: number; now?: number } = {}) =>
  mintToken(opts.secret ?? SECRET, "open", opts.site ?? "acme", { c: "launch", r: "k".repeat(43) }, { ttlS: opts.ttlS ?? 3600, now: opts.now ?? NOW });

/** Flips one character of a token part (0: payload, 1: MAC). */
function tamper(token: string, part: 0 | 1): string {
  const parts = token.split(".");
  const p = parts[part]!;
  const i = Math.floor(p.length / 2);
  parts[part] = p.slice(0, i) + (p[i] === "A" ? "B" : "A") + p.slice(i + 1);
  return parts.join(".");
}

describe("tokens", () => {
  it("verify with the claims they were minted with", async () => {
    const result = await verifyToken(SECRET, await open(), "open", { now: NOW + 1000, site: "acme" });
    expect(result).toEqual({ ok: true, claims: { p: "open", s: "acme", iat: NOW / 1000, exp: NOW / 1000 + 3600, c: "launch", r: "k".repeat(43) } });
  });

  const refusals: [string, () => Promise<string>, "open" | "click", string][] = [
    ["a payload given a later expiry", async () => {
      const [payload, mac] = (await open()).split(".");
      const claims = JSON.parse(atob(payload!.replace(/-/g, "+").replace(/_/g, "/")));
      const longer = btoa(JSON.stringify({ ...claims, exp: claims.exp + 86_400 })).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      return `${longer}.${mac}`;
    }, "open", "bad_signature"],
    ["a payload with a character changed", async () => tamper(await open(), 0), "open", "malformed"],
    ["a changed signature", async () => tamper(await open(), 1), "open", "bad_signature"],
    ["a token of another secret (forged)", async () => open({ secret: "another-secret-that-is-long-enough-too" }), "open", "bad_signature"],
    ["a payload re-signed for another site", async () => {
      const [payload] = (await open()).split(".");
      const [, mac] = (await open({ site: "other" })).split(".");
      return `${payload}.${mac}`;
    }, "open", "bad_signature"],
    ["a token of another purpose", async () => open(), "click", "bad_signature"],
    ["a token of another site", async () => open({ site: "other" }), "open", "wrong_site"],
    ["an expired token", async () => open({ ttlS: 60, now: NOW - 61_000 }), "open", "expired"],
    ["a token from the future", async () => open({ now: NOW + 3_600_000 }), "open", "not_yet_valid"],
    ["no dot", async () => "abc", "open", "malformed"],
    ["two dots", async () => `${await open()}.x`, "open", "malformed"],
    ["a short MAC", async () => `${(await open()).split(".")[0]}.AAAA`, "open", "malformed"],
    ["a payload that is not JSON", async () => `bm90IGpzb24.${(await open()).split(".")[1]}`, "open", "malformed"],
    ["an overlong token", async () => "a".repeat(3000), "open", "malformed"],
  ];
  it.each(refusals)("refuse %s", async (_, make, purpose, reason) => {
    expect(await verifyToken(SECRET, await make(), purpose, { now: NOW, site: "acme" })).toEqual({ ok: false, reason });
  });
});

describe("lead keys", () => {
  it.each([
    ["Jane@Acme.example", "jane@acme.example"],
    ["  jane+news@acme.example ", "jane@acme.example"],
    ["j.a.n.e@googlemail.com", "jane@gmail.com"],
    ["J.Ane+x@Gmail.com", "jane@gmail.com"],
    ["jane.doe@acme.example", "jane.doe@acme.example"],
  ])("normalise %s to %s", (input, expected) => {
    expect(normaliseEmail(input)).toBe(expected);
  });

  it.each(["no-at-sign", "@acme.example", "jane@", "ja ne@acme.example"])("refuse %s", (input) => {
    expect(normaliseEmail(input)).toBeUndefined();
  });

  it("are one key per person and site, never the address", async () => {
    const [a, b, other, elsewhere] = await Promise.all([
      leadKeyOf(SECRET, "acme", "Jane@acme.example"), leadKeyOf(SECRET, "acme", "jane+promo@acme.example"),
      leadKeyOf(SECRET, "acme", "john@acme.example"), leadKeyOf(SECRET, "globex", "jane@acme.example"),
    ]);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b).toBe(a);
    expect(other).not.toBe(a);
    expect(elsewhere).not.toBe(a);
    expect(a).not.toContain("jane");
  });
});
