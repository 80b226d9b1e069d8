/**
 * Webhook delivery against a real HTTP receiver in Node that verifies every signature with the
 * `standardwebhooks` package: signed once per try with one webhook-id, retried through outages,
 * exactly one message per stage change under concurrency, dead letters replayed once.
 */
import { env } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { normalizeEvent } from "../../rules/index.js";
import { ATTEMPTS_MAX } from "../../worker/webhooks/retry.js";
import { secretBytes, sign } from "../../worker/webhooks/sign.js";
import { adminFetch, collectOk, pageView, uid, visitorStub } from "./support/client.js";
import {
  deliveries, fireDue, fireUntil, hookUrl, messages, nameOf, plan, putTarget, qualifiedVisitor, qualifyingSite, SECRET, sparePort, storedTargets,
} from "./support/receiver-client.js";

const delivered = (m: { status: string }[]) => m.length > 0 && m.every((x) => x.status === "delivered");
const settled = (m: { status: string }[]) => m.length > 0 && m.every((x) => x.status !== "pending");

describe("signing", () => {
  it("produces the signature the standardwebhooks library computes", async () => {
    const body = JSON.stringify({ hello: "wörld" });
    const ours = await sign(secretBytes(SECRET)!, "msg_0123", 1_760_000_000, body);
    const theirs = new Webhook(SECRET).sign("msg_0123", new Date(1_760_000_000_000), body);
    expect(ours).toEqual({ "webhook-id": "msg_0123", "webhook-timestamp": "1760000000", "webhook-signature": theirs });
  });

  it.each([
    ["no prefix", "c2VjcmV0LXNlY3JldC1zZWNyZXQ="],
    ["not base64", "whsec_not*base64"],
    ["too short", `whsec_${btoa("short")}`],
  ])("refuses a secret with %s", (_, secret) => {
    expect(secretBytes(secret)).toBeNull();
  });
});

