/**
 * Shared builders for the rules tests: a small valid rules document to vary, an engine compiled
 * from it, events with capture ids, a replay helper, UTC instants and a seeded PRNG.
 */
import { vi } from "vitest";
import { main } from "../../rules/cli.js";
import { compile, parseRules, type EngineEvent, type Engine, type LedgerEntry, type RulesInput, type StageChange, type VisitorState, type WebhookDue } from "../../rules/index.js";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** Monday 5 January 2026, 09:00 UTC: a weekday morning to start journeys from. */
export const MONDAY = Date.UTC(2026, 0, 5, 9);

/** A minimal valid rules document: two groups and a visitor -> lead funnel, with `parts` on top. */
export function rulesDoc(parts: Partial<RulesInput> = {}): RulesInput {
  return {
    version: "test-1",
    site: { id: "test", origins: ["https://www.example.com"] },
    groups: [{ id: "fit" }, { id: "engagement" }],
    rules: [],
    stages: [{ id: "visitor" }, { id: "lead", when: { identified: true } }],
    ...parts,
  };
}

/** Validates and compiles a document; a test fixture that does not validate is a broken test. */
export function engineFor(doc: unknown): Engine {
  const parsed = parseRules(doc);
  if (!parsed.ok) throw new Error(`fixture rules are invalid: ${JSON.stringify(parsed.errors)}`);
  return compile(parsed.rules);
}

/** An engine for `rulesDoc(parts)`. */
export function engineWith(parts: Partial<RulesInput>): Engine {
  return engineFor(rulesDoc(parts));
}

let sequence = 0;
/** An event with a fresh capture id. */
export function event(type: EngineEvent["type"], fields: Omit<Partial<EngineEvent>, "type"> = {}): EngineEvent {
  sequence += 1;
  return { id: `evt-${String(sequence).padStart(8, "0")}`, type, ...fields };
}

export const pageView = (path: string, fields: Omit<Partial<EngineEvent>, "type" | "path"> = {}) => event("page_view", { path, ...fields });

/** Everything a replay produced. */
export interface Replay {
  state: VisitorState;
  states: VisitorState[];
  ledger: LedgerEntry[];
  transitions: StageChange[];
  webhooks: WebhookDue[];
}

/** Applies `[at, event]` steps in order to a new visitor (or to `from`). */
export function replay(engine: Engine, steps: ReadonlyArray<readonly [number, EngineEvent]>, from?: VisitorState): Replay {
  let state = from ?? engine.initialState("visitor-1");
  const out: Replay = { state, states: [], ledger: [], transitions: [], webhooks: [] };
  for (const [at, e] of steps) {
    const result = engine.apply(state, e, at);
    state = result.state;
    out.states.push(state);
    out.ledger.push(...result.entries);
    out.transitions.push(...result.transitions);
    out.webhooks.push(...result.webhooks);
  }
  out.state = state;
  return out;
}

/** Freezes an object and everything it holds, so any write to it throws (modules are strict). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** mulberry32: a small seeded PRNG, so "random" sequences are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const PATHS = ["/", "/pricing", "/pricing/", "/customers/acme", "/customers/globex", "/blog/2026/scoring", "/careers/engineer", "/demo", "/about"];
const FORMS = ["whitepaper", "webinar", "demo-request", "contact-sales", "newsletter"];
const EMAILS = ["jo@acme.example", "sam@gmail.com", "kim@competitor.example", "lee@globex.example", "not-an-email"];
const TITLES = ["Director of Marketing", "Engineer", "VP Sales", "Student"];
const SIZES = ["1-10", "11-50", "51-200", "1,000+"];

/**
 * A random but reproducible journey: `count` events of every type, separated by gaps from a
 * minute to a few weeks, starting at `start`.
 */
export function randomJourney(rand: () => number, count: number, start: number): [number, EngineEvent][] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const steps: [number, EngineEvent][] = [];
  let at = start;
  for (let i = 0; i < count; i++) {
    const r = rand();
    at += r < 0.6 ? Math.floor(rand() * HOUR_MS) : r < 0.9 ? Math.floor(rand() * 3 * DAY_MS) : Math.floor(rand() * 30 * DAY_MS);
    const kind = rand();
    let e: EngineEvent;
    if (kind < 0.5) e = pageView(pick(PATHS), { landing: rand() < 0.3, visit: 1 + Math.floor(rand() * 4), query: rand() < 0.2 ? { utm_medium: pick(["cpc", "email"]) } : {} });
    else if (kind < 0.65) e = event("form_submit", { path: "/resources", form: { id: pick(FORMS) }, email: pick(EMAILS), fields: { job_title: pick(TITLES), company_size: pick(SIZES) } });
    else if (kind < 0.72) e = event("identify", { email: pick(EMAILS), traits: { job_title: pick(TITLES), company_size: pick(SIZES), country: pick(["FR", "US", "JP"]) } });
    else if (kind < 0.8) e = event("custom", { name: pick(["pricing_calculator", "unsubscribe", "webinar_attended"]) });
    else if (kind < 0.86) e = event("cta_click", { element: pick(["demo-offer", "demo-hero", "chat"]) });
    else if (kind < 0.92) e = event(pick(["cta_impression", "cta_dismiss"] as const), { element: pick(["demo-offer", "pricing-chat", "hero-whitepaper"]) });
    else if (kind < 0.96) e = event("email_click", { query: { utm_campaign: "nurture" } });
    else e = event("download", { href: "/files/benchmark.pdf" });
    steps.push([at, e]);
  }
  return steps;
}

/** Runs the rules CLI's `main` with its console output captured: the exit code, standard output and error. */
export function runCli(argv: string[]): { code: number; out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, "log").mockImplementation((s: string) => void out.push(s));
  vi.spyOn(console, "error").mockImplementation((s: string) => void err.push(s));
  const code = main(argv);
  return { code, out: out.join("\n"), err: err.join("\n") };
}
