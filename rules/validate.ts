/**
 * Validation of a rules document: the zod schema for shape, then every cross-reference
 * (a rule's group, a stage's signal, a CTA's stages, a webhook's stages...). A document is
 * accepted whole or rejected with every error, each named by its JSON path.
 */
import * as z from "zod/mini";
import { en } from "zod/locales";
import { OPERATORS, RulesDocumentSchema, type RulesDocument } from "./schema.js";

z.config(en());

/** One thing wrong with a document: where (`$.rules[2].points`) and what was expected. */
export interface RuleError {
  path: string;
  message: string;
}

/** The outcome of validating a rules document. */
export type ParseResult = { ok: true; rules: RulesDocument } | { ok: false; errors: RuleError[] };

/** Writes a path as `$.rules[2].when.all[0].field`. */
export function jsonPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "$";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(key))) out += `.${String(key)}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

type Issue = z.core.$ZodIssue;

/**
 * Flattens zod issues into path + message. For a union (a condition is a field test or
 * all/any/not), the branch whose keys match the input is the one reported, so the error points at
 * the real mistake rather than at "invalid input".
 */
export function flattenIssues(issues: readonly Issue[], base: PropertyKey[] = []): RuleError[] {
  const out: RuleError[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const branches = issue.errors.filter(
        (branch) => !branch.some((i) => i.path.length === 0 && (i.code === "unrecognized_keys" || i.code === "invalid_type")),
      );
      if (branches.length > 0) {
        const best = branches.reduce((a, b) => (b.length < a.length ? b : a));
        out.push(...flattenIssues(best, path));
        continue;
      }
      const expected = unionExpectation(issue.errors);
      out.push({ path: jsonPath(path), message: expected });
      continue;
    }
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: jsonPath([...path, key]), message: `unknown key "${key}"` });
      continue;
    }
    // A record's key that its key schema refuses: what that schema expected ("Invalid key in record" says nothing).
    if (issue.code === "invalid_key" && issue.issues.length > 0) {
      out.push({ path: jsonPath(path), message: issue.issues[0]!.message });
      continue;
    }
    out.push({ path: jsonPath(path), message: issue.message });
  }
  return out;
}

function unionExpectation(branches: Issue[][]): string {
  const shapes = new Set<string>();
  for (const branch of branches) {
    const rootType = branch.find((i) => i.path.length === 0 && i.code === "invalid_type");
    if (rootType && rootType.code === "invalid_type") {
      shapes.add(rootType.expected);
      continue;
    }
    const required = branch.filter((i) => i.path.length === 1 && i.code === "invalid_type").map((i) => String(i.path[0]));
    if (required.length > 0) shapes.add(`{ ${required.join(", ")} }`);
  }
  if (shapes.size > 0) return `expected ${[...shapes].join(" or ")}`;
  // Every alternative has what it needs but refuses a key another one takes: several were given together.
  const refused = branches.map((b) => b.flatMap((i) => (i.path.length === 0 && i.code === "unrecognized_keys" ? i.keys : [])));
  if (refused.length > 0 && refused.every((keys) => keys.length > 0)) return `expected only one of ${[...new Set(refused.flat())].sort().join(", ")}`;
  return "invalid value";
}

/**
 * Validates a rules document (already parsed from JSON). Returns the document with defaults
 * filled in, or every error found.
 */
export function parseRules(input: unknown): ParseResult {
  // Conditions nest (all, any, not): the schema's parser recurses once per level, so depth is
  // bounded before it runs, far above what a document needs and far below what a stack holds.
  const deep = tooDeep(input, RULES_MAX_NESTING);
  if (deep !== undefined) {
    return { ok: false, errors: [{ path: deep, message: `expected at most ${RULES_MAX_NESTING} levels of nested objects and arrays: flatten the condition (all, any and not take lists)` }] };
  }
  const shape = RulesDocumentSchema.safeParse(input);
  const errors = shape.success ? [] : flattenIssues(shape.error.issues);
  errors.push(...checkReferences(input));
  if (errors.length > 0 || !shape.success) return { ok: false, errors: dedupe(errors) };
  return { ok: true, rules: shape.data };
}

/** Most levels of objects and arrays in a rules document (demo.json uses 7). */
export const RULES_MAX_NESTING = 32;

/** The path of the first value nested deeper than `max` levels, or undefined; walks without recursion. */
export function tooDeep(input: unknown, max: number): string | undefined {
  const stack: [unknown, PropertyKey[]][] = [[input, []]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (path.length >= max) return jsonPath(path);
    if (Array.isArray(value)) for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], [...path, i]]);
    else for (const k of Object.keys(value).reverse()) stack.push([(value as Record<string, unknown>)[k], [...path, k]]);
  }
  return undefined;
}

function dedupe(errors: RuleError[]): RuleError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.path}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

type Loose = Record<string, unknown>;
const isObj = (v: unknown): v is Loose => typeof v === "object" && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const idsOf = (v: unknown): string[] => list(v).map((x) => (isObj(x) && typeof x.id === "string" ? x.id : "")).filter(Boolean);

/**
 * Checks what the shape cannot: uniqueness of ids and references between parts. Works on the raw
 * input so that it reports alongside shape errors instead of after them.
 */
function checkReferences(doc: unknown): RuleError[] {
  const errors: RuleError[] = [];
  if (!isObj(doc)) return errors;
  const err = (path: PropertyKey[], message: string) => errors.push({ path: jsonPath(path), message });

  const groups = idsOf(doc.groups);
  const rules = idsOf(doc.rules);
  const stages = idsOf(doc.stages);
  const scores = new Set([...groups, "total"]);

  for (const section of ["groups", "rules", "stages", "ctas", "webhooks"] as const) {
    const seen = new Map<string, number>();
    list(doc[section]).forEach((item, i) => {
      if (!isObj(item) || typeof item.id !== "string") return;
      const first = seen.get(item.id);
      if (first !== undefined) err([section, i, "id"], `duplicate id "${item.id}" (first used at ${jsonPath([section, first, "id"])})`);
      else seen.set(item.id, i);
    });
  }

  list(doc.groups).forEach((g, i) => {
    if (!isObj(g)) return;
    if (g.id === "total") err(["groups", i, "id"], `"total" is reserved for the sum of all groups`);
    if (typeof g.min === "number" && typeof g.max === "number" && g.min > g.max) err(["groups", i, "min"], `min (${g.min}) is above max (${g.max})`);
  });

  list(doc.rules).forEach((r, i) => {
    if (!isObj(r)) return;
    const group = r.group === undefined ? "engagement" : r.group;

    if (typeof group === "string" && !groups.includes(group)) {
      err(["rules", i, "group"], `unknown group "${group}": expected one of ${groups.join(", ") || "(no groups)"}`);
    }
    if (typeof r.demoteTo === "string" && !stages.includes(r.demoteTo)) {
      err(["rules", i, "demoteTo"], `unknown stage "${r.demoteTo}": expected one of ${stages.join(", ")}`);
    }
    if (r.when !== undefined) checkCondition(r.when, ["rules", i, "when"], err);
  });

  list(doc.stages).forEach((s, i) => {
    if (!isObj(s)) return;
    if (i === 0 && s.when !== undefined) err(["stages", 0, "when"], "the first stage is where every visitor starts: it takes no condition");
    if (i > 0 && s.when === undefined) err(["stages", i, "when"], "expected a condition: every stage after the first needs one");
    if (s.when !== undefined) checkStageCondition(s.when, ["stages", i, "when"], err, scores, rules);
  });

  list(doc.ctas).forEach((c, i) => {
    if (!isObj(c)) return;
    list(c.stages).forEach((s, j) => {
      if (typeof s === "string" && !stages.includes(s)) err(["ctas", i, "stages", j], `unknown stage "${s}": expected one of ${stages.join(", ")}`);
    });
    if (c.kind === "inline" && c.slot === undefined) err(["ctas", i, "slot"], "expected a slot name: an inline CTA fills <div data-mql-slot=\"NAME\">");
    if (c.kind !== "inline" && c.slot !== undefined) err(["ctas", i, "slot"], `only inline CTAs take a slot (this one is "${String(c.kind)}")`);
    const seen = new Set<string>();
    list(c.variants).forEach((v, j) => {
      if (!isObj(v) || typeof v.id !== "string") return;
      if (seen.has(v.id)) err(["ctas", i, "variants", j, "id"], `duplicate variant id "${v.id}"`);
      seen.add(v.id);
    });
  });

  list(doc.webhooks).forEach((w, i) => {
    if (!isObj(w) || !isObj(w.on)) return;
    list(w.on.stageEntered).forEach((s, j) => {
      if (typeof s !== "string") return;
      if (!stages.includes(s)) err(["webhooks", i, "on", "stageEntered", j], `unknown stage "${s}": expected one of ${stages.join(", ")}`);
      else if (s === stages[0]) err(["webhooks", i, "on", "stageEntered", j], `"${s}" is the first stage: nobody enters it`);
    });
    const reached = w.on.scoreReached;
    if (isObj(reached) && typeof reached.score === "string" && !scores.has(reached.score)) {
      err(["webhooks", i, "on", "scoreReached", "score"], `unknown score "${reached.score}": expected one of ${[...scores].join(", ")}`);
    }
  });
  if (isObj(doc.accounts)) checkAccounts(doc.accounts, scores, rules, stages, err);
  return errors;
}

type Report = (path: PropertyKey[], message: string) => void;

function checkAccounts(accounts: Loose, scores: Set<string>, rules: string[], leadStages: string[], err: Report): void {
  const stages = idsOf(accounts.stages);
  const scoreIds = [...scores];
  if (isObj(accounts.scores)) {
    for (const g of Object.keys(accounts.scores)) {
      if (g === "total" || !scores.has(g)) err(["accounts", "scores", g], `unknown group "${g}": expected one of ${scoreIds.filter((s) => s !== "total").join(", ")}`);
    }
  }
  for (const section of ["stages", "webhooks"] as const) {
    const seen = new Map<string, number>();
    list(accounts[section]).forEach((item, i) => {
      if (!isObj(item) || typeof item.id !== "string") return;
      const first = seen.get(item.id);
      if (first !== undefined) err(["accounts", section, i, "id"], `duplicate id "${item.id}" (first used at ${jsonPath(["accounts", section, first, "id"])})`);
      else seen.set(item.id, i);
    });
  }
  const check = (c: unknown, path: PropertyKey[]): void => {
    if (!isObj(c)) return;
    if (typeof c.score === "string" && !scores.has(c.score)) err([...path, "score"], `unknown score "${c.score}": expected one of ${scoreIds.join(", ")}`);
    if (typeof c.signal === "string" && !rules.includes(c.signal)) err([...path, "signal"], `unknown rule "${c.signal}": a signal names a rule id`);
    if (typeof c.stage === "string" && !leadStages.includes(c.stage)) err([...path, "stage"], `unknown stage "${c.stage}": expected one of the lead stages ${leadStages.join(", ")}`);
    for (const key of ["all", "any"] as const) list(c[key]).forEach((sub, i) => check(sub, [...path, key, i]));
    if (c.not !== undefined) check(c.not, [...path, "not"]);
  };
  list(accounts.stages).forEach((s, i) => {
    if (!isObj(s)) return;
    if (i === 0 && s.when !== undefined) err(["accounts", "stages", 0, "when"], "the first account stage is where every account starts: it takes no condition");
    if (i > 0 && s.when === undefined) err(["accounts", "stages", i, "when"], "expected a condition: every account stage after the first needs one");
    check(s.when, ["accounts", "stages", i, "when"]);
  });
  list(accounts.webhooks).forEach((w, i) => {
    if (!isObj(w) || !isObj(w.on)) return;
    list(w.on.stageEntered).forEach((s, j) => {
      if (typeof s !== "string") return;
      if (!stages.includes(s)) err(["accounts", "webhooks", i, "on", "stageEntered", j], `unknown account stage "${s}": expected one of ${stages.join(", ")}`);
      else if (s === stages[0]) err(["accounts", "webhooks", i, "on", "stageEntered", j], `"${s}" is the first account stage: no account enters it`);
    });
    const reached = w.on.scoreReached;
    if (isObj(reached) && typeof reached.score === "string" && !scores.has(reached.score)) {
      err(["accounts", "webhooks", i, "on", "scoreReached", "score"], `unknown score "${reached.score}": expected one of ${scoreIds.join(", ")}`);
    }
  });
}

function checkCondition(c: unknown, path: PropertyKey[], err: Report): void {
  if (!isObj(c)) return;
  if ("field" in c) {
    const ops = OPERATORS.filter((op) => c[op] !== undefined);
    if (ops.length !== 1) {
      err(path, ops.length === 0
        ? `expected one operator: ${OPERATORS.join(", ")}`
        : `expected exactly one operator, found ${ops.join(", ")}: combine tests with "all"`);
    }
    const glob = c.glob;
    for (const g of typeof glob === "string" ? [glob] : list(glob)) {
      if (typeof g === "string" && /\*{3,}/.test(g)) err([...path, "glob"], `"${g}": use * (one path segment) or ** (any depth)`);
    }
    return;
  }
  for (const key of ["all", "any"] as const) list(c[key]).forEach((sub, i) => checkCondition(sub, [...path, key, i], err));
  if (c.not !== undefined) checkCondition(c.not, [...path, "not"], err);
}

function checkStageCondition(c: unknown, path: PropertyKey[], err: Report, scores: Set<string>, rules: string[]): void {
  if (!isObj(c)) return;
  const s = c;
  if (typeof s.score === "string" && !scores.has(s.score)) err([...path, "score"], `unknown score "${s.score}": expected one of ${[...scores].join(", ")}`);
  if (typeof s.signal === "string" && !rules.includes(s.signal)) err([...path, "signal"], `unknown rule "${s.signal}": a signal names a rule id`);
  for (const key of ["all", "any"] as const) list(s[key]).forEach((sub, i) => checkStageCondition(sub, [...path, key, i], err, scores, rules));
  if (s.not !== undefined) checkStageCondition(s.not, [...path, "not"], err, scores, rules);
}
