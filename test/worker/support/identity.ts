/** Helpers for identity tests: the identity secret, a two-domain site, leads and accounts through the admin API. */
import { env } from "cloudflare:test";
import type { RulesInput } from "../../../rules/index.js";
import type { LeadSnapshot } from "../../../worker/identity/lead-object.js";
import type { AccountSnapshot } from "../../../worker/identity/account-object.js";
import { adminFetch, seedRules, uid } from "./client.js";

/** The identity secret the worker under test uses (set on the shared env, as a wrangler secret would be). */
export const IDENTITY_SECRET = "test-identity-secret-0123456789abcdef";
(env as unknown as Record<string, string>).IDENTITY_SECRET = IDENTITY_SECRET;

export type { AccountSnapshot, LeadSnapshot };

/** A site of its own on two domains (`www` and `shop`), rules from `patch` over a small default journey, `siteOptions` over its site section. */
export async function identitySite(patch: Partial<RulesInput> = {}, siteOptions: Partial<RulesInput["site"]> = {}): Promise<{ site: string; origin: string; other: string }> {
  const site = uid("id").toLowerCase();
  const host = site.replace(/_/g, "-");
  const origin = `https://www.${host}.example`;
  const other = `https://shop.${host}.example`;
  const doc: RulesInput = {
    version: "t1",
    site: { id: site, origins: [origin, other], stitch: true, ...siteOptions },
    groups: [{ id: "fit" }, { id: "engagement" }],
    rules: [
      { id: "page-view", on: "page_view", points: 1 },
      { id: "pricing", on: "page_view", when: { field: "path", glob: "/pricing" }, points: 10, cap: { times: 1 } },
      { id: "case-study", on: "page_view", when: { field: "path", glob: "/customers/*" }, points: 5 },
      { id: "careers", on: "page_view", when: { field: "path", glob: "/careers" }, points: -30 },
      { id: "corporate-email", group: "fit", on: ["identify", "form_submit"], when: { field: "email.kind", eq: "corporate" }, points: 15, cap: { times: 1 } },
      { id: "email-open", on: "email_open", points: 2, cap: { times: 3 } },
      { id: "email-click", on: "email_click", points: 5, cap: { times: 3 } },
    ],
    stages: [
      { id: "visitor" },
      { id: "lead", when: { identified: true } },
      { id: "mql", when: { all: [{ score: "total", gte: 30 }, { identified: true }] } },
    ],
    webhooks: [{ id: "crm", target: "crm", on: { stageEntered: ["lead", "mql"] } }],
    ...patch,
  };
  await seedRules(doc as { site: { id: string } });
  return { site, origin, other };
}

/** A lead through the admin API, by email (null when there is none). */
export async function leadByEmail(site: string, email: string): Promise<LeadSnapshot | null> {
  const res = await adminFetch(`/v1/admin/sites/${site}/identity/leads?email=${encodeURIComponent(email)}`);
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`GET lead answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as LeadSnapshot;
}

/** An account through the admin API (null when there is none). */
export async function account(site: string, id: string): Promise<AccountSnapshot | null> {
  const res = await adminFetch(`/v1/admin/sites/${site}/accounts/${encodeURIComponent(id)}`);
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`GET account answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as AccountSnapshot;
}

/** Points per rule of an explanation: rule -> [times, points]. */
export function byRule(rules: { rule: string; times: number; points: number }[]): Record<string, [number, number]> {
  return Object.fromEntries(rules.map((r) => [r.rule, [r.times, r.points]]));
}
