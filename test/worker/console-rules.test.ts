/**
 * Rules in the console: the version history, checking a draft, simulating it against the recorded
 * events (who would enter or leave MQL and SQL), publishing with a note, rolling back; every bad
 * request refused by name with the running rules untouched.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { RulesInput } from "../../rules/index.js";
import { adminFetch, collectOk, pageView, uid, type ErrorResponse } from "./support/client.js";
import { consoleRules, consoleSite, getJson, play, send } from "./console-support.js";

interface Versions { active: string; versions: { version: string; active: boolean; note?: string; publishedAt?: number | null; restoredAt?: number }[] }
interface Simulation {
  events: number; visitors: number;
  current: { reached: Record<string, number> }; draft: { reached: Record<string, number> };
  moves: Record<string, { entering: string[]; leaving: string[] }>;
  changes: { visitor: string; from: string; to: string; email: string | null }[];
}

let site: string;
let origin: string;
let base: RulesInput;
const who: Record<string, string> = {};

beforeAll(async () => {
  ({ site, origin } = await consoleSite("rul"));
  base = consoleRules(site, origin);
  // ana: 1 + 10 + 10 (corporate) = 21 points, identified: a lead (MQL needs 30).
  who.ana = await play(site, origin, [{ view: "/pricing" }, { identify: "ana@helios.example" }]);
  // bob: 1 + 20 + 10 = 31: MQL.
  who.bob = await play(site, origin, [{ view: "/" }, { form: "whitepaper", email: "bob@orbit.example" }]);
});

const path = (p: string) => `/v1/admin/sites/${site}/rules${p}`;
const active = async () => JSON.parse((await env.RULES.get(`rules:${site}`))!) as { version: string; stages: { when?: unknown }[] };
/** The base rules with MQL at `gte` points, as version `version`. */
const withMql = (gte: number, version: string): RulesInput => ({
  ...base, version,
  stages: base.stages.map((s) => (s.id === "mql" ? { id: "mql", when: { all: [{ score: "total", gte }, { identified: true }] } } : s)),
});

describe("the version history", () => {
  it("starts with the active rules, published outside the console", async () => {
    const v = await getJson<Versions>(path("/versions"));
    expect(v.active).toBe("c1");
    expect(v.versions).toEqual([{ version: "c1", active: true, note: "published outside the console", publishedAt: null }]);
  });
});

describe("a history written before publish times were kept", () => {
  it("reads a version taken in from outside, stamped with its successor's time, as published at an unknown time", async () => {
    const { site: other, origin: o } = await consoleSite("rvo");
    const doc = (version: string) => JSON.stringify({ ...consoleRules(other, o), version });
    // As the console used to write it: o1 was active before any history, o2 replaced it at `t`, o3 at `t + 5`, o1 was rolled back to at `t + 9`.
    const t = 1_700_000_000_000;
    await env.RULES.put(`rules-history:${other}:o1`, doc("o1"), { metadata: { note: "published outside the console", publishedAt: t, restoredAt: t + 9 } });
    await env.RULES.put(`rules-history:${other}:o2`, doc("o2"), { metadata: { note: "first change", publishedAt: t } });
    await env.RULES.put(`rules-history:${other}:o3`, doc("o3"), { metadata: { note: "second change", publishedAt: t + 5 } });
    await env.RULES.put(`rules-history:${other}:o4`, doc("o4"), { metadata: { note: "published outside the console", publishedAt: t + 9 } });
    await env.RULES.put(`rules:${other}`, doc("o1"));
    const v = await getJson<Versions>(`/v1/admin/sites/${other}/rules/versions`);
    expect(Object.fromEntries(v.versions.map((x) => [x.version, x.publishedAt]))).toEqual({ o1: null, o2: t, o3: t + 5, o4: null });
  });
});

