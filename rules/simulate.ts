/**
 * Replays recorded events through a rules document: final scores and stages per visitor, and how
 * many visitors reached each stage. Comparing two replays shows who a draft would move: the dry run
 * before publishing rules.
 */
import * as z from "zod/mini";
import { compile } from "./engine.js";
import { EngineEventSchema } from "./event.js";
import { normalizeEvent } from "./normalize.js";
import type { RulesDocument } from "./schema.js";
import type { VisitorState } from "./state.js";
import { parseJsonText } from "./json-text.js";
import { flattenIssues } from "./validate.js";

/** Problems of an events file listed at most; the rest are counted. */
const BAD_LINES_SHOWN = 20;

/** One recorded event: whose, when (ms since the epoch or ISO 8601), and the event (id optional). */
export const SimulationLineSchema = z.strictObject({
  visitor: z.string().check(z.minLength(1), z.maxLength(128)),
  at: z.union([z.number().check(z.int(), z.gte(0)), z.iso.datetime({ offset: true })]),
  event: z.extend(EngineEventSchema, { id: z.optional(EngineEventSchema.shape.id) }),
});
export type SimulationLine = z.infer<typeof SimulationLineSchema>;

/** Parses NDJSON (one line per event; blank lines skipped), or throws listing every bad line with its field (the first 20). */
export function readEventLines(ndjson: string): SimulationLine[] {
  const out: SimulationLine[] = [];
  const bad: string[] = [];
  const lines = ndjson.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.trim();
    if (text === "") continue;
    const json = parseJsonText(text);
    if (!json.ok) {
      bad.push(`line ${i + 1}, column ${json.error.column}: not valid JSON: ${json.error.reason}`);
      continue;
    }
    const parsed = SimulationLineSchema.safeParse(json.value);
    if (!parsed.success) {
      for (const issue of flattenIssues(parsed.error.issues)) bad.push(`line ${i + 1}: ${issue.path}: ${issue.message}`);
      continue;
    }
    out.push(parsed.data);
  }
  if (bad.length > 0) {
    const shown = bad.slice(0, BAD_LINES_SHOWN);
    const more = bad.length > shown.length ? [`... and ${bad.length - shown.length} more`] : [];
    throw new Error(`${bad.length} problem${bad.length > 1 ? "s" : ""}:\n${[...shown, ...more].map((l) => `  ${l}`).join("\n")}`);
  }
  return out;
}

/** One visitor at the end of a replay. */
export interface SimulatedVisitor {
  visitor: string;
  stage: string;
  scores: Record<string, number>;
  /** The furthest stage reached during the replay. */
  furthest: string;
}

/** The outcome of a replay. */
export interface SimulationResult {
  version: string;
  groups: string[];
  events: number;
  visitors: SimulatedVisitor[];
  /** Visitors who reached each stage after the first (or went past it). */
  reached: Record<string, number>;
}

const timeOf = (at: number | string) => (typeof at === "number" ? at : Date.parse(at));

/** Replays events in time order (file order among equal times); scores are read at the last event's time. */
export function simulate(rules: RulesDocument, lines: readonly SimulationLine[]): SimulationResult {
  const engine = compile(rules);
  const stageIds = rules.stages.map((s) => s.id);
  const ordered = lines.map((line, i) => ({ line, i, t: timeOf(line.at) })).sort((a, b) => a.t - b.t || a.i - b.i);
  const states = new Map<string, { state: VisitorState; furthest: number }>();
  let end = 0;
  for (const { line, i, t } of ordered) {
    let entry = states.get(line.visitor);
    if (!entry) states.set(line.visitor, (entry = { state: engine.initialState(line.visitor), furthest: 0 }));
    const event = normalizeEvent({ ...line.event, id: line.event.id ?? `line-${String(i + 1).padStart(6, "0")}` });
    entry.state = engine.apply(entry.state, event, t).state;
    entry.furthest = Math.max(entry.furthest, stageIds.indexOf(entry.state.stage));
    end = Math.max(end, t);
  }
  const reached: Record<string, number> = {};
  for (const s of stageIds.slice(1)) reached[s] = 0;
  const visitors: SimulatedVisitor[] = [];
  for (const [visitor, { state, furthest }] of [...states].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    visitors.push({ visitor, stage: state.stage, scores: engine.scores(state, end), furthest: stageIds[furthest]! });
    for (let s = 1; s <= furthest; s++) reached[stageIds[s]!]!++;
  }
  return { version: rules.version, groups: rules.groups.map((g) => g.id), events: lines.length, visitors, reached };
}

/** A visitor whose final stage differs between two replays of the same events. */
export interface StageChangeByDraft {
  visitor: string;
  from: string;
  to: string;
  totalFrom: number;
  totalTo: number;
}

/** Who would change stage if `draft` replaced `current`. */
export function compareSimulations(current: SimulationResult, draft: SimulationResult): StageChangeByDraft[] {
  const after = new Map(draft.visitors.map((v) => [v.visitor, v]));
  const out: StageChangeByDraft[] = [];
  for (const v of current.visitors) {
    const d = after.get(v.visitor);
    if (d === undefined || d.stage === v.stage) continue;
    out.push({ visitor: v.visitor, from: v.stage, to: d.stage, totalFrom: v.scores.total ?? 0, totalTo: d.scores.total ?? 0 });
  }
  return out;
}
