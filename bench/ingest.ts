/**
 * `npm run bench:ingest`: collect throughput on workerd, against a raw worker measured in the
 * same run. The worker is bundled as `wrangler deploy` would ship it (`--dry-run --minify`) and
 * run by workerd through Miniflare's API (no wrangler dev proxy in the path); the load comes from
 * autocannon in this process over loopback, 50 connections, 10 s per phase:
 *   1. a raw worker answering 204            -> raw req/s
 *   2. /v1/collect, realistic batches over 2,000 visitors -> collect req/s
 *   3. /v1/collect at half of its measured maximum rate, evenly spaced (bench/paced.ts: open
 *      loop, latency counted from when each request was due), after a pass at that rate -> p99
 *
 * Traffic model: visitors come in visits, as the snippet sends them. A visit is 1 to 4 batches of
 * one visitor sent one after another on one connection, each once the answer to the one before
 * arrived (a page view, then the events that follow it on the page: the snippet keeps one batch
 * in flight); each batch is 1 to 4 events, mostly page views, sometimes a CTA click or a form with
 * a corporate email. Every visit picks one of the 2,000 visitors at random, so each visitor comes
 * back for several visits during a run, its batches spread over it; no visitor is reused for
 * everything, and no request is the only one its visitor ever sends. The line "traffic:" prints it.
 * At a fixed rate the same visits go on, each batch of a visit sent at the first request due once
 * the one before it was answered, over at most 50 keep-alive connections.
 *
 * Visitors who qualify have their webhooks delivered during the run, as in production, to a local
 * CRM stand-in (in a thread of its own) that answers 204 at once; its target allows the most
 * parallel sends (a site whose webhook target is missing would instead have every qualified
 * visitor's object wake up to retry, which measures a misconfiguration, not ingest).
 * Also printed where /proc can be read: workerd's CPU per collect request over the whole run. On
 * workerd alarms run when its event loop is idle, so a saturating phase can leave its visitors'
 * index reports and webhooks to the next one; that figure counts them wherever they ran.
 * Last line: bench:ingest raw=<req/s> collect=<req/s> ratio=<collect/raw> p99_ms=<p99 at 50%>
 */
import autocannon from "autocannon";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";
import { paced, percentile, type PacedResult } from "./paced.js";
import { bundle, COMPAT_DATE, crmSink, DURABLE_OBJECTS, ROOT } from "./worker-under-test.js";

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;
/**
 * Distinct visitors. Locally workerd keeps every live visitor object's SQLite files open (three
 * descriptors each) and this machine allows 20,000 per process, so past about 6,000 live objects
 * opening one more fails, and past about 2,500 live objects workerd's SQLite answers SQLITE_NOMEM
 * (each object also wakes on an alarm to deliver webhooks and report to the index): 2,000 stays
 * clear of both ceilings, which Cloudflare's edge, with objects spread over machines, does not have.
 */
const VISITORS = Number(process.env.BENCH_VISITORS ?? 2_000);
const ORIGIN = "https://www.bench.example";
const BUNDLE_BUDGET_BYTES = 100 * 1024;

function benchRules(): string {
  const demo = JSON.parse(readFileSync(join(ROOT, "rules/demo.json"), "utf8"));
  return JSON.stringify({ ...demo, site: { ...demo.site, id: "bench", origins: [ORIGIN] } });
}

const PATHS = ["/", "/product", "/pricing", "/customers/acme-logistics", "/blog/what-is-an-mql", "/resources/lead-scoring-benchmark", "/careers/designer", "/webinar"];
/** Batches per visit: 1 to this many. */
const VISIT_BATCHES_MAX = 4;
let seq = 0;
const rand = (n: number) => Math.floor(Math.random() * n);

/** One realistic batch of `visitor`: 1 to 4 events, mostly page views, sometimes a form or a CTA click. */
function batchBody(visitor: string): string {
  const n = 1 + rand(4);
  const events = [];
  for (let i = 0; i < n; i++) {
    const id = `ev-${process.pid}-${(seq++).toString(36).padStart(8, "0")}`;
    const path = PATHS[rand(PATHS.length)]!;
    const roll = rand(10);
    if (roll < 7) events.push({ id, type: "page_view", ts: Date.now(), url: `${ORIGIN}${path}?utm_source=newsletter&utm_medium=email`, referrer: "https://www.google.com/", title: "Northwind" });
    else if (roll < 9) events.push({ id, type: "cta_click", ts: Date.now(), url: `${ORIGIN}${path}`, element: "demo-hero" });
    else events.push({ id, type: "form_submit", ts: Date.now(), url: `${ORIGIN}/webinar`, form: { id: "webinar" }, fields: { job_title: "Head of Growth", company_size: "51-200" }, email: `lead${rand(1e6)}@corp.example` });
  }
  return JSON.stringify({ site: "bench", visitor, page: "/pricing", events });
}

/** A connection's visit in progress: its visitor and the batches still to send. */
interface Visit {
  visitor?: string;
  left?: number;
}

