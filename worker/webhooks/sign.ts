/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `${id}.${timestamp}.${body}` with the base64-decoded part of a `whsec_...` secret, sent as
 * `webhook-signature: v1,<base64>`. Any Standard Webhooks library verifies it.
 */

/** Prefix of a signing secret; the rest is base64. */
export const SECRET_PREFIX = "whsec_";
/** Fewest secret bytes accepted (the spec recommends 24 to 64). */
export const SECRET_MIN_BYTES = 16;
/** Most secret bytes accepted. */
export const SECRET_MAX_BYTES = 128;

/** The key bytes of a `whsec_` secret, or null if it is not one. */
export function secretBytes(secret: string): Uint8Array | null {
  if (!secret.startsWith(SECRET_PREFIX)) return null;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return null;
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return bytes.length >= SECRET_MIN_BYTES && bytes.length <= SECRET_MAX_BYTES ? bytes : null;
}

/** The three Standard Webhooks headers for one try of a message. */
export interface SignatureHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/** Signs one try: the same `id` on every try, a fresh `timestampSeconds` and signature each time. */
export async function sign(key: Uint8Array, id: string, timestampSeconds: number, body: string): Promise<SignatureHeaders> {
  const hmac = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const ts = String(Math.floor(timestampSeconds));
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(`${id}.${ts}.${body}`)));
  let bin = "";
  for (const b of mac) bin += String.fromCharCode(b);
  return { "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": `v1,${btoa(bin)}` };
}
