/**
 * Keys of the identity features, all derived from one wrangler secret, `IDENTITY_SECRET`
 * (`wrangler secret put IDENTITY_SECRET`, 32 characters or more).
 *
 * Why one deployment secret and keys derived per site and per purpose (HKDF-SHA256), rather than a
 * secret per site in KV: a secret in KV sits next to the data it protects, is readable by anyone
 * who can list the namespace, and two isolates creating a site's secret at once would race (KV is
 * eventually consistent), splitting one person into two leads. A wrangler secret is set once, never
 * readable back, the same in every isolate; deriving from it gives every site and every purpose (lead
 * keys, each kind of token) its own independent key, so a token made for one site or one purpose
 * never verifies as another. Rotating the secret changes every lead key: leads then start afresh.
 * Without the secret the identity features are off (visitors are never linked, tokens are refused).
 */
import type { Env } from "../env.js";

/** Shortest `IDENTITY_SECRET` accepted. */
export const IDENTITY_SECRET_MIN_CHARS = 32;
/** Keys kept per isolate (derivation costs one HKDF; sites are few). */
const KEY_CACHE_MAX = 1000;

const enc = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

/** The identity secret, or undefined when it is not set (or too short to be one). */
export function identitySecret(env: Pick<Env, "IDENTITY_SECRET">): string | undefined {
  const s = env.IDENTITY_SECRET;
  return typeof s === "string" && s.length >= IDENTITY_SECRET_MIN_CHARS ? s : undefined;
}

/** The HMAC-SHA256 key for `info` (say `token:click:acme`) derived from the secret. */
export function derivedKey(secret: string, info: string): Promise<CryptoKey> {
  const id = `${info}\u0000${secret}`;
  let key = keys.get(id);
  if (!key) {
    if (keys.size >= KEY_CACHE_MAX) keys.clear();
    key = crypto.subtle.importKey("raw", enc.encode(secret), "HKDF", false, ["deriveKey"]).then((base) =>
      crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: enc.encode("mql-edge/identity/v1"), info: enc.encode(info) },
        base, { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign", "verify"],
      ));
    keys.set(id, key);
    key.catch(() => keys.delete(id));
  }
  return key;
}

/** Base64url without padding. */
export function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Bytes of a base64url string, or null when it is not one. */
export function fromBase64url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  try {
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** Domains whose mailboxes ignore dots in the local part (and that are one mailbox). */
const DOTLESS = new Map([["gmail.com", "gmail.com"], ["googlemail.com", "gmail.com"]]);

/** The domains whose mailboxes are those of `domain` (lower-case): itself, or every spelling of Gmail's. */
export function mailboxDomains(domain: string): string[] {
  const one = DOTLESS.get(domain);
  return one === undefined ? [domain] : [...DOTLESS].filter(([, d]) => d === one).map(([k]) => k);
}

/**
 * The address that names a person: trimmed, lower-cased, without a `+tag` (jane+news@x is jane@x),
 * and for Gmail without dots in the local part. Undefined when it is not an address.
 */
export function normaliseEmail(email: string): string | undefined {
  const text = email.trim().toLowerCase();
  const at = text.lastIndexOf("@");
  if (at < 1 || at === text.length - 1 || /\s/.test(text)) return undefined;
  let local = text.slice(0, at);
  let domain = text.slice(at + 1);
  const plus = local.indexOf("+");
  if (plus > 0) local = local.slice(0, plus);
  const dotless = DOTLESS.get(domain);
  if (dotless !== undefined) {
    domain = dotless;
    local = local.replace(/\./g, "");
  }
  return local === "" ? undefined : `${local}@${domain}`;
}

/**
 * A lead's key: HMAC-SHA256 of the normalised address with the site's lead key, base64url (43
 * characters). The key, never the address, names the lead's Durable Object and sits in links.
 */
export async function leadKeyOf(secret: string, site: string, email: string): Promise<string | undefined> {
  const normal = normaliseEmail(email);
  if (normal === undefined) return undefined;
  const key = await derivedKey(secret, `lead:${site}`);
  return base64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(normal))));
}

/** A lead key's shape: 43 base64url characters. */
export const LEAD_KEY = /^[A-Za-z0-9_-]{43}$/;
