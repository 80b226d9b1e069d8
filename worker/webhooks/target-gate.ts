/**
 * Per-target concurrency limit, global: one Durable Object per (site, target) hands out leases, so
 * however many visitor objects (on however many machines) deliver to one CRM at once, no more than
 * the target's `concurrency` sends are in flight, and a CRM's burst limit holds.
 *
 * A sender that finds the target busy does not wait: its message is due again a moment later,
 * without counting as a try (deliver.ts). A lease runs out on its own (the sender asks for one
 * longer than its send timeout), so a sender that died mid-send frees its slot. Leases live in memory: if the gate object restarts,
 * the sends in flight are forgotten and, for at most one send timeout, the limit can be passed by
 * that many; storing leases would cost a write per send for that rare case.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.js";

/** The gate of one (site, target). */
export class TargetGate extends DurableObject<Env> {
  private readonly leases = new Map<string, number>();

  /** A lease id, good for `leaseMs`, when fewer than `limit` sends are in flight; null otherwise. */
  acquire(limit: number, leaseMs: number, now = Date.now()): string | null {
    for (const [id, expires] of this.leases) if (expires <= now) this.leases.delete(id);
    if (this.leases.size >= limit) return null;
    const id = crypto.randomUUID();
    this.leases.set(id, now + leaseMs);
    return id;
  }

  /** Ends a lease (a send finished). */
  release(id: string): void {
    this.leases.delete(id);
  }

  /** Sends in flight now. */
  inFlight(now = Date.now()): number {
    let n = 0;
    for (const expires of this.leases.values()) if (expires > now) n++;
    return n;
  }
}

/** The gate of a site's target. */
export function targetGate(env: Env, site: string, target: string) {
  return env.TARGET_GATE.get(env.TARGET_GATE.idFromName(`${site}:${target}`));
}
