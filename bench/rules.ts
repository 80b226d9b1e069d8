/**
 * `npm run bench:rules`: how fast the compiled engine scores events, against json-rules-engine
 * running the same rules and against the same rules written by hand as an if-chain.
 *
 * One representative rule set (rules/examples/saas-40.json), about 200k synthetic events for 20k
 * visitors generated before timing, each visitor's state kept in a Map. Every contender is warmed
 * up first; the engine and the if-chain report the median of several passes, each from fresh
 * states, taken in turns so both see the same machine; json-rules-engine, far slower, runs once
 * on a deterministic sample of the visitors.
 * All three must end with the same states (stage, every score to 0.01, every rule's counts),
 * or the bench exits 1 saying where they differ. The last line is the machine-readable summary.
 */
import saas40 from "../rules/examples/saas-40.json" with { type: "json" };
import { compile, parseRules, type Engine } from "../rules/index.js";
import type { VisitorState } from "../rules/state.js";
import { createIfChain, type HandScorer } from "./if-chain.js";
import { createJsonRulesEngine, type AsyncScorer } from "./json-rules-engine.js";
import { generateWorkload, typeMix, type Workload } from "./synthetic-events.js";

const RULES_FILE = "rules/examples/saas-40.json";
const SEED = 20_261_203;
const VISITORS = 20_000;
const WARMUP_PASSES = 2;
const TIMED_PASSES = 5;
/** json-rules-engine scores every tenth visitor (2,000 visitors) and all their events. */
const SAMPLE_EVERY = 10;
const JRE_WARMUP_EVENTS = 2_000;
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

