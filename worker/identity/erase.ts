/**
 * Erasure of a lead everywhere: the lead object (events, ledger, outbox, used tokens, its dead
 * letters in KV), every visitor linked to it (each erases its own storage, dead letters and its
 * row in the console's index), and its share of its account (the account's scores are computed
 * again without it; an account left with nobody keeps nothing). The lead's key is a keyed hash
 * of the email, so once these are gone nothing maps the address to anything.
 *
 * Visitors are linked to a lead only on a site that stitches (site.stitch); so the console's index
 * is also asked for every visitor identified with the address (any spelling that is the same
 * mailbox: case, +tags, Gmail's dots), and those are erased too, on any site. The index holds a
 * visitor from its first report (seconds after its events), so a browser identified in the last
 * seconds may be missed there; on a stitching site it is linked, and erased with the lead.
 */
import { withIndex } from "../console/schema.js";
import { visitorStub, type Env } from "../env.js";
import { accountStub } from "./accounts.js";
import { leadStub } from "./forward.js";
import { mailboxDomains, normaliseEmail } from "./keys.js";
import { leadId } from "./lead-object.js";

/** What an erasure removed. */
export interface Erased {
  lead: string;
  existed: boolean;
  /** Every visitor erased: those linked to the lead, then those the index knows with its address. */
  visitors: string[];
  account: string | null;
}

/** Erases a lead, its visitors and its share of its account; `email` (else the lead's own address) also finds visitors in the index. */
export async function eraseLead(env: Env, site: string, key: string, now: number, email?: string): Promise<Erased> {
  const lead = leadStub(env, site, key);
  const address = email ?? (await lead.address()) ?? undefined;
  // Asked before the lead forgets its address; an index that cannot answer does not stop the rest.
  const indexed = address === undefined ? [] : await visitorsWithAddress(env, site, address).catch((e) => {
    console.error(`erasing lead ${site}:${key}: the index could not list the address's visitors: ${(e as Error).message}`);
    return [] as string[];
  });
  const gone = await lead.erase();
  const visitors = [...new Set([...gone.visitors, ...indexed])];
  await Promise.all(visitors.map((v) => visitorStub(env, site, v).erase()));
  if (gone.account !== null) await accountStub(env, site, gone.account).remove(site, key, now);
  // The lead's own webhook messages, as the console's index lists them.
  const db = env.INDEX;
  if (db) await withIndex(db, () => db.prepare("DELETE FROM deliveries WHERE site = ? AND visitor = ?").bind(site, leadId(key)).run());
  return { lead: leadId(key), existed: gone.existed || visitors.length > 0, visitors, account: gone.account };
}

/** The visitors of `site` the console's index knows identified with `address` (the same mailbox). */
async function visitorsWithAddress(env: Env, site: string, address: string): Promise<string[]> {
  const db = env.INDEX;
  const mailbox = normaliseEmail(address);
  if (!db || mailbox === undefined) return [];
  const domains = mailboxDomains(mailbox.slice(mailbox.lastIndexOf("@") + 1));
  const rows = await withIndex(db, () => db.prepare(
    `SELECT visitor, email FROM leads WHERE site = ? AND email IS NOT NULL AND domain IN (${domains.map(() => "?").join(", ")})`,
  ).bind(site, ...domains).all<{ visitor: string; email: string }>());
  return rows.results.filter((r) => normaliseEmail(r.email) === mailbox).map((r) => r.visitor);
}
