/**
 * Which account (company) a lead belongs to: its corporate email domain, or, for a free-mail
 * address, its `company` trait. A domain is not personal data, so it names the account object
 * as it is; a company name is reduced to a slug so "Acme Inc." and "acme inc" are one account.
 */
import type { VisitorState } from "../../rules/index.js";
import type { Env } from "../env.js";

/** An account as a lead names it. */
export interface AccountRef {
  /** `acme.example` for a domain, `co:acme-inc` for a company trait. */
  key: string;
  /** What people call it: the domain, or the company as first written. */
  name: string;
}

/** What a lead reports to its account. */
export interface MemberReport {
  lead: string;
  scores: Record<string, number>;
  signals: Record<string, number>;
  stage: string;
  email: string | null;
  at: number;
}

/** The shape of an account id in URLs. */
export const ACCOUNT_ID = /^([a-z0-9.-]{1,253}|co:[a-z0-9-]{1,64})$/;

/** The account of a lead's identity, or undefined (free mail and no company trait). */
export function accountOf(identity: VisitorState["identity"]): AccountRef | undefined {
  if (identity.kind === "corporate" && identity.domain !== undefined && ACCOUNT_ID.test(identity.domain)) {
    return { key: identity.domain, name: identity.domain };
  }
  const company = identity.traits.company;
  if (typeof company !== "string") return undefined;
  const slug = company.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64).replace(/-+$/, "");
  return slug === "" ? undefined : { key: `co:${slug}`, name: company.trim().slice(0, 120) };
}

/** The account's Durable Object. */
export function accountStub(env: Env, site: string, key: string) {
  return env.ACCOUNT.get(env.ACCOUNT.idFromName(`${site}:account:${key}`));
}
