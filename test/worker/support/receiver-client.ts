/**
 * Helpers for webhook tests in workerd: drive the Node receiver (plans, logs, spare ports), set up
 * a site whose visitors qualify on one page view, and fire a visitor's delivery alarm.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { inject } from "vitest";
import type { RulesInput } from "../../../rules/index.js";
import type { OutboxMessage } from "../../../worker/webhooks/deliver.js";
import type { Delivery, Plan } from "./receiver.js";
import { adminFetch, collectOk, pageView, seedRules, siteDoc, uid, visitorStub } from "./client.js";

export type { Delivery, OutboxMessage, Plan };

/** Base URL of the receiver (http://127.0.0.1:PORT). */
export const RECEIVER = inject("receiverUrl");
/** The secret the receiver verifies every signature with. */
export const SECRET = inject("receiverSecret");

/** The URL deliveries to `name` go to. */
export function hookUrl(name: string, base = RECEIVER): string {
  return `${base}/hooks/${name}`;
}

async function call(path: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(`${RECEIVER}${path}`, init);
  if (!res.ok) throw new Error(`receiver ${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/** Sets how the receiver answers deliveries to `name`. */
export async function plan(name: string, p: Plan): Promise<void> {
  await call(`/plans/${name}`, { method: "PUT", body: JSON.stringify(p) });
}

/** Every delivery the receiver got for `name`, oldest first. */
export function deliveries(name: string): Promise<Delivery[]> {
  return call(`/log/${name}`) as Promise<Delivery[]>;
}

/** A port the receiver reserved but does not listen on yet (connections are refused). */
export async function sparePort(): Promise<{ base: string; up: () => Promise<void> }> {
  const { port } = (await call("/spare", { method: "POST" })) as { port: number };
  return { base: `http://127.0.0.1:${port}`, up: async () => void (await call(`/spare/${port}/up`, { method: "POST" })) };
}

/** PUTs a target through the admin API. */
export function putTarget(site: string, id: string, body: unknown): Promise<Response> {
  return adminFetch(`/v1/admin/sites/${site}/targets/${id}`, {
    method: "PUT", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A site of its own (rules: one page view qualifies as MQL; webhook "crm" to target "crm") with target "crm" at `url`. */
export async function qualifyingSite(url: string, target: Record<string, unknown> = {}, rules: Partial<RulesInput> & { pageViewPoints?: number } = {}): Promise<{ site: string; origin: string }> {
  const site = uid("wh").toLowerCase();
  const origin = `https://${site.replace(/_/g, "-")}.example`;
  await seedRules(siteDoc(site, origin, { pageViewPoints: 50, ...rules }) as { site: { id: string } });
  const res = await putTarget(site, "crm", { url, template: "json", secret: SECRET, ...target });
  if (res.status !== 201) throw new Error(`PUT target answered ${res.status}: ${await res.text()}`);
  return { site, origin };
}

/** A visitor of `site` that entered MQL (one outbox message written). */
export async function qualifiedVisitor(site: string, origin: string, extra: Record<string, unknown> = {}): Promise<string> {
  const visitor = uid("v");
  const answer = await collectOk(visitor, [pageView("/pricing", extra, origin)], { site, origin });
  if (answer.visitor.stage !== "mql") throw new Error(`visitor is ${answer.visitor.stage}, not mql`);
  return visitor;
}

type Delivering = { delivering: Promise<void>; webhooks(): Promise<OutboxMessage[] | null> };

/**
 * Inside the object: waits for a delivery run workerd started on its own (the alarm collect set)
 * to end; then, unless `done` holds for the messages, makes every pending one due now and moves
 * the alarm away, so the run the caller fires next is the only one. Answers the messages when done.
 */
function makeDue(site: string, visitor: string, done: (m: OutboxMessage[]) => boolean): Promise<OutboxMessage[] | null> {
  return runInDurableObject(visitorStub(site, visitor), async (instance, state) => {
    const object = instance as unknown as Delivering;
    await object.delivering;
    const m = (await object.webhooks()) ?? [];
    if (done(m)) return m;
    state.storage.sql.exec("UPDATE outbox SET next_at = 0 WHERE status = 'pending'");
    await state.storage.setAlarm(Date.now() + 60_000);
    return null;
  });
}

/** Makes every pending message of the visitor due now and fires its alarm (after any run already on). */
export async function fireDue(site: string, visitor: string): Promise<void> {
  await makeDue(site, visitor, () => false);
  await runDurableObjectAlarm(visitorStub(site, visitor));
}

/** The visitor's messages with every try, straight from the object. */
export async function messages(site: string, visitor: string): Promise<OutboxMessage[]> {
  return (await visitorStub(site, visitor).webhooks()) ?? [];
}

/** Fires the visitor's alarm until `done` holds (at most `max` times); answers the messages then. */
export async function fireUntil(site: string, visitor: string, done: (m: OutboxMessage[]) => boolean, max = 20): Promise<OutboxMessage[]> {
  for (let i = 0; i < max; i++) {
    const m = await makeDue(site, visitor, done);
    if (m) return m;
    await runDurableObjectAlarm(visitorStub(site, visitor));
  }
  const m = await messages(site, visitor);
  if (!done(m)) throw new Error(`still not done after ${max} alarms: ${JSON.stringify(m)}`);
  return m;
}

/** The receiver's name from a hook URL. */
export function nameOf(url: string): string {
  return url.slice(url.lastIndexOf("/") + 1);
}

/** The site's targets document as stored in KV. */
export async function storedTargets(site: string): Promise<string | null> {
  return env.RULES.get(`targets:${site}`);
}
