/**
 * Admin API of leads, accounts and email tokens (behind the admin token):
 * - `POST /v1/admin/sites/:site/email-tokens`: open and click links for a campaign's recipients.
 * - `GET /v1/admin/sites/:site/identity/leads/:lead`, `GET .../leads?email=`: a lead with every point explained.
 * - `GET .../leads/:lead/webhooks`, `POST .../leads/:lead/webhooks/:msg/replay`: the lead's webhooks.
 * - `DELETE .../leads/:lead`, `DELETE .../leads?email=`: erasure everywhere (erase.ts).
 * - `GET /v1/admin/sites/:site/accounts/:account`: an account's scores, stage and people.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as z from "zod/mini";
import { requireAdmin } from "../admin.js";
import type { Env } from "../env.js";
import { ApiError } from "../errors.js";
import { jsonBody } from "../json-body.js";
import { getEngine } from "../rules-cache.js";
import { ACCOUNT_ID, accountStub } from "./accounts.js";
import { eraseLead } from "./erase.js";
import { leadStub } from "./forward.js";
import { LEAD_KEY, leadKeyOf } from "./keys.js";
import { leadId } from "./lead-object.js";
import { canonicalUrl, requireSecret, TOKEN_PARAM, urlHash } from "./routes.js";
import { mintToken } from "./tokens.js";

/** Default and longest life of email tokens: links in a mail keep working for a campaign's life. */
export const EMAIL_TOKEN_DAYS_DEFAULT = 90;
export const EMAIL_TOKEN_DAYS_MAX = 365;
/** Recipients per call and links per email. */
export const RECIPIENTS_MAX = 100;
export const LINKS_MAX = 50;

const SITE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const Email = z.string().check(z.maxLength(254), z.regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, "expected an email address"));
const Url = z.string().check(z.maxLength(2048), z.refine((u) => canonicalUrl(u) !== undefined, "expected an http(s) URL"));
const MintRequest = z.strictObject({
  campaign: z.string().check(z.regex(/^[\w.-]{1,64}$/, "expected a campaign id: 1-64 letters, digits, _ . -")),
  recipients: z.array(Email).check(z.minLength(1), z.maxLength(RECIPIENTS_MAX)),
  links: z._default(z.array(Url).check(z.maxLength(LINKS_MAX)), []),
  days: z._default(z.number().check(z.int(), z.gte(1), z.lte(EMAIL_TOKEN_DAYS_MAX)), EMAIL_TOKEN_DAYS_DEFAULT),
  /** Where the links point (the worker's public URL); default: the URL this call was made to. */
  base: z.optional(z.string().check(z.regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i, "expected an origin like https://mql.example.com"))),
});

export const identityAdmin = new Hono<{ Bindings: Env }>();
identityAdmin.use("/v1/admin/*", requireAdmin);

function siteParam(c: Context<{ Bindings: Env }>): string {
  const site = c.req.param("site") ?? "";
  if (!SITE_ID.test(site)) throw new ApiError(400, "invalid_site", `"${site}" is not a site id`, [{ path: "site", message: "expected 1-64 of a-z 0-9 _ -" }]);
  return site;
}

/** The lead key named by `:lead` (`ld_...`) or by `?email=`. */
async function leadParam(c: Context<{ Bindings: Env }>, site: string): Promise<string> {
  const id = c.req.param("lead");
  if (id !== undefined) {
    const key = id.startsWith("ld_") ? id.slice(3) : "";
    if (!LEAD_KEY.test(key)) throw new ApiError(400, "invalid_lead", `"${id}" is not a lead id`, [{ path: "lead", message: "expected ld_ and 43 base64url characters" }]);
    return key;
  }
  const email = c.req.query("email");
  const key = email === undefined ? undefined : await leadKeyOf(requireSecret(c.env), site, email);
  if (key === undefined) throw new ApiError(400, "invalid_query", "email: expected the lead's email address", [{ path: "email", message: "expected an email address" }]);
  return key;
}

/** Largest body of a mint request. */
const MINT_BODY_MAX_BYTES = 64 * 1024;