describe("delivery", () => {
  it("delivers a qualified visitor's webhook once, signed, with the generic JSON payload", async () => {
    const url = hookUrl(uid("ok"));
    const { site, origin } = await qualifyingSite(url);
    const visitor = await qualifiedVisitor(site, origin);
    const [message] = await fireUntil(site, visitor, delivered);
    const got = await deliveries(nameOf(url));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ verified: true, webhookId: message!.id, answered: 204, contentType: "application/json" });
    expect(got[0]!.body).toMatchObject({ type: "visitor.stage_entered", data: { site, webhook: "crm", visitor: { id: visitor, stage: "mql" }, stage: { to: "mql" } } });
    expect(message!.tries.map((t) => [t.status, t.outcome])).toEqual([[204, "delivered"]]);
  });

  it("gets through a receiver that is down for the first 3 tries: once, same webhook-id, valid signature", async () => {
    const spare = await sparePort();
    const url = hookUrl(uid("down"), spare.base);
    const { site, origin } = await qualifyingSite(url);
    const visitor = await qualifiedVisitor(site, origin);
    const failed = await fireUntil(site, visitor, (m) => m[0]!.attempts >= 3);
    expect(failed[0]!.attempts).toBe(3);
    expect(failed[0]!.status).toBe("pending");
    expect(failed[0]!.tries.map((t) => [t.status, t.outcome])).toEqual([[null, "retry"], [null, "retry"], [null, "retry"]]);
    expect(failed[0]!.tries.every((t) => t.error?.startsWith("network error"))).toBe(true);
    await spare.up();
    const [message] = await fireUntil(site, visitor, delivered);
    expect(message!.attempts).toBe(4);
    const got = await deliveries(nameOf(url));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ verified: true, webhookId: message!.id });
  });

  it("retries 503s with the same webhook-id and a fresh timestamp and signature each try", async () => {
    const name = uid("flaky");
    await plan(name, { failFirst: 2, failStatus: 503 });
    const { site, origin } = await qualifyingSite(hookUrl(name));
    const visitor = await qualifiedVisitor(site, origin);
    const [message] = await fireUntil(site, visitor, delivered);
    const got = await deliveries(name);
    expect(got.map((d) => [d.answered, d.verified, d.webhookId])).toEqual([[503, true, message!.id], [503, true, message!.id], [204, true, message!.id]]);
    // Each try is signed when it is sent (timestamps in seconds; these tries are not seconds apart).
    expect(got.map((d, i) => Math.abs(Number(d.timestamp) - Math.floor(message!.tries[i]!.at / 1000)) <= 1)).toEqual([true, true, true]);
    expect(message!.tries.map((t) => t.status)).toEqual([503, 503, 204]);
  });

  it("honours Retry-After on a 429", async () => {
    const name = uid("busy");
    await plan(name, { failFirst: 1, failStatus: 429, retryAfter: "120" });
    const { site, origin } = await qualifyingSite(hookUrl(name));
    const visitor = await qualifiedVisitor(site, origin);
    const [waiting] = await fireUntil(site, visitor, (m) => m[0]!.attempts === 1);
    const tried = waiting!.tries[0]!;
    expect(tried.status).toBe(429);
    expect(waiting!.nextAt! - tried.at).toBe(120_000);
    await fireUntil(site, visitor, delivered);
    expect((await deliveries(name)).map((d) => d.answered)).toEqual([429, 204]);
  });

  it("sends one webhook for 500 concurrent qualifying events, and none for the same events resent", async () => {
    const name = uid("burst");
    const { site, origin } = await qualifyingSite(hookUrl(name));
    const visitor = uid("v");
    const events = Array.from({ length: 500 }, (_, i) => ({ id: `${visitor}_${i}`, type: "page_view" as const, ts: Date.now(), url: `${origin}/p/${i}` }));
    const stub = visitorStub(site, visitor);
    const send = () => Promise.all(events.map(({ ts, ...e }) => stub.collect({ site, visitor, page: undefined, events: [{ event: normalizeEvent(e), capturedAt: ts }], now: Date.now() })));
    const answers = await send();
    expect(answers.every((a) => a.ack.length === 1)).toBe(true);
    expect(await messages(site, visitor)).toHaveLength(1);
    await fireUntil(site, visitor, delivered);

    await send();
    const resentByHttp = await collectOk(visitor, events.slice(0, 50), { site, origin });
    expect(resentByHttp.ack).toHaveLength(50);
    const after = await messages(site, visitor);
    expect(after).toHaveLength(1);
    await fireDue(site, visitor);
    const got = await deliveries(name);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ verified: true, webhookId: after[0]!.id });
  });

  it("ends a permanently failing target's webhook as a dead letter after every try; replay delivers it once", async () => {
    const name = uid("broken");
    await plan(name, { failFirst: 1000, failStatus: 500 });
    const { site, origin } = await qualifyingSite(hookUrl(name));
    const visitor = await qualifiedVisitor(site, origin);
    const [dead] = await fireUntil(site, visitor, settled, ATTEMPTS_MAX + 5);
    expect(dead!.status).toBe("dead");
    expect(dead!.tries.map((t) => t.outcome)).toEqual([...Array(ATTEMPTS_MAX - 1).fill("retry"), "dead"]);
    expect(dead!.lastError).toBe("HTTP 500");

    const list = await (await adminFetch(`/v1/admin/sites/${site}/webhooks/dead`)).json() as { deadLetters: { id: string; visitor: string }[] };
    expect(list.deadLetters).toEqual([expect.objectContaining({ id: dead!.id, visitor, webhook: "crm", target: "crm", error: "HTTP 500" })]);
    // Still dead: firing the alarm again sends nothing.
    await fireDue(site, visitor);
    expect(await deliveries(name)).toHaveLength(ATTEMPTS_MAX);

    await plan(name, {});
    const replay = await adminFetch(`/v1/admin/sites/${site}/visitors/${visitor}/webhooks/${dead!.id}/replay`, { method: "POST" });
    expect(replay.status).toBe(202);
    const [again] = await fireUntil(site, visitor, delivered);
    expect(again!.id).toBe(dead!.id);
    await fireDue(site, visitor);
    const got = await deliveries(name);
    expect(got).toHaveLength(ATTEMPTS_MAX + 1);
    expect(got.filter((d) => d.answered === 204)).toEqual([expect.objectContaining({ webhookId: dead!.id, verified: true })]);
    expect(new Set(got.map((d) => d.webhookId))).toEqual(new Set([dead!.id]));
    const after = await (await adminFetch(`/v1/admin/sites/${site}/webhooks/dead`)).json() as { deadLetters: unknown[] };
    expect(after.deadLetters).toEqual([]);
    const again2 = await adminFetch(`/v1/admin/sites/${site}/visitors/${visitor}/webhooks/${dead!.id}/replay`, { method: "POST" });
    expect(again2.status).toBe(409);
  });

  it.each([
    ["a 400", { status: 400 }, 400, "HTTP 400"],
    ["a 302 (redirects are not followed)", { status: 302, headers: { location: "http://169.254.169.254/latest/meta-data" } }, 302, "HTTP 302: redirect to http://169.254.169.254/latest/meta-data not followed"],
  ])("fails for good on %s: one try, dead letter", async (_, p, status, error) => {
    const name = uid("final");
    await plan(name, p);
    const { site, origin } = await qualifyingSite(hookUrl(name));
    const visitor = await qualifiedVisitor(site, origin);
    const [m] = await fireUntil(site, visitor, settled);
    expect(m).toMatchObject({ status: "dead", attempts: 1, lastError: error });
    expect(m!.tries.map((t) => t.status)).toEqual([status]);
    expect(await deliveries(name)).toHaveLength(1);
  });

  it("retries a webhook whose signature the receiver rejects (wrong secret, 401) on the backoff: the secret can be put right", async () => {
    const name = uid("wrongkey");
    const { site, origin } = await qualifyingSite(hookUrl(name), { secret: `whsec_${btoa("a different secret of 32 bytes!!")}` });
    const visitor = await qualifiedVisitor(site, origin);
    const [m] = await fireUntil(site, visitor, (ms) => ms[0]!.attempts === 1);
    expect(m).toMatchObject({ status: "pending", attempts: 1 });
    expect(m!.nextAt! - m!.tries[0]!.at).toBeGreaterThanOrEqual(4_500);
    expect((await deliveries(name)).map((d) => [d.verified, d.answered])).toEqual([[false, 401]]);
  });

  it.each([["a 429", 429], ["a 503", 503]])("takes a short Retry-After on %s as the least wait: the backoff still spreads the tries over a day", async (_, status) => {
    const name = uid("short");
    await plan(name, { failFirst: 3, failStatus: status, retryAfter: "1" });
    const { site, origin } = await qualifyingSite(hookUrl(name));
    const visitor = await qualifiedVisitor(site, origin);
    const [m] = await fireUntil(site, visitor, (ms) => ms[0]!.attempts === 2);
    const second = m!.tries[1]!;
    // The second pause is the backoff's 5 minutes (less its jitter), not the 1 s asked for.
    expect(m!.nextAt! - second.at).toBeGreaterThanOrEqual(270_000);
  });

  it("sends nothing more to a target that answered 410 Gone, even a message due in the same run", async () => {
    const name = uid("gone2");
    await plan(name, { status: 410 });
    // One page view makes two messages to the same target: the stage entered and the score reached.
    const { site, origin } = await qualifyingSite(hookUrl(name), {}, {
      webhooks: [{ id: "crm", target: "crm", on: { stageEntered: ["mql"] } }, { id: "hot", target: "crm", on: { scoreReached: { score: "total", value: 40 } } }],
    });
    const visitor = await qualifiedVisitor(site, origin);
    const messages = await fireUntil(site, visitor, (ms) => ms.length === 2 && ms.every((m) => m.status === "dead"));
    expect(messages.map((m) => m.tries.length)).toEqual([1, 1]);
    expect(messages[1]!.lastError).toContain("is disabled");
    expect(await deliveries(name)).toHaveLength(1);
  });

  it("disables a target that answers 410 Gone; its later webhooks are dead letters without a send", async () => {
    const name = uid("gone");
    await plan(name, { status: 410 });
    const { site, origin } = await qualifyingSite(hookUrl(name));
    const first = await qualifiedVisitor(site, origin);
    const [m] = await fireUntil(site, first, settled);
    expect(m!.tries.map((t) => [t.status, t.outcome])).toEqual([[410, "disabled"]]);
    const targets = JSON.parse((await storedTargets(site))!) as { targets: { disabled?: unknown }[] };
    expect(targets.targets[0]!.disabled).toMatchObject({ reason: "HTTP 410" });
    const listed = await (await adminFetch(`/v1/admin/sites/${site}/targets`)).json() as { targets: { disabled?: unknown }[] };
    expect(listed.targets[0]!.disabled).toBeDefined();

    const second = await qualifiedVisitor(site, origin);
    const [n] = await fireUntil(site, second, settled);
    expect(n).toMatchObject({ status: "dead", attempts: 1 });
    expect(n!.lastError).toContain("is disabled");
    expect(await deliveries(name)).toHaveLength(1);

    // Setting the target again enables it; the dead letter is replayed and delivered.
    await plan(name, {});
    expect((await putTarget(site, "crm", { url: hookUrl(name), template: "json", secret: SECRET })).status).toBe(200);
    await adminFetch(`/v1/admin/sites/${site}/visitors/${second}/webhooks/${n!.id}/replay`, { method: "POST" });
    await fireUntil(site, second, delivered);
    expect((await deliveries(name)).map((d) => d.answered)).toEqual([410, 204]);
  });

  it("keeps retrying while the site has no such target, and delivers once one is configured", async () => {
    const name = uid("late");
    const { site, origin } = await qualifyingSite(hookUrl(name));
    expect((await adminFetch(`/v1/admin/sites/${site}/targets/crm`, { method: "DELETE" })).status).toBe(200);
    const visitor = await qualifiedVisitor(site, origin);
    const [waiting] = await fireUntil(site, visitor, (m) => m[0]!.attempts >= 1);
    expect(waiting).toMatchObject({ status: "pending", lastError: `no target "crm" is configured for site "${site}"` });
    expect((await putTarget(site, "crm", { url: hookUrl(name), template: "json", secret: SECRET })).status).toBe(201);
    await fireUntil(site, visitor, delivered);
    expect(await deliveries(name)).toHaveLength(1);
  });

  it("checks the URL again before each send: a forbidden URL written straight into KV is never called", async () => {
    const name = uid("ssrf");
    const { site, origin } = await qualifyingSite(hookUrl(name));
    await env.RULES.put(`targets:${site}`, JSON.stringify({ targets: [{ id: "crm", url: "http://10.0.0.7/hooks", template: "json", secret: SECRET }] }));
    const visitor = await qualifiedVisitor(site, origin);
    const [m] = await fireUntil(site, visitor, settled);
    expect(m).toMatchObject({ status: "dead", attempts: 1 });
    expect(m!.lastError).toMatch(/^target URL refused: 10\.0\.0\.7 is a private address/);
    expect(m!.tries[0]!.status).toBeNull();
  });

  it("sends the API token named by bearerEnv as a bearer token (HubSpot's and Salesforce's APIs ask for one), and waits while it is not set", async () => {
    const name = uid("bearer");
    const { site, origin } = await qualifyingSite(hookUrl(name), { bearerEnv: "CRM_API_TOKEN" });
    const visitor = await qualifiedVisitor(site, origin);
    const [waiting] = await fireUntil(site, visitor, (m) => m[0]!.attempts >= 1);
    expect(waiting).toMatchObject({ status: "pending", lastError: "the secret CRM_API_TOKEN is not set (wrangler secret put CRM_API_TOKEN)" });
    expect(await deliveries(name)).toHaveLength(0);
    (env as unknown as Record<string, string>).CRM_API_TOKEN = "pat-na1-0123";
    try {
      await fireUntil(site, visitor, delivered);
      expect((await deliveries(name)).map((d) => [d.authorization, d.verified])).toEqual([["Bearer pat-na1-0123", true]]);
    } finally {
      delete (env as unknown as Record<string, string>).CRM_API_TOKEN;
    }
  });

  it("takes the secret from a wrangler secret named by secretEnv, and waits while it is not set", async () => {
    const name = uid("envsecret");
    const { site, origin } = await qualifyingSite(hookUrl(name), { secret: undefined, secretEnv: "CRM_WEBHOOK_SECRET" });
    const visitor = await qualifiedVisitor(site, origin);
    const [waiting] = await fireUntil(site, visitor, (m) => m[0]!.attempts >= 1);
    expect(waiting).toMatchObject({ status: "pending", lastError: "the secret CRM_WEBHOOK_SECRET is not set (wrangler secret put CRM_WEBHOOK_SECRET)" });
    (env as unknown as Record<string, string>).CRM_WEBHOOK_SECRET = SECRET;
    try {
      await fireUntil(site, visitor, delivered);
    } finally {
      delete (env as unknown as Record<string, string>).CRM_WEBHOOK_SECRET;
    }
    expect((await deliveries(name)).map((d) => d.verified)).toEqual([true]);
  });

  it("sends a visitor's webhooks in order: SQL waits while MQL is retried", async () => {
    const name = uid("order");
    await plan(name, { failFirst: 2, failStatus: 503 });
    // Two stages: mql at 50, sql at 100 (two page views of 50).
    const { site, origin } = await qualifyingSite(hookUrl(name), {}, {
      stages: [{ id: "visitor" }, { id: "mql", when: { score: "total", gte: 50 } }, { id: "sql", when: { score: "total", gte: 100 } }],
      webhooks: [{ id: "crm", target: "crm", on: { stageEntered: ["mql", "sql"] } }],
    });
    const visitor = uid("v");
    await collectOk(visitor, [pageView("/a", {}, origin)], { site, origin });
    await collectOk(visitor, [pageView("/b", {}, origin)], { site, origin });
    await fireUntil(site, visitor, delivered);
    const got = await deliveries(name);
    expect(got.map((d) => [(d.body as { data: { stage: { to: string } } }).data.stage.to, d.answered])).toEqual([
      ["mql", 503], ["mql", 503], ["mql", 204], ["sql", 204],
    ]);
  });
});
