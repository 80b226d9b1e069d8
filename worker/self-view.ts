/**
 * `GET /v1/visitors/:site/:id`: a visitor's own score, stage and the explanation of every point,
 * for the page that visitor is on (the demo's visitor panel, or a site's "why am I seeing this"
 * link). Off unless the `VISITOR_SELF_VIEW` variable is "true": the visitor id in the browser is the
 * only credential, so a site turns it on knowingly. Answers only the site's own origins.
 */
import { Hono } from "hono";
import { visitorStub, type Env } from "./env.js";
import { ApiError } from "./errors.js";
import { getEngine } from "./rules-cache.js";

const SITE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const VISITOR_ID = /^[\w-]{8,64}$/;

export const selfView = new Hono<{ Bindings: Env }>();

selfView.get("/v1/visitors/:site/:id", async (c) => {
  if (c.env.VISITOR_SELF_VIEW !== "true") throw new ApiError(404, "not_found", "the visitor self view is off: set VISITOR_SELF_VIEW to \"true\" to offer it");
  const site = c.req.param("site");
  const visitor = c.req.param("id");
  if (!SITE_ID.test(site)) throw new ApiError(400, "invalid_site", `"${site}" is not a site id`, [{ path: "site", message: "expected 1-64 of a-z 0-9 _ -" }]);
  if (!VISITOR_ID.test(visitor)) throw new ApiError(400, "invalid_visitor", `"${visitor}" is not a visitor id`, [{ path: "visitor", message: "expected 8-64 letters, digits, _ or -" }]);
  const engine = await getEngine(c.env.RULES, site);
  if (!engine) throw new ApiError(404, "unknown_site", `no site "${site}"`);
  const origin = c.req.header("origin");
  // Same-origin GETs carry no Origin header; cross-origin ones must come from the site's pages.
  if (origin && !engine.rules.site.origins.some((o) => o.toLowerCase() === origin.toLowerCase())) {
    throw new ApiError(403, "origin_not_allowed", `origin ${origin} is not allowed for site "${site}"`);
  }
  const headers: Record<string, string> = { "cache-control": "no-store", ...(origin ? { "access-control-allow-origin": origin, vary: "Origin" } : {}) };
  const stub = visitorStub(c.env, site, visitor);
  const snapshot = await stub.snapshot(site, visitor, Date.now());
  if (!snapshot) throw new ApiError(404, "unknown_visitor", `no visitor "${visitor}" on site "${site}" yet`, undefined, headers);
  // The visitor's own view: no webhook targets, no outbox.
  const { outbox: _outbox, ...mine } = snapshot;
  return c.json(mine, 200, headers);
});
