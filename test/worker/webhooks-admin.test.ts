/**
 * The webhook admin API: targets are set, listed without their secrets and deleted; bad input is
 * a 400 naming the field and changes nothing; a visitor's messages list every try; replay only
 * takes dead letters.
 */
import { describe, expect, it } from "vitest";
import { adminFetch, uid } from "./support/client.js";
import { fireUntil, hookUrl, putTarget, qualifiedVisitor, qualifyingSite, SECRET, storedTargets } from "./support/receiver-client.js";

const GOOD = { url: "https://hooks.example.com/crm", template: "hubspot", secret: SECRET };

function newSite(): string {
  return uid("adm").toLowerCase();
}

describe("targets", () => {
  it("takes a bearerEnv for CRM APIs that need a token: shown by name, never by value, with a warning while it is not set", async () => {
    const site = newSite();
    const res = await putTarget(site, "hubspot", { url: "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert", template: "hubspot", secret: SECRET, bearerEnv: "HUBSPOT_TOKEN" });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({
      ok: true, site,
      target: { id: "hubspot", url: "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert", template: "hubspot", concurrency: 2, secret: "stored", bearer: { env: "HUBSPOT_TOKEN" } },
      warnings: [{ path: "$.bearerEnv", message: "the secret HUBSPOT_TOKEN is not set (wrangler secret put HUBSPOT_TOKEN): until it is, webhooks to this target are retried on the backoff, then kept as dead letters to replay" }],
    });
    for (const name of ["ADMIN_TOKEN", "CRM_WEBHOOK_SECRET"]) {
      const bad = await putTarget(site, "hubspot", { url: GOOD.url, template: "hubspot", secret: SECRET, bearerEnv: name });
      expect(bad.status).toBe(400);
    }
  });

  it("sets, lists (never with secrets), replaces and deletes a target", async () => {
    const site = newSite();
    const created = await putTarget(site, "crm", GOOD);
    expect(created.status).toBe(201);
    const createdText = await created.text();
    expect(createdText).not.toContain(SECRET.slice(6));
    expect(JSON.parse(createdText)).toEqual({ ok: true, site, target: { id: "crm", url: GOOD.url, template: "hubspot", concurrency: 2, secret: "stored" } });

    // Stored, with a warning: the worker does not have that secret yet.
    const slack = await putTarget(site, "slack", { url: "https://hooks.slack.com/services/T/B/X", template: "slack", secretEnv: "SLACK_WEBHOOK_SECRET", concurrency: 1 });
    expect(slack.status).toBe(201);
    expect(((await slack.json()) as { warnings?: unknown }).warnings).toEqual([{
      path: "$.secretEnv",
      message: "the secret SLACK_WEBHOOK_SECRET is not set (wrangler secret put SLACK_WEBHOOK_SECRET): until it is, webhooks to this target are retried on the backoff, then kept as dead letters to replay",
    }]);
    const list = await adminFetch(`/v1/admin/sites/${site}/targets`);
    const listText = await list.text();
    expect(listText).not.toContain(SECRET.slice(6));
    expect(JSON.parse(listText)).toEqual({
      site,
      targets: [
        { id: "crm", url: GOOD.url, template: "hubspot", concurrency: 2, secret: "stored" },
        { id: "slack", url: "https://hooks.slack.com/services/T/B/X", template: "slack", concurrency: 1, secret: { env: "SLACK_WEBHOOK_SECRET" } },
      ],
    });

    const replaced = await putTarget(site, "crm", { ...GOOD, template: "salesforce" });
    expect(replaced.status).toBe(200);
    expect(JSON.parse((await storedTargets(site))!).targets.map((t: { id: string; template: string }) => [t.id, t.template])).toEqual([["crm", "salesforce"], ["slack", "slack"]]);

    expect((await adminFetch(`/v1/admin/sites/${site}/targets/crm`, { method: "DELETE" })).status).toBe(200);
    expect((await adminFetch(`/v1/admin/sites/${site}/targets/crm`, { method: "DELETE" })).status).toBe(404);
    const after = (await (await adminFetch(`/v1/admin/sites/${site}/targets`)).json()) as { targets: { id: string }[] };
    expect(after.targets.map((t) => t.id)).toEqual(["slack"]);
  });

  it.each<[string, unknown, string[]]>([
    ["a missing url", { template: "json", secret: SECRET }, ["$.url"]],
    ["a url that is not a string", { ...GOOD, url: 42 }, ["$.url"]],
    ["an unknown template", { ...GOOD, template: "pipedrive" }, ["$.template"]],
    ["no secret at all", { url: GOOD.url, template: "json" }, ["$.secret"]],
    ["both secret and secretEnv", { ...GOOD, secretEnv: "CRM_SECRET" }, ["$.secretEnv"]],
    ["a secret without whsec_", { ...GOOD, secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0" }, ["$.secret"]],
    ["a secret too short", { ...GOOD, secret: `whsec_${btoa("short")}` }, ["$.secret"]],
    ["a secretEnv in lower case", { url: GOOD.url, template: "json", secretEnv: "crm_secret" }, ["$.secretEnv"]],
    ["a secretEnv naming the admin token", { url: GOOD.url, template: "json", secretEnv: "ADMIN_TOKEN" }, ["$.secretEnv"]],
    ["a concurrency of 0", { ...GOOD, concurrency: 0 }, ["$.concurrency"]],
    ["a fractional concurrency", { ...GOOD, concurrency: 1.5 }, ["$.concurrency"]],
    ["a concurrency over 50", { ...GOOD, concurrency: 51 }, ["$.concurrency"]],
    ["an unknown key", { ...GOOD, headers: { authorization: "x" } }, ["$.headers"]],
    ["an http URL to a public host", { ...GOOD, url: "http://hooks.example.com/crm" }, ["$.url"]],
    ["a body that is an array", [GOOD], ["$"]],
    // Every problem at once, not one per try.
    ["a bad secret, a bad concurrency and an http URL to a public host", { ...GOOD, secret: "nope", concurrency: 0, url: "http://hooks.example.com/crm" }, ["$.secret", "$.concurrency", "$.url"]],
    ["both secrets given, one of them bad, and a private URL", { ...GOOD, secretEnv: "crm", url: "https://10.0.0.1/hook" }, ["$.secretEnv", "$.secretEnv", "$.url"]],
  ])("answers 400 naming the field for %s; the targets stay as they were", async (_, body, paths) => {
    const site = newSite();
    expect((await putTarget(site, "crm", GOOD)).status).toBe(201);
    const before = await storedTargets(site);
    const res = await putTarget(site, "crm", body);
    expect(res.status).toBe(400);
    const error = ((await res.json()) as { error: { code: string; issues: { path: string }[] } }).error;
    expect(error.code).toBe("invalid_target");
    expect(error.issues.map((i) => i.path)).toEqual(paths);
    expect(await storedTargets(site)).toBe(before);
  });

  it.each([
    ["invalid JSON", "{nope", 400, "invalid_json"],
    ["a bad site id", "Not A Site", 400, "invalid_site"],
    ["a bad target id", "UPPER", 400, "invalid_target"],
  ])("answers %s with a 4xx and changes nothing", async (what, value, status, code) => {
    const site = newSite();
    expect((await putTarget(site, "crm", GOOD)).status).toBe(201);
    const before = await storedTargets(site);
    const res = what === "invalid JSON" ? await putTarget(site, "crm", value)
      : what === "a bad site id" ? await putTarget(encodeURIComponent(value), "crm", GOOD)
      : await putTarget(site, value, GOOD);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    expect(await storedTargets(site)).toBe(before);
  });

  it.each([
    ["PUT", "/v1/admin/sites/x1/targets/crm"],
    ["GET", "/v1/admin/sites/x1/targets"],
    ["DELETE", "/v1/admin/sites/x1/targets/crm"],
    ["GET", "/v1/admin/sites/x1/visitors/v_12345678/webhooks"],
    ["POST", "/v1/admin/sites/x1/visitors/v_12345678/webhooks/msg_0123456789abcdef0123456789abcdef/replay"],
    ["GET", "/v1/admin/sites/x1/webhooks/dead"],
  ])("%s %s needs the admin token", async (method, path) => {
    const res = await adminFetch(path, { method, body: method === "PUT" ? JSON.stringify(GOOD) : null }, null);
    expect(res.status).toBe(401);
  });
});

describe("a visitor's webhooks", () => {
  it("lists each message with every try: time, status code or error, duration", async () => {
    const name = uid("list");
    const { site, origin } = await qualifyingSite(hookUrl(name));
    const visitor = await qualifiedVisitor(site, origin);
    await fireUntil(site, visitor, (m) => m[0]?.status === "delivered");
    const res = await adminFetch(`/v1/admin/sites/${site}/visitors/${visitor}/webhooks`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { webhooks: { id: string; webhook: string; target: string; status: string; attempts: number; nextAt: unknown; tries: { at: number; status: number; error: unknown; durationMs: number; outcome: string }[] }[] };
    expect(body.webhooks).toHaveLength(1);
    const [m] = body.webhooks;
    expect(m).toMatchObject({ webhook: "crm", target: "crm", status: "delivered", attempts: 1, nextAt: null });
    expect(m!.id).toMatch(/^msg_[a-f0-9]{32}$/);
    expect(m!.tries).toEqual([{ at: expect.any(Number), status: 204, error: null, durationMs: expect.any(Number), outcome: "delivered" }]);
  });

  it.each([
    ["an unknown visitor", (s: string) => `/v1/admin/sites/${s}/visitors/nobody_123456/webhooks`, "GET", 404, "unknown_visitor"],
    ["a bad visitor id", (s: string) => `/v1/admin/sites/${s}/visitors/x/webhooks`, "GET", 400, "invalid_visitor"],
    ["a bad message id", (s: string) => `/v1/admin/sites/${s}/visitors/nobody_123456/webhooks/not-a-msg/replay`, "POST", 400, "invalid_message"],
    ["an unknown message", (s: string) => `/v1/admin/sites/${s}/visitors/nobody_123456/webhooks/msg_0123456789abcdef0123456789abcdef/replay`, "POST", 404, "unknown_message"],
  ])("answers %s with the right error", async (_, path, method, status, code) => {
    const res = await adminFetch(path(newSite()), { method });
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  it("refuses to replay a message that is not a dead letter", async () => {
    const { site, origin } = await qualifyingSite(hookUrl(uid("nodead")));
    const visitor = await qualifiedVisitor(site, origin);
    const [m] = await fireUntil(site, visitor, (x) => x[0]?.status === "delivered");
    const res = await adminFetch(`/v1/admin/sites/${site}/visitors/${visitor}/webhooks/${m!.id}/replay`, { method: "POST" });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_a_dead_letter");
  });
});
