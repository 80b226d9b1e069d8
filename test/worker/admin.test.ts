/**
 * The admin API: bearer-token access, publishing rules (validated whole; the running rules stay on
 * any error), reading a visitor with the explanation of every point, erasing a visitor.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { RULES_MAX_BYTES } from "../../worker/admin.js";
import {
  ADMIN_TOKEN, adminFetch, collect, collectOk, event, getVisitor, ORIGIN, outboxRows, pageView, putRules, seedRules, siteDoc, snapshot,
  storedRows, uid, visitorStub, type ErrorResponse,
} from "./support/client.js";

beforeAll(() => seedRules());

describe("admin authentication", () => {
  const site = "adm-auth";
  const known = uid("v");
  beforeAll(async () => {
    await collectOk(known, [pageView("/pricing")]);
  });

  const routes: [string, () => [string, RequestInit]][] = [
    ["GET rules", () => ["/v1/admin/sites/demo/rules", {}]],
    ["PUT rules", () => [`/v1/admin/sites/${site}/rules`, { method: "PUT", body: JSON.stringify(siteDoc(site, "https://auth.example")) }]],
    ["GET visitor", () => [`/v1/admin/sites/demo/visitors/${known}`, {}]],
    ["DELETE visitor", () => [`/v1/admin/sites/demo/visitors/${known}`, { method: "DELETE" }]],
    ["an unknown admin route", () => ["/v1/admin/nothing-here", {}]],
  ];
  const refused: [string, string | null, string][] = [
    ["no Authorization header", null, "missing_token"],
    ["an empty Authorization header", "", "missing_token"],
    ["Bearer and no token", "Bearer", "missing_token"],
    ["the token without a scheme", ADMIN_TOKEN, "missing_token"],
    ["Basic credentials", `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}`, "missing_token"],
    ["another scheme", `Token ${ADMIN_TOKEN}`, "missing_token"],
    ["the token followed by another word", `Bearer ${ADMIN_TOKEN} extra`, "missing_token"],
    ["a wrong token", "Bearer not-the-admin-token", "invalid_token"],
    ["the token minus its last character", `Bearer ${ADMIN_TOKEN.slice(0, -1)}`, "invalid_token"],
    ["the token plus one character", `Bearer ${ADMIN_TOKEN}x`, "invalid_token"],
    ["the token in capitals", `Bearer ${ADMIN_TOKEN.toUpperCase()}`, "invalid_token"],
  ];
  const table = routes.flatMap(([route, req]) => refused.map(([what, header, code]) => ({ route, req, what, header, code })));

  it.each(table)("refuses $route with $what: 401 and a Bearer challenge", async ({ req, header, code }) => {
    const [path, init] = req();
    const headers = new Headers(init.headers);
    if (header !== null) headers.set("authorization", header);
    const res = await SELF.fetch(`https://edge.test${path}`, { ...init, headers });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
    expect(((await res.json()) as ErrorResponse).error.code).toBe(code);
  });

  it("changed nothing while refusing: no rules stored, the visitor kept", async () => {
    expect(await env.RULES.get(`rules:${site}`)).toBeNull();
    expect((await getVisitor("demo", known)).status).toBe(200);
  });

  it.each([
    ["Bearer", `Bearer ${ADMIN_TOKEN}`],
    ["a lower-case scheme", `bearer ${ADMIN_TOKEN}`],
    ["extra spaces", `Bearer    ${ADMIN_TOKEN}`],
  ])("accepts the token with %s", async (_, header) => {
    const res = await SELF.fetch("https://edge.test/v1/admin/sites/demo/rules", { headers: { authorization: header } });
    expect(res.status).toBe(200);
  });
});

describe("PUT and GET /v1/admin/sites/:site/rules", () => {
  const site = "adm-live";
  const origin = "https://live.example";
  const visitor = uid("v");
  const view = () => pageView("/", {}, origin);
  const opts = { site, origin };

  it("stores valid rules, answers what it stored, and collect uses them at once", async () => {
    expect((await collect(uid("v"), [view()], opts)).status).toBe(404);

    const res = await putRules(site, siteDoc(site, origin, { pageViewPoints: 7 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, site, version: "t1", rules: 1 });

    const stored = (await (await adminFetch(`/v1/admin/sites/${site}/rules`)).json()) as { version: string; rules: { group: string; enabled: boolean }[]; site: { privacy: { honorGpc: boolean } } };
    expect(stored.version).toBe("t1");
    // Stored with the defaults filled in.
    expect(stored.rules[0]).toMatchObject({ group: "engagement", enabled: true });
    expect(stored.site.privacy.honorGpc).toBe(true);

    expect((await collectOk(visitor, [view()], opts)).visitor.score.total).toBe(7);
  });

  it("replaces them: the next event scores with the new version", async () => {
    const res = await putRules(site, { ...siteDoc(site, origin, { pageViewPoints: 9 }), version: "t2" });
    expect(res.status).toBe(200);
    expect((await collectOk(visitor, [view()], opts)).visitor.score.total).toBe(16);
    const snap = await snapshot(site, visitor);
    expect(snap.explanation.entries.map((e) => [e.points, e.version])).toEqual([[7, "t1"], [9, "t2"]]);
  });

  it("rejects invalid rules with every error and its path, keeping the running rules", async () => {
    const doc = siteDoc(site, origin, {
      rules: [
        { id: "page-view", on: "page_view", points: "ten" as unknown as number },
        { id: "nowhere", on: "page_view", group: "nope", points: 1 },
        { id: "page-view", on: "download", points: 1 },
      ],
      stages: [{ id: "visitor" }, { id: "mql" }],
      ctas: [{ id: "chat", kind: "banner", stages: ["customer"], variants: [{ id: "a", text: "Hi" }] }],
      webhooks: [{ id: "crm", target: "crm", on: { stageEntered: ["visitor"] } }],
    });
    const res = await putRules(site, { ...doc, version: "t3" });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorResponse;
    expect(body.error.code).toBe("invalid_rules");
    expect(body.error.message).toMatch(/^6 error\(s\)/);
    expect(body.error.issues!.map((i) => i.path).sort()).toEqual([
      "$.ctas[0].stages[0]", "$.rules[0].points", "$.rules[1].group", "$.rules[2].id", "$.stages[1].when", "$.webhooks[0].on.stageEntered[0]",
    ]);
    for (const issue of body.error.issues!) expect(issue.message.length).toBeGreaterThan(5);

    expect(((await (await adminFetch(`/v1/admin/sites/${site}/rules`)).json()) as { version: string }).version).toBe("t2");
    expect((await collectOk(visitor, [view()], opts)).visitor.score.total).toBe(25);
  });

  it.each([
    ["a document for another site", () => JSON.stringify(siteDoc("adm-other", origin)), 400, "invalid_rules", "$.site.id"],
    ["a body that is not JSON", () => "{ version: t4 }", 400, "invalid_json", undefined],
    ["an empty body", () => "", 400, "invalid_json", undefined],
    ["a JSON array", () => "[]", 400, "invalid_rules", "$"],
    ["a condition nested 2,500 levels deep", () => {
      const doc = siteDoc(site, origin) as { rules: { when?: unknown }[] };
      doc.rules[0]!.when = JSON.parse(`${'{"not":'.repeat(2_500)}{"field":"path","eq":"/x"}${"}".repeat(2_500)}`);
      return JSON.stringify(doc);
    }, 400, "invalid_rules", `$.rules[0].when${".not".repeat(29)}`],
    ["a document over the size limit", () => JSON.stringify({ ...siteDoc(site, origin), $schema: "x".repeat(RULES_MAX_BYTES) }), 413, "body_too_large", undefined],
  ])("rejects %s and keeps the running rules", async (_, body, status, code, path) => {
    const res = await putRules(site, body());
    expect(res.status).toBe(status);
    const answer = (await res.json()) as ErrorResponse;
    expect(answer.error.code).toBe(code);
    if (path) expect(answer.error.issues?.map((i) => i.path)).toContain(path);
    expect(((await (await adminFetch(`/v1/admin/sites/${site}/rules`)).json()) as { version: string }).version).toBe("t2");
  });

  it("says on which line and column a rules body stops being JSON", async () => {
    const text = JSON.stringify(siteDoc(site, origin), null, 2).split("\n");
    const line = text.findIndex((l) => l.includes('"version"'));
    text[line] = text[line]!.replace(/,$/, ""); // a comma forgotten
    const res = await putRules(site, text.join("\n"));
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as ErrorResponse;
    const column = text[line + 1]!.search(/\S/) + 1;
    expect(error.code).toBe("invalid_json");
    expect(error.message).toBe(`body is not valid JSON: line ${line + 2}, column ${column}: expected "," or "}" after a property value, found "\\""`);
    expect(error.issues).toEqual([{ path: "$", message: `line ${line + 2}, column ${column}: expected "," or "}" after a property value, found "\\""`, line: line + 2, column }]);
  });

  it("keeps the running rules through all those rejections", async () => {
    const before = (await snapshot(site, visitor)).scores.total!;
    expect((await collectOk(visitor, [view()], opts)).visitor.score.total).toBe(before + 9);
    expect(await env.RULES.get(`rules:adm-other`)).toBeNull();
  });

  it.each([
    ["a site id in capitals", "Adm-Live"],
    ["a site id with a dot", "adm.live"],
    ["a site id of 65 characters", "a".repeat(65)],
  ])("rejects %s in the path with 400", async (_, badSite) => {
    const res = await putRules(badSite, siteDoc(badSite, origin));
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorResponse).error.code).toBe("invalid_site");
  });

  it("answers GET rules of an unknown site with 404", async () => {
    const res = await adminFetch("/v1/admin/sites/adm-nobody/rules");
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorResponse).error.code).toBe("unknown_site");
  });
});

describe("GET /v1/admin/sites/:site/visitors/:id", () => {
  it("never keeps the fields the site's privacy.ignoreFields names (the demo ignores phone), in any case, in form fields or traits", async () => {
    const visitor = uid("v");
    await collectOk(visitor, [
      event("form_submit", { url: `${ORIGIN}/contact`, form: { id: "contact" }, fields: { job_title: "Head of Sales", phone: "+1 555 0100" } }),
      event("identify", { email: "ana@helios.example", traits: { Phone: "+1 555 0199", company: "Helios" } }),
    ]);
    const snap = await snapshot("demo", visitor);
    expect(snap.identity.traits).toEqual({ company: "Helios" });
    const bodies = await runInDurableObject(visitorStub("demo", visitor), (_, state) =>
      state.storage.sql.exec("SELECT body FROM events").toArray().map((r) => String(r.body)));
    expect(bodies).toHaveLength(2);
    expect(bodies.join()).toContain("Head of Sales");
    expect(bodies.join()).not.toContain("555");
    expect(JSON.stringify(snap)).not.toContain("555");
  });

  it.each([
    ["the same host", "http://127.0.0.1:8787/pricing", undefined],
    ["another of the site's origins", "http://LOCALHOST:8787/", undefined],
    ["another site", "https://www.google.com/search", "www.google.com"],
  ])("keeps a first page's referrer as its source only when it is not the site itself: %s", async (_, referrer, host) => {
    const visitor = uid("v");
    await collectOk(visitor, [pageView("/product", { referrer })]);
    const snap = await snapshot("demo", visitor);
    expect(snap.profile.firstTouch).toMatchObject({ path: "/product" });
    expect(snap.profile.firstTouch?.referrerHost).toBe(host);
  });

  it("answers the state, identity (a free-mail address as such), first touch and the explanation of every point", async () => {
    const visitor = uid("v");
    const landing = pageView("/?utm_source=newsletter&utm_medium=email&utm_campaign=launch", { referrer: "https://News.Example.org/post" });
    const pricing = pageView("/pricing");
    const identify = event("identify", { email: "Jane.Doe@Gmail.com", traits: { job_title: "Head of Marketing", company: "Acme" } });
    await collectOk(visitor, [landing, pricing]);
    await collectOk(visitor, [identify]);

    const snap = await snapshot("demo", visitor);
    expect(snap).toMatchObject({ site: "demo", visitor, stage: "lead", events: 3, scores: { fit: 0, engagement: 12, total: 12 } });
    expect(snap.identity).toEqual({
      email: "jane.doe@gmail.com", domain: "gmail.com", kind: "free", traits: { job_title: "Head of Marketing", company: "Acme" },
    });
    expect(snap.profile).toMatchObject({
      lastPage: "/pricing",
      firstTouch: { path: "/", referrerHost: "news.example.org", source: "newsletter", medium: "email", campaign: "launch" },
    });
    expect(snap.firstSeen).toBeTypeOf("number");
    expect(snap.lastSeen).toBeGreaterThanOrEqual(snap.firstSeen!);

    const rules = Object.fromEntries(snap.explanation.rules.map((r) => [r.rule, { group: r.group, times: r.times, points: r.points }]));
    expect(rules).toEqual({
      "page-view": { group: "engagement", times: 2, points: 2 },
      pricing: { group: "engagement", times: 1, points: 10 },
      "free-mail": { group: "fit", times: 1, points: -10 },
      "decision-maker": { group: "fit", times: 1, points: 10 },
    });
    const entries = snap.explanation.entries.map((e) => [e.event, e.rule, e.points, e.reason, e.version]);
    expect(entries).toEqual([
      [landing.id, "page-view", 1, "Viewed a page (/)", "2026-12-03.1"],
      [pricing.id, "page-view", 1, "Viewed a page (/pricing)", "2026-12-03.1"],
      [pricing.id, "pricing", 10, "Viewed pricing (/pricing)", "2026-12-03.1"],
      [identify.id, "free-mail", -10, "Free-mail address (Jane.Doe@Gmail.com)", "2026-12-03.1"],
      [identify.id, "decision-maker", 10, "Decision-making job title (Jane.Doe@Gmail.com)", "2026-12-03.1"],
    ]);
    expect(snap.explanation.stages).toEqual([
      expect.objectContaining({ from: "visitor", to: "lead", event: identify.id, reason: "identified as jane.doe@gmail.com" }),
    ]);
    expect(snap.outbox).toEqual([]);
  });

  it.each([
    ["an unknown visitor", "demo", "v_never_seen_1234", 404, "unknown_visitor"],
    ["a visitor id of 3 characters", "demo", "abc", 400, "invalid_visitor"],
    ["a visitor id with a dot", "demo", "v.12345678", 400, "invalid_visitor"],
    ["an unknown site", "adm-nosite", "v_12345678", 404, "unknown_site"],
    ["a site id in capitals", "Demo", "v_12345678", 400, "invalid_site"],
  ])("answers %s with %i", async (_, site, visitor, status, code) => {
    const res = await adminFetch(`/v1/admin/sites/${site}/visitors/${visitor}`);
    expect(res.status).toBe(status);
    expect(((await res.json()) as ErrorResponse).error.code).toBe(code);
  });
});

describe("DELETE /v1/admin/sites/:site/visitors/:id", () => {
  it("erases everything about a qualified visitor, pending webhooks included; a later event starts from zero", async () => {
    const visitor = uid("v");
    const form = event("form_submit", {
      url: `${ORIGIN}/resources/lead-scoring-benchmark`, form: { id: "whitepaper" }, email: "jane@acme-logistics.example", fields: { job_title: "Director" },
    });
    await collectOk(visitor, [pageView("/pricing"), pageView("/pricing"), pageView("/pricing")]);
    const mql = await collectOk(visitor, [form]);
    expect(mql.visitor.stage).toBe("mql");
    expect((await outboxRows("demo", visitor)).map((o) => [o.webhook, o.status])).toEqual([["crm-qualified", "pending"]]);

    const res = await adminFetch(`/v1/admin/sites/demo/visitors/${visitor}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ erased: true, site: "demo", visitor });

    expect((await getVisitor("demo", visitor)).status).toBe(404);
    expect(await storedRows("demo", visitor)).toEqual({ events: 0, distinctEvents: 0, ledger: 0, outbox: 0, kv: 0 });

    // The same form again is new: its id was forgotten with everything else.
    const again = await collectOk(visitor, [form]);
    expect(again.ack).toEqual([form.id]);
    expect(again.visitor).toEqual({ stage: "lead", score: { fit: 25, engagement: 10, total: 35 } });
    const snap = await snapshot("demo", visitor);
    expect(snap.events).toBe(1);
    expect(snap.outbox).toEqual([]);
    expect(snap.profile.firstTouch).toBeUndefined();
  });

  it("answers erased: false for a visitor it never saw", async () => {
    const visitor = uid("v");
    const res = await adminFetch(`/v1/admin/sites/demo/visitors/${visitor}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ erased: false, site: "demo", visitor });
  });

  it("rejects a malformed visitor id with 400", async () => {
    const res = await adminFetch("/v1/admin/sites/demo/visitors/a%20b", { method: "DELETE" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorResponse).error.code).toBe("invalid_visitor");
  });
});
