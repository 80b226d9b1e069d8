/** Helpers for worker tests: seed rules, post batches the way the snippet does, call the admin API. */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import demo from "../../../rules/demo.json" with { type: "json" };
import type { RulesInput } from "../../../rules/index.js";
import type { VisitorSnapshot } from "../../../worker/visitor-object.js";
import type { CollectResponse, ErrorResponse } from "../../../worker/wire.js";

export const ORIGIN = "http://127.0.0.1:8787";
export const ADMIN_TOKEN = "test-admin-token";
export const BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
export const demoRules = demo;

export type { CollectResponse, ErrorResponse, VisitorSnapshot };

let counter = 0;
/** A unique id of the given prefix (8-64 chars, as the wire requires). */
export function uid(prefix = "id"): string {
  counter++;
  return `${prefix}_${Date.now().toString(36)}_${counter.toString(36).padStart(6, "0")}_${Math.random().toString(36).slice(2, 8)}`;
}

let ipCounter = 0;
/**
 * A client address no other request used, so that tests do not share the per-IP rate limit
 * (the worker counts requests without one under a single key).
 */
export function nextIp(): string {
  ipCounter++;
  const salt = Math.floor(Math.random() * 200);
  return `10.${salt}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

/** Puts the demo rules (or another document) into KV as the worker reads them. */
export async function seedRules(doc: { site: { id: string } } = demo): Promise<void> {
  await env.RULES.put(`rules:${doc.site.id}`, JSON.stringify(doc));
}

/**
 * A small valid rules document for a site of its own: one group per kind, a page-view rule worth
 * `pageViewPoints`, stages visitor -> mql (total >= 50). `patch` replaces top-level sections.
 */
export function siteDoc(site: string, origin: string, patch: Partial<RulesInput> & { pageViewPoints?: number } = {}): RulesInput {
  const { pageViewPoints = 1, ...rest } = patch;
  return {
    version: "t1",
    site: { id: site, origins: [origin] },
    groups: [{ id: "fit" }, { id: "engagement" }],
    rules: [{ id: "page-view", on: "page_view", points: pageViewPoints }],
    stages: [{ id: "visitor" }, { id: "mql", when: { score: "total", gte: 50 } }],
    webhooks: [{ id: "crm", target: "crm", on: { stageEntered: ["mql"] } }],
    ...rest,
  };
}

/** POSTs a raw body to /v1/collect as text/plain from the demo origin (headers overridable; a null value removes one). */
export function postRaw(body: BodyInit, headers: Record<string, string | null> = {}): Promise<Response> {
  const merged: Record<string, string | null> = {
    "content-type": "text/plain;charset=UTF-8", origin: ORIGIN, "user-agent": BROWSER_UA, "cf-connecting-ip": nextIp(), ...headers,
  };
  const h = new Headers();
  for (const [k, v] of Object.entries(merged)) if (v !== null) h.set(k, v);
  return SELF.fetch("https://edge.test/v1/collect", { method: "POST", headers: h, body });
}

/** A page view at a path of the demo site (or of `origin`). */
export function pageView(path: string, extra: Record<string, unknown> = {}, origin = ORIGIN) {
  return { id: uid("ev"), type: "page_view", ts: Date.now(), url: `${origin}${path}`, ...extra };
}

/** An event of any type with a fresh id. */
export function event(type: string, extra: Record<string, unknown> = {}) {
  return { id: uid("ev"), type, ts: Date.now(), ...extra };
}

/** Options of `collect`. */
export interface CollectOptions {
  site?: string;
  page?: string;
  /** Origin header (default: the demo origin). */
  origin?: string;
  headers?: Record<string, string | null>;
}

/** POSTs a batch of events for a visitor. */
export function collect(visitor: string, events: object[], opts: CollectOptions = {}) {
  const body: Record<string, unknown> = { site: opts.site ?? "demo", visitor, events };
  if (opts.page) body.page = opts.page;
  const headers = opts.origin ? { origin: opts.origin, ...opts.headers } : opts.headers;
  return postRaw(JSON.stringify(body), headers);
}

/** POSTs a batch and reads the 200 answer (fails loudly on any other status). */
export async function collectOk(visitor: string, events: object[], opts: CollectOptions = {}): Promise<CollectResponse> {
  const res = await collect(visitor, events, opts);
  if (res.status !== 200) throw new Error(`collect answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as CollectResponse;
}

