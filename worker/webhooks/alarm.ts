/**
 * The alarm that drives an object's outbox, shared by the visitor, lead and account objects: while
 * a run is on the alarm is kept a lease ahead (a run cut short is resumed), then it is set for the
 * next due message or deleted.
 */
import type { Env } from "../env.js";
import { deliverDue, SEND_TIMEOUT_MS, type WaitFor } from "./deliver.js";

/** While a delivery run is on, the alarm is kept this far ahead, so a run cut short is resumed. */
export const DELIVERY_LEASE_MS = 4 * SEND_TIMEOUT_MS;

/**
 * Sends what is due in the object's outbox. `around` wraps the sending (the visitor reports to the
 * index around it); `waitFor` holds a message back while another outbox has older ones to its target.
 */
export async function runDelivery(
  storage: DurableObjectStorage,
  env: Env,
  around: (send: () => Promise<number | null>) => Promise<number | null> = (send) => send(),
  waitFor?: WaitFor,
): Promise<void> {
  await storage.setAlarm(Date.now() + DELIVERY_LEASE_MS);
  const next = await around(() => deliverDue(storage.sql, env, waitFor));
  if (next === null) await storage.deleteAlarm();
  else await storage.setAlarm(next);
}

/** Makes sure the alarm fires by `at` (an earlier alarm is kept). */
export async function alarmBy(storage: DurableObjectStorage, at: number): Promise<void> {
  const current = await storage.getAlarm();
  if (current === null || current > at) await storage.setAlarm(at);
}
