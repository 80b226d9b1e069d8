/**
 * `npm run bench:rules`: how fast the compiled engine scores events, against json-rules-engine
 * running the same rules and against the same rules written by hand as an if-chain.
 *
 * One representative rule set (rules/examples/saas-40.json), about 200k synthetic events for 20k
 * visitors generated before timing, each visitor's state kept in a Map. The events reach every
 * contender in requests, as the worker receives them: each visitor's events in time order, at most
 * 50 to a request (the snippet's BATCH_MAX, as when it sends a backlog), each request parsed from
 * its own JSON text. The engine scores a request with one `applyAll` call, as the worker can; the
 * if-chain and json-rules-engine score its events one by one, in the same order. The engine's
 * `apply`, one call per event in time order, is timed too and printed for reference.
 * Every contender is warmed up first; the engine and the if-chain report the median of several
 * passes, each from fresh states, taken in turns so all see the same machine; json-rules-engine,
 * far slower, runs once on a deterministic sample of the visitors.
 * All three must end with the same states (stage, every score to 0.01, every rule's counts),
 * or the bench exits 1 saying where they differ. The last line is the machine-readable summary.
 */
import saas40 from "../rules/examples/saas-40.json" with { type: "json" };
import { compile, parseRules, type Engine } from "../rules/index.js";
import type { VisitorState } from "../rules/state.js";
import { createIfChain, type HandScorer } from "./if-chain.js";
import { createJsonRulesEngine, type AsyncScorer } from "./json-rules-engine.js";
import { batchesOf, generateWorkload, typeMix, type Batch, type Workload } from "./synthetic-events.js";

const RULES_FILE = "rules/examples/saas-40.json";
const SEED = 20_261_203;
const VISITORS = 20_000;
const WARMUP_PASSES = 2;
const TIMED_PASSES = 5;
/** json-rules-engine scores every tenth visitor (2,000 visitors) and all their events. */
const SAMPLE_EVERY = 10;
const JRE_WARMUP_EVENTS = 2_000;
/** The snippet's BATCH_MAX: most events in one request. */
const BATCH_MAX = 50;
const TARGET_ENGINE_EVENTS_PER_S = 1_000_000;
const TARGET_TIMES_JRE = 300;
const TARGET_WITHIN_IF_CHAIN = 3;
const MAX_MISMATCHES_SHOWN = 10;

type States = Map<string, VisitorState>;
interface Pass {
  ms: number;
  states: States;
  /** Ledger entries written: also keeps the work observable. */
  entries: number;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const rate = (events: number, ms: number) => (events * 1000) / ms;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** The engine scoring each request with one `applyAll` call. */
function runEngine(engine: Engine, w: Workload, batches: readonly Batch[]): Pass {
  const { visitors } = w;
  const states: States = new Map();
  let entries = 0;
  const start = performance.now();
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    const visitor = visitors[b.visitor]!;
    const result = engine.applyAll(states.get(visitor) ?? engine.initialState(visitor), b.events, b.at);
    states.set(visitor, result.state);
    entries += result.entries.length;
  }
  return { ms: performance.now() - start, states, entries };
}

/** The engine scoring every event with its own `apply` call, in time order. */
function runEngineByEvent(engine: Engine, w: Workload): Pass {
  const { events, visitorOf, at, visitors } = w;
  const states: States = new Map();
  let entries = 0;
  const start = performance.now();
  for (let i = 0; i < events.length; i++) {
    const visitor = visitors[visitorOf[i]!]!;
    const result = engine.apply(states.get(visitor) ?? engine.initialState(visitor), events[i]!, at[i]!);
    states.set(visitor, result.state);
    entries += result.entries.length;
  }
  return { ms: performance.now() - start, states, entries };
}

function runHand(scorer: HandScorer, w: Workload, batches: readonly Batch[]): Pass {
  const { visitors } = w;
  const states: States = new Map();
  let entries = 0;
  const start = performance.now();
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    const visitor = visitors[b.visitor]!;
    let state = states.get(visitor);
    if (state === undefined) states.set(visitor, (state = scorer.newState(visitor)));
    for (let k = 0; k < b.events.length; k++) entries += scorer.apply(state, b.events[k]!, b.at[k]!);
  }
  return { ms: performance.now() - start, states, entries };
}

/** The first `limit` events of the requests (all of them unless told), one by one. */
async function runAsync(scorer: AsyncScorer, w: Workload, batches: readonly Batch[], limit = Infinity): Promise<Pass> {
  const { visitors } = w;
  const states: States = new Map();
  let entries = 0;
  let scored = 0;
  const start = performance.now();
  for (let i = 0; i < batches.length && scored < limit; i++) {
    const b = batches[i]!;
    const visitor = visitors[b.visitor]!;
    let state = states.get(visitor);
    if (state === undefined) states.set(visitor, (state = scorer.newState(visitor)));
    for (let k = 0; k < b.events.length && scored < limit; k++, scored++) entries += await scorer.apply(state, b.events[k]!, b.at[k]!);
  }
  return { ms: performance.now() - start, states, entries };
}

