/**
 * Public identity routes:
 * - `GET /v1/e/open/:token.gif`: an email was opened (a 1x1 GIF; mail scanners get it too, unscored).
 * - `GET /v1/e/click/:token?u=URL`: an email link was followed. Redirects only to a URL the token
 *   signed (no open redirect); a landing page on one of the site's origins gets `mql_t`, a
 *   single-use token the snippet there redeems to identify its visitor as the recipient.
 * - `POST /v1/identity/xd`: the snippet asks for a token to carry its visitor to another of the
 *   site's origins (a link it decorates with `mql_t`).
 * - `POST /v1/identity/continue`: the snippet on a landing page redeems `mql_t`: a cross-domain
 *   token answers the visitor id to continue as; an email claim links the current visitor to the lead.
 * Tokens are verified (signature, purpose, site, expiry) before anything is read or written;
 * single-use ones are recorded by the object they concern, so a second use is refused.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as z from "zod/mini";
import type { Engine } from "../../rules/index.js";
import { visitorStub, type Env } from "../env.js";
import { ApiError } from "../errors.js";
import { limit } from "../rate-limit.js";
import { getEngine } from "../rules-cache.js";
import { jsonBody } from "../json-body.js";
import { leadStub } from "./forward.js";
import { base64url, identitySecret } from "./keys.js";
import { emailSignalEvent, leadId } from "./lead-object.js";
import type { BatchInput } from "../visitor-object.js";
import { mailScanner } from "./mail-scanners.js";
import { mintToken, refusalMessage, verifyToken, type Purpose, type Refusal } from "./tokens.js";

/** Lifetime of a cross-domain hand-off token: long enough to follow a link, short enough not to matter in a log. */
export const XD_TTL_S = 120;
/** Lifetime of the claim token on an email link's landing page. */
export const CLAIM_TTL_S = 600;
/** The query parameter that carries a token to a landing page. */
export const TOKEN_PARAM = "mql_t";
/** Largest identity request body. */
const BODY_MAX_BYTES = 4096;

const GIF = Uint8Array.from(atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"), (c) => c.charCodeAt(0));
const NO_STORE = { "cache-control": "no-store, private", "referrer-policy": "no-referrer" };
const enc = new TextEncoder();

/** The secret, or a 503 saying how to turn the features on. */
export function requireSecret(env: Env): string {
  const secret = identitySecret(env);
  if (secret === undefined) throw new ApiError(503, "identity_disabled", "identity features are off: set the IDENTITY_SECRET secret (32+ characters)");
  return secret;
}

/** The answer to a refused token: 410 when it expired, 400 otherwise; the field is named. */
export function tokenRefused(reason: Refusal, path = "token"): ApiError {
  return new ApiError(reason === "expired" ? 410 : 400, reason === "expired" ? "token_expired" : "invalid_token", `${path}: ${refusalMessage(reason)}`, [{ path, message: refusalMessage(reason) }]);
}

/** A short hash of a link's URL: what a click token signs for each link it may redirect to. */
export async function urlHash(href: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(href)))).slice(0, 22);
}

/** The URL as it is compared and redirected to (parsed and serialised), or undefined when it is not http(s). */
export function canonicalUrl(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** The site's purpose claim without verifying (to pick the key): undefined when unreadable. */
function peekPurpose(token: string): Purpose | undefined {
  const payload = token.split(".")[0] ?? "";
  try {
    const p = (JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { p?: unknown }).p;
    return p === "xd" || p === "claim" || p === "open" || p === "click" ? p : undefined;
  } catch {
    return undefined;
  }
}

async function eventId(prefix: string, ...parts: string[]): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(parts.join("\u0000"))));
  return `${prefix}_${base64url(digest).slice(0, 32)}`;
}

export const identity = new Hono<{ Bindings: Env }>();

identity.on(["GET", "HEAD"], "/v1/e/open/:file", async (c) => {
  const file = c.req.param("file");
  if (!file.endsWith(".gif")) throw new ApiError(404, "not_found", "expected /v1/e/open/<token>.gif");
  const secret = requireSecret(c.env);
  const now = Date.now();
  const token = file.slice(0, -4);
  const checked = await verifyToken(secret, token, "open", { now });
  if (!checked.ok) throw tokenRefused(checked.reason);
  const { s: site, c: campaign, r: lead } = checked.claims;
  const scanner = mailScanner(c.req.raw, "open");
  const headers: Record<string, string> = { "content-type": "image/gif", ...NO_STORE };
  if (scanner !== null) headers["x-mql-scanner"] = scanner;
  else {
    // One open per minute per token: a client that fetches the image twice is one open.
    const id = await eventId("eo", token, String(Math.floor(now / 60_000)));
    await leadStub(c.env, site, lead).signal({ site, lead, kind: "open", campaign, id, now });
  }
  return c.req.method === "HEAD" ? c.body(null, 200, headers) : c.body(GIF, 200, headers);
});