describe("POST .../rules/validate", () => {
  it("accepts a valid draft", async () => {
    const { status, body } = await send("POST", path("/validate"), withMql(20, "c2"));
    expect(status).toBe(200);
    expect(body).toMatchObject({ ok: true, version: "c2", rules: 5 });
  });

  it.each([
    ["points that are not a number", (d: RulesInput) => ({ ...d, rules: [{ ...d.rules[0]!, points: "ten" }] }), "$.rules[0].points"],
    ["a rule in an unknown group", (d: RulesInput) => ({ ...d, rules: [{ ...d.rules[0]!, group: "nope" }] }), "$.rules[0].group"],
    ["a stage without a condition", (d: RulesInput) => ({ ...d, stages: [{ id: "visitor" }, { id: "mql" }] }), "$.stages[1].when"],
    ["another site's document", (d: RulesInput) => ({ ...d, site: { ...d.site, id: "someone-else" } }), "$.site.id"],
  ])("lists the errors of a draft with %s, each at its path", async (_, change, at) => {
    const { status, body } = await send<{ ok: boolean; errors: { path: string; message: string }[] }>("POST", path("/validate"), change(base));
    expect(status).toBe(200);
    expect(body.ok).toBe(false);
    expect(body.errors.map((e) => e.path)).toContain(at);
  });

  it("refuses a body that is not JSON", async () => {
    const { status, body } = await send<ErrorResponse>("POST", path("/validate"), "{ not json");
    expect(status).toBe(400);
    expect(body.error.code).toBe("invalid_json");
  });
});

describe("POST .../rules/simulate", () => {
  it("replays the recorded events: a lower MQL threshold moves ana into MQL", async () => {
    const { status, body } = await send<Simulation>("POST", path("/simulate?days=7"), withMql(20, "c2"));
    expect(status).toBe(200);
    expect(body.visitors).toBe(2);
    expect(body.events).toBe(4);
    expect(body.current.reached.mql).toBe(1);
    expect(body.draft.reached.mql).toBe(2);
    expect(body.moves.mql).toEqual({ entering: [who.ana], leaving: [] });
    expect(body.changes).toEqual([expect.objectContaining({ visitor: who.ana, from: "lead", to: "mql", email: "ana@helios.example" })]);
  });

  it("and a higher one moves bob out of it", async () => {
    const { body } = await send<Simulation>("POST", path("/simulate"), withMql(40, "c2"));
    expect(body.moves.mql).toEqual({ entering: [], leaving: [who.bob] });
    expect(body.moves.sql).toEqual({ entering: [], leaving: [] });
  });

  it("changes nothing: the active rules and the visitors stay as they were", async () => {
    expect((await active()).version).toBe("c1");
    expect((await getJson<{ leads: { stage: string }[] }>(`/v1/admin/sites/${site}/leads?stage=mql`)).leads).toHaveLength(1);
  });
});

describe("publishing and rolling back", () => {
  it("publishes a draft with its note: the history keeps both versions, collect scores with the new one", async () => {
    const res = await send<{ ok: boolean; version: string; previous: string; publishedAt: number }>("POST", path("/publish?note=Lower%20MQL%20to%2020"), withMql(20, "c2"));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, version: "c2", previous: "c1" });
    expect((await active()).version).toBe("c2");
    const v = await getJson<Versions>(path("/versions"));
    expect(v.versions.map((x) => [x.version, x.active, x.note])).toEqual([["c2", true, "Lower MQL to 20"], ["c1", false, "published outside the console"]]);
    // c2 was published now; c1 was active before any history, so when is unknown (never c2's time).
    expect(v.versions[0]!.publishedAt).toBe(res.body.publishedAt);
    expect(v.versions[1]!.publishedAt).toBeNull();
    const answer = await collectOk(uid("v"), [pageView("/pricing", {}, origin)], { site, origin });
    expect(answer.visitor.score.total).toBe(11);
    expect((await getJson<{ version: string }>(path("/versions/c1"))).version).toBe("c1");
  });

  it("takes a version from the query instead of the document's", async () => {
    const res = await send<{ version: string }>("POST", path("/publish?note=Back%20to%2030&version=c3"), withMql(30, "c2"));
    expect(res.status).toBe(200);
    expect(res.body.version).toBe("c3");
    expect((await active()).version).toBe("c3");
  });

  it("rolls back to any earlier version, marking when", async () => {
    const res = await send<{ ok: boolean; previous: string }>("POST", path("/versions/c1/rollback?note=Oops"), {});
    expect(res.status).toBe(200);
    expect(res.body.previous).toBe("c3");
    expect((await active()).version).toBe("c1");
    const v = await getJson<Versions>(path("/versions"));
    expect(v.versions[0]).toMatchObject({ version: "c1", active: true, restoreNote: "Oops" });
    expect(v.versions[0]!.restoredAt).toBeGreaterThan(0);
    expect(v.versions.map((x) => x.version).sort()).toEqual(["c1", "c2", "c3"]);
    // Rolling back keeps each version's own publish time.
    expect(v.versions[0]!.publishedAt).toBeNull();
    const c3 = v.versions.find((x) => x.version === "c3")!;
    expect(c3.publishedAt).toBeLessThan(v.versions[0]!.restoredAt!);
  });
});

