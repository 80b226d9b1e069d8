/**
 * Per-target concurrency limit, global: one Durable Object per (site, target) hands out leases, so
 * however many visitor objects (on however many machines) deliver to one CRM at once, no more than
 * the target's `concurrency` sends are in flight, and a CRM's burst limit holds.
 *
 * A sender that finds the target busy waits in line at the gate (`acquireWithin`), up to a bound:
 * each lease released (or run out) goes to the sender that has waited longest, so a burst of
 * qualified visitors is sent at the target's pace, in order, without every waiting message waking
 * its object again and again to ask. Past the bound the sender gets no lease and its message is
 * due again a moment later, without counting as a try (deliver.ts). A lease runs out on its own
 * (the sender asks for one longer than its send timeout), so a sender that died mid-send frees its
 * slot. Leases and the line live in memory: if the gate object restarts, the sends in flight are
 * forgotten and, for at most one send timeout, the limit can be passed by that many; storing
 * leases would cost a write per send for that rare case.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.js";

interface Waiter {
  limit: number;
  leaseMs: number;
  deadline: number;
  grant: (lease: string | null) => void;
}

/** The gate of one (site, target). */
export class TargetGate extends DurableObject<Env> {
  private readonly leases = new Map<string, number>();
  private readonly line: Waiter[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** A lease id, good for `leaseMs`, when fewer than `limit` sends are in flight; null otherwise. */
  acquire(limit: number, leaseMs: number, now = Date.now()): string | null {
    for (const [id, expires] of this.leases) if (expires <= now) this.leases.delete(id);
    if (this.leases.size >= limit) return null;
    const id = crypto.randomUUID();
    this.leases.set(id, now + leaseMs);
    return id;
  }

  /**
   * A lease as soon as a slot is free, waiting in line behind earlier callers for at most
   * `waitMs`; null when none came in time.
   */
  acquireWithin(limit: number, leaseMs: number, waitMs: number): Promise<string | null> | string | null {
    if (this.line.length === 0) {
      const lease = this.acquire(limit, leaseMs);
      if (lease !== null || waitMs <= 0) return lease;
    }
    return new Promise((grant) => {
      this.line.push({ limit, leaseMs, deadline: Date.now() + waitMs, grant });
      this.serve();
    });
  }

  /** Ends a lease (a send finished); the slot goes to the first in line. */
  release(id: string): void {
    this.leases.delete(id);
    this.serve();
  }

  /** Sends in flight now. */
  inFlight(now = Date.now()): number {
    let n = 0;
    for (const expires of this.leases.values()) if (expires > now) n++;
    return n;
  }

  /** Turns away who waited too long, hands free slots to the line in order, and wakes up for the next lease or deadline to run out. */
  private serve(): void {
    const now = Date.now();
    if (this.line.some((w) => w.deadline <= now)) {
      for (const w of this.line) if (w.deadline <= now) w.grant(null);
      this.line.splice(0, this.line.length, ...this.line.filter((w) => w.deadline > now));
    }
    while (this.line.length > 0) {
      const first = this.line[0]!;
      const lease = this.acquire(first.limit, first.leaseMs, now);
      if (lease === null) break;
      this.line.shift();
      first.grant(lease);
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.line.length === 0) return;
    let next = Infinity;
    for (const w of this.line) next = Math.min(next, w.deadline);
    for (const expires of this.leases.values()) next = Math.min(next, expires);
    this.timer = setTimeout(() => this.serve(), Math.max(1, next - now));
  }
}

/** The gate of a site's target. */
export function targetGate(env: Env, site: string, target: string) {
  return env.TARGET_GATE.get(env.TARGET_GATE.idFromName(`${site}:${target}`));
}
