/**
 * privacy.retentionDays: a visitor's raw events (pages, form fields, properties) received before the
 * site's retention are removed from its object and from the console's index, on the next batch or
 * by the object's alarm for a visitor who never comes back; the ledger, which explains the score, stays.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { leadKeyOf } from "../../worker/identity/keys.js";
import { leadName } from "../../worker/identity/lead-object.js";
import { collectOk, event, pageView, seedRules, siteDoc, uid, visitorStub } from "./support/client.js";
import { byRule, IDENTITY_SECRET, identitySite, leadByEmail } from "./support/identity.js";

const SITE = "retention-one-day";
const ORIGIN = "https://www.retention.example";
const DAY_MS = 86_400_000;
/** The console's index (wrangler.toml binds it). */
const INDEX = env.INDEX!;

beforeAll(async () => {
  await seedRules(siteDoc(SITE, ORIGIN, {
    site: { id: SITE, origins: [ORIGIN], privacy: { retentionDays: 1 } },
    rules: [{ id: "page-view", on: "page_view", points: 1 }, { id: "form", on: "form_submit", points: 5 }],
  }) as { site: { id: string } });
});

const opts = { site: SITE, headers: { origin: ORIGIN } };
type Rows = { events: string[]; ledger: number; alarm: number | null };
const rows = (visitor: string) => runInDurableObject(visitorStub(SITE, visitor), async (_, state): Promise<Rows> => ({
  events: state.storage.sql.exec("SELECT id FROM events ORDER BY id").toArray().map((r) => String(r.id)),
  ledger: Number(state.storage.sql.exec("SELECT count(*) AS n FROM ledger").one().n),
  alarm: await state.storage.getAlarm(),
}));
const indexed = async (visitor: string) =>
  (await INDEX.prepare("SELECT id FROM lead_events WHERE site = ? AND visitor = ? ORDER BY id").bind(SITE, visitor).all<{ id: string }>()).results.map((r) => r.id);

describe("privacy.retentionDays", () => {
  it("removes events past the retention from the object and the index by the alarm, keeps the ledger, and sets the alarm for the next one", async () => {
    const visitor = uid("v");
    const old = { ...pageView("/pricing"), id: uid("a-old") };
    const kept = { ...event("form_submit", { url: `${ORIGIN}/contact`, form: { id: "contact" }, fields: { job_title: "CFO" } }), id: uid("b-kept") };
    await collectOk(visitor, [old, kept], opts);
    // The index report runs from the alarm.
    await runDurableObjectAlarm(visitorStub(SITE, visitor));
    expect(await indexed(visitor)).toEqual([old.id, kept.id].sort());

    // The first event was received two days ago, the second half a day ago.
    const now = Date.now();
    await runInDurableObject(visitorStub(SITE, visitor), (instance, state) => {
      state.storage.sql.exec("UPDATE events SET received_at = ? WHERE id = ?", now - 2 * DAY_MS, old.id);
      state.storage.sql.exec("UPDATE events SET received_at = ? WHERE id = ?", now - DAY_MS / 2, kept.id);
      // What the instance remembers dates from before those days passed, as an instance woken by the alarm would not.
      Object.assign(instance as object, { retainedAt: 0, expiresAt: 0 });
    });
    await INDEX.prepare("UPDATE lead_events SET at = ? WHERE site = ? AND id = ?").bind(now - 2 * DAY_MS, SITE, old.id).run();
    await INDEX.prepare("UPDATE lead_events SET at = ? WHERE site = ? AND id = ?").bind(now - DAY_MS / 2, SITE, kept.id).run();

    // The alarm set for the first event to expire, run now.
    expect((await rows(visitor)).alarm).not.toBeNull();
    expect(await runDurableObjectAlarm(visitorStub(SITE, visitor))).toBe(true);
    const after = await rows(visitor);
    expect(after.events).toEqual([kept.id]);
    expect(after.ledger).toBe(2);
    expect(await indexed(visitor)).toEqual([kept.id]);
    // Next due: when the kept event passes the retention, half a day from now.
    expect(after.alarm).not.toBeNull();
    expect(Math.abs(after.alarm! - (now + DAY_MS / 2))).toBeLessThan(60_000);
  });

  it("removes them on the next batch of a visitor who comes back, its score unchanged", async () => {
    const visitor = uid("v");
    const old = { ...pageView("/"), id: uid("a-old") };
    await collectOk(visitor, [old], opts);
    await runInDurableObject(visitorStub(SITE, visitor), (instance, state) => {
      state.storage.sql.exec("UPDATE events SET received_at = ? WHERE id = ?", Date.now() - 3 * DAY_MS, old.id);
      // A new instance, as after the object was evicted: it applies the retention with its first batch.
      (instance as unknown as { retainedAt: number }).retainedAt = 0;
    });
    const again = await collectOk(visitor, [pageView("/product")], opts);
    expect(again.visitor.score.total).toBe(2);
    const after = await rows(visitor);
    expect(after.events).toHaveLength(1);
    expect(after.events).not.toContain(old.id);
    expect(after.ledger).toBe(2);
  });
});

