/**
 * The rules CLI.
 *
 *   npm run rules -- check FILE                      every error with its JSON path; exit 1 if any
 *   npm run rules -- push FILE [--site ID] [--remote] [--persist-to DIR]
 *                                                    validate, then make it the active rules in the RULES KV
 *                                                    namespace, kept in the history; a version already
 *                                                    naming other content is refused
 *   npm run rules -- simulate FILE EVENTS.ndjson [--compare OTHER_RULES] [--json]
 *                                                    replay events: final scores and stages per visitor;
 *                                                    with --compare, who would change stage going from
 *                                                    OTHER_RULES (the rules in service) to FILE (the draft)
 *   npm run rules -- email-links --site ID --campaign ID --to EMAIL[,EMAIL...] [--link URL]... [--days N]
 *                    [--endpoint URL] [--json]
 *                                                    open and click links for a campaign's recipients, minted by
 *                                                    the worker's admin API (ADMIN_TOKEN from the environment):
 *                                                    the signing secret never leaves the worker
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseJsonText, pointAt } from "./json-text.js";
import { CLI_NOTE, historyKey, OUTSIDE_NOTE, parseRulesText, rulesKey, sameDocument, storedText, versionTakenMessage, type VersionMeta } from "./store.js";
import { parseRules, type RuleError } from "./validate.js";
import type { RulesDocument } from "./schema.js";
import { readEventLines, simulate, compareSimulations, type SimulationLine, type SimulationResult } from "./simulate.js";

/** Where `npm start` keeps its local KV and Durable Object state: `$MQL_DEV_DIR/state` (.mql-dev/state). */
export const localStateDir = (env: Record<string, string | undefined> = process.env) => join(env.MQL_DEV_DIR || ".mql-dev", "state");
/** The KV key of a site's rules document. */
export { rulesKey };

const USAGE = `usage:
  rules check FILE
  rules push FILE [--site ID] [--remote] [--persist-to DIR]
  rules simulate FILE EVENTS.ndjson [--compare OTHER_RULES] [--json]
  rules email-links --site ID --campaign ID --to EMAIL[,EMAIL...] [--link URL]... [--days N] [--endpoint URL] [--json]`;

/** Where `email-links` reaches the worker when no --endpoint is given: `npm start`'s, on $PORT (8787). */
export const localEndpoint = (env: Record<string, string | undefined> = process.env) => `http://127.0.0.1:${env.PORT || 8787}`;

class CliError extends Error {}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a directory, not a file" : code === "EACCES" ? "permission denied" : (code ?? String(e));
    throw new CliError(`${file}: cannot read: ${why}`);
  }
  // Editors on Windows may start a UTF-8 file with a byte order mark: it is no part of the JSON.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const parsed = parseJsonText(text);
  if (parsed.ok) return parsed.value;
  const { error } = parsed;
  throw new CliError(`${file}:${error.line}:${error.column}: not valid JSON: ${error.reason}\n${pointAt(text, error).replace(/^/gm, "  ")}`);
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

/**
 * The positional arguments of `command` once its options are taken: exactly `names` of them, or a
 * usage error saying what is wrong (an unknown option, a missing or an extra argument).
 */
function positional(command: string, args: string[], names: string[]): string[] {
  const unknown = args.find((a) => a.startsWith("--"));
  if (unknown !== undefined) throw new CliError(`rules ${command}: unknown option ${unknown}\n${USAGE}`);
  if (args.length < names.length) throw new CliError(`rules ${command}: missing ${names.slice(args.length).join(" and ")}\n${USAGE}`);
  if (args.length > names.length) throw new CliError(`rules ${command}: unexpected argument ${JSON.stringify(args[names.length])}\n${USAGE}`);
  return args;
}

function check(args: string[]): string {
  const [file] = positional("check", args, ["FILE"]) as [string];
  const rules = loadRules(file);
  const n = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;
  return `${file}: valid (site ${rules.site.id}, version ${rules.version}, ${n(rules.rules.length, "rule")}, ${n(rules.stages.length, "stage")}, ${n(rules.ctas.length, "CTA")}, ${n(rules.webhooks.length, "webhook")})`;
}

