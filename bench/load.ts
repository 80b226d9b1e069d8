/**
 * `npm run bench:load`: 30 s of collect traffic at a fixed rate on workerd directly (the
 * `wrangler deploy --dry-run` bundle run through Miniflare's API, no wrangler dev proxy), across
 * 10,000 visitors, then a check of every visitor: its final scores and stage, as the worker reports
 * them, must equal the rules engine replayed offline on the events the worker acknowledged.
 *
 * Like a page of the snippet, each visitor has at most one batch in flight, so the order it sent
 * its batches is the order they were applied and the replay is exact. The bench rules are the
 * demo's without time in them (no decay, caps counted ever rather than per day), so scores read at
 * the end do not depend on when they are read.
 *
 * Locally one workerd process holds every live visitor object (three open files each; 20,000 per
 * process here). A run with 4,000 visitors per process on this busy machine had some objects fail
 * with SQLITE_NOMEM (answered 503, nothing acknowledged) while 2,500 in one process ran clean; the
 * cause is not established, and the edge spreads objects over machines anyway. So the visitors are
 * split over several workerd processes of at most 1,000 each (`LOAD_SHARD_VISITORS`). Requests go to 127.0.0.1 only, evenly
 * spaced (bench/paced.ts), latency counted from when each was due; the run is bounded by the
 * duration and by `MAX_IN_FLIGHT` (a request due while that many are open is skipped, and the
 * skips are reported).
 * Knobs: LOAD_RATE (req/s, default 400: every visitor sends at least once), LOAD_SECONDS (30), LOAD_VISITORS (10000).
 * Last line: bench:load rate=<req/s> seconds=<s> visitors=<n> requests=<n> 5xx=<n> p50_ms=<ms> p99_ms=<ms> exact=<n>/<n>
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { paced, percentile } from "./paced.js";
import { bundle, COMPAT_DATE, crmSink, DURABLE_OBJECTS, ROOT } from "./worker-under-test.js";
import { compile, normalizeEvent, parseRules, type Engine } from "../rules/index.js";

const RATE = Number(process.env.LOAD_RATE ?? 400);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 30);
const VISITORS = Number(process.env.LOAD_VISITORS ?? 10_000);
const SHARD_VISITORS = Number(process.env.LOAD_SHARD_VISITORS ?? 1_000);
const MAX_IN_FLIGHT = 512;
const SOCKETS_PER_PROCESS = 16;
const ORIGIN = "https://www.load.example";
const ADMIN = "load-admin";
const UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

/** The demo rules for site "load", without decay and with every cap counted ever. */
function loadRules(): Record<string, any> {
  const demo = JSON.parse(readFileSync(join(ROOT, "rules/demo.json"), "utf8"));
  return {
    ...demo,
    site: { ...demo.site, id: "load", origins: [ORIGIN] },
    groups: demo.groups.map(({ decay: _d, inactivity: _i, ...g }: Record<string, unknown>) => g),
    rules: demo.rules.map(({ decay: _d, ...r }: Record<string, any>) => (r.cap ? { ...r, cap: { times: r.cap.times } } : r)),
  };
}

const PATHS = ["/", "/product", "/pricing", "/customers/acme-logistics", "/blog/what-is-an-mql", "/resources/lead-scoring-benchmark", "/careers/designer", "/webinar", "/demo"];
let seq = 0;
const rand = (n: number) => Math.floor(Math.random() * n);

type Ev = Record<string, unknown> & { id: string; ts: number };

