/**
 * The admin API, behind a bearer token (`wrangler secret put ADMIN_TOKEN`) compared in constant
 * time: publish a site's rules (validated whole; the running rules stay on any error), read a
 * visitor with the explanation of every point, erase a visitor.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { parseRules } from "../rules/index.js";
import { visitorStub, type Env } from "./env.js";
import { ApiError } from "./errors.js";
import { readJson } from "./json-body.js";
import { eraseLead } from "./identity/erase.js";
import { getEngine, rulesKey } from "./rules-cache.js";
import { publish, readActive, refuseTakenVersion } from "./rules-history.js";
import { API_NOTE } from "../rules/store.js";

/** Largest rules document accepted. */
export const RULES_MAX_BYTES = 512 * 1024;

const SITE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const VISITOR_ID = /^[\w-]{8,64}$/;

async function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}

/** Bearer-token check; both sides are hashed first so the comparison is constant-time and length-blind. */
export const requireAdmin = createMiddleware<{ Bindings: Env }>(async (c, next) => {
  const expected = c.env.ADMIN_TOKEN;
  const challenge = { "www-authenticate": 'Bearer realm="mql-edge admin"' };
  if (!expected) throw new ApiError(401, "admin_disabled", "the admin API is disabled: set the ADMIN_TOKEN secret", undefined, challenge);
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new ApiError(401, "missing_token", "expected an Authorization: Bearer <admin token> header", undefined, challenge);
  const [a, b] = await Promise.all([sha256(match[1]!), sha256(expected)]);
  if (!crypto.subtle.timingSafeEqual(a, b)) throw new ApiError(401, "invalid_token", "the admin token is not valid", undefined, challenge);
  await next();
});

export const admin = new Hono<{ Bindings: Env }>();
admin.use("/v1/admin/*", requireAdmin);

function siteParam(site: string): string {
  if (!SITE_ID.test(site)) throw new ApiError(400, "invalid_site", `"${site}" is not a site id`, [{ path: "site", message: "expected 1-64 of a-z 0-9 _ -" }]);
  return site;
}

function visitorParam(id: string): string {
  if (!VISITOR_ID.test(id)) throw new ApiError(400, "invalid_visitor", `"${id}" is not a visitor id`, [{ path: "visitor", message: "expected 8-64 letters, digits, _ or -" }]);
  return id;
}

admin.put(
  "/v1/admin/sites/:site/rules",
  bodyLimit({
    maxSize: RULES_MAX_BYTES,
    onError: () => {
      throw new ApiError(413, "body_too_large", `a rules document is at most ${RULES_MAX_BYTES} bytes`);
    },
  }),
  async (c) => {
    const site = siteParam(c.req.param("site"));
    const json = await readJson(c);
    const result = parseRules(json);
    if (!result.ok) throw new ApiError(400, "invalid_rules", `${result.errors.length} error(s) in the rules; the running rules are unchanged`, result.errors);
    if (result.rules.site.id !== site) {
      throw new ApiError(400, "invalid_rules", `the document is for site "${result.rules.site.id}", not "${site}"`, [{ path: "$.site.id", message: `expected "${site}"` }]);
    }
    // Kept in the history like a console publish, so it can be rolled back to; a version already
    // naming other content is refused (the ledger records versions: one version, one document).
    const active = await readActive(c.env, site);
    const kept = await refuseTakenVersion(c.env, site, result.rules, active);
    await publish(c.env, site, result.rules, active, { note: API_NOTE, publishedAt: Date.now() }, kept !== null);
    return c.json({ ok: true, site, version: result.rules.version, rules: result.rules.rules.length });
  },
);

admin.get("/v1/admin/sites/:site/rules", async (c) => {
  const site = siteParam(c.req.param("site"));
  const text = await c.env.RULES.get(rulesKey(site));
  if (text === null) throw new ApiError(404, "unknown_site", `no rules for site "${site}"`);
  return c.body(text, 200, { "content-type": "application/json" });
});

admin.get("/v1/admin/sites/:site/visitors/:id", async (c) => {
  const site = siteParam(c.req.param("site"));
  const visitor = visitorParam(c.req.param("id"));
  if (!(await getEngine(c.env.RULES, site))) throw new ApiError(404, "unknown_site", `no rules for site "${site}"`);
  const stub = visitorStub(c.env, site, visitor);
  const snapshot = await stub.snapshot(site, visitor, Date.now());
  if (!snapshot) throw new ApiError(404, "unknown_visitor", `no visitor "${visitor}" on site "${site}"`);
  return c.json(snapshot);
});

admin.delete("/v1/admin/sites/:site/visitors/:id", async (c) => {
  const site = siteParam(c.req.param("site"));
  const visitor = visitorParam(c.req.param("id"));
  const stub = visitorStub(c.env, site, visitor);
  // A visitor that is part of a lead is one of a person's browsers: erasing it erases the person everywhere.
  const lead = await stub.lead();
  if (lead) return c.json({ erased: true, site, visitor, lead: await eraseLead(c.env, site, lead.key, Date.now()) });
  const erased = await stub.erase();
  return c.json({ erased, site, visitor });
});
