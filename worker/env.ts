/** Bindings, variables and secrets the worker runs with (see wrangler.toml). */
import type { AccountObject } from "./identity/account-object.js";
import type { LeadObject } from "./identity/lead-object.js";
import type { VisitorObject } from "./visitor-object.js";
import type { TargetGate } from "./webhooks/target-gate.js";

export interface Env {
  /** Rules documents, one per site, under `rules:<site id>`. */
  RULES: KVNamespace;
  /** One Durable Object per (site, visitor): score, stage, ledger, outbox. */
  VISITOR: DurableObjectNamespace<VisitorObject>;
  /** One Durable Object per (site, lead): a person across visitors, keyed by a keyed hash of the email (worker/identity/). */
  LEAD: DurableObjectNamespace<LeadObject>;
  /** One Durable Object per (site, account): the company its leads roll up into. */
  ACCOUNT: DurableObjectNamespace<AccountObject>;
  /** One Durable Object per (site, webhook target): the target's concurrency limit, across every sender. */
  TARGET_GATE: DurableObjectNamespace<TargetGate>;
  /** Requests per visitor (key `v:<site>:<visitor>`). */
  VISITOR_RATE: RateLimit;
  /** Requests per client IP (key `ip:<address>`). */
  IP_RATE: RateLimit;
  /** The console's cross-visitor index (leads, stages, events, feedback, deliveries); see worker/console/schema.ts. */
  INDEX?: D1Database;
  /** Bearer token of the admin API (`wrangler secret put ADMIN_TOKEN`). */
  ADMIN_TOKEN?: string;
  /**
   * Master secret of identity stitching and signed tokens (`wrangler secret put IDENTITY_SECRET`, 32+
   * characters): per-site keys are derived from it (worker/identity/keys.ts). Unset: those features are off.
   */
  IDENTITY_SECRET?: string;
  /** "true" turns on `GET /v1/visitors/:site/:id`, a visitor's own explained score (the demo's panel). */
  VISITOR_SELF_VIEW?: string;
  /**
   * "true" lets webhooks go to http(s)://127.0.0.1 and localhost (`npm start`, tests); anything
   * else (wrangler.toml sets "false") allows only https to public hosts.
   */
  WEBHOOK_ALLOW_LOCAL?: string;
}

/** The Durable Object of visitor `visitor` of `site`: one per (site, visitor), named `<site>:<visitor>`. */
export function visitorStub(env: Env, site: string, visitor: string) {
  return env.VISITOR.get(env.VISITOR.idFromName(`${site}:${visitor}`));
}
