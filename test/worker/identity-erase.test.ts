/**
 * Erasure of a lead everywhere: its visitors (every device, and the browser an email link landed
 * in), the lead itself, its share of its account, and the console's index. Nothing keyed by the
 * person is left.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { leadName } from "../../worker/identity/lead-object.js";
import { leadKeyOf } from "../../worker/identity/keys.js";
import { adminFetch, BROWSER_UA, collectOk, event, getVisitor, nextIp, pageView, storedRows, uid, visitorStub } from "./support/client.js";
import { account, IDENTITY_SECRET, identitySite, leadByEmail } from "./support/identity.js";

const accounts = { stages: [{ id: "cold" }, { id: "hot", when: { members: 2 } }] };

/** Row counts of every table of a lead's object. */
async function leadRows(site: string, email: string): Promise<Record<string, number>> {
  const key = (await leadKeyOf(IDENTITY_SECRET, site, email))!;
  const stub = env.LEAD.get(env.LEAD.idFromName(leadName(site, key)));
  return runInDurableObject(stub, (_, state) => Object.fromEntries(
    ["kv", "members", "events", "ledger", "announced", "clicks", "outbox", "outbox_attempts", "used_tokens"].map((t) => [t, Number(state.storage.sql.exec(`SELECT count(*) AS n FROM ${t}`).one().n)])));
}

const EMPTY_VISITOR = { events: 0, distinctEvents: 0, ledger: 0, outbox: 0, kv: 0 };
const EMPTY_LEAD = { kv: 0, members: 0, events: 0, ledger: 0, announced: 0, clicks: 0, outbox: 0, outbox_attempts: 0, used_tokens: 0 };