identityAdmin.post("/v1/admin/sites/:site/email-tokens", bodyLimit({ maxSize: MINT_BODY_MAX_BYTES, onError: () => { throw new ApiError(413, "body_too_large", `body is larger than ${MINT_BODY_MAX_BYTES} bytes`); } }), async (c) => {
  const site = siteParam(c);
  const secret = requireSecret(c.env);
  if (!(await getEngine(c.env.RULES, site))) throw new ApiError(404, "unknown_site", `no rules for site "${site}"`);
  const { campaign, recipients, links, days, base } = await jsonBody(c, MintRequest, MINT_BODY_MAX_BYTES);
  const origin = base ?? new URL(c.req.url).origin;
  const now = Date.now();
  const hrefs = links.map((l) => canonicalUrl(l)!);
  const hashes = await Promise.all(hrefs.map(urlHash));
  const ttlS = days * 86_400;
  const out = [];
  for (const email of recipients) {
    const key = (await leadKeyOf(secret, site, email))!;
    // The lead learns its address now, so an open or a click can identify it later.
    await leadStub(c.env, site, key).register(site, key, email);
    const open = await mintToken(secret, "open", site, { c: campaign, r: key }, { ttlS, now });
    const click = await mintToken(secret, "click", site, { c: campaign, r: key, u: hashes }, { ttlS, now });
    out.push({
      email, lead: leadId(key),
      open: `${origin}/v1/e/open/${open}.gif`,
      links: hrefs.map((url) => ({ url, href: `${origin}/v1/e/click/${click}?u=${encodeURIComponent(url)}` })),
    });
  }
  return c.json({ site, campaign, expiresAt: (Math.floor(now / 1000) + ttlS) * 1000, param: TOKEN_PARAM, recipients: out }, 201);
});

/**
 * The 404 for a lead nobody has: it names what was asked (the address, when asked by email) and,
 * on a site that does not stitch visitors into leads, says so: only email links then make leads.
 */
async function unknownLead(c: Context<{ Bindings: Env }>, site: string, key: string): Promise<ApiError> {
  const email = c.req.query("email");
  const what = email === undefined ? `no lead "${leadId(key)}"` : `no lead with email "${email}" (${leadId(key)})`;
  const engine = await getEngine(c.env.RULES, site);
  const why = engine && engine.rules.site.stitch !== true
    ? ": this site does not stitch visitors into leads (site.stitch in its rules), so only email links make leads; see the visitor with GET /v1/admin/sites/:site/visitors/:id"
    : "";
  return new ApiError(404, "unknown_lead", `${what} on site "${site}"${why}`);
}

const getLead = async (c: Context<{ Bindings: Env }>) => {
  const site = siteParam(c);
  const key = await leadParam(c, site);
  const snap = await leadStub(c.env, site, key).snapshot(Date.now());
  if (!snap) throw await unknownLead(c, site, key);
  return c.json(snap);
};
identityAdmin.get("/v1/admin/sites/:site/identity/leads/:lead", getLead);
identityAdmin.get("/v1/admin/sites/:site/identity/leads", getLead);

const deleteLead = async (c: Context<{ Bindings: Env }>) => {
  const site = siteParam(c);
  const key = await leadParam(c, site);
  return c.json({ site, ...(await eraseLead(c.env, site, key, Date.now(), c.req.query("email"))) });
};
identityAdmin.delete("/v1/admin/sites/:site/identity/leads/:lead", deleteLead);
identityAdmin.delete("/v1/admin/sites/:site/identity/leads", deleteLead);

identityAdmin.get("/v1/admin/sites/:site/identity/leads/:lead/webhooks", async (c) => {
  const site = siteParam(c);
  const key = await leadParam(c, site);
  const messages = await leadStub(c.env, site, key).webhooks();
  if (!messages) throw await unknownLead(c, site, key);
  return c.json({ site, lead: leadId(key), webhooks: messages });
});

identityAdmin.post("/v1/admin/sites/:site/identity/leads/:lead/webhooks/:msg/replay", async (c) => {
  const site = siteParam(c);
  const key = await leadParam(c, site);
  const msg = c.req.param("msg");
  if (!/^msg_[a-f0-9]{32}$/.test(msg)) throw new ApiError(400, "invalid_message", `"${msg}" is not a message id`, [{ path: "message", message: "expected msg_ and 32 hex digits" }]);
  const result = await leadStub(c.env, site, key).replay(msg);
  if (result === "unknown") throw new ApiError(404, "unknown_message", `lead "${leadId(key)}" has no webhook message "${msg}"`);
  if (result === "not_dead") throw new ApiError(409, "not_a_dead_letter", `message "${msg}" is not a dead letter: only those can be replayed`);
  return c.json({ ok: true, site, lead: leadId(key), webhook: result }, 202);
});

identityAdmin.get("/v1/admin/sites/:site/accounts/:account", async (c) => {
  const site = siteParam(c);
  const account = c.req.param("account");
  if (!ACCOUNT_ID.test(account)) throw new ApiError(400, "invalid_account", `"${account}" is not an account id`, [{ path: "account", message: "expected a domain (acme.example) or co:slug" }]);
  const snap = await accountStub(c.env, site, account).snapshot(Date.now());
  if (!snap) throw new ApiError(404, "unknown_account", `no account "${account}" on site "${site}"`);
  return c.json(snap);
});