identity.on(["GET", "HEAD"], "/v1/e/click/:token", async (c) => {
  const secret = requireSecret(c.env);
  const now = Date.now();
  const token = c.req.param("token");
  const checked = await verifyToken(secret, token, "click", { now });
  if (!checked.ok) throw tokenRefused(checked.reason);
  const { s: site, c: campaign, r: lead, u: allowed } = checked.claims;
  const raw = c.req.query("u");
  if (raw === undefined) throw new ApiError(400, "invalid_query", "u: expected the link's URL", [{ path: "u", message: "expected the link's URL" }]);
  const href = canonicalUrl(raw);
  if (href === undefined) throw new ApiError(400, "invalid_query", "u: expected an http(s) URL", [{ path: "u", message: "expected an http(s) URL" }]);
  // Only links the token signed: anything else would make this an open redirect.
  if (!allowed.includes(await urlHash(href))) {
    throw new ApiError(400, "url_not_signed", "u: this link is not one the token was issued for", [{ path: "u", message: "expected a URL the token signed" }]);
  }
  const scanner = mailScanner(c.req.raw, "click");
  const headers: Record<string, string> = { ...NO_STORE };
  if (scanner !== null) {
    headers["x-mql-scanner"] = scanner;
    return redirect(href, headers);
  }
  const id = await eventId("ec", token, href, String(Math.floor(now / 60_000)));
  const mail = token.slice(token.indexOf(".") + 1);
  const recorded = await leadStub(c.env, site, lead).signal({ site, lead, kind: "click", campaign, url: href, mail, id, now });
  if (recorded === "burst") {
    headers["x-mql-scanner"] = "several links of one mail within seconds (link scanner)";
    return redirect(href, headers);
  }
  const engine = await getEngine(c.env.RULES, site, now);
  const target = new URL(href);
  // The claim goes only to the site's own pages: a third-party landing page never sees it.
  if (engine && allowedOrigin(engine, target.origin)) {
    // The click's id and link go with the claim: the landing browser records the same click (its
    // visitor is scored for it; a lead it joins counts it once, by its id).
    target.searchParams.set(TOKEN_PARAM, await mintToken(secret, "claim", site, { c: campaign, r: lead, e: id, u: href }, { ttlS: CLAIM_TTL_S, now, once: true }));
  }
  return redirect(target.href, headers);
});

function redirect(location: string, headers: Record<string, string>): Response {
  return new Response(null, { status: 302, headers: { ...headers, location } });
}

function allowedOrigin(engine: Engine, origin: string | undefined): origin is string {
  return origin !== undefined && engine.rules.site.origins.some((o) => o.toLowerCase() === origin.toLowerCase());
}

const Site = z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "expected a site id"));
const Visitor = z.string().check(z.regex(/^[\w-]{8,64}$/, "expected a visitor id: 8-64 letters, digits, _ or -"));
const XdRequest = z.strictObject({ site: Site, visitor: Visitor, to: z.string().check(z.regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i, "expected an origin like https://www.example.com")) });
const ContinueRequest = z.strictObject({ site: Site, visitor: Visitor, token: z.string().check(z.minLength(1), z.maxLength(2048)) });

/** The site's engine and the request's Origin, which must be one of the site's. */
async function siteAndOrigin(c: Context<{ Bindings: Env }>, site: string): Promise<{ engine: Engine; origin: string; cors: Record<string, string> }> {
  const engine = await getEngine(c.env.RULES, site);
  if (!engine) throw new ApiError(404, "unknown_site", `no site "${site}"`, [{ path: "$.site", message: "unknown site" }]);
  const origin = c.req.header("origin");
  if (!allowedOrigin(engine, origin)) {
    throw new ApiError(403, "origin_not_allowed", origin ? `origin ${origin} is not allowed for site "${site}"` : "missing Origin header: tokens are issued to the site's pages only");
  }
  const limited = await limit(c.env.IP_RATE, `ip:${c.req.header("cf-connecting-ip") ?? "local"}`);
  const cors = { "access-control-allow-origin": origin, vary: "Origin", ...NO_STORE };
  if (limited) throw new ApiError(429, "rate_limited", `too many requests ${limited.scope}: retry in ${limited.retryAfter} s`, undefined, { ...cors, "retry-after": String(limited.retryAfter) });
  return { engine, origin, cors };
}

