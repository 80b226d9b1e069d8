/**
 * Webhook outage on an injected clock: the receiver is down for a simulated hour (its port refuses
 * connections), then comes back; the message is delivered once, signed, with its one webhook id.
 * A receiver that keeps failing past the retry schedule gets a dead letter, which replays once.
 * The delivery clock is moved, and each visitor's alarm fired, step by step: a day in seconds.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { ATTEMPTS_MAX, BACKOFF_MS } from "../../worker/webhooks/retry.js";
import { deliveryClock } from "../../worker/webhooks/clock.js";
import { adminFetch, visitorStub } from "../worker/support/client.js";
import { deliveries, hookUrl, messages, plan, qualifiedVisitor, qualifyingSite, RECEIVER, sparePort, type OutboxMessage } from "../worker/support/receiver-client.js";
import { record } from "./support/figures.js";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const realNow = deliveryClock.now;
let offsetMs = 0;

/** Moves the delivery clock to `ms` after the wall clock. */
function setOffset(ms: number): void {
  offsetMs = ms;
  deliveryClock.now = () => Date.now() + offsetMs;
}

afterEach(() => {
  deliveryClock.now = realNow;
  offsetMs = 0;
});

/** Fires the visitor's alarm once (after any run already going), as workerd would when it is due. */
async function fire(site: string, visitor: string): Promise<void> {
  const stub = visitorStub(site, visitor);
  await runInDurableObject(stub, async (_, state) => {
    await state.storage.setAlarm(Date.now() + HOUR_MS);
  });
  await runDurableObjectAlarm(stub);
}

/** Walks the clock from `fromMs` to `toMs` in `stepMs` steps, firing the alarm at each; stops early once `done`. */
async function live(site: string, visitor: string, fromMs: number, toMs: number, stepMs: number, done: (m: OutboxMessage) => boolean = () => false): Promise<OutboxMessage> {
  for (let t = fromMs; t <= toMs; t += stepMs) {
    setOffset(t);
    await fire(site, visitor);
    const [m] = await messages(site, visitor);
    if (done(m!)) return m!;
  }
  return (await messages(site, visitor))[0]!;
}

describe("a receiver down for an hour", () => {
  it("gets the message once after it recovers, signed, with the webhook id of every try", async () => {
    const down = await sparePort();
    const name = `outage-${Date.now().toString(36)}`;
    const { site, origin } = await qualifyingSite(hookUrl(name, down.base));
    setOffset(0);
    const visitor = await qualifiedVisitor(site, origin);

    // One simulated hour, one alarm a minute: every try finds the port closed.
    const during = await live(site, visitor, 0, HOUR_MS, MINUTE_MS);
    expect(during.status).toBe("pending");
    expect(during.tries.length).toBeGreaterThanOrEqual(3);
    expect(during.tries.every((t) => t.status === null && /network error/.test(t.error ?? ""))).toBe(true);
    expect(await deliveries(name)).toEqual([]);

    await down.up();
    // The next try is due about 35 min + 2 h after the first; walk on in 5-minute steps.
    const after = await live(site, visitor, HOUR_MS, 6 * HOUR_MS, 5 * MINUTE_MS, (m) => m.status !== "pending");
    expect(after.status).toBe("delivered");
    const deliveredAt = after.tries.at(-1)!.at - realNow();
    expect(deliveredAt).toBeGreaterThan(HOUR_MS);
    expect(deliveredAt).toBeLessThan(4 * HOUR_MS);

    // Later alarms send nothing more.
    await live(site, visitor, 7 * HOUR_MS, 30 * HOUR_MS, 6 * HOUR_MS);
    const got = await deliveries(name);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ verified: true, webhookId: after.id, answered: 204 });
    record("webhook-outage", { checks: 1, lost: got.length === 0 ? 1 : 0, duplicated: got.length - 1 });
  });
});

describe("a receiver failing past the retry schedule", () => {
  it("leaves a dead letter, which replays once and is delivered once", async () => {
    const name = `dead-${Date.now().toString(36)}`;
    await plan(name, { status: 503 });
    const { site, origin } = await qualifyingSite(hookUrl(name, RECEIVER));
    setOffset(0);
    const visitor = await qualifiedVisitor(site, origin);
    const scheduleMs = BACKOFF_MS.reduce((a, b) => a + b, 0);

    // A day and a half in 30-minute steps (the pauses grow to 10 h).
    const dead = await live(site, visitor, 0, scheduleMs * 1.5, 30 * MINUTE_MS, (m) => m.status !== "pending");
    expect(dead.status).toBe("dead");
    expect(dead.tries).toHaveLength(ATTEMPTS_MAX);
    expect(dead.tries.at(-1)!.outcome).toBe("dead");
    const listed = (await (await adminFetch(`/v1/admin/sites/${site}/webhooks/dead`)).json()) as { deadLetters: { id: string; visitor: string }[] };
    expect(listed.deadLetters).toEqual([expect.objectContaining({ id: dead.id, visitor })]);
    const failed = await deliveries(name);
    expect(failed).toHaveLength(ATTEMPTS_MAX);
    expect(new Set(failed.map((d) => d.webhookId))).toEqual(new Set([dead.id]));

    await plan(name, { status: 204 });
    const replay = () => adminFetch(`/v1/admin/sites/${site}/visitors/${visitor}/webhooks/${dead.id}/replay`, { method: "POST" });
    expect((await replay()).status).toBe(202);
    expect((await replay()).status).toBe(409);
    const done = await live(site, visitor, scheduleMs * 1.5, scheduleMs * 3, HOUR_MS, (m) => m.status !== "pending");
    expect(done.status).toBe("delivered");
    await live(site, visitor, scheduleMs * 3, scheduleMs * 4, 6 * HOUR_MS);

    const all = await deliveries(name);
    const ok = all.filter((d) => d.answered === 204);
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({ verified: true, webhookId: dead.id });
    expect(all).toHaveLength(ATTEMPTS_MAX + 1);
    const deadAfter = (await (await adminFetch(`/v1/admin/sites/${site}/webhooks/dead`)).json()) as { deadLetters: unknown[] };
    expect(deadAfter.deadLetters).toEqual([]);
    expect(await env.RULES.get(`deadletters:${site}:${dead.id}`)).toBeNull();
    record("webhook-dead-letter", { checks: 1, lost: ok.length === 0 ? 1 : 0, duplicated: ok.length - 1 });
  });
});
