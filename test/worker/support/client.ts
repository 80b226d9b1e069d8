/** Helpers for worker tests: seed rules, post batches the way the snippet does, call the admin API. */
import { env, SELF } from "cloudflare:test";
import demo from "../../../rules/demo.json" with { type: "json" };

export const ORIGIN = "http://127.0.0.1:8787";
export const ADMIN_TOKEN = "test-admin-token";
export const BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
export const demoRules = demo;

let counter = 0;
/** A unique id of the given prefix (8-64 chars, as the wire requires). */
export function uid(prefix = "id"): string {
  counter++;
  return `${prefix}_${Date.now().toString(36)}_${counter.toString(36).padStart(6, "0")}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Puts the demo rules (or another document) into KV as the worker reads them. */
export async function seedRules(doc: { site: { id: string } } = demo): Promise<void> {
  await env.RULES.put(`rules:${doc.site.id}`, JSON.stringify(doc));
}

/** POSTs a raw body to /v1/collect as text/plain from the demo origin (headers overridable). */
export function postRaw(body: string, headers: Record<string, string> = {}): Promise<Response> {
  return SELF.fetch("https://edge.test/v1/collect", {
    method: "POST",
    headers: { "content-type": "text/plain;charset=UTF-8", origin: ORIGIN, "user-agent": BROWSER_UA, ...headers },
    body,
  });
}

/** A page view at a path of the demo site. */
export function pageView(path: string, extra: Record<string, unknown> = {}) {
  return { id: uid("ev"), type: "page_view", ts: Date.now(), url: `${ORIGIN}${path}`, ...extra };
}

/** POSTs a batch of events for a visitor. */
export function collect(visitor: string, events: object[], opts: { site?: string; page?: string; headers?: Record<string, string> } = {}) {
  const body: Record<string, unknown> = { site: opts.site ?? "demo", visitor, events };
  if (opts.page) body.page = opts.page;
  return postRaw(JSON.stringify(body), opts.headers);
}

/** Calls the admin API with the test token (or the given one; null for none). */
export function adminFetch(path: string, init: RequestInit = {}, token: string | null = ADMIN_TOKEN): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return SELF.fetch(`https://edge.test${path}`, { ...init, headers });
}