/** One batch: 1 to 4 events, mostly page views, sometimes a CTA click, a form, an identify. */
function batch(): Ev[] {
  const events: Ev[] = [];
  for (let n = 1 + rand(4), i = 0; i < n; i++) {
    const id = `ld-${process.pid}-${(seq++).toString(36).padStart(8, "0")}`;
    const path = PATHS[rand(PATHS.length)]!;
    const roll = rand(20);
    const ts = Date.now();
    if (roll < 13) events.push({ id, type: "page_view", ts, url: `${ORIGIN}${path}${roll == 0 ? "?utm_source=newsletter&utm_medium=email" : ""}`, title: "Northwind" });
    else if (roll < 16) events.push({ id, type: "cta_click", ts, url: `${ORIGIN}${path}`, element: "demo-hero" });
    else if (roll < 18) events.push({ id, type: "form_submit", ts, url: `${ORIGIN}/resources/lead-scoring-benchmark`, form: { id: rand(2) ? "white-paper" : "webinar" }, fields: { job_title: "Head of Growth", company_size: "51-200" }, email: `lead${rand(1e6)}@${rand(3) ? "corp.example" : "gmail.com"}` });
    else events.push({ id, type: "identify", ts, email: `p${rand(1e6)}@corp.example`, traits: { job_title: rand(2) ? "VP Marketing" : "Analyst", company_size: 400 } });
  }
  return events;
}