const small = bodyLimit({ maxSize: BODY_MAX_BYTES, onError: () => { throw new ApiError(413, "body_too_large", `body is larger than ${BODY_MAX_BYTES} bytes`); } });

identity.post("/v1/identity/xd", small, async (c) => {
  const secret = requireSecret(c.env);
  const body = await jsonBody(c, XdRequest, BODY_MAX_BYTES);
  const { engine, origin, cors } = await siteAndOrigin(c, body.site);
  if (!allowedOrigin(engine, body.to)) {
    throw new ApiError(400, "invalid_body", `$.to: ${body.to} is not one of the site's origins`, [{ path: "$.to", message: `expected one of ${engine.rules.site.origins.join(", ")}` }]);
  }
  if (body.to.toLowerCase() === origin.toLowerCase()) throw new ApiError(400, "invalid_body", "$.to: expected another origin than this page's", [{ path: "$.to", message: "expected another of the site's origins" }]);
  const now = Date.now();
  const token = await mintToken(secret, "xd", body.site, { v: body.visitor, aud: body.to.toLowerCase() }, { ttlS: XD_TTL_S, now, once: true });
  const expiresAt = Math.floor(now / 1000) * 1000 + XD_TTL_S * 1000;
  // expiresIn lets the page time the token by its own clock, whatever its offset from ours.
  return c.json({ token, param: TOKEN_PARAM, expiresAt, expiresIn: expiresAt - now }, 200, cors);
});

identity.post("/v1/identity/continue", small, async (c) => {
  const secret = requireSecret(c.env);
  const body = await jsonBody(c, ContinueRequest, BODY_MAX_BYTES);
  const { origin, cors } = await siteAndOrigin(c, body.site);
  const now = Date.now();
  const purpose = peekPurpose(body.token);
  if (purpose === "xd") {
    const checked = await verifyToken(secret, body.token, "xd", { now, site: body.site });
    if (!checked.ok) throw tokenRefused(checked.reason, "$.token");
    const { v, aud, n, exp } = checked.claims;
    // Bound to the page it was made for: the same token presented anywhere else is refused.
    if (aud !== origin.toLowerCase()) throw new ApiError(403, "wrong_audience", `$.token: issued for ${aud}, presented by ${origin}`, [{ path: "$.token", message: `expected to be presented by ${aud}` }]);
    const fresh = await visitorStub(c.env, body.site, v).useToken(n!, exp, now);
    if (!fresh) throw new ApiError(409, "token_used", "$.token: this token was already used", [{ path: "$.token", message: "expected a token not used before" }]);
    return c.json({ visitor: v, continued: "xd" }, 200, cors);
  }
  if (purpose === "claim") {
    const checked = await verifyToken(secret, body.token, "claim", { now, site: body.site });
    if (!checked.ok) throw tokenRefused(checked.reason, "$.token");
    const { c: campaign, r: lead, e: click, u: href, n, exp } = checked.claims;
    const stub = leadStub(c.env, body.site, lead);
    if (!(await stub.useToken(n!, exp, now))) throw new ApiError(409, "token_used", "$.token: this token was already used", [{ path: "$.token", message: "expected a token not used before" }]);
    const email = await stub.address();
    if (email === null) throw new ApiError(410, "unknown_lead", "$.token: the recipient of this link is no longer known", [{ path: "$.token", message: "the lead was erased" }]);
    // The landing browser records the click that brought it (the page's own view carries no
    // campaign), then says who it is the way a form would: an identify event, which links it to the lead.
    const events: BatchInput["events"] = [];
    if (click !== undefined) events.push({ event: emailSignalEvent("click", click, email, campaign, href), capturedAt: now });
    events.push({ event: { id: `claim_${n}`, type: "identify", email }, capturedAt: now });
    const visitor = visitorStub(c.env, body.site, body.visitor);
    const answer = await visitor.collect({ site: body.site, visitor: body.visitor, page: undefined, events, now });
    return c.json({ visitor: body.visitor, continued: "email", lead: leadId(lead), stage: answer.visitor.stage, score: answer.visitor.score, actions: answer.actions }, 200, cors);
  }
  throw tokenRefused("malformed", "$.token");
});
