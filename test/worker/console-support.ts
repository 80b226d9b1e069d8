/**
 * Helpers of the console's API tests: a small site of its own per test file (four stages, a CTA
 * with two variants), visitors driven through collect, and their reports to the index made now.
 */
import { env } from "cloudflare:test";
import type { RulesInput } from "../../rules/index.js";
import { adminFetch, collectOk, event, pageView, seedRules, uid, visitorStub } from "./support/client.js";

/** Rules of a console test site: lead = identified, MQL = 30 points and identified, SQL = a demo request. */
export function consoleRules(site: string, origin: string): RulesInput {
  return {
    version: "c1",
    site: { id: site, origins: [origin] },
    groups: [{ id: "fit" }, { id: "engagement" }],
    rules: [
      { id: "page-view", description: "Viewed a page", on: "page_view", points: 1 },
      { id: "pricing", description: "Viewed pricing", on: "page_view", when: { field: "path", glob: "/pricing" }, points: 10, cap: { times: 3 } },
      { id: "white-paper", description: "Downloaded the white paper", on: "form_submit", when: { field: "form.id", eq: "whitepaper" }, points: 20, cap: { times: 1 } },
      { id: "demo-request", description: "Requested a demo", on: "form_submit", when: { field: "form.id", eq: "demo" }, points: 40, cap: { times: 1 } },
      { id: "corporate", description: "Corporate email", group: "fit", on: ["identify", "form_submit"], when: { field: "email.kind", eq: "corporate" }, points: 10, cap: { times: 1 } },
    ],
    stages: [
      { id: "visitor" },
      { id: "lead", when: { identified: true } },
      { id: "mql", when: { all: [{ score: "total", gte: 30 }, { identified: true }] } },
      { id: "sql", when: { signal: "demo-request" } },
    ],
    ctas: [{
      id: "offer", kind: "banner", stages: ["lead"],
      variants: [{ id: "a", text: "Get the white paper" }, { id: "b", text: "Read the benchmark" }],
    }],
  };
}

/** A fresh site with the console rules; answers its id and origin. */
export async function consoleSite(prefix = "con"): Promise<{ site: string; origin: string }> {
  const site = uid(prefix).toLowerCase().replace(/_/g, "-").slice(0, 60);
  const origin = `https://${site}.example`;
  await seedRules(consoleRules(site, origin) as { site: { id: string } });
  return { site, origin };
}

/** What a test visitor does, in order (each step is one batch). */
export type Step =
  | { view: string; query?: string; referrer?: string }
  | { form: string; email?: string; fields?: Record<string, string> }
  | { identify: string; traits?: Record<string, string | number> }
  | { cta: "cta_impression" | "cta_click" | "cta_dismiss"; id: string; variant: string };

/** Plays the steps of one visitor on `site`, then makes the visitor report to the index; answers the visitor id. */
export async function play(site: string, origin: string, steps: Step[], visitor = uid("v")): Promise<string> {
  for (const s of steps) {
    const e =
      "view" in s ? pageView(s.view + (s.query ? `?${s.query}` : ""), s.referrer ? { referrer: s.referrer } : {}, origin)
      : "form" in s ? event("form_submit", { url: `${origin}/form`, form: { id: s.form }, ...(s.email ? { email: s.email } : {}), ...(s.fields ? { fields: s.fields } : {}) })
      : "identify" in s ? event("identify", { email: s.identify, ...(s.traits ? { traits: s.traits } : {}) })
      : event(s.cta, { element: s.id, props: { variant: s.variant } });
    await collectOk(visitor, [e], { site, origin });
  }
  await reported(site, visitor);
  return visitor;
}

/** Makes the visitors report to the index now (instead of waiting for their alarms). */
export async function reported(site: string, ...visitors: string[]): Promise<void> {
  for (const v of visitors) if (!(await visitorStub(site, v).reportIndex())) throw new Error(`visitor ${v} could not report to the index`);
}

/** GETs a console API path and reads its JSON (fails loudly on a non-200). */
export async function getJson<T>(path: string): Promise<T> {
  const res = await adminFetch(path);
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** Sends JSON to a console API path; answers the status and body. */
export async function send<T = unknown>(method: string, path: string, body: unknown): Promise<{ status: number; body: T }> {
  const res = await adminFetch(path, { method, headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

/** Row count of an index table for a site (what really is stored). */
export async function indexRows(table: string, site: string): Promise<number> {
  return Number((await env.INDEX!.prepare(`SELECT count(*) AS n FROM ${table} WHERE site = ?`).bind(site).first<{ n: number }>())?.n ?? 0);
}