/** The next batch on a connection: the visit goes on, or a new one starts with a visitor picked at random. */
function nextBatch(visit: Visit): string {
  if (!visit.visitor || !visit.left) {
    visit.visitor = `bench-visitor-${rand(VISITORS).toString().padStart(5, "0")}`;
    visit.left = 1 + rand(VISIT_BATCHES_MAX);
  }
  visit.left--;
  return batchBody(visit.visitor);
}

const HEADERS = { "content-type": "text/plain;charset=UTF-8", origin: ORIGIN, "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36" };
/** More than this share of a phase's requests failing makes the run a failed one. */
const FAILURES_MAX = 0.001;
/** Failures of measured phases, printed before the summary: the figures count answered requests only. */
const failedPhases: string[] = [];

/**
 * Runs one saturating phase: every connection sends its next request once the one before it is
 * answered. More than 0.1% of requests failing is reported, and marks the run failed unless
 * `failures` is "report" (a pass not measured).
 */
async function load(url: string, opts: { body?: boolean; failures?: "fail" | "report"; phase?: string }): Promise<autocannon.Result> {
  const headers = HEADERS;
  const errors = new Map<string, number>();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const run = autocannon({
      url,
      connections: CONNECTIONS,
      duration: DURATION_S,
      requests: [opts.body
        ? { method: "POST", headers, setupRequest: (req: autocannon.Request, visit: object) => ({ ...req, body: nextBatch(visit as Visit) }) }
        : { method: "GET" }],
    }, (err, res) => (err ? reject(err) : resolve(res)));
    run.on("reqError", (e: Error) => errors.set(e.message, (errors.get(e.message) ?? 0) + 1));
  });
  if (errors.size > 0) console.log(`request errors: ${JSON.stringify(Object.fromEntries(errors))}`);
  const bad = result.non2xx + result.errors + result.timeouts;
  const failed = `${bad} of ${result.requests.total} requests failed (non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}; status codes ${JSON.stringify(result.statusCodeStats)})`;
  if (bad > result.requests.total * FAILURES_MAX) {
    if (opts.failures === "report") console.log(`unmeasured pass: ${failed}`);
    else failedPhases.push(`${opts.phase ?? url}: ${failed}`);
  }
  return result;
}

/**
 * Runs `/v1/collect` at `rate` requests a second for the phase's duration, evenly spaced (see
 * bench/paced.ts), with the traffic model of the saturating phases: visits go on, each with at most
 * one batch in flight, over at most CONNECTIONS keep-alive connections (a request due while all are
 * busy waits for one, and that wait counts in its latency).
 */
async function atRate(url: string, rate: number, opts: { failures?: "fail" | "report"; phase: string }): Promise<PacedResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const idle: Visit[] = [];
  const post = (body: string) => new Promise<string>((resolve) => {
    const req = request(url, { method: "POST", agent, headers: HEADERS, timeout: 30_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(String(res.statusCode)));
      res.on("error", (e) => resolve(`error ${e.message}`));
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 30 s")));
    req.on("error", (e) => resolve(`error ${e.message}`));
    req.end(body);
  });
  try {
    const result = await paced(rate, DURATION_S, () => {
      const visit = idle.pop() ?? {};
      return post(nextBatch(visit)).then((outcome) => {
        idle.push(visit);
        return outcome;
      });
    });
    const bad = [...result.outcomes].filter(([k]) => !/^2/.test(k)).reduce((n, [, c]) => n + c, 0);
    if (bad > result.sent * FAILURES_MAX) {
      const failed = `${bad} of ${result.sent} requests failed (${JSON.stringify(Object.fromEntries(result.outcomes))})`;
      if (opts.failures === "report") console.log(`unmeasured pass: ${failed}`);
      else failedPhases.push(`${opts.phase}: ${failed}`);
    }
    return result;
  } finally {
    agent.destroy();
  }
}

