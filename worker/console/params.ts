/**
 * Checks of the console API's inputs: each failure is a 400 naming the field (`query.sort`,
 * `$.note`) and what was expected, thrown before anything is read or written.
 */
import type { Context } from "hono";
import type { Env } from "../env.js";
import { ApiError } from "../errors.js";
import { getEngine } from "../rules-cache.js";
import type { Engine } from "../../rules/index.js";

/** Ids of sites, stages, rules, CTAs (the rules format's). */
export const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Visitor ids (the wire's). */
export const VISITOR_ID = /^[\w-]{8,64}$/;
/** A day in milliseconds. */
export const DAY_MS = 86_400_000;

function bad(path: string, message: string, code = "invalid_query"): ApiError {
  return new ApiError(400, code, `${path}: ${message}`, [{ path, message }]);
}

/** A path parameter matching `pattern`. */
export function pathParam(c: Context, name: string, pattern: RegExp, expected: string): string {
  const value = c.req.param(name) ?? "";
  if (!pattern.test(value)) throw new ApiError(400, `invalid_${name}`, `${name}: "${value}" is not valid: ${expected}`, [{ path: name, message: expected }]);
  return value;
}

/** The site's compiled rules, from `:site`; 404 when the site has none. */
export async function siteEngine(c: Context<{ Bindings: Env }>): Promise<{ site: string; engine: Engine }> {
  const site = pathParam(c, "site", ID, "expected 1-64 of a-z 0-9 _ -");
  const engine = await getEngine(c.env.RULES, site);
  if (!engine) throw new ApiError(404, "unknown_site", `no rules for site "${site}"`);
  return { site, engine };
}

/** An integer query parameter within bounds, or its default. */
export function queryInt(c: Context, name: string, min: number, max: number, fallback: number): number {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return fallback;
  if (!/^-?\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw bad(`query.${name}`, `expected an integer from ${min} to ${max}, got "${raw}"`);
  return Number(raw);
}

/** A query parameter that is one of `values`, or its default. */
export function queryEnum<T extends string>(c: Context, name: string, values: readonly T[], fallback: T): T;
export function queryEnum<T extends string>(c: Context, name: string, values: readonly T[], fallback?: undefined): T | undefined;
export function queryEnum<T extends string>(c: Context, name: string, values: readonly T[], fallback?: T): T | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return fallback;
  if (!(values as readonly string[]).includes(raw)) throw bad(`query.${name}`, `expected one of ${values.join(", ")}, got "${raw}"`);
  return raw as T;
}

/** A free-text query parameter of at most `max` characters. */
export function queryText(c: Context, name: string, max: number): string | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return undefined;
  if (raw.length > max) throw bad(`query.${name}`, `expected at most ${max} characters`);
  return raw;
}

/**
 * The time of an ISO date (`2026-12-01`, midnight UTC) or date and time (`2026-12-01T09:30`, with
 * seconds, milliseconds and `Z` or an offset as options; none means UTC), or undefined when the
 * text is anything else or names a day the calendar does not have (Date.parse is lenient about
 * both: it reads "-5" as a year and 2026-02-31 as 3 March).
 */
export function isoTime(raw: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(raw);
  if (!m) return undefined;
  const [y, mo, d, h = "0", mi = "0", s = "0"] = m.slice(1) as string[];
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (day.getUTCFullYear() !== Number(y) || day.getUTCMonth() !== Number(mo) - 1 || day.getUTCDate() !== Number(d)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const t = Date.parse(m[4] === undefined ? `${raw}T00:00:00Z` : m[7] === undefined ? `${raw}Z` : raw);
  return Number.isFinite(t) ? t : undefined;
}

/** A period from `from`/`to` (ISO dates or ms) or `days` back from now; defaults to the last `defaultDays`. */
export function queryPeriod(c: Context, defaultDays: number, now = Date.now()): { from: number; to: number } {
  const time = (name: string): number | undefined => {
    const raw = c.req.query(name);
    if (raw === undefined || raw === "") return undefined;
    const t = /^\d{1,15}$/.test(raw) ? Number(raw) : isoTime(raw);
    if (t === undefined) throw bad(`query.${name}`, `expected a date (2026-12-01), a UTC time (2026-12-01T09:30:00Z) or milliseconds since the epoch, got "${raw}"`);
    return t;
  };
  const from = time("from");
  const to = time("to");
  if (from !== undefined || to !== undefined) {
    const f = from ?? 0;
    // A bare date as `to` means the whole of that day.
    const t = to === undefined ? now : /^\d{4}-\d{2}-\d{2}$/.test(c.req.query("to")!) ? to + DAY_MS : to;
    if (t <= f) throw bad("query.to", "expected a time after query.from");
    return { from: f, to: t };
  }
  const days = queryInt(c, "days", 1, 3650, defaultDays);
  return { from: now - days * DAY_MS, to: now + 1 };
}

/** A stage id of the site's rules. */
export function checkStage(engine: Engine, path: string, stage: string, code = "invalid_query"): string {
  const ids = engine.rules.stages.map((s) => s.id);
  if (!ids.includes(stage)) throw bad(path, `expected a stage of the rules: ${ids.join(", ")}; got "${stage}"`, code);
  return stage;
}

export { jsonBody } from "../json-body.js";
