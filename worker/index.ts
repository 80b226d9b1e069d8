/**
 * The mql-edge worker: `/v1/collect` for the snippet, `/v1/admin/*` for the rules and visitors,
 * `/v1/health`; the demo site is served from static assets.
 */
import { Hono } from "hono";
import { admin } from "./admin.js";
import { adminWebhooks } from "./admin-webhooks.js";
import { collect } from "./collect.js";
import { consoleApi } from "./console/routes.js";
import { identityAdmin } from "./identity/admin-routes.js";
import { identity } from "./identity/routes.js";
import { selfView } from "./self-view.js";
import type { Env } from "./env.js";
import { ApiError, onError } from "./errors.js";

export { VisitorObject } from "./visitor-object.js";
export { LeadObject } from "./identity/lead-object.js";
export { AccountObject } from "./identity/account-object.js";
export { TargetGate } from "./webhooks/target-gate.js";
export type { Env } from "./env.js";

const app = new Hono<{ Bindings: Env }>();
app.onError(onError);
app.get("/v1/health", (c) => c.json({ ok: true }));
app.route("/", collect);
app.route("/", admin);
app.route("/", adminWebhooks);
app.route("/", consoleApi);
app.route("/", identity);
app.route("/", identityAdmin);
app.route("/", selfView);
app.notFound((c) => {
  // A path the API has, asked with another method: 405 naming the methods it takes.
  const allowed = [...new Set(app.routes.filter((r) => r.method !== "ALL" && routePattern(r.path).test(c.req.path)).map((r) => r.method))];
  if (allowed.length > 0) {
    if (allowed.includes("GET")) allowed.push("HEAD");
    const allow = allowed.sort().join(", ");
    return onError(new ApiError(405, "method_not_allowed", `${c.req.method} is not accepted on ${c.req.path}: use ${allow}`, undefined, { allow }), c);
  }
  return onError(new ApiError(404, "not_found", `no route ${c.req.method} ${c.req.path}`), c);
});

/** A route's path (`/v1/admin/sites/:site/rules`) as a pattern its requests' paths match. */
function routePattern(path: string): RegExp {
  const source = path.split("/").map((part) => (part.startsWith(":") ? "[^/]+" : part === "*" ? ".*" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/");
  return new RegExp(`^${source}$`);
}

export default app;
