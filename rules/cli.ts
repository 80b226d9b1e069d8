/**
 * The rules CLI.
 *
 *   npm run rules -- check FILE                      every error with its JSON path; exit 1 if any
 *   npm run rules -- push FILE [--site ID] [--remote] [--persist-to DIR]
 *                                                    validate, then write to the RULES KV namespace
 *   npm run rules -- simulate FILE EVENTS.ndjson [--compare OTHER_RULES] [--json]
 *                                                    replay events: final scores and stages per visitor
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseRules, type RuleError } from "./validate.js";
import type { RulesDocument } from "./schema.js";
import { readEventLines, simulate, compareSimulations, type SimulationLine, type SimulationResult } from "./simulate.js";

/** Where `npm start` keeps its local KV and Durable Object state. */
export const LOCAL_STATE_DIR = ".mql-dev/state";
/** The KV key of a site's rules document. */
export const rulesKey = (site: string) => `rules:${site}`;

const USAGE = `usage:
  rules check FILE
  rules push FILE [--site ID] [--remote] [--persist-to DIR]
  rules simulate FILE EVENTS.ndjson [--compare OTHER_RULES] [--json]`;

class CliError extends Error {}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new CliError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
}

function formatErrors(file: string, errors: RuleError[]): string {
  return [`${file}: ${errors.length} error${errors.length > 1 ? "s" : ""}`, ...errors.map((e) => `  ${e.path}: ${e.message}`)].join("\n");
}

/** Reads and validates a rules file, or throws with every error. */
function loadRules(file: string): RulesDocument {
  const result = parseRules(readJson(file));
  if (!result.ok) throw new CliError(formatErrors(file, result.errors));
  return result.rules;
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith("--")) throw new CliError(`${name} needs a value\n${USAGE}`);
  args.splice(i, 2);
  return value;
}

function flag(args: string[], name: string): boolean {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
}

function check(args: string[]): string {
  const [file] = args;
  if (!file || args.length !== 1) throw new CliError(USAGE);
  const rules = loadRules(file);
  return `${file}: valid (site ${rules.site.id}, version ${rules.version}, ${rules.rules.length} rules, ${rules.stages.length} stages, ${rules.ctas.length} CTAs, ${rules.webhooks.length} webhooks)`;
}

function push(args: string[]): string {
  const site = option(args, "--site");
  const persistTo = option(args, "--persist-to") ?? LOCAL_STATE_DIR;
  const remote = flag(args, "--remote");
  const [file] = args;
  if (!file || args.length !== 1) throw new CliError(USAGE);
  const rules = loadRules(file);
  const doc = site === undefined ? rules : { ...rules, site: { ...rules.site, id: site } };
  const checked = parseRules(doc);
  if (!checked.ok) throw new CliError(formatErrors(file, checked.errors));
  const key = rulesKey(doc.site.id);
  const where = remote ? ["--remote"] : ["--local", "--persist-to", persistTo];
  const run = spawnSync(
    process.execPath,
    [wranglerBin(), "kv", "key", "put", "--binding", "RULES", key, JSON.stringify(doc), ...where],
    { encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true" } },
  );
  if (run.status !== 0) throw new CliError(`wrangler kv key put failed:\n${run.stderr || run.stdout}`);
  return `pushed ${file} as ${key} (version ${doc.version}) to ${remote ? "the remote namespace" : `local KV in ${persistTo}`}`;
}

function wranglerBin(): string {
  return new URL("../node_modules/wrangler/bin/wrangler.js", import.meta.url).pathname;
}

function table(result: SimulationResult): string {
  const groups = result.groups;
  const head = ["visitor", "stage", ...groups, "total"];
  const rows = result.visitors.map((v) => [v.visitor, v.stage, ...groups.map((g) => String(v.scores[g] ?? 0)), String(v.scores.total ?? 0)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const reached = Object.entries(result.reached).map(([stage, n]) => `${stage}=${n}`).join(" ");
  return [line(head), ...rows.map(line), "", `visitors=${result.visitors.length} events=${result.events} reached: ${reached}`].join("\n");
}

function simulateCommand(args: string[]): string {
  const other = option(args, "--compare");
  const json = flag(args, "--json");
  const [file, eventsFile] = args;
  if (!file || !eventsFile || args.length !== 2) throw new CliError(USAGE);
  const rules = loadRules(file);
  let lines: SimulationLine[];
  try {
    lines = readEventLines(readFileSync(eventsFile, "utf8"));
  } catch (e) {
    throw new CliError(`${eventsFile}: ${(e as Error).message}`);
  }
  const result = simulate(rules, lines);
  if (other === undefined) return json ? JSON.stringify(result, null, 2) : table(result);
  const draft = simulate(loadRules(other), lines);
  const changes = compareSimulations(result, draft);
  if (json) return JSON.stringify({ current: result, compared: draft, changes }, null, 2);
  const out = [`${file} -> ${other}: ${changes.length} visitor${changes.length === 1 ? "" : "s"} would change stage`];
  for (const c of changes) out.push(`  ${c.visitor}: ${c.from} -> ${c.to} (total ${c.totalFrom} -> ${c.totalTo})`);
  const stages = Object.keys(result.reached);
  out.push(`reached before: ${stages.map((s) => `${s}=${result.reached[s]}`).join(" ")}`);
  out.push(`reached after:  ${stages.map((s) => `${s}=${draft.reached[s] ?? 0}`).join(" ")}`);
  return out.join("\n");
}

/** Runs the CLI; returns the exit code. */
export function main(argv: string[]): number {
  const [command, ...args] = argv;
  try {
    const out =
      command === "check" ? check(args)
      : command === "push" ? push(args)
      : command === "simulate" ? simulateCommand(args)
      : undefined;
    if (out === undefined) throw new CliError(USAGE);
    console.log(out);
    return 0;
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    console.error(e.message);
    return 1;
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, "/"))) {
  process.exitCode = main(process.argv.slice(2));
}
