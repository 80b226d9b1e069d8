/**
 * Accounts: leads of one company (corporate email domain, or the company trait for free-mail
 * addresses) roll up into an account with its own scores, stages and webhooks.
 */
import { runInDurableObject, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseRules } from "../../rules/index.js";
import { collectOk, event, pageView, uid } from "./support/client.js";
import { account, identitySite } from "./support/identity.js";

const accounts = {
  stages: [
    { id: "cold" },
    { id: "warm", when: { score: "engagement", gte: 20 } },
    { id: "hot", when: { signal: "pricing", members: 3 } },
  ],
  webhooks: [{ id: "sales-hot", target: "crm", on: { stageEntered: ["hot"] } }, { id: "sales-engaged", target: "crm", on: { scoreReached: { score: "total", value: 60 } } }],
};

async function person(site: string, origin: string, email: string, pages: string[], traits?: Record<string, string>) {
  const visitor = uid("v");
  await collectOk(visitor, [...pages.map((p) => pageView(p, {}, origin)), event("identify", { email, ...(traits ? { traits } : {}) })], { site, origin });
  return visitor;
}

function accountOutbox(site: string, id: string) {
  const stub = env.ACCOUNT.get(env.ACCOUNT.idFromName(`${site}:account:${id}`));
  return runInDurableObject(stub, (_, state) => state.storage.sql.exec("SELECT webhook, payload FROM outbox ORDER BY rowid").toArray()
    .map((r) => ({ webhook: String(r.webhook), payload: JSON.parse(String(r.payload)) as { type: string; data: { stage?: { to: string; reason: string }; account?: { members: number } } } })));
}

describe("an account", () => {
  it("gets hot when three people from one company view pricing, and fires its webhook once", async () => {
    const { site, origin } = await identitySite({ accounts });
    await person(site, origin, "ann@acme.example", ["/pricing"]);
    await person(site, origin, "bob@acme.example", ["/pricing", "/customers/x"]);
    let acme = (await account(site, "acme.example"))!;
    expect(acme.stage).toBe("warm");
    expect(acme.members).toHaveLength(2);
    // Fit is the best of its people's (max), engagement their sum.
    expect(acme.scores).toEqual({ fit: 15, engagement: 11 + 17, total: 15 + 28 });

    await person(site, origin, "cy@acme.example", ["/pricing"]);
    acme = (await account(site, "acme.example"))!;
    expect(acme.stage).toBe("hot");
    expect(acme.stages.map((s) => s.to)).toEqual(["warm", "hot"]);
    expect(acme.stages[1]!.reason).toBe("3 people with signal pricing");

    await person(site, origin, "di@acme.example", ["/pricing"]);
    const outbox = await accountOutbox(site, "acme.example");
    expect(outbox.map((m) => [m.webhook, m.payload.type])).toEqual([
      ["sales-hot", "account.stage_entered"],
      ["sales-engaged", "account.score_reached"],
    ]);
    expect(outbox[0]!.payload.data).toMatchObject({ stage: { to: "hot" }, account: { members: 3 } });
  });

  it("is not hot with three views of pricing from one person, nor from three companies", async () => {
    const { site, origin } = await identitySite({ accounts });
    await person(site, origin, "eve@initech.example", ["/pricing", "/pricing", "/pricing"]);
    await person(site, origin, "fay@hooli.example", ["/pricing"]);
    await person(site, origin, "gus@umbrella.example", ["/pricing"]);
    for (const id of ["initech.example", "hooli.example", "umbrella.example"]) expect((await account(site, id))!.stage).toBe("cold");
  });

  it("groups free-mail addresses by their company trait", async () => {
    const { site, origin } = await identitySite({ accounts });
    await person(site, origin, "hal@gmail.com", ["/pricing"], { company: "Globex Corp." });
    await person(site, origin, "ivy@yahoo.com", ["/pricing"], { company: "globex corp" });
    await person(site, origin, "jo@gmail.com", ["/pricing"]);
    const globex = (await account(site, "co:globex-corp"))!;
    expect(globex.name).toBe("Globex Corp.");
    expect(globex.members).toHaveLength(2);
  });

  it("does not exist for sites whose rules have no accounts section", async () => {
    const { site, origin } = await identitySite();
    await person(site, origin, "kim@acme.example", ["/pricing"]);
    expect(await account(site, "acme.example")).toBeNull();
  });
});

describe("the rules' accounts section", () => {
  const base = {
    version: "v", site: { id: "acme", origins: ["https://acme.example"] }, groups: [{ id: "fit" }, { id: "engagement" }],
    rules: [{ id: "pricing", on: "page_view", points: 10 }], stages: [{ id: "visitor" }, { id: "mql", when: { score: "total", gte: 50 } }],
  };

  it("accepts account stages on scores, members, signals and lead stages", () => {
    const result = parseRules({ ...base, accounts: { scores: { fit: "avg" }, stages: [{ id: "cold" }, { id: "hot", when: { any: [{ signal: "pricing", members: 3 }, { stage: "mql", members: 2 }, { all: [{ members: 5 }, { score: "total", gte: 100 }] }] } }], webhooks: [{ id: "w", target: "crm", on: { stageEntered: ["hot"] } }] } });
    expect(result.ok).toBe(true);
  });

  it.each([
    ["a score that is no group", { stages: [{ id: "cold" }, { id: "hot", when: { score: "intent", gte: 1 } }] }, "$.accounts.stages[1].when.score"],
    ["a signal that is no rule", { stages: [{ id: "cold" }, { id: "hot", when: { signal: "demo", members: 2 } }] }, "$.accounts.stages[1].when.signal"],
    ["a lead stage that does not exist", { stages: [{ id: "cold" }, { id: "hot", when: { stage: "sql" } }] }, "$.accounts.stages[1].when.stage"],
    ["a first stage with a condition", { stages: [{ id: "cold", when: { members: 1 } }, { id: "hot", when: { members: 2 } }] }, "$.accounts.stages[0].when"],
    ["a later stage without one", { stages: [{ id: "cold" }, { id: "hot" }] }, "$.accounts.stages[1].when"],
    ["a webhook on an unknown account stage", { stages: [{ id: "cold" }, { id: "hot", when: { members: 2 } }], webhooks: [{ id: "w", target: "crm", on: { stageEntered: ["warm"] } }] }, "$.accounts.webhooks[0].on.stageEntered[0]"],
    ["an aggregation of an unknown group", { scores: { intent: "sum" }, stages: [{ id: "cold" }, { id: "hot", when: { members: 2 } }] }, "$.accounts.scores.intent"],
    ["an unknown aggregation", { scores: { fit: "median" }, stages: [{ id: "cold" }, { id: "hot", when: { members: 2 } }] }, "$.accounts.scores.fit"],
    ["zero members", { stages: [{ id: "cold" }, { id: "hot", when: { members: 0 } }] }, "$.accounts.stages[1].when.members"],
  ])("rejects %s, naming it", (_, accounts, path) => {
    const result = parseRules({ ...base, accounts });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((e) => e.path)).toContain(path);
  });
});