describe("privacy.retentionDays for a stitched lead", () => {
  const identify = (email: string) => event("identify", { email });
  const leadRows = (stub: DurableObjectStub) => runInDurableObject(stub, (_, state) => ({
    events: state.storage.sql.exec("SELECT id FROM events ORDER BY id").toArray().map((r) => String(r.id)),
    ledger: state.storage.sql.exec("SELECT rule FROM ledger ORDER BY seq").toArray().map((r) => String(r.rule)),
  }));
  /** Moves the lead's events (or the visitor's) back in time, and makes the instance forget when it last applied the retention. */
  const age = (stub: DurableObjectStub, ids: string[], at: number) => runInDurableObject(stub, (instance, state) => {
    for (const id of ids) state.storage.sql.exec("UPDATE events SET received_at = ? WHERE id = ?", at, id);
    Object.assign(instance as object, { retainedAt: 0, expiresAt: 0 });
  });

  it("removes the lead's merged events past it, keeps what they earned, and a later merge replays only the kept events on top of it", async () => {
    const { site, origin } = await identitySite({}, { privacy: { retentionDays: 1 } });
    const [laptop, phone] = [uid("v"), uid("v")];
    const email = `ret-${uid("m").toLowerCase()}@acme.example`;
    // The phone's visit comes first; the laptop identifies the person.
    const caseStudy = pageView("/customers/x", {}, origin);
    await collectOk(phone, [caseStudy], { site, origin });
    const early = [pageView("/pricing", {}, origin), identify(email)];
    await collectOk(laptop, early, { site, origin });
    const lead = env.LEAD.get(env.LEAD.idFromName(leadName(site, (await leadKeyOf(IDENTITY_SECRET, site, email))!)));
    expect((await leadByEmail(site, email))!.scores.total).toBe(1 + 10 + 15);

    // The laptop's events were received two days ago: the lead's alarm removes them, not their points.
    await age(lead, early.map((e) => e.id), Date.now() - 2 * DAY_MS);
    expect(await runDurableObjectAlarm(lead)).toBe(true);
    const aged = await leadRows(lead);
    expect(aged.events).toEqual([]);
    expect(aged.ledger).toEqual(["page-view", "pricing", "corporate-email"]);
    expect((await leadByEmail(site, email))!.scores.total).toBe(1 + 10 + 15);

    // The phone identifies: its case study, received before the laptop's events, makes the lead
    // replay its history, from what the removed events left.
    await collectOk(phone, [identify(email)], { site, origin });
    const merged = (await leadByEmail(site, email))!;
    expect(merged.visitors.sort()).toEqual([laptop, phone].sort());
    expect(merged.events).toBe(2);
    expect(merged.scores.total).toBe(1 + 10 + 15 + 1 + 5);
    expect(merged.stage).toBe("mql");
    expect(byRule(merged.explanation.rules)).toMatchObject({ "page-view": [2, 2], pricing: [1, 10], "corporate-email": [1, 15], "case-study": [1, 5] });
    expect((await leadRows(lead)).ledger).toEqual(["page-view", "pricing", "corporate-email", "page-view", "case-study"]);
  });

  it("neither keeps nor scores an event that reaches the lead already past it", async () => {
    const { site, origin } = await identitySite({}, { privacy: { retentionDays: 1 } });
    const visitor = uid("v");
    const email = `old-${uid("m").toLowerCase()}@acme.example`;
    const old = pageView("/customers/old", {}, origin);
    await collectOk(visitor, [old], { site, origin });
    // Received three days ago by the visitor, which has not applied the retention since.
    await runInDurableObject(visitorStub(site, visitor), (_, state) => void state.storage.sql.exec("UPDATE events SET received_at = ? WHERE id = ?", Date.now() - 3 * DAY_MS, old.id));
    const id = identify(email);
    await collectOk(visitor, [id], { site, origin });
    const lead = (await leadByEmail(site, email))!;
    expect(lead.events).toBe(1);
    expect(lead.scores.total).toBe(15);
    const stub = env.LEAD.get(env.LEAD.idFromName(leadName(site, (await leadKeyOf(IDENTITY_SECRET, site, email))!)));
    expect((await leadRows(stub)).events).toEqual([id.id]);
  });
});