describe("erasing a lead", () => {
  it("removes its devices, the browser its email link landed in, the lead, its share of the account and its index rows", async () => {
    const { site, origin } = await identitySite({ accounts });
    const [laptop, phone, landed, colleague] = [uid("v"), uid("v"), uid("v"), uid("v")];
    await collectOk(laptop, [pageView("/pricing", {}, origin), event("identify", { email: "jane@acme.example" })], { site, origin });
    await collectOk(phone, [pageView("/customers/a", {}, origin), event("identify", { email: "jane@acme.example" })], { site, origin });
    await collectOk(colleague, [pageView("/pricing", {}, origin), event("identify", { email: "bob@acme.example" })], { site, origin });
    // An email link, clicked and claimed on the landing page by a third browser.
    const minted = await adminFetch(`/v1/admin/sites/${site}/email-tokens`, { method: "POST", body: JSON.stringify({ campaign: "c1", recipients: ["jane@acme.example"], links: [`${origin}/pricing`] }) });
    const { recipients: [r] } = (await minted.json()) as { recipients: { links: { href: string }[] }[] };
    const click = await SELF.fetch(r!.links[0]!.href, { headers: { "user-agent": BROWSER_UA, "accept-language": "en" }, redirect: "manual" });
    const claim = new URL(click.headers.get("location")!).searchParams.get("mql_t")!;
    const redeemed = await SELF.fetch("https://edge.test/v1/identity/continue", {
      method: "POST", headers: { origin, "cf-connecting-ip": nextIp() }, body: JSON.stringify({ site, visitor: landed, token: claim }),
    });
    expect(redeemed.status).toBe(200);
    for (const v of [laptop, phone, landed, colleague]) await visitorStub(site, v).reportIndex();
    const jane = (await leadByEmail(site, "jane@acme.example"))!;
    expect(jane.visitors.sort()).toEqual([laptop, phone, landed].sort());
    expect((await account(site, "acme.example"))!.members).toHaveLength(2);

    const res = await adminFetch(`/v1/admin/sites/${site}/identity/leads?email=${encodeURIComponent("Jane@ACME.example")}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    const erased = (await res.json()) as { lead: string; existed: boolean; visitors: string[]; account: string };
    expect(erased).toMatchObject({ lead: jane.lead, existed: true, account: "acme.example" });
    expect(erased.visitors.sort()).toEqual([laptop, phone, landed].sort());

    expect(await leadByEmail(site, "jane@acme.example")).toBeNull();
    expect(await leadRows(site, "jane@acme.example")).toEqual(EMPTY_LEAD);
    for (const v of [laptop, phone, landed]) {
      expect((await getVisitor(site, v)).status).toBe(404);
      expect(await storedRows(site, v)).toEqual(EMPTY_VISITOR);
      expect(await env.RULES.get(`visitors:${site}:${v}`)).toBeNull();
    }
    const index = await (await adminFetch(`/v1/admin/sites/${site}/leads`)).text();
    for (const v of [laptop, phone, landed]) expect(index).not.toContain(v);
    expect(index).toContain(colleague);

    // The account keeps only Bob, and its scores are his alone.
    const acme = (await account(site, "acme.example"))!;
    expect(acme.members.map((m) => m.lead)).toEqual([(await leadByEmail(site, "bob@acme.example"))!.lead]);
    expect(acme.scores).toEqual({ fit: 15, engagement: 11, total: 26 });
  });

  it("follows a linked visitor's erasure to the whole lead, and an account left with nobody keeps nothing", async () => {
    const { site, origin } = await identitySite({ accounts });
    const [a, b] = [uid("v"), uid("v")];
    await collectOk(a, [event("identify", { email: "solo@initech.example" })], { site, origin });
    await collectOk(b, [event("identify", { email: "solo@initech.example" })], { site, origin });
    const res = await adminFetch(`/v1/admin/sites/${site}/visitors/${a}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ erased: true, lead: { existed: true, account: "initech.example" } });
    expect(await storedRows(site, b)).toEqual(EMPTY_VISITOR);
    expect(await leadByEmail(site, "solo@initech.example")).toBeNull();
    expect(await account(site, "initech.example")).toBeNull();
  });

  it("on a site that does not stitch, finds the visitors identified with the address (any spelling of the mailbox) in the index and erases them", async () => {
    const { site, origin } = await identitySite({}, { stitch: false });
    const [work, home, gmail, colleague] = [uid("v"), uid("v"), uid("v"), uid("v")];
    await collectOk(work, [pageView("/pricing", {}, origin), event("identify", { email: "dana@helios.example" })], { site, origin });
    await collectOk(home, [event("identify", { email: "Dana+News@Helios.example" })], { site, origin });
    await collectOk(gmail, [event("identify", { email: "dana.h@gmail.com" })], { site, origin });
    await collectOk(colleague, [event("identify", { email: "dan@helios.example" })], { site, origin });
    for (const v of [work, home, gmail, colleague]) await visitorStub(site, v).reportIndex();

    const res = await adminFetch(`/v1/admin/sites/${site}/identity/leads?email=${encodeURIComponent("DANA@helios.example")}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    const erased = (await res.json()) as { existed: boolean; visitors: string[] };
    expect(erased.existed).toBe(true);
    expect(erased.visitors.sort()).toEqual([work, home].sort());
    for (const v of [work, home]) expect(await storedRows(site, v)).toEqual(EMPTY_VISITOR);
    const index = await (await adminFetch(`/v1/admin/sites/${site}/leads`)).text();
    for (const v of [work, home]) expect(index).not.toContain(v);
    for (const v of [gmail, colleague]) {
      expect((await getVisitor(site, v)).status).toBe(200);
      expect(index).toContain(v);
    }

    // Gmail's dots and tags are one mailbox.
    const again = await adminFetch(`/v1/admin/sites/${site}/identity/leads?email=${encodeURIComponent("danah+x@googlemail.com")}`, { method: "DELETE" });
    expect(((await again.json()) as { visitors: string[] }).visitors).toEqual([gmail]);
    expect((await getVisitor(site, colleague)).status).toBe(200);
  });

  it("answers existed: false for a lead nobody knows", async () => {
    const { site } = await identitySite();
    const res = await adminFetch(`/v1/admin/sites/${site}/identity/leads?email=nobody@nowhere.example`, { method: "DELETE" });
    expect(await res.json()).toMatchObject({ existed: false, visitors: [], account: null });
  });

  it.each([
    ["stitches visitors into leads", true, false],
    ["does not stitch visitors into leads", false, true],
  ])("answers 404 naming the address asked for a lead nobody has, on a site that %s", async (_, stitch, saysWhy) => {
    const { site, origin } = await identitySite();
    if (!stitch) {
      const rules = await (await adminFetch(`/v1/admin/sites/${site}/rules`)).json() as { site: Record<string, unknown> };
      const put = await adminFetch(`/v1/admin/sites/${site}/rules`, { method: "PUT", body: JSON.stringify({ ...rules, version: "t1-no-stitch", site: { ...rules.site, origins: [origin], stitch: false } }) });
      expect(put.status).toBe(200);
    }
    const res = await adminFetch(`/v1/admin/sites/${site}/identity/leads?email=nobody@nowhere.example`);
    expect(res.status).toBe(404);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("unknown_lead");
    expect(error.message).toContain('"nobody@nowhere.example"');
    expect(error.message.includes("does not stitch visitors into leads")).toBe(saysWhy);
  });

  it.each([
    ["a lead id of the wrong shape", "/identity/leads/ld_short", "lead"],
    ["no email", "/identity/leads", "email"],
    ["an address that is not one", "/identity/leads?email=nope", "email"],
  ])("refuses %s, naming it", async (_, path, field) => {
    const { site } = await identitySite();
    const res = await adminFetch(`/v1/admin/sites/${site}${path}`, { method: "DELETE" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { issues: { path: string }[] } }).error.issues[0]!.path).toBe(field);
  });
});