/** Milliseconds of CPU workerd's main thread has used (Linux, read from /proc), or undefined where that cannot be read. */
function workerdCpu(): (() => number) | undefined {
  try {
    const pid = execFileSync("pgrep", ["-n", "-P", String(process.pid), "workerd"], { encoding: "utf8" }).trim();
    const read = () => {
      const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(fields[11]) + Number(fields[12])) * (1000 / 100); // utime + stime, in clock ticks of 1/100 s
    };
    read();
    return read;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "mql-bench-"));
  const cleanup = [dir];
  let crm: Awaited<ReturnType<typeof crmSink>> | undefined;
  let mf: Miniflare | undefined;
  try {
    const script = bundle(dir);
    const code = readFileSync(script);
    const gzip = gzipSync(code, { level: 9 }).length;
    console.log(`worker bundle: ${code.length} bytes, ${gzip} bytes gzip (budget ${BUNDLE_BUDGET_BYTES})${gzip > BUNDLE_BUDGET_BYTES ? "  OVER BUDGET" : ""}`);

    const raw = new Miniflare({ modules: true, compatibilityDate: COMPAT_DATE, script: "export default { fetch() { return new Response(null, { status: 204 }); } };" });
    const rawUrl = await raw.ready;
    await load(rawUrl.href, { failures: "report" }); // warm-up pass is the same length: workerd and the JIT settle
    const rawResult = await load(rawUrl.href, { phase: "raw worker" });
    await raw.dispose();
    const rawRps = rawResult.requests.average;
    console.log(`raw worker (204):       ${Math.round(rawRps)} req/s, p99 ${rawResult.latency.p99} ms`);

    const storeDir = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/mql-bench-do-") : join(dir, "do");
    cleanup.push(storeDir);
    mf = new Miniflare({
      modules: true,
      modulesRoot: dir,
      scriptPath: script,
      compatibilityDate: COMPAT_DATE,
      kvNamespaces: ["RULES"],
      // The bindings of wrangler.toml: visitors, leads and accounts, and the console's index in D1.
      durableObjects: DURABLE_OBJECTS,
      d1Databases: ["INDEX"],
      d1Persist: storeDir,
      ratelimits: { IP_RATE: { simple: { limit: 1_000_000_000, period: 60 } }, VISITOR_RATE: { simple: { limit: 1_000_000_000, period: 60 } } },
      bindings: { ADMIN_TOKEN: "bench", WEBHOOK_ALLOW_LOCAL: "true" },
      // Visitor storage on tmpfs when the machine has one: real SQLite files and transactions, but
      // the figure measures the worker, not this machine's disk (the edge's storage is not a local disk).
      durableObjectsPersist: storeDir,
    });
    const url = await mf.ready;
    const kv = await mf.getKVNamespace("RULES");
    await kv.put("rules:bench", benchRules());
    crm = await crmSink();
    // The stand-in takes every webhook at once: its target allows the most parallel sends, so delivery keeps up with qualification inside the run.
    await kv.put("targets:bench", JSON.stringify({ targets: [{ id: "crm", url: crm.url, template: "json", concurrency: 50, secret: `whsec_${Buffer.alloc(32, 7).toString("base64")}` }] }));
    console.log(`traffic: ${VISITORS} visitors; visits of 1-${VISIT_BATCHES_MAX} batches of one visitor sent one after another on one of ${CONNECTIONS} connections, each visit by a visitor picked at random; batches of 1-4 events`);
    const collectUrl = new URL("/v1/collect", url).href;
    const cpu = workerdCpu();
    const cpuStart = cpu?.();
    // Unmeasured, like the pass before the p99: creating every visitor's object and its first
    // reports and webhooks can hold workerd's loop past its keep-alive timeout (see below).
    const warm = await load(collectUrl, { body: true, failures: "report" });
    const max = await load(collectUrl, { body: true, phase: "collect (max)" });
    const collectRps = max.requests.average;
    console.log(`collect (max):          ${Math.round(collectRps)} req/s, p99 ${max.latency.p99} ms`);
    // The latency at half load is measured in a steady state at that load: a first pass at the same
    // rate lets the work the maximum left queued (visitors' index reports and webhooks) run first.
    // workerd runs that backlog before it reads the sockets again, which can outlast its keep-alive
    // timeout and reset a connection: that pass reports its failures rather than failing the run.
    const halfRate = Math.max(1, Math.round(collectRps / 2));
    const settle = await atRate(collectUrl, halfRate, { failures: "report", phase: "settle" });
    const half = await atRate(collectUrl, halfRate, { phase: "collect (at 50% rate)" });
    const [p50, p99] = [percentile(half.latencies, 50), percentile(half.latencies, 99)].map((ms) => Math.round(ms));
    console.log(`collect (at 50% rate):  ${Math.round(half.sent / DURATION_S)} req/s due evenly, ${(half.sent / half.wallS).toFixed(0)} req/s done; from when due: p50 ${p50} ms, p99 ${p99} ms, max ${Math.round(half.latencies.at(-1) ?? 0)} ms`);
    if (cpu && cpuStart !== undefined) {
      // Alarms (index reports, webhook sends) run when workerd's event loop has a moment, so under a
      // saturating load some of the work a phase causes lands in the next one: this is the cost of
      // the whole run, that work included, per request.
      const requests = warm.requests.total + max.requests.total + settle.sent + half.sent;
      console.log(`workerd CPU per collect request, over the run and what it left to alarms: ${((cpu() - cpuStart) / requests).toFixed(2)} ms`);
    }
    await mf.dispose();
    mf = undefined;
    console.log(`webhooks delivered during the run: ${await crm.received()}`);

    const ratio = collectRps / rawRps;
    console.log(`ratio collect/raw: ${ratio.toFixed(2)} (target >= 0.35); p99 at 50%: ${p99} ms (target <= 10)`);
    for (const f of failedPhases) console.log(`FAILED ${f}; its figures count answered requests only`);
    if (failedPhases.length > 0) process.exitCode = 1;
    console.log(`bench:ingest raw=${Math.round(rawRps)} collect=${Math.round(collectRps)} ratio=${ratio.toFixed(2)} p99_ms=${p99}`);
  } finally {
    await mf?.dispose().catch(() => undefined);
    await crm?.close();
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  }
}

await main();
