/**
 * Fuzz: hostile bodies against `POST /v1/collect` inside workerd, with real KV and Durable Objects.
 * Every one must get a 4xx with an error body, none a 5xx, and the visitors they name must keep
 * exactly the state they had. `FUZZ_BODIES` sets how many (CI runs a bounded number;
 * `npm run test:reliability` runs 100,000).
 *
 * Every body goes through the worker's own fetch handler (the Hono app with the real bindings:
 * body limit, decoding, JSON, zod, error mapping, the same code a deployed request runs). A spread
 * sample also goes through `SELF.fetch`, the runtime's HTTP entry. Why not all through `SELF`:
 * inside the test pool its cost per request grows with every request already made in the test
 * (measured here: 7 ms per request for the first 200, 150 ms past 600), so 100,000 would take
 * hours, while the handler answers in about 0.2 ms.
 */
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../worker/index.js";
import { adminFetch, collectOk, ORIGIN, BROWSER_UA, pageView, seedRules, uid } from "../worker/support/client.js";
import { fuzzBody, type FuzzBody } from "./support/fuzz-bodies.js";
import { record } from "./support/figures.js";

const BODIES = Number((env as unknown as { FUZZ_BODIES?: string }).FUZZ_BODIES ?? 5_000);
const SEED = Number((env as unknown as { FUZZ_SEED?: string }).FUZZ_SEED ?? 20261204);
/** Bodies also sent through the runtime's HTTP entry, spread evenly over the run. */
const OVER_HTTP = Math.min(BODIES, 300);
const visitors = Array.from({ length: 12 }, () => uid("fz"));

async function snapshot(visitor: string) {
  const res = await adminFetch(`/v1/admin/sites/demo/visitors/${visitor}`);
  const body = (await res.json()) as { events: number; scores: Record<string, number>; stage: string; explanation: { entries: unknown[] } };
  return { events: body.events, stage: body.stage, entries: body.explanation.entries.length, scores: body.scores };
}

function request(i: number, body: FuzzBody["body"]): Request {
  return new Request("https://edge.test/v1/collect", {
    method: "POST", body,
    headers: { "content-type": "text/plain;charset=UTF-8", origin: ORIGIN, "user-agent": BROWSER_UA, "cf-connecting-ip": `198.51.100.${i % 250}` },
  });
}

async function viaHandler(req: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(req, env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** Tallies of one run. */
class Tally {
  readonly byStatus = new Map<number, number>();
  readonly byKind = new Map<string, number>();
  readonly wrong: string[] = [];
  n = 0;

  async add(i: number, kind: string, res: Response): Promise<void> {
    const text = await res.text();
    this.n++;
    this.byStatus.set(res.status, (this.byStatus.get(res.status) ?? 0) + 1);
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    let coded = false;
    try {
      coded = typeof (JSON.parse(text) as { error?: { code?: unknown } }).error?.code === "string";
    } catch {}
    if ((res.status < 400 || res.status > 499 || !coded) && this.wrong.length < 5) this.wrong.push(`#${i} (${kind}): ${res.status} ${text.slice(0, 200)}`);
  }

  count(f: (s: number) => boolean): number {
    return [...this.byStatus].filter(([s]) => f(s)).reduce((n, [, c]) => n + c, 0);
  }

  line(): string {
    return `4xx=${this.count((s) => s >= 400 && s < 500)} 5xx=${this.count((s) => s >= 500)} statuses=${JSON.stringify(Object.fromEntries(this.byStatus))}`;
  }
}

beforeAll(async () => {
  await seedRules();
  for (const v of visitors) await collectOk(v, [pageView("/"), pageView("/pricing")]);
});

describe(`${BODIES} hostile bodies`, () => {
  it("all get a 4xx with an error body, none a 5xx, and no visitor's state changes", async () => {
    const before = await Promise.all(visitors.map(snapshot));
    const handler = new Tally();
    const http = new Tally();
    const every = Math.max(1, Math.floor(BODIES / OVER_HTTP));
    const started = Date.now();
    for (let i = 0; i < BODIES; i++) {
      const { kind, body } = fuzzBody(SEED, i, visitors, ORIGIN);
      await handler.add(i, kind, await viaHandler(request(i, body)));
      if (i % every === 0 && http.n < OVER_HTTP) await http.add(i, kind, await SELF.fetch(request(i, body)));
    }
    const after = await Promise.all(visitors.map(snapshot));

    console.log(`fuzz: bodies=${BODIES} seed=${SEED} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`fuzz: handler ${handler.line()}`);
    console.log(`fuzz: over HTTP (${http.n}) ${http.line()}`);
    console.log(`fuzz: kinds=${JSON.stringify(Object.fromEntries([...handler.byKind].sort()))}`);
    const fiveXx = handler.count((s) => s >= 500) + http.count((s) => s >= 500);
    record("fuzz", { checks: handler.n + http.n, fiveXx });

    expect([...handler.wrong, ...http.wrong]).toEqual([]);
    expect(handler.count((s) => s >= 400 && s < 500)).toBe(BODIES);
    expect(http.count((s) => s >= 400 && s < 500)).toBe(http.n);
    expect(http.n).toBe(OVER_HTTP);
    expect(handler.byKind.size).toBeGreaterThanOrEqual(Math.min(15, BODIES));
    expect(after).toEqual(before);
  }, 1_800_000);

  it("would have noticed a change of state: a valid event moves the same snapshot", async () => {
    const v = visitors[0]!;
    const before = await snapshot(v);
    await collectOk(v, [pageView("/customers/acme-logistics")]);
    expect(await snapshot(v)).not.toEqual(before);
  });

  it("would have noticed an acceptance: the handler stores a valid body it is given", async () => {
    const v = uid("fz");
    const body = JSON.stringify({ site: "demo", visitor: v, events: [pageView("/pricing")] });
    const res = await viaHandler(request(0, body));
    expect(res.status).toBe(200);
    expect((await snapshot(v)).events).toBe(1);
  });
});

describe("the fuzz generator", () => {
  it("is deterministic for a seed", () => {
    const a = fuzzBody(7, 42, visitors, ORIGIN);
    const b = fuzzBody(7, 42, visitors, ORIGIN);
    expect(a).toEqual(b);
  });
});