describe("rules published with PUT /rules or the CLI", () => {
  it("are kept in the history with the version they replace, and can be rolled back to", async () => {
    const { site: other, origin: o } = await consoleSite("rvp");
    const doc = (version: string, gte = 30) => ({ ...consoleRules(other, o), version, stages: consoleRules(other, o).stages.map((s) => (s.id === "mql" ? { id: "mql", when: { all: [{ score: "total", gte }, { identified: true }] } } : s)) });
    const put = (body: unknown) => adminFetch(`/v1/admin/sites/${other}/rules`, { method: "PUT", body: JSON.stringify(body) });
    const versions = () => getJson<Versions>(`/v1/admin/sites/${other}/rules/versions`);

    // The active rules were never kept (written to KV directly): rolling back to them says they are active.
    const first = (await versions()).active;
    const again = await send<ErrorResponse>("POST", `/v1/admin/sites/${other}/rules/versions/${first}/rollback`, {});
    expect([again.status, again.body.error.code]).toEqual([409, "already_active"]);

    const before = Date.now();
    expect((await put(doc("p2", 20))).status).toBe(200);
    expect((await put(doc("p3", 25))).status).toBe(200);
    const v = await versions();
    expect(v.active).toBe("p3");
    expect(v.versions.map((x) => [x.version, x.active, x.note])).toEqual([
      ["p3", true, "published with PUT /v1/admin/sites/:site/rules"],
      ["p2", false, "published with PUT /v1/admin/sites/:site/rules"],
      [first, false, "published outside the console"],
    ]);
    expect(v.versions[0]!.publishedAt).toBeGreaterThanOrEqual(before);
    expect(v.versions[2]!.publishedAt).toBeNull();

    const back = await send<{ previous: string }>("POST", `/v1/admin/sites/${other}/rules/versions/p2/rollback`, {});
    expect([back.status, back.body.previous]).toEqual([200, "p3"]);
    expect((await versions()).active).toBe("p2");
    // The same document under its own version again is fine: nothing changes.
    expect((await put(doc("p2", 20))).status).toBe(200);
    expect((await versions()).versions).toHaveLength(3);
  });

  it("refuse a version already naming other content, naming $.version, and keep the running rules", async () => {
    const { site: other, origin: o } = await consoleSite("rvq");
    const base = { ...consoleRules(other, o), version: "q2" };
    const put = (body: unknown) => adminFetch(`/v1/admin/sites/${other}/rules`, { method: "PUT", body: JSON.stringify(body) });
    expect((await put(base)).status).toBe(200);
    expect((await put({ ...base, version: "q3" })).status).toBe(200);
    const running = await env.RULES.get(`rules:${other}`);
    const history = (await env.RULES.list({ prefix: `rules-history:${other}:` })).keys.length;
    for (const version of ["q2", "q3"]) {
      const res = await put({ ...base, version, stages: base.stages.map((s) => (s.id === "mql" ? { id: "mql", when: { score: "total", gte: 99 } } : s)) });
      expect(res.status).toBe(409);
      const { error } = (await res.json()) as ErrorResponse;
      expect(error.code).toBe("version_exists");
      expect(error.issues).toEqual([{ path: "$.version", message: `expected a version other than "${version}" (already published with other content)` }]);
    }
    expect(await env.RULES.get(`rules:${other}`)).toBe(running);
    expect((await env.RULES.list({ prefix: `rules-history:${other}:` })).keys.length).toBe(history);
  });
});

