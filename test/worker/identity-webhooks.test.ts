/**
 * A lead's and an account's webhooks go out through the same delivery as a visitor's: signed,
 * verified by the Node receiver with the standardwebhooks package, one message per stage.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { accountStub } from "../../worker/identity/accounts.js";
import { leadKeyOf } from "../../worker/identity/keys.js";
import { leadName } from "../../worker/identity/lead-object.js";
import { adminFetch, collectOk, event, pageView, uid, visitorStub } from "./support/client.js";
import { IDENTITY_SECRET, identitySite } from "./support/identity.js";
import { deliveries, hookUrl, plan, putTarget, SECRET } from "./support/receiver-client.js";

/** Makes every pending message of an object due and fires its alarm. */
async function fire(stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, async (_, state) => {
    state.storage.sql.exec("UPDATE outbox SET next_at = 0 WHERE status = 'pending'");
    await state.storage.setAlarm(Date.now() + 60_000);
  });
  await runDurableObjectAlarm(stub);
}

describe("webhooks of leads and accounts", () => {
  it("deliver one signed message per lead stage across two devices, and the account's", async () => {
    const name = uid("lead");
    const { site, origin } = await identitySite({
      accounts: { stages: [{ id: "cold" }, { id: "hot", when: { signal: "pricing" } }], webhooks: [{ id: "acct", target: "crm", on: { stageEntered: ["hot"] } }] },
    });
    expect((await putTarget(site, "crm", { url: hookUrl(name), template: "json", secret: SECRET })).status).toBe(201);
    const [a, b] = [uid("v"), uid("v")];
    await collectOk(a, [pageView("/pricing", {}, origin), event("identify", { email: "lu@acme.example" })], { site, origin });
    await collectOk(b, [pageView("/customers/a", {}, origin), pageView("/customers/b", {}, origin), event("identify", { email: "lu@acme.example" })], { site, origin });

    const key = (await leadKeyOf(IDENTITY_SECRET, site, "lu@acme.example"))!;
    await fire(env.LEAD.get(env.LEAD.idFromName(leadName(site, key))));
    await fire(accountStub(env, site, "acme.example"));
    const got = await deliveries(name);
    expect(got.every((d) => d.verified && d.answered === 204)).toBe(true);
    const bodies = got.map((d) => d.body as { type: string; data: { visitor: { id: string }; stage: { to: string }; lead?: { visitors: string[]; account: string | null }; account?: { id: string } } });
    // Objects deliver on their own alarms: the lead's messages are in order, the account's may come between.
    expect(bodies.filter((d) => d.data.lead).map((d) => [d.type, d.data.stage.to])).toEqual([["visitor.stage_entered", "lead"], ["visitor.stage_entered", "mql"]]);
    expect(bodies.filter((d) => d.data.account).map((d) => [d.type, d.data.stage.to])).toEqual([["account.stage_entered", "hot"]]);
    expect(bodies).toHaveLength(3);
    const mql = bodies.find((d) => d.data.stage.to === "mql")!;
    expect(mql.data.visitor.id).toBe(`ld_${key}`);
    expect(mql.data.lead!.visitors.sort()).toEqual([a, b].sort());
    // Every lead message names the account, the first ones included (sent before the roll-up stored it).
    expect(bodies.filter((d) => d.data.lead).map((d) => d.data.lead!.account)).toEqual(["acme.example", "acme.example"]);
  });

  it("announce a score reached once for the person: a visitor that reached it before identifying does not make the lead send it again", async () => {
    const { site, origin } = await identitySite({
      webhooks: [
        { id: "crm", target: "crm", on: { stageEntered: ["lead", "mql"] } },
        { id: "hot", target: "crm", on: { scoreReached: { score: "total", value: 10 } } },
      ],
    });
    const visitor = uid("v");
    await collectOk(visitor, [pageView("/pricing", {}, origin)], { site, origin });
    await collectOk(visitor, [event("identify", { email: "mo@acme.example" })], { site, origin });
    const key = (await leadKeyOf(IDENTITY_SECRET, site, "mo@acme.example"))!;
    const lead = env.LEAD.get(env.LEAD.idFromName(leadName(site, key))) as unknown as { webhooks(): Promise<{ webhook: string }[] | null> };
    const own = (await (visitorStub(site, visitor) as unknown as { webhooks(): Promise<{ webhook: string }[] | null> }).webhooks()) ?? [];
    const ofLead = (await lead.webhooks()) ?? [];
    expect(own.map((m) => m.webhook)).toEqual(["hot"]);
    expect(ofLead.map((m) => m.webhook)).toEqual(["crm"]);
  });

  it("send the lead's SQL only after the MQL its browser announced before it was linked, even while that MQL is being retried", async () => {
    const name = uid("order");
    await plan(name, { failFirst: 1, failStatus: 503 });
    const { site, origin } = await identitySite({
      stages: [
        { id: "visitor" },
        { id: "mql", when: { score: "total", gte: 10 } },
        { id: "sql", when: { all: [{ identified: true }, { score: "total", gte: 20 }] } },
      ],
      // Two messages of the browser to one target: the second waits behind the first in its outbox.
      webhooks: [{ id: "crm", target: "crm", on: { stageEntered: ["mql", "sql"] } }, { id: "hot", target: "crm", on: { scoreReached: { score: "total", value: 5 } } }],
    });
    expect((await putTarget(site, "crm", { url: hookUrl(name), template: "json", secret: SECRET })).status).toBe(201);
    const visitor = uid("v");
    // Anonymous, the browser reaches MQL: its own message, whose first try gets a 503.
    await collectOk(visitor, [pageView("/pricing", {}, origin)], { site, origin });
    await fire(visitorStub(site, visitor));
    expect((await deliveries(name)).map((d) => d.answered)).toEqual([503]);
    // Identified, it is linked to the lead, which reaches SQL: the lead's message waits for the browser's MQL.
    await collectOk(visitor, [event("identify", { email: "ord@acme.example" })], { site, origin });
    const lead = env.LEAD.get(env.LEAD.idFromName(leadName(site, (await leadKeyOf(IDENTITY_SECRET, site, "ord@acme.example"))!)));
    await fire(lead);
    expect((await deliveries(name)).map((d) => d.answered)).toEqual([503]);
    // The lead's message is due again when the browser's first message is, not in a second: no polling.
    const nextOf = (stub: DurableObjectStub) => runInDurableObject(stub, (_, state) =>
      Number(state.storage.sql.exec("SELECT next_at AS n FROM outbox WHERE status = 'pending' ORDER BY rowid LIMIT 1").one().n));
    expect(await nextOf(lead)).toBeGreaterThanOrEqual(await nextOf(visitorStub(site, visitor)));
    await fire(visitorStub(site, visitor));
    await fire(lead);
    const got = await deliveries(name);
    const what = (d: (typeof got)[number]) => (d.body as { data: { stage?: { to: string }; score?: { name: string } } }).data;
    expect(got.map((d) => [d.answered, what(d).stage?.to ?? `score ${what(d).score!.name}`])).toEqual([[503, "mql"], [204, "mql"], [204, "score total"], [204, "sql"]]);

    // The console's Webhooks page lists the lead's message beside the browser's; erasing the person removes it.
    await visitorStub(site, visitor).reportIndex();
    const key = (await leadKeyOf(IDENTITY_SECRET, site, "ord@acme.example"))!;
    const listed = async () => ((await (await adminFetch(`/v1/admin/sites/${site}/deliveries?days=1`)).json()) as { deliveries: { visitor: string; stage: string; status: string }[] }).deliveries
      .map((d) => [d.visitor, d.stage, d.status]).sort();
    expect(await listed()).toEqual([[`ld_${key}`, "sql", "delivered"], [visitor, null, "delivered"], [visitor, "mql", "delivered"]]);
    await adminFetch(`/v1/admin/sites/${site}/identity/leads?email=ord@acme.example`, { method: "DELETE" });
    expect(await listed()).toEqual([]);
  });
});