function runEngine(engine: Engine, w: Workload): Pass {
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

function runHand(scorer: HandScorer, w: Workload): Pass {
  const { events, visitorOf, at, visitors } = w;
  const states: States = new Map();
  let entries = 0;
  const start = performance.now();
  for (let i = 0; i < events.length; i++) {
    const visitor = visitors[visitorOf[i]!]!;
    let state = states.get(visitor);
    if (state === undefined) states.set(visitor, (state = scorer.newState(visitor)));
    entries += scorer.apply(state, events[i]!, at[i]!);
  }
  return { ms: performance.now() - start, states, entries };
}

async function runAsync(scorer: AsyncScorer, w: Workload, limit = w.events.length): Promise<Pass> {
  const { events, visitorOf, at, visitors } = w;
  const states: States = new Map();
  let entries = 0;
  const start = performance.now();
  for (let i = 0; i < limit; i++) {
    const visitor = visitors[visitorOf[i]!]!;
    let state = states.get(visitor);
    if (state === undefined) states.set(visitor, (state = scorer.newState(visitor)));
    entries += await scorer.apply(state, events[i]!, at[i]!);
  }
  return { ms: performance.now() - start, states, entries };
}

interface Timed {
  median: Pass;
  rates: number[];
}

/**
 * Warm-up passes of both, then timed passes taken in turns (the first to go alternating), so a
 * load that comes and goes on a shared machine weighs on both alike; returns each one's median
 * pass and every rate.
 */
function timeInTurns(runA: () => Pass, runB: () => Pass, events: number): [Timed, Timed] {
  for (let i = 0; i < WARMUP_PASSES; i++) {
    runA();
    runB();
  }
  const a: Pass[] = [];
  const b: Pass[] = [];
  for (let i = 0; i < TIMED_PASSES; i++) {
    if (i % 2 === 0) {
      a.push(runA());
      b.push(runB());
    } else {
      b.push(runB());
      a.push(runA());
    }
  }
  const timed = (passes: Pass[]): Timed => {
    const ms = median(passes.map((p) => p.ms));
    return { median: passes.find((p) => p.ms === ms)!, rates: passes.map((p) => rate(events, p.ms)) };
  };
  return [timed(a), timed(b)];
}

/** The events of the visitors `keep` selects, in the same order. */
function sampleOf(w: Workload, keep: (visitorIndex: number) => boolean): Workload {
  const picked: number[] = [];
  for (let i = 0; i < w.events.length; i++) if (keep(w.visitorOf[i]!)) picked.push(i);
  return {
    events: picked.map((i) => w.events[i]!),
    visitorOf: Int32Array.from(picked, (i) => w.visitorOf[i]!),
    at: Float64Array.from(picked, (i) => w.at[i]!),
    visitors: w.visitors,
  };
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
  const generatedMs = performance.now() - generatedAt;
  const sample = sampleOf(work, (v) => v % SAMPLE_EVERY === 0);
  const n = work.events.length;
  const end = work.at[n - 1]!;
  console.log(`rules       ${RULES_FILE}: ${doc.rules.length} rules, groups ${doc.groups.map((g) => g.id).join("/")}, stages ${doc.stages.map((s) => s.id).join("/")}`);
  console.log(`events      ${fmt(n)} for ${fmt(VISITORS)} visitors over ${Math.round((end - work.at[0]!) / 86_400_000)} days, seed ${SEED}, generated before timing (${fmt(generatedMs)} ms)`);
  console.log(`            ${typeMix(work.events)}`);

  const [e, h] = timeInTurns(() => runEngine(engine, work), () => runHand(ifChain, work), n);
  const engineRate = rate(n, e.median.ms);
  const ifChainRate = rate(n, h.median.ms);
  console.log(`engine      ${fmt(engineRate)} events/s, median of ${TIMED_PASSES} passes after ${WARMUP_PASSES} warm-up (${e.rates.map(fmt).join(", ")})`);
  console.log(`if-chain    ${fmt(ifChainRate)} events/s, median of ${TIMED_PASSES} passes after ${WARMUP_PASSES} warm-up, in turns with the engine's (${h.rates.map(fmt).join(", ")})`);

  await runAsync(jre, sample, Math.min(JRE_WARMUP_EVENTS, sample.events.length));
  const j = await runAsync(jre, sample);
  const jreRate = rate(sample.events.length, j.ms);
  const sampled = new Set(sample.visitorOf).size;
  console.log(`json-rules-engine ${fmt(jreRate)} events/s, on a sample: every ${SAMPLE_EVERY}th visitor (${fmt(sampled)} visitors, ${fmt(sample.events.length)} events), one pass after a ${fmt(JRE_WARMUP_EVENTS)}-event warm-up`);

  check(engine, ["engine", "if-chain"], e.median.states, h.median.states, end, `all ${fmt(VISITORS)} visitors`);
  if (e.median.entries !== h.median.entries) {
    console.error(`bench:rules: FAILED: engine wrote ${e.median.entries} ledger entries, if-chain ${h.median.entries}`);
    process.exit(1);
  }
  const engineOnSample = runEngine(engine, sample);
  check(engine, ["engine", "json-rules-engine"], engineOnSample.states, j.states, end, `the ${fmt(sampled)} sampled visitors`);
  if (engineOnSample.entries !== j.entries) {
    console.error(`bench:rules: FAILED: on the sample the engine wrote ${engineOnSample.entries} ledger entries, json-rules-engine ${j.entries}`);
    process.exit(1);
  }
  console.log(`states      identical: engine = if-chain (${fmt(VISITORS)} visitors), engine = json-rules-engine (${fmt(sampled)} sampled); stage, scores, per-rule counts, ${fmt(e.median.entries)} ledger entries`);
  console.log(`funnel      ${funnel(e.median.states, doc.stages.map((s) => s.id))}`);

  const timesJre = engineRate / jreRate;
  const behindIfChain = ifChainRate / engineRate;
  const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");
  console.log(`target      engine ${fmt(engineRate)} events/s >= ${fmt(TARGET_ENGINE_EVENTS_PER_S)}: ${verdict(engineRate >= TARGET_ENGINE_EVENTS_PER_S)}`);
  console.log(`ratio       engine / json-rules-engine = ${timesJre.toFixed(0)}x (target >= ${TARGET_TIMES_JRE}x): ${verdict(timesJre >= TARGET_TIMES_JRE)}`);
  console.log(`ratio       if-chain / engine = ${behindIfChain.toFixed(2)}x (target <= ${TARGET_WITHIN_IF_CHAIN}x): ${verdict(behindIfChain <= TARGET_WITHIN_IF_CHAIN)}`);
  console.log(`bench:rules engine=${Math.round(engineRate)} json-rules-engine=${Math.round(jreRate)} if-chain=${Math.round(ifChainRate)}`);
}

await main();
