/**
 * The console's index and leads: visitor objects report their summary and events to D1 from their
 * alarm (never on collect's path), the leads list filters and sorts, the CSV exports what the list
 * shows, a lead's page has its timeline, bad input is refused by name, the index can be rebuilt
 * from the objects and forgets erased visitors.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { SELF } from "cloudflare:test";
import { adminFetch, collectOk, event, pageView, uid, visitorStub, type ErrorResponse } from "./support/client.js";
import { identitySite, leadByEmail } from "./support/identity.js";
import { consoleSite, getJson, indexRows, play, reported } from "./console-support.js";
import { INDEX_EVENTS_PER_REPORT, INDEX_FLUSH_DELAY_MS } from "../../worker/console/index-writer.js";
import type { Lead } from "../../worker/console/leads.js";
import { leadName } from "../../worker/identity/lead-object.js";

interface List { total: number; leads: Lead[]; stages: { id: string }[] }

let site: string;
let origin: string;
const who: Record<string, string> = {};

beforeAll(async () => {
  ({ site, origin } = await consoleSite("lead"));
  // ana: from a Google campaign, identified with a corporate address, MQL (1+10+1+20+10 points).
  who.ana = await play(site, origin, [
    { view: "/", query: "utm_source=google&utm_medium=cpc&utm_campaign=spring" },
    { view: "/pricing" },
    { form: "whitepaper", email: "ana@helios.example" },
  ]);
  // bob: from a newsletter, requests a demo: SQL.
  who.bob = await play(site, origin, [
    { view: "/blog/scoring", query: "utm_source=newsletter&utm_medium=email" },
    { form: "demo", email: "bob@orbit.example" },
  ]);
  // cid: referred by a partner, gives a free-mail address and a company trait: a lead.
  who.cid = await play(site, origin, [
    { view: "/customers/acme", referrer: "https://partner.example/post" },
    { view: "/about" },
    { identify: "cid@gmail.com", traits: { company: "=HYPERLINK(\"http://evil.example\")" } },
  ]);
  // dan: one anonymous page view, direct.
  who.dan = await play(site, origin, [{ view: "/" }]);
});

const list = (query = "") => getJson<List>(`/v1/admin/sites/${site}/leads${query}`);
const ids = (l: List) => l.leads.map((x) => Object.keys(who).find((k) => who[k] === x.visitor));

describe("the index", () => {
  it("holds each visitor's stage, scores, identity and first touch", async () => {
    const ana = (await list()).leads.find((l) => l.visitor === who.ana)!;
    expect(ana).toMatchObject({
      stage: "mql", email: "ana@helios.example", emailKind: "corporate", company: "helios.example",
      source: "google", medium: "cpc", campaign: "spring", landing: "/", events: 3,
      scores: { total: 42, fit: 10, engagement: 32 },
    });
    expect(ana.rules).toEqual(expect.arrayContaining([{ rule: "white-paper", points: 20 }, { rule: "pricing", points: 10 }]));
    expect(ana.lastSeen).toBeGreaterThanOrEqual(ana.firstSeen!);
  });

  it("is written from the visitor's alarm, not on collect's path: collect only schedules it", async () => {
    const v = uid("v");
    const before = Date.now();
    await collectOk(v, [pageView("/", {}, origin)], { site, origin });
    const alarm = await runInDurableObject(visitorStub(site, v), (_, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeGreaterThanOrEqual(before);
    expect(alarm!).toBeLessThanOrEqual(Date.now() + INDEX_FLUSH_DELAY_MS);
  });

  it("is written by that alarm without anyone asking", async () => {
    const v = uid("v");
    await collectOk(v, [pageView("/alarm-only", {}, origin)], { site, origin });
    const deadline = Date.now() + 10_000;
    let row: unknown = null;
    while (row === null && Date.now() < deadline) {
      row = await env.INDEX!.prepare("SELECT landing FROM leads WHERE site = ? AND visitor = ?").bind(site, v).first().catch(() => null);
      if (row === null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(row).toEqual({ landing: "/alarm-only" });
  });

  it("reports a visitor with more events than one report carries, all of them", async () => {
    const v = uid("v");
    const total = INDEX_EVENTS_PER_REPORT * 2 + 10;
    for (let i = 0; i < total; i += 50) {
      await collectOk(v, Array.from({ length: Math.min(50, total - i) }, (_, k) => pageView(`/page-${i + k}`, {}, origin)), { site, origin });
    }
    await reported(site, v);
    expect(await env.INDEX!.prepare("SELECT count(*) AS n FROM lead_events WHERE site = ? AND visitor = ?").bind(site, v).first("n")).toBe(total);
    expect(await env.INDEX!.prepare("SELECT events FROM leads WHERE site = ? AND visitor = ?").bind(site, v).first("events")).toBe(total);
  });

  it("reports a visitor's events once however often it reports", async () => {
    const before = await indexRows("lead_events", site);
    await reported(site, who.ana!, who.ana!);
    await visitorStub(site, who.ana!).reportIndex(true);
    expect(await indexRows("lead_events", site)).toBe(before);
  });
});

describe("GET /v1/admin/sites/:site/leads", () => {
  it.each([
    ["no filter, by score", "", ["bob", "ana", "cid", "dan"]],
    ["stage=mql", "?stage=mql", ["ana"]],
    ["stage=sql", "?stage=sql", ["bob"]],
    ["a search in emails", "?q=ORBIT", ["bob"]],
    ["a search in companies", "?company=helios", ["ana"]],
    ["the source (a UTM source)", "?source=Google", ["ana"]],
    ["the source (a referring host)", "?source=partner.example", ["cid"]],
    ["the source (direct)", "?source=(direct)", ["dan"]],
    ["identified only", "?identified=true", ["bob", "ana", "cid"]],
    ["a minimum score", "?minScore=40", ["bob", "ana"]],
    ["seen in the last day", "?seenDays=1&stage=visitor", ["dan"]],
  ])("filters by %s", async (_, query, expected) => {
    const l = await list(query ? `${query}&seenDays=1` : "?seenDays=1");
    expect(ids(l).filter(Boolean)).toEqual(expected);
  });

  it.each([
    ["score ascending", "sort=score&order=asc", ["dan", "cid", "ana", "bob"]],
    ["stage, furthest first", "sort=stage", ["bob", "ana", "cid", "dan"]],
    ["company A to Z (no company last)", "sort=company&identified=true", ["cid", "ana", "bob"]],
    ["source A to Z", "sort=source", ["dan", "ana", "bob", "cid"]],
  ])("sorts by %s", async (_, query, expected) => {
    expect(ids(await list(`?${query}`)).filter(Boolean)).toEqual(expected);
  });

  it("pages with limit and offset, and counts every match", async () => {
    const first = await list("?identified=true&limit=2");
    const second = await list("?identified=true&limit=2&offset=2");
    expect(first.total).toBe(3);
    expect(ids(first)).toEqual(["bob", "ana"]);
    expect(ids(second)).toEqual(["cid"]);
  });

  it("lists the site's stages for the filter", async () => {
    expect((await list()).stages.map((s) => s.id)).toEqual(["visitor", "lead", "mql", "sql"]);
  });
});

describe("GET /v1/admin/sites/:site/leads.csv", () => {
  it("exports the filtered list, formulas defused and quotes escaped", async () => {
    const res = await adminFetch(`/v1/admin/sites/${site}/leads.csv?identified=true&sort=company`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="leads-/);
    const lines = (await res.text()).trimEnd().split("\r\n");
    expect(lines[0]).toBe("visitor,stage,total,fit,engagement,email,company,source,medium,campaign,landing_page,first_seen,last_seen,events,lead,lead_stage,lead_total");
    expect(lines).toHaveLength(4);
    expect(lines[1]).toContain(`${who.cid},lead,2,0,2,cid@gmail.com,`);
    expect(lines[1]).toContain(`"'=HYPERLINK(""http://evil.example"")"`);
    expect(lines[2]).toMatch(new RegExp(`^${who.ana},mql,42,10,32,ana@helios.example,helios.example,google,cpc,spring,/,\\d{4}-`));
  });
});

describe("a search in companies outside ASCII", () => {
  it.each(["ÉCLAIR", "éclair", "Énergie", "éCLAIR é"])("finds %j however it is cased", async (q) => {
    const { site: own, origin } = await consoleSite("fold");
    const eve = await play(own, origin, [{ identify: "eve@eclair.example", traits: { company: "ÉCLAIR Énergie" } }]);
    const byQ = await getJson<List>(`/v1/admin/sites/${own}/leads?q=${encodeURIComponent(q)}`);
    const byCompany = await getJson<List>(`/v1/admin/sites/${own}/leads?company=${encodeURIComponent(q)}`);
    expect([byQ.leads.map((l) => l.visitor), byCompany.leads.map((l) => l.visitor)]).toEqual([[eve], [eve]]);
    expect((await getJson<List>(`/v1/admin/sites/${own}/leads?q=${encodeURIComponent("éclairs")}`)).total).toBe(0);
  });
});

describe("visitors of one person, on a site that stitches", () => {
  it("each carry the lead they belong to, with the lead's stage and total beside their own", async () => {
    const { site: own, origin } = await identitySite();
    const [laptop, phone, alone] = [uid("v"), uid("v"), uid("v")];
    const email = `${uid("p").toLowerCase()}@acme.example`;
    await collectOk(laptop, [pageView("/pricing", {}, origin), event("identify", { email })], { site: own, origin });
    await collectOk(phone, [pageView("/customers/x", {}, origin), event("identify", { email })], { site: own, origin });
    await collectOk(alone, [pageView("/", {}, origin)], { site: own, origin });
    // The phone's events moved the lead after the laptop last heard of it: the lead's alarm tells the laptop.
    const link = (await visitorStub(own, laptop).lead())!;
    await runDurableObjectAlarm(env.LEAD.get(env.LEAD.idFromName(leadName(own, link.key))));
    await reported(own, laptop, phone, alone);
    const person = (await leadByEmail(own, email))!;
    // 1 + 10 + 15 on the laptop, 1 + 5 on the phone, the corporate address counted once: 32, MQL at 30.
    expect([person.stage, person.scores.total]).toEqual(["mql", 32]);
    const { leads } = await getJson<{ leads: Lead[] }>(`/v1/admin/sites/${own}/leads?sort=score`);
    const byVisitor = new Map(leads.map((l) => [l.visitor, l]));
    expect(byVisitor.get(phone)!.lead).toEqual({ id: person.lead, stage: "mql", total: 32 });
    expect(byVisitor.get(phone)!.scores.total).toBe(1 + 5 + 15);
    expect(byVisitor.get(laptop)!.lead).toEqual({ id: person.lead, stage: "mql", total: 32 });
    expect(byVisitor.get(laptop)!.scores.total).toBe(1 + 10 + 15);
    expect(byVisitor.get(alone)!.lead).toBeNull();
    const one = await getJson<{ lead: Lead }>(`/v1/admin/sites/${own}/leads/${phone}`);
    expect(one.lead.lead).toEqual({ id: person.lead, stage: "mql", total: 32 });
    const csv = (await (await adminFetch(`/v1/admin/sites/${own}/leads.csv?sort=score`)).text()).trimEnd().split("\r\n");
    expect(csv.find((l) => l.startsWith(`${phone},`))).toMatch(new RegExp(`,${person.lead},mql,32$`));

    // A notice that crossed a later answer, or one of another lead, changes nothing.
    const stale = { id: person.lead, stage: "lead", total: 26, changes: 1 };
    await visitorStub(own, laptop).leadChanged(stale, Date.now());
    await visitorStub(own, laptop).leadChanged({ ...stale, id: "lead_other", changes: 99 }, Date.now());
    await visitorStub(own, alone).leadChanged({ ...stale, changes: 99 }, Date.now());
    await reported(own, laptop, alone);
    const after = new Map((await getJson<{ leads: Lead[] }>(`/v1/admin/sites/${own}/leads?sort=score`)).leads.map((l) => [l.visitor, l.lead]));
    expect(after.get(laptop)).toEqual({ id: person.lead, stage: "mql", total: 32 });
    expect(after.get(alone)).toBeNull();
  });
});

describe("GET /v1/admin/sites/:site/leads/:id", () => {
  it("answers the lead, the stages it entered and its timeline, newest first", async () => {
    const body = await getJson<{ lead: Lead; stages: { stage: string }[]; timeline: { type: string; path?: string; form?: { id: string } }[] }>(
      `/v1/admin/sites/${site}/leads/${who.bob}`);
    expect(body.lead.stage).toBe("sql");
    expect(body.stages.map((s) => s.stage)).toEqual(["visitor", "lead", "mql", "sql"]);
    expect(body.timeline.map((e) => e.type)).toEqual(["form_submit", "page_view"]);
    expect(body.timeline[0]!.form).toEqual({ id: "demo" });
  });
});

describe("bad input", () => {
  const table: [string, string, number, string, string][] = [
    ["an unknown sort", "/leads?sort=price", 400, "invalid_query", "query.sort"],
    ["an unknown order", "/leads?order=up", 400, "invalid_query", "query.order"],
    ["a stage the rules lack", "/leads?stage=customer", 400, "invalid_query", "query.stage"],
    ["a limit of 0", "/leads?limit=0", 400, "invalid_query", "query.limit"],
    ["a limit past the page size", "/leads?limit=5000", 400, "invalid_query", "query.limit"],
    ["a limit that is not a number", "/leads?limit=ten", 400, "invalid_query", "query.limit"],
    ["a negative offset", "/leads?offset=-1", 400, "invalid_query", "query.offset"],
    ["identified=maybe", "/leads?identified=maybe", 400, "invalid_query", "query.identified"],
    ["a CSV with an unknown sort", "/leads.csv?sort=x", 400, "invalid_query", "query.sort"],
    ["a malformed visitor id", "/leads/bad!id", 400, "invalid_id", "id"],
  ];
  it.each(table)("refuses %s: %i naming the field", async (_, path, status, code, field) => {
    const res = await adminFetch(`/v1/admin/sites/${site}${path}`);
    expect(res.status).toBe(status);
    const body = (await res.json()) as ErrorResponse;
    expect(body.error.code).toBe(code);
    expect(body.error.issues?.[0]?.path).toBe(field);
    expect(body.error.issues?.[0]?.message).toMatch(/^expected/);
    // The message names the field, what was given and what was expected.
    expect(body.error.message.startsWith(`${field}: `)).toBe(true);
    expect(body.error.message).toContain(body.error.issues![0]!.message);
  });

  it.each([
    ["an unknown site", "/v1/admin/sites/no-such-site/leads", "unknown_site"],
    ["a visitor the index does not know", `/v1/admin/sites/${"SITE"}/leads/${"v_unknown_visitor"}`, "unknown_lead"],
  ])("answers 404 for %s", async (_, path, code) => {
    const res = await adminFetch(path.replace("SITE", site));
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorResponse).error.code).toBe(code);
  });

  it.each(["/leads", "/leads.csv", "/leads/v_anyone_at_all", "/index/rebuild"])("refuses %s without the admin token", async (path) => {
    const res = await SELF.fetch(`https://edge.test/v1/admin/sites/${site}${path}`, { method: path.includes("rebuild") ? "POST" : "GET" });
    expect(res.status).toBe(401);
  });
});

describe("rebuilding and erasing", () => {
  it("rebuilds a lost index from the visitor objects", async () => {
    const before = await list("?sort=score");
    const events = await indexRows("lead_events", site);
    await env.INDEX!.batch(["leads", "lead_stages", "lead_events"].map((t) => env.INDEX!.prepare(`DELETE FROM ${t} WHERE site = ?`).bind(site)));
    expect((await list()).total).toBe(0);

    let cursor: string | null = null;
    let rebuilt = 0;
    do {
      const res = await adminFetch(`/v1/admin/sites/${site}/index/rebuild${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`, { method: "POST" });
      const body = (await res.json()) as { rebuilt: number; failed: string[]; cursor: string | null };
      expect(body.failed).toEqual([]);
      rebuilt += body.rebuilt;
      cursor = body.cursor;
    } while (cursor);
    expect(rebuilt).toBe(before.total);
    const after = await list("?sort=score");
    expect(after.leads.map((l) => [l.visitor, l.stage, l.scores.total])).toEqual(before.leads.map((l) => [l.visitor, l.stage, l.scores.total]));
    expect(await indexRows("lead_events", site)).toBe(events);
  });

  it("forgets an erased visitor", async () => {
    const v = await play(site, origin, [{ identify: "erase.me@helios.example" }]);
    expect((await list("?q=erase.me")).total).toBe(1);
    expect((await adminFetch(`/v1/admin/sites/${site}/visitors/${v}`, { method: "DELETE" })).status).toBe(200);
    expect((await list("?q=erase.me")).total).toBe(0);
    expect(await env.INDEX!.prepare("SELECT count(*) AS n FROM lead_events WHERE site = ? AND visitor = ?").bind(site, v).first("n")).toBe(0);
    expect(await env.RULES.get(`visitors:${site}:${v}`)).toBeNull();
  });
});