interface Visitor {
  id: string;
  shard: number;
  busy: boolean;
  /** Events of every acknowledged batch, in the order sent (one batch in flight at a time). */
  acked: Ev[];
  /** Batches whose outcome is unknown (an error or no answer): the replay cannot be exact for them. */
  unknown: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "mql-load-"));
  const cleanup = [dir];
  const instances: Miniflare[] = [];
  let crm: Awaited<ReturnType<typeof crmSink>> | undefined;
  let agents: Agent[] = [];
  try {
    const script = bundle(dir);
    const rules = loadRules();
    const parsed = parseRules(rules);
    if (!parsed.ok) throw new Error(`bench rules are invalid: ${JSON.stringify(parsed.errors)}`);
    const engine: Engine = compile(parsed.rules);
    const sink = await crmSink();
    crm = sink;

    const shards = Math.ceil(VISITORS / SHARD_VISITORS);
    const urls: string[] = [];
    for (let s = 0; s < shards; s++) {
      const store = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/mql-load-do-") : join(dir, `do-${s}`);
      cleanup.push(store);
      const mf = new Miniflare({
        modules: true, modulesRoot: dir, scriptPath: script, compatibilityDate: COMPAT_DATE, host: "127.0.0.1",
        kvNamespaces: ["RULES"],
        durableObjects: DURABLE_OBJECTS,
        ratelimits: { IP_RATE: { simple: { limit: 1_000_000_000, period: 60 } }, VISITOR_RATE: { simple: { limit: 1_000_000_000, period: 60 } } },
        bindings: { ADMIN_TOKEN: ADMIN, WEBHOOK_ALLOW_LOCAL: "true" },
        durableObjectsPersist: store,
      });
      instances.push(mf);
      const url = await mf.ready;
      if (url.hostname !== "127.0.0.1") throw new Error(`workerd listens on ${url.hostname}, not 127.0.0.1`);
      const kv = await mf.getKVNamespace("RULES");
      await kv.put("rules:load", JSON.stringify(rules));
      await kv.put("targets:load", JSON.stringify({ targets: [{ id: "crm", url: sink.url, template: "json", secret: `whsec_${Buffer.alloc(32, 7).toString("base64")}` }] }));
      urls.push(url.origin);
    }
    console.log(`workerd: ${shards} process(es), ${VISITORS} visitors, ${RATE} req/s for ${SECONDS} s`);

    const visitors: Visitor[] = Array.from({ length: VISITORS }, (_, i) => ({ id: `load-visitor-${i.toString().padStart(6, "0")}`, shard: Math.floor(i / SHARD_VISITORS), busy: false, acked: [], unknown: 0 }));
    let inFlight = 0;
    let cursor = 0;
    let firstError = "";

    // Keep-alive connections, a bounded number per workerd process (as a load balancer in front would).
    agents = urls.map(() => new Agent({ keepAlive: true, maxSockets: SOCKETS_PER_PROCESS }));
    const post = (shard: number, body: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${urls[shard]}/v1/collect`, {
        method: "POST", agent: agents[shard], timeout: 30_000,
        headers: { "content-type": "text/plain;charset=UTF-8", origin: ORIGIN, "user-agent": UA, "cf-connecting-ip": `10.0.${shard}.1` },
      }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error("no answer within 30 s")));
      req.on("error", reject);
      req.end(body);
    });

    const send = async (v: Visitor): Promise<string> => {
      const events = batch();
      v.busy = true;
      inFlight++;
      let key = "error";
      try {
        const res = await post(v.shard, JSON.stringify({ site: "load", visitor: v.id, page: "/pricing", events }));
        key = String(res.status);
        const body = JSON.parse(res.body) as { ack?: string[] };
        if (res.status === 200 && body.ack?.length === events.length) v.acked.push(...events);
        else v.unknown++;
      } catch (e) {
        v.unknown++;
        const err = e as Error & { code?: string };
        key = `error:${err.code ?? err.name}`;
        if (!firstError) firstError = err.message;
      } finally {
        v.busy = false;
        inFlight--;
      }
      return key;
    };

    // A fixed rate, evenly spaced (bench/paced.ts): each request due goes to the next visitor not busy.
    const run = await paced(RATE, SECONDS, () => {
      if (inFlight >= MAX_IN_FLIGHT) return undefined;
      let v = visitors[cursor++ % VISITORS]!;
      for (let tries = 0; v.busy && tries < VISITORS; tries++) v = visitors[cursor++ % VISITORS]!;
      return v.busy ? undefined : send(v);
    });
    const { sent, skipped, latencies, outcomes: statuses } = run;
    const wall = run.wallS;
    const fiveXx = [...statuses].filter(([s]) => /^5/.test(s)).reduce((n, [, c]) => n + c, 0);
    console.log(`sent ${sent} batches in ${wall.toFixed(1)} s (${Math.round(sent / wall)} req/s), skipped ${skipped} (in-flight cap ${MAX_IN_FLIGHT}); statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    if (firstError) console.log(`first client error: ${firstError}`);
    const [p50, p99, max] = [percentile(latencies, 50), percentile(latencies, 99), latencies.at(-1) ?? 0].map((x) => x.toFixed(1));
    console.log(`latency: p50 ${p50} ms, p99 ${p99} ms, max ${max} ms`);

    // Every visitor: the worker's scores and stage against the engine replayed offline.
    const now = Date.now();
    let exact = 0;
    let checked = 0;
    const mismatches: string[] = [];
    let next = 0;
    const check = async () => {
      for (let i = next++; i < VISITORS; i = next++) {
        const v = visitors[i]!;
        if (v.acked.length === 0 && v.unknown === 0) continue;
        checked++;
        let state = engine.initialState(v.id);
        for (const { ts: _ts, ...captured } of v.acked) state = engine.apply(state, normalizeEvent(captured as never), now).state;
        const expected = { stage: state.stage, scores: engine.scores(state, now) };
        const res = await fetch(`${urls[v.shard]}/v1/admin/sites/load/visitors/${v.id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
        const got = (await res.json()) as { stage?: string; scores?: Record<string, number> };
        const same = res.status === 200 && got.stage === expected.stage && JSON.stringify(got.scores) === JSON.stringify(expected.scores);
        if (same && v.unknown === 0) exact++;
        else if (mismatches.length < 5) mismatches.push(`${v.id}: worker ${res.status} ${JSON.stringify(got).slice(0, 160)}; offline ${JSON.stringify(expected)}; unknown batches ${v.unknown}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, check));
    const covered = visitors.filter((v) => v.acked.length > 0).length;
    console.log(`visitors with events: ${covered} of ${VISITORS}; scores and stage equal to the offline replay: ${exact} of ${checked}`);
    for (const m of mismatches) console.log(`  mismatch ${m}`);
    console.log(`bench:load rate=${RATE} seconds=${SECONDS} visitors=${VISITORS} requests=${sent} 5xx=${fiveXx} p50_ms=${p50} p99_ms=${p99} exact=${exact}/${checked}`);
    if (fiveXx > 0 || exact !== checked) process.exitCode = 1;
  } finally {
    for (const mf of instances) await mf.dispose().catch(() => {});
    for (const a of agents) a.destroy();
    await crm?.close();
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  }
}

await main();