interface Timed {
  /** The median time of the timed passes. */
  ms: number;
  rates: number[];
  /** The last pass: every pass of a contender scores the same events from fresh states. */
  last: Pass;
}

/**
 * Warm-up passes of each, then timed passes taken in turns (the first to go rotating), so a load
 * that comes and goes on a shared machine weighs on all alike; returns each one's median time,
 * every rate, and its last pass. Only the last pass of each is kept: older states would only
 * grow the heap every contender's garbage collection walks.
 */
function timeInTurns(runs: readonly (() => Pass)[], events: number): Timed[] {
  for (let i = 0; i < WARMUP_PASSES; i++) for (const run of runs) run();
  const times: number[][] = runs.map(() => []);
  const last: (Pass | undefined)[] = runs.map(() => undefined);
  for (let i = 0; i < TIMED_PASSES; i++) {
    for (let k = 0; k < runs.length; k++) {
      const j = (i + k) % runs.length;
      const entries = last[j]?.entries;
      last[j] = undefined;
      const pass = runs[j]!();
      if (entries !== undefined && pass.entries !== entries) {
        console.error(`bench:rules: FAILED: two passes of one contender wrote ${entries} and ${pass.entries} ledger entries`);
        process.exit(1);
      }
      last[j] = pass;
      times[j]!.push(pass.ms);
    }
  }
  return times.map((ms, j) => ({ ms: median(ms), rates: ms.map((t) => rate(events, t)), last: last[j]! }));
}

/** Every difference between two contenders' final states: stage, scores at `now`, per-rule counts. */
function differences(engine: Engine, names: [string, string], a: States, b: States, now: number): string[] {
  const out: string[] = [];
  const [na, nb] = names;
  if (a.size !== b.size) out.push(`${na} has ${a.size} visitors, ${nb} has ${b.size}`);
  for (const [visitor, sa] of a) {
    const sb = b.get(visitor);
    if (sb === undefined) {
      out.push(`${visitor}: missing from ${nb}`);
      continue;
    }
    if (sa.stage !== sb.stage) out.push(`${visitor}: stage ${na}=${sa.stage} ${nb}=${sb.stage}`);
    const scoresA = engine.scores(sa, now);
    const scoresB = engine.scores(sb, now);
    for (const key of new Set([...Object.keys(scoresA), ...Object.keys(scoresB)])) {
      if (scoresA[key] !== scoresB[key]) out.push(`${visitor}: score ${key} ${na}=${scoresA[key]} ${nb}=${scoresB[key]}`);
    }
    for (const rule of new Set([...Object.keys(sa.counts), ...Object.keys(sb.counts)])) {
      const ca = sa.counts[rule];
      const cb = sb.counts[rule];
      if (ca?.n !== cb?.n || ca?.win !== cb?.win || ca?.wn !== cb?.wn) {
        out.push(`${visitor}: rule ${rule} counts ${na}=${JSON.stringify(ca ?? null)} ${nb}=${JSON.stringify(cb ?? null)}`);
      }
    }
  }
  return out;
}

function check(engine: Engine, names: [string, string], a: States, b: States, now: number, scope: string): void {
  const diff = differences(engine, names, a, b, now);
  if (diff.length === 0) return;
  console.error(`bench:rules: FAILED: ${names[0]} and ${names[1]} end with different states (${scope}): ${diff.length} differences, first ${Math.min(diff.length, MAX_MISMATCHES_SHOWN)}:`);
  for (const d of diff.slice(0, MAX_MISMATCHES_SHOWN)) console.error(`  ${d}`);
  console.error(`  Rules: ${RULES_FILE}; each contender must score the same rules with the same semantics.`);
  process.exit(1);
}

function funnel(states: States, stageIds: string[]): string {
  const counts = new Map(stageIds.map((s) => [s, 0]));
  for (const s of states.values()) counts.set(s.stage, (counts.get(s.stage) ?? 0) + 1);
  return stageIds.map((s) => `${s} ${fmt(counts.get(s)!)}`).join(", ");
}