describe("a publish version written with a bare +", () => {
  it("is refused with what arrived and how to write it", async () => {
    const res = await send<ErrorResponse>("POST", path("/publish?note=x&version=c9+hotfix"), withMql(20, "c9"));
    expect(res.status).toBe(400);
    expect(res.body.error.issues).toEqual([{ path: "query.version", message: 'expected a version: 1-64 of letters, digits . _ : + -, got "c9 hotfix" (a + in a query string is written %2B)' }]);
  });
});

describe("bad input changes nothing", () => {
  const table: [string, string, () => unknown, number, string, string][] = [
    ["publish without a note", "/publish", () => withMql(20, "c9"), 400, "invalid_query", "query.note"],
    ["publish with a blank note", "/publish?note=%20%20", () => withMql(20, "c9"), 400, "invalid_query", "query.note"],
    ["publish with a note of 201 characters", `/publish?note=${"x".repeat(201)}`, () => withMql(20, "c9"), 400, "invalid_query", "query.note"],
    ["publish with a bad version", "/publish?note=x&version=a%20b", () => withMql(20, "c9"), 400, "invalid_query", "query.version"],
    ["publish an invalid draft", "/publish?note=x", () => ({ ...withMql(20, "c9"), rules: [{ id: "r", on: "page_view", points: "ten" }] }), 400, "invalid_rules", "$.rules[0].points"],
    ["publish a version already published", "/publish?note=x", () => withMql(20, "c2"), 409, "version_exists", "$.version"],
    ["publish the active version again", "/publish?note=x", () => withMql(20, "c1"), 409, "version_exists", "$.version"],
    ["simulate over 0 days", "/simulate?days=0", () => withMql(20, "c9"), 400, "invalid_query", "query.days"],
    ["simulate over 91 days", "/simulate?days=91", () => withMql(20, "c9"), 400, "invalid_query", "query.days"],
    ["simulate an invalid draft", "/simulate", () => ({ ...withMql(20, "c9"), stages: [{ id: "visitor" }] }), 400, "invalid_rules", "$.stages"],
    ["roll back to a version that never was", "/versions/c404/rollback", () => ({}), 404, "unknown_version", ""],
    ["roll back to the active version", "/versions/c1/rollback", () => ({}), 409, "already_active", ""],
    ["roll back to a malformed version", "/versions/a%20b/rollback", () => ({}), 400, "invalid_version", "version"],
  ];
  it.each(table)("refuses to %s (%i %s)", async (_, p, body, status, code, field) => {
    const before = await env.RULES.get(`rules:${site}`);
    const history = (await env.RULES.list({ prefix: `rules-history:${site}:` })).keys.length;
    const res = await send<ErrorResponse>("POST", path(p), body());
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    if (field) expect(res.body.error.issues?.map((i) => i.path)).toContain(field);
    expect(await env.RULES.get(`rules:${site}`)).toBe(before);
    expect((await env.RULES.list({ prefix: `rules-history:${site}:` })).keys.length).toBe(history);
  });

  it.each([
    ["GET", "/versions"], ["GET", "/versions/c1"], ["POST", "/validate"], ["POST", "/simulate"], ["POST", "/publish?note=x"], ["POST", "/versions/c2/rollback"],
  ])("refuses %s %s without the admin token", async (method, p) => {
    const res = await SELF.fetch(`https://edge.test${path(p)}`, { method, body: method === "POST" ? JSON.stringify(withMql(20, "c8")) : undefined });
    expect(res.status).toBe(401);
    expect((await active()).version).toBe("c1");
  });

  it("answers 404 for a version never published", async () => {
    expect((await adminFetch(path("/versions/c404"))).status).toBe(404);
  });
});
