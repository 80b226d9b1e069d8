/**
 * Webhook targets, configured per site outside the rules document: KV key `targets:<site>` holds
 * `{"targets":[{"id","url","template","secret"|"secretEnv","concurrency"?}]}`. A secret is either
 * stored with the target or named by `secretEnv` (a wrangler secret); no API ever returns it.
 */
import * as z from "zod/mini";
import type { Env } from "../env.js";
import { secretBytes } from "./sign.js";

/** Payload shapes a target can receive (see templates.ts). */
export const TEMPLATES = ["json", "hubspot", "salesforce", "slack", "zapier"] as const;
export type TemplateName = (typeof TEMPLATES)[number];

/** Parallel sends to one target when none is configured. */
export const DEFAULT_CONCURRENCY = 2;
/** Most parallel sends a target may ask for. */
export const CONCURRENCY_MAX = 50;
/** Most targets per site. */
export const TARGETS_MAX = 20;

/** Bindings and variables a `secretEnv` may not name: they are not signing secrets. */
const RESERVED_ENV = new Set(["ADMIN_TOKEN", "IDENTITY_SECRET", "WEBHOOK_ALLOW_LOCAL", "RULES", "VISITOR", "LEAD", "ACCOUNT", "VISITOR_RATE", "IP_RATE", "TARGET_GATE"]);

const TargetId = z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "expected an id: 1-64 of a-z 0-9 _ -, starting with a letter or digit"));
const Secret = z.string().check(z.refine((s) => secretBytes(s) !== null, "expected whsec_ followed by base64 of 16 to 128 bytes"));
const SecretEnv = z.string().check(
  z.regex(/^[A-Z][A-Z0-9_]{0,63}$/, "expected the name of a wrangler secret: A-Z 0-9 _"),
  z.refine((s) => !RESERVED_ENV.has(s), "names a binding or variable of the worker, not a secret"),
);

/** The body of `PUT /v1/admin/sites/:site/targets/:id`. */
export const TargetInputSchema = z.strictObject({
  url: z.string().check(z.minLength(1)),
  template: z.enum(TEMPLATES),
  secret: z.optional(Secret),
  secretEnv: z.optional(SecretEnv),
  /**
   * The name of a wrangler secret holding an API token, sent as `Authorization: Bearer <token>`:
   * what HubSpot's and Salesforce's own APIs ask for (a private app's token, an OAuth access token).
   * Its name ends in _TOKEN: the value goes to the target in clear, so no other secret can be named.
   */
  bearerEnv: z.optional(SecretEnv.check(z.regex(/_TOKEN$/, "expected the name of a wrangler secret ending in _TOKEN (sent in clear to the target: never a signing secret)"))),
  concurrency: z.optional(z.number().check(z.int(), z.gte(1), z.lte(CONCURRENCY_MAX))),
});
export type TargetInput = z.infer<typeof TargetInputSchema>;

/** A stored target. `disabled` is set when the receiver answered 410 Gone. */
export const TargetSchema = z.object({
  id: TargetId,
  url: z.string(),
  template: z.enum(TEMPLATES),
  secret: z.optional(z.string()),
  secretEnv: z.optional(z.string()),
  bearerEnv: z.optional(z.string()),
  concurrency: z.optional(z.number().check(z.int(), z.gte(1), z.lte(CONCURRENCY_MAX))),
  disabled: z.optional(z.object({ at: z.number(), reason: z.string() })),
});
export type Target = z.infer<typeof TargetSchema>;

/** The KV document of a site's targets. */
export const TargetsDocSchema = z.object({ targets: z.array(TargetSchema).check(z.maxLength(TARGETS_MAX)) });

/** What the admin API shows of a target: never the secret. */
export interface PublicTarget {
  id: string;
  url: string;
  template: TemplateName;
  concurrency: number;
  secret: "stored" | { env: string };
  /** The wrangler secret whose token goes as a bearer token, if any. */
  bearer?: { env: string };
  disabled?: { at: number; reason: string };
}

/** KV key of a site's targets. */
export function targetsKey(site: string): string {
  return `targets:${site}`;
}

/** A site's targets; a document that does not parse is reported, not guessed at. */
export async function readTargets(kv: KVNamespace, site: string): Promise<{ ok: true; targets: Target[] } | { ok: false; error: string }> {
  const text = await kv.get(targetsKey(site));
  if (text === null) return { ok: true, targets: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: `KV ${targetsKey(site)} is not JSON` };
  }
  const parsed = TargetsDocSchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: `KV ${targetsKey(site)} is not a targets document: ${parsed.error.issues[0]?.message ?? "invalid"}` };
  return { ok: true, targets: parsed.data.targets };
}

/** Writes a site's targets. */
export async function writeTargets(kv: KVNamespace, site: string, targets: Target[]): Promise<void> {
  await kv.put(targetsKey(site), JSON.stringify({ targets }));
}

/** The target as the admin API shows it. */
export function publicTarget(t: Target): PublicTarget {
  const out: PublicTarget = {
    id: t.id, url: t.url, template: t.template, concurrency: t.concurrency ?? DEFAULT_CONCURRENCY,
    secret: t.secretEnv ? { env: t.secretEnv } : "stored",
  };
  if (t.bearerEnv) out.bearer = { env: t.bearerEnv };
  if (t.disabled) out.disabled = t.disabled;
  return out;
}

/** The wrangler secret (or variable) `name` of the worker's environment, whatever it holds. */
const namedSecret = (env: Env, name: string): unknown => (env as unknown as Record<string, unknown>)[name];

/** The Authorization header of a target with a `bearerEnv`, none without, or why it cannot be sent yet. */
export function targetAuth(t: Target, env: Env): { ok: true; headers: Record<string, string> } | { ok: false; error: string } {
  if (!t.bearerEnv) return { ok: true, headers: {} };
  const token = namedSecret(env, t.bearerEnv);
  if (typeof token !== "string" || token.trim() === "") return { ok: false, error: `the secret ${t.bearerEnv} is not set (wrangler secret put ${t.bearerEnv})` };
  return { ok: true, headers: { authorization: `Bearer ${token.trim()}` } };
}

/** The signing key of a target, from KV or from the named wrangler secret. */
export function targetKey(t: Target, env: Env): { ok: true; key: Uint8Array } | { ok: false; error: string } {
  const secret = t.secretEnv ? namedSecret(env, t.secretEnv) : t.secret;
  if (typeof secret !== "string") {
    return { ok: false, error: t.secretEnv ? `the secret ${t.secretEnv} is not set (wrangler secret put ${t.secretEnv})` : "the target has no secret" };
  }
  const key = secretBytes(secret);
  return key ? { ok: true, key } : { ok: false, error: "the target's secret is not a whsec_ secret" };
}