/** Calls the admin API with the test token (or the given one; null for none). */
export function adminFetch(path: string, init: RequestInit = {}, token: string | null = ADMIN_TOKEN): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return SELF.fetch(`https://edge.test${path}`, { ...init, headers });
}

/** PUTs a rules document through the admin API. */
export function putRules(site: string, doc: unknown): Promise<Response> {
  return adminFetch(`/v1/admin/sites/${site}/rules`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: typeof doc === "string" ? doc : JSON.stringify(doc),
  });
}

/** The admin view of a visitor: the status, and the snapshot when there is one. */
export async function getVisitor(site: string, visitor: string): Promise<{ status: number; body: VisitorSnapshot | ErrorResponse }> {
  const res = await adminFetch(`/v1/admin/sites/${site}/visitors/${visitor}`);
  return { status: res.status, body: (await res.json()) as VisitorSnapshot | ErrorResponse };
}

/** The admin snapshot of a visitor that must exist. */
export async function snapshot(site: string, visitor: string): Promise<VisitorSnapshot> {
  const { status, body } = await getVisitor(site, visitor);
  if (status !== 200) throw new Error(`GET visitor ${visitor} answered ${status}: ${JSON.stringify(body)}`);
  return body as VisitorSnapshot;
}

/** The visitor's Durable Object. */
export function visitorStub(site: string, visitor: string) {
  return env.VISITOR.get(env.VISITOR.idFromName(`${site}:${visitor}`));
}

/** Row counts of every table of a visitor's Durable Object (what is really stored). */
export interface StoredRows {
  events: number;
  distinctEvents: number;
  ledger: number;
  outbox: number;
  kv: number;
}

/** Counts what a visitor's Durable Object holds in SQLite. */
export function storedRows(site: string, visitor: string): Promise<StoredRows> {
  return runInDurableObject(visitorStub(site, visitor), (_, state) => {
    const one = (q: string) => Number(state.storage.sql.exec(q).one().n);
    // The outbox is created with a visitor's first webhook: a visitor without one has no rows in it.
    const hasOutbox = one("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'outbox'") > 0;
    return {
      events: one("SELECT count(*) AS n FROM events"),
      distinctEvents: one("SELECT count(DISTINCT id) AS n FROM events"),
      ledger: one("SELECT count(*) AS n FROM ledger"),
      outbox: hasOutbox ? one("SELECT count(*) AS n FROM outbox") : 0,
      // The visitor's own records; the console index keeps its bookkeeping rows beside them.
      kv: one("SELECT count(*) AS n FROM kv WHERE k IN ('state', 'profile')"),
    };
  });
}

/** The outbox rows of a visitor, payloads parsed. */
export function outboxRows(site: string, visitor: string): Promise<{ id: string; key: string; webhook: string; status: string; payload: { type: string; data: { stage?: { from: string | null; to: string } } } }[]> {
  return runInDurableObject(visitorStub(site, visitor), (_, state) =>
    state.storage.sql.exec("SELECT id, key, webhook, status, payload FROM outbox ORDER BY created_at, id").toArray().map((r) => ({
      id: String(r.id), key: String(r.key), webhook: String(r.webhook), status: String(r.status), payload: JSON.parse(String(r.payload)),
    })));
}

/** Rate-limit windows are fixed 10 s slots: waits until at least `minLeftMs` of the current one remain. */
export async function waitForFreshRateWindow(minLeftMs = 3_000, windowMs = 10_000): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < minLeftMs) await new Promise((r) => setTimeout(r, left + 50));
}

/** Fisher-Yates shuffle with a seeded generator, so a failing order can be replayed. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice();
  let s = seed >>> 0 || 1;
  const rand = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 0x1_0000_0000;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
