/**
 * Erasure of a lead everywhere: the lead object (events, ledger, outbox, used tokens, its dead
 * letters in KV), every visitor linked to it (each erases its own storage, dead letters and its
 * row in the console's index), and its share of its account (the account's scores are computed
 * again without it; an account left with nobody keeps nothing). The lead's key is a keyed hash
 * of the email, so once these are gone nothing maps the address to anything.
 */
import type { Env } from "../env.js";
import { accountStub } from "./accounts.js";
import { leadStub } from "./forward.js";
import { leadId } from "./lead-object.js";

/** What an erasure removed. */
export interface Erased {
  lead: string;
  existed: boolean;
  visitors: string[];
  account: string | null;
}

/** Erases a lead, its visitors and its share of its account. */
export async function eraseLead(env: Env, site: string, key: string, now: number): Promise<Erased> {
  const gone = await leadStub(env, site, key).erase();
  await Promise.all(gone.visitors.map((v) => env.VISITOR.get(env.VISITOR.idFromName(`${site}:${v}`)).erase()));
  if (gone.account !== null) await accountStub(env, site, gone.account).remove(site, key, now);
  return { lead: leadId(key), existed: gone.existed, visitors: gone.visitors, account: gone.account };
}
