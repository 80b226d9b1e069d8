/**
 * Signed tokens: `<payload>.<mac>`, both base64url. The payload is JSON claims; the MAC is
 * HMAC-SHA256 (first 16 bytes) over the payload text, with a key derived for the token's purpose
 * and site (keys.ts), so a token minted for email opens never passes as a click or as a
 * cross-domain hand-off, nor for another site. Every token expires (`exp`); those that must be
 * used once carry a nonce (`n`) that the object which accepts them records (once.ts).
 *
 * Why not JWT: one algorithm fixed in code (no `alg` header to downgrade), no dependency, shorter
 * links; WebCrypto verifies the MAC in constant time.
 */
import { base64url, derivedKey, fromBase64url } from "./keys.js";

/** What a token is for. */
export type Purpose =
  /** An email open pixel: campaign and recipient. */
  | "open"
  /** An email link: campaign, recipient and the links it may redirect to. */
  | "click"
  /** Appended to the landing page of an email link: identifies the browser that lands, once. */
  | "claim"
  /** Appended to a link to another of the site's domains: the visit continues as the same visitor, once. */
  | "xd";

/** Claims every token carries. */
export interface BaseClaims {
  p: Purpose;
  /** Site id. */
  s: string;
  /** Issued at and expiry, seconds since the epoch. */
  iat: number;
  exp: number;
  /** Nonce of a single-use token. */
  n?: string;
}

/** The claims of each purpose, on top of the base ones. */
export interface PurposeClaims {
  open: { c: string; r: string };
  click: { c: string; r: string; u: string[] };
  /** `e` and `u`: the email click that made the claim (its event id and link), so the landing browser records the same click. */
  claim: { c: string; r: string; e?: string; u?: string };
  xd: { v: string; aud: string };
}

export type Claims<P extends Purpose> = BaseClaims & PurposeClaims[P] & { p: P };

/** Why a token was refused. */
export type Refusal = "malformed" | "bad_signature" | "wrong_purpose" | "wrong_site" | "expired" | "not_yet_valid";

/** Bytes of MAC kept: 128 bits. */
const MAC_BYTES = 16;
/** Longest token read (anything longer is refused before any work). */
export const TOKEN_MAX_CHARS = 2048;
/** Clock skew tolerated between isolates, seconds. */
const SKEW_S = 60;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

const keyFor = (secret: string, purpose: Purpose, site: string) => derivedKey(secret, `token:${purpose}:${site}`);

/** A fresh random nonce (for single-use tokens). */
export function nonce(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(12)));
}

/** Mints a token valid for `ttlS` seconds from `now` (ms). */
export async function mintToken<P extends Purpose>(
  secret: string, purpose: P, site: string, data: PurposeClaims[P], opts: { ttlS: number; now: number; once?: boolean },
): Promise<string> {
  const iat = Math.floor(opts.now / 1000);
  const claims: BaseClaims = { p: purpose, s: site, iat, exp: iat + Math.floor(opts.ttlS), ...(opts.once ? { n: nonce() } : {}), ...data };
  const payload = base64url(enc.encode(JSON.stringify(claims)));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await keyFor(secret, purpose, site), enc.encode(payload)));
  return `${payload}.${base64url(mac.subarray(0, MAC_BYTES))}`;
}

/** The verified claims, or why the token is refused. `site`, when given, must match. */
export async function verifyToken<P extends Purpose>(
  secret: string, token: string, purpose: P, opts: { now: number; site?: string },
): Promise<{ ok: true; claims: Claims<P> } | { ok: false; reason: Refusal }> {
  if (token.length > TOKEN_MAX_CHARS) return { ok: false, reason: "malformed" };
  const dot = token.indexOf(".");
  if (dot < 1 || dot !== token.lastIndexOf(".")) return { ok: false, reason: "malformed" };
  const payload = token.slice(0, dot);
  const mac = fromBase64url(token.slice(dot + 1));
  const body = fromBase64url(payload);
  if (mac === null || body === null || mac.length !== MAC_BYTES) return { ok: false, reason: "malformed" };
  let claims: BaseClaims;
  try {
    claims = JSON.parse(dec.decode(body)) as BaseClaims;
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (typeof claims !== "object" || claims === null || typeof claims.s !== "string" || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(claims.s)
    || typeof claims.exp !== "number" || typeof claims.iat !== "number") {
    return { ok: false, reason: "malformed" };
  }
  // The key is chosen by the purpose the caller expects: a token of another purpose fails the MAC.
  const full = new Uint8Array(await crypto.subtle.sign("HMAC", await keyFor(secret, purpose, claims.s), enc.encode(payload)));
  if (!timingSafeEqual(full.subarray(0, MAC_BYTES), mac)) return { ok: false, reason: "bad_signature" };
  if (claims.p !== purpose) return { ok: false, reason: "wrong_purpose" };
  if (opts.site !== undefined && claims.s !== opts.site) return { ok: false, reason: "wrong_site" };
  const now = Math.floor(opts.now / 1000);
  if (now >= claims.exp) return { ok: false, reason: "expired" };
  if (claims.iat > now + SKEW_S) return { ok: false, reason: "not_yet_valid" };
  return { ok: true, claims: claims as Claims<P> };
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** What a refusal means to whoever presented the token. */
export function refusalMessage(reason: Refusal): string {
  switch (reason) {
    case "malformed": return "expected a token as issued by mql-edge";
    case "bad_signature": return "the token's signature does not match: it was altered or not issued here";
    case "wrong_purpose": return "the token was issued for another use";
    case "wrong_site": return "the token was issued for another site";
    case "expired": return "the token has expired";
    case "not_yet_valid": return "the token is not valid yet";
  }
}
