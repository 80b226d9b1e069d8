/**
 * One lead across devices: two visitors that identify with the same address become one lead whose
 * score is the one a single device would have reached with the same events, each event scored once.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { leadKeyOf } from "../../worker/identity/keys.js";
import { leadName } from "../../worker/identity/lead-object.js";
import { collectOk, event, pageView, storedRows, uid, visitorStub } from "./support/client.js";
import { byRule, IDENTITY_SECRET, identitySite, leadByEmail } from "./support/identity.js";

const identify = (email: string) => event("identify", { email });

describe("two devices of one person", () => {
  it("merge mid-journey into one lead with exactly the score one device reaches, and one webhook per stage", async () => {
    const { site, origin } = await identitySite();
    const go = (visitor: string, e: object) => collectOk(visitor, [e], { site, origin });
    const journey: ["laptop" | "phone", Record<string, unknown>][] = [
      ["laptop", pageView("/", {}, origin)], ["laptop", pageView("/pricing", {}, origin)], ["laptop", identify("jane@acme.example")],
      ["phone", pageView("/pricing", {}, origin)], ["phone", pageView("/customers/x", {}, origin)], ["phone", identify("Jane+news@ACME.example")],
      ["laptop", pageView("/customers/y", {}, origin)],
    ];
    // The same events from one device, identified as another person.
    const single = uid("v");
    for (const [, e] of journey) await go(single, { ...e, id: uid("ev"), ...(e.email ? { email: "solo@acme.example" } : {}) });

    const devices = { laptop: uid("v"), phone: uid("v") };
    let last;
    for (const [device, e] of journey) last = await go(devices[device], e);
    const { laptop, phone } = devices;

    const lead = (await leadByEmail(site, "jane@acme.example"))!;
    const solo = (await leadByEmail(site, "solo@acme.example"))!;
    expect(lead.visitors.sort()).toEqual([laptop, phone].sort());
    expect(lead.scores).toEqual(solo.scores);
    expect(lead.scores).toMatchObject({ fit: 15, engagement: 25, total: 40 });
    expect(lead.stage).toBe("mql");
    expect(last!.visitor).toMatchObject({ stage: "mql", score: { total: 40 } });
    expect(byRule(lead.explanation.rules)).toEqual(byRule(solo.explanation.rules));
    expect(lead.explanation.stages.map((s) => s.to)).toEqual(["lead", "mql"]);
    expect(lead.outbox.map((m) => m.webhook)).toEqual(["crm", "crm"]);
    // The visitors leave their webhooks to the lead.
    expect((await storedRows(site, laptop)).outbox).toBe(0);
    expect((await storedRows(site, phone)).outbox).toBe(0);
  });

  it("counts a capped rule hit on both devices once", async () => {
    const { site, origin } = await identitySite();
    const [a, b] = [uid("v"), uid("v")];
    await collectOk(a, [pageView("/pricing", {}, origin), identify("max@globex.example")], { site, origin });
    await collectOk(b, [pageView("/pricing", {}, origin)], { site, origin });
    expect((await visitorStub(site, b).snapshot(site, b, Date.now()))!.explanation.rules.find((r) => r.rule === "pricing")).toMatchObject({ times: 1 });
    await collectOk(b, [identify("max@globex.example")], { site, origin });
    const lead = (await leadByEmail(site, "max@globex.example"))!;
    expect(byRule(lead.explanation.rules).pricing).toEqual([1, 10]);
    expect(lead.scores.total).toBe(1 + 10 + 1 + 15);
  });

  it("scores an event resent by a device, or sent by both, once", async () => {
    const { site, origin } = await identitySite();
    const [a, b] = [uid("v"), uid("v")];
    const shared = pageView("/customers/z", {}, origin);
    await collectOk(a, [identify("ada@initech.example"), shared], { site, origin });
    await collectOk(a, [shared], { site, origin });
    await collectOk(b, [shared, identify("ada@initech.example")], { site, origin });
    const lead = (await leadByEmail(site, "ada@initech.example"))!;
    expect(lead.events).toBe(3);
    expect(byRule(lead.explanation.rules)["case-study"]).toEqual([1, 5]);
  });

  it("never moves a lead backwards when a device with a worse past joins", async () => {
    const { site, origin } = await identitySite();
    const [early, a] = [uid("v"), uid("v")];
    await collectOk(early, [pageView("/careers", {}, origin)], { site, origin });
    const answer = await collectOk(a, [pageView("/pricing", {}, origin), pageView("/customers/q", {}, origin), identify("bo@umbrella.example")], { site, origin });
    expect(answer.visitor.stage).toBe("mql");
    await collectOk(early, [identify("bo@umbrella.example")], { site, origin });
    const lead = (await leadByEmail(site, "bo@umbrella.example"))!;
    // Replayed in time order the careers page comes first: the total is lower, the stage stays.
    expect(lead.scores.total).toBe(1 + 1 + 10 + 1 + 5 + 15 - 30);
    expect(lead.stage).toBe("mql");
    expect(lead.outbox.map((m) => m.webhook)).toEqual(["crm", "crm"]);
  });

  it("keeps a lead to its own address: a second address on a linked browser does not move or rename it", async () => {
    const { site, origin } = await identitySite();
    const a = uid("v");
    await collectOk(a, [identify("first@hooli.example")], { site, origin });
    await collectOk(a, [identify("second@hooli.example"), pageView("/pricing", {}, origin)], { site, origin });
    const lead = (await leadByEmail(site, "first@hooli.example"))!;
    expect(lead.identity.email).toBe("first@hooli.example");
    expect(byRule(lead.explanation.rules).pricing).toEqual([1, 10]);
    expect(await leadByEmail(site, "second@hooli.example")).toBeNull();
  });
});

describe("a lead that cannot take events", () => {
  it("gets them later from the visitor's alarm, each once, while the visitor answers with its own view", async () => {
    const { site, origin } = await identitySite();
    const a = uid("v");
    await collectOk(a, [identify("cy@wayne.example")], { site, origin });
    const key = (await leadKeyOf(IDENTITY_SECRET, site, "cy@wayne.example"))!;
    const lead = env.LEAD.get(env.LEAD.idFromName(leadName(site, key)));
    const state = await runInDurableObject(lead, (_, s) => String(s.storage.sql.exec("SELECT v FROM kv WHERE k = 'state'").one().v));
    // The lead's state unreadable: every ingest fails until it is repaired.
    await runInDurableObject(lead, (_, s) => void s.storage.sql.exec("UPDATE kv SET v = 'not json' WHERE k = 'state'"));
    const answer = await collectOk(a, [pageView("/pricing", {}, origin), pageView("/customers/w", {}, origin)], { site, origin });
    expect(answer.visitor.score.total).toBe(15 + 1 + 10 + 1 + 5);
    const alarm = await runInDurableObject(visitorStub(site, a), (_, s) => s.storage.getAlarm());
    expect(alarm).not.toBeNull();

    await runInDurableObject(lead, (_, s) => void s.storage.sql.exec("UPDATE kv SET v = ? WHERE k = 'state'", state));
    await runDurableObjectAlarm(visitorStub(site, a));
    const after = (await leadByEmail(site, "cy@wayne.example"))!;
    expect(after.events).toBe(3);
    expect(after.scores.total).toBe(15 + 1 + 10 + 1 + 5);
    await runDurableObjectAlarm(visitorStub(site, a));
    expect((await leadByEmail(site, "cy@wayne.example"))!.events).toBe(3);
  });
});
