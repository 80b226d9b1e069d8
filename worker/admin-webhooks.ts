/**
 * Admin API of webhook delivery, behind the admin token: a site's targets (secrets are written,
 * never read back), a visitor's webhook messages with every try, replay of a dead letter, and the
 * site's dead letters.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { flattenIssues } from "../rules/index.js";
import { requireAdmin } from "./admin.js";
import { visitorStub, type Env } from "./env.js";
import { ApiError, type Issue } from "./errors.js";
import { readJson } from "./json-body.js";
import type { DeadLetterMeta } from "./webhooks/deliver.js";
import { checkTargetUrl } from "./webhooks/ssrf.js";
import { publicTarget, readTargets, TargetInputSchema, TARGETS_MAX, targetAuth, targetKey, writeTargets, type Target } from "./webhooks/targets.js";

/** Largest target body accepted. */
export const TARGET_BODY_MAX_BYTES = 16 * 1024;
/** Dead letters listed per page. */
const DEAD_LETTERS_PAGE = 100;

const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const VISITOR_ID = /^[\w-]{8,64}$/;
const MESSAGE_ID = /^msg_[a-f0-9]{32}$/;

function param(value: string, pattern: RegExp, name: string, expected: string): string {
  if (!pattern.test(value)) throw new ApiError(400, `invalid_${name}`, `"${value}" is not a ${name} id`, [{ path: name, message: expected }]);
  return value;
}
const site = (v: string) => param(v, ID, "site", "expected 1-64 of a-z 0-9 _ -");
const targetId = (v: string) => param(v, ID, "target", "expected 1-64 of a-z 0-9 _ -");
const visitorId = (v: string) => param(v, VISITOR_ID, "visitor", "expected 8-64 letters, digits, _ or -");
const messageId = (v: string) => param(v, MESSAGE_ID, "message", "expected msg_ and 32 hex digits");

async function siteTargets(env: Env, s: string): Promise<Target[]> {
  const config = await readTargets(env.RULES, s);
  if (!config.ok) throw new ApiError(409, "invalid_targets", `${config.error}; PUT a target to replace the document`);
  return config.targets;
}

export const adminWebhooks = new Hono<{ Bindings: Env }>();
adminWebhooks.use("/v1/admin/*", requireAdmin);

adminWebhooks.put(
  "/v1/admin/sites/:site/targets/:id",
  bodyLimit({
    maxSize: TARGET_BODY_MAX_BYTES,
    onError: () => {
      throw new ApiError(413, "body_too_large", `a target is at most ${TARGET_BODY_MAX_BYTES} bytes`);
    },
  }),
  async (c) => {
    const s = site(c.req.param("site"));
    const id = targetId(c.req.param("id"));
    const json = await readJson(c);
    const parsed = TargetInputSchema.safeParse(json);
    const issues: Issue[] = parsed.success ? [] : flattenIssues(parsed.error.issues);
    // Every problem at once: the checks past the schema run on what the body holds, even when another field failed it.
    const input = (typeof json === "object" && json !== null && !Array.isArray(json) ? json : {}) as Record<string, unknown>;
    const named = (path: string) => issues.some((i) => i.path === path);
    if (input.secret !== undefined && input.secretEnv !== undefined) issues.push({ path: "$.secretEnv", message: "give secret or secretEnv, not both" });
    if (input.secret === undefined && input.secretEnv === undefined && !named("$")) issues.push({ path: "$.secret", message: "expected secret (whsec_...) or secretEnv (the name of a wrangler secret)" });
    if (typeof input.url === "string" && !named("$.url")) {
      const url = checkTargetUrl(input.url, { allowLocal: c.env.WEBHOOK_ALLOW_LOCAL === "true" });
      if (!url.ok) issues.push({ path: "$.url", message: url.reason });
    }
    if (!parsed.success || issues.length > 0) {
      throw new ApiError(400, "invalid_target", `${issues[0]!.path}: ${issues[0]!.message}`, issues);
    }
    const target: Target = { id, ...parsed.data };
    const targets = await siteTargets(c.env, s);
    const existed = targets.some((t) => t.id === id);
    if (!existed && targets.length >= TARGETS_MAX) throw new ApiError(409, "too_many_targets", `a site has at most ${TARGETS_MAX} targets`);
    await writeTargets(c.env.RULES, s, existed ? targets.map((t) => (t.id === id ? target : t)) : [...targets, target]);
    // Stored, but a secret the worker does not have yet holds every webhook to the target back: said now, not at the first delivery.
    const key = targetKey(target, c.env);
    const auth = targetAuth(target, c.env);
    const meanwhile = "until it is, webhooks to this target are retried on the backoff, then kept as dead letters to replay";
    const warnings = [
      ...(key.ok ? [] : [{ path: target.secretEnv ? "$.secretEnv" : "$.secret", message: `${key.error}: ${meanwhile}` }]),
      ...(auth.ok ? [] : [{ path: "$.bearerEnv", message: `${auth.error}: ${meanwhile}` }]),
    ];
    return c.json({ ok: true, site: s, target: publicTarget(target), ...(warnings.length > 0 ? { warnings } : {}) }, existed ? 200 : 201);
  },
);

adminWebhooks.get("/v1/admin/sites/:site/targets", async (c) => {
  const s = site(c.req.param("site"));
  return c.json({ site: s, targets: (await siteTargets(c.env, s)).map(publicTarget) });
});

adminWebhooks.delete("/v1/admin/sites/:site/targets/:id", async (c) => {
  const s = site(c.req.param("site"));
  const id = targetId(c.req.param("id"));
  const targets = await siteTargets(c.env, s);
  if (!targets.some((t) => t.id === id)) throw new ApiError(404, "unknown_target", `no target "${id}" on site "${s}"`);
  await writeTargets(c.env.RULES, s, targets.filter((t) => t.id !== id));
  return c.json({ ok: true, site: s, deleted: id });
});

adminWebhooks.get("/v1/admin/sites/:site/visitors/:id/webhooks", async (c) => {
  const s = site(c.req.param("site"));
  const v = visitorId(c.req.param("id"));
  const messages = await visitorStub(c.env, s, v).webhooks();
  if (!messages) throw new ApiError(404, "unknown_visitor", `no visitor "${v}" on site "${s}"`);
  return c.json({ site: s, visitor: v, webhooks: messages });
});

adminWebhooks.post("/v1/admin/sites/:site/visitors/:id/webhooks/:msg/replay", async (c) => {
  const s = site(c.req.param("site"));
  const v = visitorId(c.req.param("id"));
  const msg = messageId(c.req.param("msg"));
  const result = await visitorStub(c.env, s, v).replay(msg);
  if (result === "unknown") throw new ApiError(404, "unknown_message", `visitor "${v}" has no webhook message "${msg}"`);
  if (result === "not_dead") throw new ApiError(409, "not_a_dead_letter", `message "${msg}" is not a dead letter: only those can be replayed`);
  return c.json({ ok: true, site: s, visitor: v, webhook: result }, 202);
});

adminWebhooks.get("/v1/admin/sites/:site/webhooks/dead", async (c) => {
  const s = site(c.req.param("site"));
  const cursor = c.req.query("cursor");
  const prefix = `deadletters:${s}:`;
  const page = await c.env.RULES.list<DeadLetterMeta>({ prefix, limit: DEAD_LETTERS_PAGE, ...(cursor ? { cursor } : {}) });
  return c.json({
    site: s,
    deadLetters: page.keys.map((k) => ({ id: k.name.slice(prefix.length), ...k.metadata })),
    cursor: page.list_complete ? null : page.cursor,
  });
});
