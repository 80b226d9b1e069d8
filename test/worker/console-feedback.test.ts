/**
 * Sales feedback: a verdict on an MQL or SQL from the console or the CRM (by visitor id or email),
 * and each rule's precision, the share of the judged leads it gave points to that sales accepted.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { rulePrecision, type Judged } from "../../worker/console/precision.js";
import { SELF } from "cloudflare:test";
import { type ErrorResponse } from "./support/client.js";
import { consoleSite, getJson, indexRows, play, send } from "./console-support.js";

describe("rulePrecision", () => {
  const j = (visitor: string, verdict: Judged["verdict"], at: number, ...rules: [string, number][]): Judged =>
    ({ visitor, verdict, at, rules: rules.map(([rule, points]) => ({ rule, points })) });

  it.each<[string, Judged[], [string, number, number, number][]]>([
    ["nothing judged", [], []],
    ["one accepted lead", [j("a", "accepted", 1, ["pricing", 10])], [["pricing", 1, 0, 1]]],
    ["two leads sharing a rule", [j("a", "accepted", 1, ["pricing", 10], ["demo", 40]), j("b", "rejected", 1, ["pricing", 20])],
      [["demo", 1, 0, 1], ["pricing", 1, 1, 0.5]]],
    ["a rule that took points away does not count", [j("a", "rejected", 1, ["careers", -10], ["pricing", 10])], [["pricing", 0, 1, 0]]],
    ["the latest verdict of a lead wins", [j("a", "rejected", 1, ["pricing", 10]), j("a", "accepted", 2, ["pricing", 10])], [["pricing", 1, 0, 1]]],
    ["equal precision: more judged leads first", [j("a", "accepted", 1, ["x", 1]), j("b", "accepted", 1, ["y", 1]), j("c", "accepted", 1, ["y", 1])],
      [["y", 2, 0, 1], ["x", 1, 0, 1]]],
  ])("%s", (_, judged, expected) => {
    expect(rulePrecision(judged).map((r) => [r.rule, r.accepted, r.rejected, r.precision])).toEqual(expected);
  });
});

describe("feedback through the API", () => {
  let site: string;
  const who: Record<string, string> = {};
  interface Precision {
    overall: { accepted: number; rejected: number; precision: number | null };
    rules: { rule: string; description: string; accepted: number; rejected: number; precision: number }[];
    feedback: { visitor: string; email: string; stage: string; verdict: string; reason: string | null; by: string | null }[];
  }

  beforeAll(async () => {
    let origin: string;
    ({ site, origin } = await consoleSite("fbk"));
    who.ana = await play(site, origin, [{ view: "/" }, { form: "whitepaper", email: "ana@helios.example" }]);
    who.bob = await play(site, origin, [{ view: "/" }, { form: "whitepaper", email: "bob@orbit.example" }, { form: "demo" }]);
    who.cid = await play(site, origin, [{ view: "/pricing" }, { view: "/pricing" }, { identify: "cid@vega.example" }]);
    who.eve = await play(site, origin, [{ view: "/" }, { identify: "eve@gmail.com" }]);
  });

  const post = (body: unknown) => send<{ ok: boolean; visitor: string; stage: string; verdict: string } & ErrorResponse>("POST", `/v1/admin/sites/${site}/feedback`, body);

  it("has no precision before the first verdict (not 0 %)", async () => {
    const p = await getJson<Precision>(`/v1/admin/sites/${site}/feedback`);
    expect(p.overall).toEqual({ accepted: 0, rejected: 0, precision: null });
    expect(p.rules).toEqual([]);
  });

  it("takes a verdict from the console on the lead's furthest qualified stage", async () => {
    const res = await post({ visitor: who.ana, verdict: "accepted", by: "console" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, visitor: who.ana, stage: "mql", verdict: "accepted" });
  });

  it("takes one from the CRM by email, case aside", async () => {
    const res = await post({ email: "Bob@Orbit.example", verdict: "accepted", by: "crm" });
    expect(res.body).toMatchObject({ visitor: who.bob, stage: "sql" });
  });

  it("takes a rejection with its reason", async () => {
    expect((await post({ visitor: who.cid, verdict: "rejected", reason: "student project" })).status).toBe(200);
  });

  it("shows each rule's precision, best first", async () => {
    const p = await getJson<Precision>(`/v1/admin/sites/${site}/feedback`);
    expect(p.overall).toEqual({ accepted: 2, rejected: 1, precision: 0.6667 });
    expect(p.rules.map((r) => [r.rule, r.accepted, r.rejected, r.precision])).toEqual([
      ["white-paper", 2, 0, 1], ["demo-request", 1, 0, 1], ["corporate", 2, 1, 0.6667], ["page-view", 2, 1, 0.6667], ["pricing", 0, 1, 0],
    ]);
    expect(p.rules[0]!.description).toBe("Downloaded the white paper");
    expect(p.feedback.find((f) => f.visitor === who.cid)).toMatchObject({ email: "cid@vega.example", verdict: "rejected", reason: "student project", stage: "mql" });
  });

  it("lets sales change their mind: the latest verdict counts", async () => {
    await post({ visitor: who.cid, verdict: "accepted", reason: "the student founded a company" });
    const p = await getJson<Precision>(`/v1/admin/sites/${site}/feedback`);
    expect(p.overall).toEqual({ accepted: 3, rejected: 0, precision: 1 });
    expect(p.rules.find((r) => r.rule === "pricing")).toMatchObject({ accepted: 1, rejected: 0 });
    expect(await indexRows("feedback", site)).toBe(3);
  });

  it("shows the verdicts on the lead's page", async () => {
    const lead = await getJson<{ feedback: { stage: string; verdict: string; by: string }[] }>(`/v1/admin/sites/${site}/leads/${who.bob}`);
    expect(lead.feedback).toEqual([expect.objectContaining({ stage: "sql", verdict: "accepted", by: "crm" })]);
  });

  it.each<[string, () => unknown, number, string, string | undefined, RegExp?]>([
    ["no verdict", () => ({ visitor: who.ana }), 400, "invalid_body", "$.verdict"],
    ["a verdict of maybe", () => ({ visitor: who.ana, verdict: "maybe" }), 400, "invalid_body", "$.verdict"],
    ["both visitor and email", () => ({ visitor: who.ana, email: "ana@helios.example", verdict: "accepted" }), 400, "invalid_body", "$.visitor", /not both/],
    ["neither visitor nor email", () => ({ verdict: "accepted" }), 400, "invalid_body", "$.visitor", /expected the visitor id or the lead's email/],
    ["a malformed visitor id", () => ({ visitor: "x", verdict: "accepted" }), 400, "invalid_body", "$.visitor"],
    ["a malformed email", () => ({ email: "not-an-email", verdict: "accepted" }), 400, "invalid_body", "$.email"],
    ["a stage sales do not judge", () => ({ visitor: who.ana, verdict: "accepted", stage: "lead" }), 400, "invalid_body", "$.stage"],
    ["a reason past 500 characters", () => ({ visitor: who.ana, verdict: "accepted", reason: "x".repeat(501) }), 400, "invalid_body", "$.reason"],
    ["an unknown key", () => ({ visitor: who.ana, verdict: "accepted", score: 5 }), 400, "invalid_body", "$.score"],
    ["a body that is not JSON", () => "verdict=accepted", 400, "invalid_json", undefined],
    ["an email nobody has", () => ({ email: "nobody@nowhere.example", verdict: "accepted" }), 404, "unknown_lead", undefined],
    ["a lead that is not qualified", () => ({ visitor: who.eve, verdict: "rejected" }), 409, "not_qualified", undefined],
    ["a stage the lead never reached", () => ({ visitor: who.ana, verdict: "accepted", stage: "sql" }), 409, "not_qualified", undefined],
  ])("refuses %s (%i %s) and stores nothing", async (_, body, status, code, field, message) => {
    const before = await indexRows("feedback", site);
    const res = await post(body());
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    if (message) expect(res.body.error.message).toMatch(message);
    if (field) expect(res.body.error.issues?.[0]?.path).toBe(field);
    expect(await indexRows("feedback", site)).toBe(before);
  });

  it.each(["GET", "POST"])("refuses %s without the admin token", async (method) => {
    const res = await SELF.fetch(`https://edge.test/v1/admin/sites/${site}/feedback`, { method, body: method === "POST" ? JSON.stringify({ visitor: who.ana, verdict: "rejected" }) : undefined });
    expect(res.status).toBe(401);
  });
});
