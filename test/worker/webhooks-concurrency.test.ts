/**
 * A target's concurrency limit holds across every sender: one gate object per (site, target)
 * leases the slots, so visitors delivering to one CRM at once never have more sends in flight than
 * the target allows, and every message still arrives.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { targetGate, type TargetGate } from "../../worker/webhooks/target-gate.js";
import { uid } from "./support/client.js";
import { deliveries, fireUntil, hookUrl, plan, qualifiedVisitor, qualifyingSite } from "./support/receiver-client.js";

const delivered = (m: { status: string }[]) => m.length > 0 && m.every((x) => x.status === "delivered");

describe("the target gate", () => {
  it("leases at most `limit` slots, frees one on release, and lets a forgotten lease run out", async () => {
    const gate = targetGate(env, uid("site"), "crm");
    const t0 = 1_800_000_000_000;
    const a = await gate.acquire(2, 20_000, t0);
    const b = await gate.acquire(2, 20_000, t0);
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    expect(a).not.toBe(b);
    expect(await gate.acquire(2, 20_000, t0)).toBeNull();
    await gate.release(a!);
    expect(await gate.acquire(2, 20_000, t0 + 1)).not.toBeNull();
    expect(await gate.acquire(2, 20_000, t0 + 2)).toBeNull();
    // b was never released (its sender died): past its lease the slot is free again.
    expect(await gate.acquire(2, 20_000, t0 + 20_001)).not.toBeNull();
  });

  it("lines callers of acquireWithin up: a slot released goes to the first in line; one past its wait gets none, wherever it stands", async () => {
    const gate = targetGate(env, uid("site"), "crm");
    const held = await gate.acquire(1, 20_000);
    expect(held).not.toBeNull();
    const first = gate.acquireWithin(1, 20_000, 60_000);
    const second = gate.acquireWithin(1, 20_000, 1);
    const third = gate.acquireWithin(1, 20_000, 60_000);
    expect(await second).toBeNull();
    await gate.release(held!);
    const lease = await first;
    expect(lease).not.toBeNull();
    expect(await gate.inFlight()).toBe(1);
    await gate.release(lease!);
    expect(await third).not.toBeNull();
  });

  it("keeps one gate per site and target", async () => {
    const site = uid("site");
    expect(await targetGate(env, site, "crm").acquire(1, 20_000)).not.toBeNull();
    expect(await targetGate(env, site, "crm").acquire(1, 20_000)).toBeNull();
    expect(await targetGate(env, site, "slack").acquire(1, 20_000)).not.toBeNull();
    expect(await targetGate(env, uid("other"), "crm").acquire(1, 20_000)).not.toBeNull();
  });
});

describe("deliveries to a target with concurrency 1", () => {
  it("never overlap at the receiver, and every visitor's webhook arrives once", { timeout: 60_000 }, async () => {
    const name = uid("gate");
    await plan(name, { holdMs: 300 });
    const { site, origin } = await qualifyingSite(hookUrl(name), { concurrency: 1 });
    const visitors = [];
    for (let i = 0; i < 4; i++) visitors.push(await qualifiedVisitor(site, origin));
    await Promise.all(visitors.map((v) => fireUntil(site, v, delivered, 200)));
    const got = await deliveries(name);
    expect(got.filter((d) => d.answered === 204)).toHaveLength(4);
    expect(new Set(got.map((d) => d.webhookId)).size).toBe(4);
    expect(Math.max(...got.map((d) => d.inFlight))).toBe(1);
    await runInDurableObject(targetGate(env, site, "crm"), (gate: TargetGate) => expect(gate.inFlight()).toBe(0));
  });
});