async function main(): Promise<void> {
  const parsed = parseRules(saas40);
  if (!parsed.ok) {
    console.error(`bench:rules: ${RULES_FILE} is not a valid rules document:`);
    for (const e of parsed.errors) console.error(`  ${e.path}: ${e.message}`);
    process.exit(1);
  }
  const doc = parsed.rules;
  const engine = compile(doc);
  const ifChain = createIfChain(doc);
  const jre = createJsonRulesEngine(doc);

  const generatedAt = performance.now();
  const work = generateWorkload({ seed: SEED, visitors: VISITORS });
  const batches = batchesOf(work, BATCH_MAX);
  const generatedMs = performance.now() - generatedAt;
  const sample = batches.filter((b) => b.visitor % SAMPLE_EVERY === 0);
  const sampleEvents = sample.reduce((sum, b) => sum + b.events.length, 0);
  const sampled = new Set(sample.map((b) => b.visitor)).size;
  const n = work.events.length;
  const end = work.at[n - 1]!;
  console.log(`rules       ${RULES_FILE}: ${doc.rules.length} rules, groups ${doc.groups.map((g) => g.id).join("/")}, stages ${doc.stages.map((s) => s.id).join("/")}`);
  console.log(`events      ${fmt(n)} for ${fmt(VISITORS)} visitors over ${Math.round((end - work.at[0]!) / 86_400_000)} days, seed ${SEED}, generated before timing (${fmt(generatedMs)} ms)`);
  console.log(`            ${typeMix(work.events)}`);
  console.log(`requests    ${fmt(batches.length)}: a visitor's events, at most ${BATCH_MAX} to a request, ${(n / batches.length).toFixed(2)} on average`);

  const [e, h, a] = timeInTurns([() => runEngine(engine, work, batches), () => runHand(ifChain, work, batches), () => runEngineByEvent(engine, work)], n);
  const engineRate = rate(n, e!.ms);
  const ifChainRate = rate(n, h!.ms);
  const applyRate = rate(n, a!.ms);
  console.log(`engine      ${fmt(engineRate)} events/s, applyAll per request, median of ${TIMED_PASSES} passes after ${WARMUP_PASSES} warm-up (${e!.rates.map(fmt).join(", ")})`);
  console.log(`if-chain    ${fmt(ifChainRate)} events/s, median of ${TIMED_PASSES} passes after ${WARMUP_PASSES} warm-up, in turns with the engine's (${h!.rates.map(fmt).join(", ")})`);
  console.log(`engine      ${fmt(applyRate)} events/s with apply per event in time order, for reference, in the same turns (${a!.rates.map(fmt).join(", ")})`);

  await runAsync(jre, work, sample, JRE_WARMUP_EVENTS);
  const j = await runAsync(jre, work, sample);
  const jreRate = rate(sampleEvents, j.ms);
  console.log(`json-rules-engine ${fmt(jreRate)} events/s, on a sample: every ${SAMPLE_EVERY}th visitor (${fmt(sampled)} visitors, ${fmt(sampleEvents)} events), one pass after a ${fmt(JRE_WARMUP_EVENTS)}-event warm-up`);

  check(engine, ["engine", "if-chain"], e!.last.states, h!.last.states, end, `all ${fmt(VISITORS)} visitors`);
  if (e!.last.entries !== h!.last.entries) {
    console.error(`bench:rules: FAILED: engine wrote ${e!.last.entries} ledger entries, if-chain ${h!.last.entries}`);
    process.exit(1);
  }
  check(engine, ["engine", "engine's apply"], e!.last.states, a!.last.states, end, `all ${fmt(VISITORS)} visitors`);
  if (e!.last.entries !== a!.last.entries) {
    console.error(`bench:rules: FAILED: applyAll wrote ${e!.last.entries} ledger entries, apply ${a!.last.entries}`);
    process.exit(1);
  }
  const engineOnSample = runEngine(engine, work, sample);
  check(engine, ["engine", "json-rules-engine"], engineOnSample.states, j.states, end, `the ${fmt(sampled)} sampled visitors`);
  if (engineOnSample.entries !== j.entries) {
    console.error(`bench:rules: FAILED: on the sample the engine wrote ${engineOnSample.entries} ledger entries, json-rules-engine ${j.entries}`);
    process.exit(1);
  }
  console.log(`states      identical: engine = if-chain = engine's apply (${fmt(VISITORS)} visitors), engine = json-rules-engine (${fmt(sampled)} sampled); stage, scores, per-rule counts, ${fmt(e!.last.entries)} ledger entries`);
  console.log(`funnel      ${funnel(e!.last.states, doc.stages.map((s) => s.id))}`);

  const timesJre = engineRate / jreRate;
  const behindIfChain = ifChainRate / engineRate;
  const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");
  console.log(`target      engine ${fmt(engineRate)} events/s >= ${fmt(TARGET_ENGINE_EVENTS_PER_S)}: ${verdict(engineRate >= TARGET_ENGINE_EVENTS_PER_S)}`);
  console.log(`ratio       engine / json-rules-engine = ${timesJre.toFixed(0)}x (target >= ${TARGET_TIMES_JRE}x): ${verdict(timesJre >= TARGET_TIMES_JRE)}`);
  console.log(`ratio       if-chain / engine = ${behindIfChain.toFixed(2)}x (target <= ${TARGET_WITHIN_IF_CHAIN}x): ${verdict(behindIfChain <= TARGET_WITHIN_IF_CHAIN)}`);
  console.log(`bench:rules engine=${Math.round(engineRate)} json-rules-engine=${Math.round(jreRate)} if-chain=${Math.round(ifChainRate)}`);
}

await main();