/**
 * Validates FILE, then makes it the site's active rules in KV as the admin API does (rules/store.ts):
 * the outgoing document and this one kept in the history (so the console can roll back to either),
 * a version already naming other content refused. Four wrangler calls at most: list the history,
 * read the active document, read the kept document of this version if there is one, write in bulk.
 */
function push(args: string[]): string {
  const site = option(args, "--site");
  const persistTo = option(args, "--persist-to") ?? localStateDir();
  const remote = flag(args, "--remote");
  const [file] = positional("push", args, ["FILE"]) as [string];
  const rules = loadRules(file);
  const checked = parseRules(site === undefined ? rules : { ...rules, site: { ...rules.site, id: site } });
  if (!checked.ok) throw new CliError(formatErrors(file, checked.errors));
  const doc = checked.rules;
  const id = doc.site.id;
  const where = remote ? ["--remote"] : ["--local", "--persist-to", persistTo];
  const kv = (...kvArgs: string[]) => wrangler(["kv", ...kvArgs, "--binding", "RULES", ...where]);
  const get = (key: string): string | null => {
    const out = kv("key", "get", key, "--text");
    return out.trim() === "Value not found" ? null : out;
  };

  const prefix = historyKey(id, "");
  const kept = new Set((JSON.parse(kv("key", "list", "--prefix", prefix)) as { name: string }[]).map((k) => k.name.slice(prefix.length)));
  const activeText = get(rulesKey(id));
  const active = activeText === null ? null : parseRulesText(activeText);
  const text = storedText(doc);
  const sameVersion = kept.has(doc.version) ? get(historyKey(id, doc.version)) : active?.version === doc.version ? storedText(active) : null;
  if (sameVersion !== null && !sameDocument(sameVersion, text)) {
    const { message, issue } = versionTakenMessage(doc.version);
    throw new CliError(`${file}: ${message}\n  ${issue.path}: ${issue.message}`);
  }
  const entries: { key: string; value: string; metadata?: VersionMeta }[] = [];
  if (active !== null && active.version !== doc.version && !kept.has(active.version)) {
    entries.push({ key: historyKey(id, active.version), value: storedText(active), metadata: { note: OUTSIDE_NOTE, publishedAt: null } });
  }
  if (!kept.has(doc.version)) entries.push({ key: historyKey(id, doc.version), value: text, metadata: { note: CLI_NOTE, publishedAt: Date.now() } });
  entries.push({ key: rulesKey(id), value: text });
  const dir = mkdtempSync(join(tmpdir(), "mql-push-"));
  try {
    const bulk = join(dir, "rules.json");
    writeFileSync(bulk, JSON.stringify(entries));
    kv("bulk", "put", bulk);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const previous = active === null ? "" : active.version === doc.version ? ", already active" : `, replacing ${active.version}`;
  return `pushed ${file} as ${rulesKey(id)} (version ${doc.version}${previous}) to ${remote ? "the remote namespace" : `local KV in ${persistTo}`}; the history keeps ${active !== null && active.version !== doc.version ? "both versions" : "it"}`;
}

/** Runs wrangler; answers its standard output, or throws with what it printed. */
function wrangler(args: string[]): string {
  const run = spawnSync(process.execPath, [wranglerBin(), ...args], {
    encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true" },
  });
  if (run.status !== 0) throw new CliError(`wrangler ${args.slice(0, 3).join(" ")} failed:\n${run.stderr || run.stdout}`);
  return run.stdout;
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
  const [file, eventsFile] = positional("simulate", args, ["FILE", "EVENTS.ndjson"]) as [string, string];
  const rules = loadRules(file);
  let lines: SimulationLine[];
  try {
    lines = readEventLines(readFileSync(eventsFile, "utf8"));
  } catch (e) {
    throw new CliError(`${eventsFile}: ${(e as Error).message}`);
  }
  const draft = simulate(rules, lines);
  if (other === undefined) return json ? JSON.stringify(draft, null, 2) : table(draft);
  // FILE is the draft simulated; --compare names the rules it would replace: changes go from those to the draft.
  const current = simulate(loadRules(other), lines);
  const changes = compareSimulations(current, draft);
  if (json) return JSON.stringify({ current, draft, changes }, null, 2);
  const out = [`${other} -> ${file}: ${changes.length} visitor${changes.length === 1 ? "" : "s"} would change stage`];
  for (const c of changes) out.push(`  ${c.visitor}: ${c.from} -> ${c.to} (total ${c.totalFrom} -> ${c.totalTo})`);
  const stages = Object.keys(current.reached);
  out.push(`reached before: ${stages.map((s) => `${s}=${current.reached[s]}`).join(" ")}`);
  out.push(`reached after:  ${stages.map((s) => `${s}=${draft.reached[s] ?? 0}`).join(" ")}`);
  return out.join("\n");
}

/** Every value of a repeated option (`--link a --link b`), removed from `args`. */
function options(args: string[], name: string): string[] {
  const out: string[] = [];
  for (let v = option(args, name); v !== undefined; v = option(args, name)) out.push(v);
  return out;
}

/** The answer of `POST /v1/admin/sites/:site/email-tokens`. */
interface EmailLinks {
  campaign: string;
  expiresAt: number;
  recipients: { email: string; lead: string; open: string; links: { url: string; href: string }[] }[];
}

async function emailLinks(args: string[], env: Record<string, string | undefined>, fetcher: typeof fetch): Promise<string> {
  const site = option(args, "--site");
  const campaign = option(args, "--campaign");
  const to = option(args, "--to");
  const days = option(args, "--days");
  const endpoint = (option(args, "--endpoint") ?? localEndpoint(env)).replace(/\/+$/, "");
  const links = options(args, "--link");
  const json = flag(args, "--json");
  if (!site || !campaign || !to || args.length > 0) throw new CliError(USAGE);
  const token = env.ADMIN_TOKEN;
  if (!token) throw new CliError("set ADMIN_TOKEN to the worker's admin token");
  const body = { campaign, recipients: to.split(",").map((e) => e.trim()).filter(Boolean), links, ...(days ? { days: Number(days) } : {}) };
  let res: Response;
  try {
    res = await fetcher(`${endpoint}/v1/admin/sites/${encodeURIComponent(site)}/email-tokens`, {
      method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body),
    });
  } catch (e) {
    throw new CliError(`${endpoint}: cannot reach the worker (${(e as Error).message})`);
  }
  const text = await res.text();
  if (res.status !== 201) {
    let detail = text;
    try {
      const error = (JSON.parse(text) as { error: { message: string; issues?: { path: string; message: string }[] } }).error;
      detail = [error.message, ...(error.issues ?? []).map((i) => `  ${i.path}: ${i.message}`)].join("\n");
    } catch { /* not JSON: shown as is */ }
    throw new CliError(`the worker answered ${res.status}: ${detail}`);
  }
  if (json) return text;
  const minted = JSON.parse(text) as EmailLinks;
  const out = [`campaign ${minted.campaign}: ${minted.recipients.length} recipient(s), links valid until ${new Date(minted.expiresAt).toISOString()}`];
  for (const r of minted.recipients) {
    out.push(`${r.email} (${r.lead})`, `  open  ${r.open}`);
    for (const l of r.links) out.push(`  link  ${l.url}`, `        ${l.href}`);
  }
  return out.join("\n");
}

/** Runs `email-links` (it calls the worker); resolves to the exit code. */
export async function mainAsync(argv: string[], env: Record<string, string | undefined> = process.env, fetcher: typeof fetch = fetch): Promise<number> {
  const [command, ...args] = argv;
  if (command !== "email-links") return main(argv);
  try {
    console.log(await emailLinks(args, env, fetcher));
    return 0;
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    console.error(e.message);
    return 1;
  }
}

/** Runs the CLI; returns the exit code. */
export function main(argv: string[]): number {
  const [command, ...args] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return 0;
  }
  try {
    const out =
      command === "check" ? check(args)
      : command === "push" ? push(args)
      : command === "simulate" ? simulateCommand(args)
      : undefined;
    if (out === undefined) throw new CliError(`${command === undefined ? "rules: expected a command" : `rules: unknown command ${JSON.stringify(command)}`}: check, push, simulate or email-links\n${USAGE}`);
    console.log(out);
    return 0;
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    console.error(e.message);
    return 1;
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, "/"))) {
  void mainAsync(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
