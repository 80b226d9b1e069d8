/**
 * Rules in the console: the history of published versions, checking a draft, simulating it against
 * the recorded events of the last days, publishing it with a note, rolling back to any earlier
 * version. Each draft is the request body, as `PUT /v1/admin/sites/:site/rules` takes it, so every
 * error path (`$.rules[2].points`) points into the document the marketer is editing.
 *
 * History lives in KV beside the active rules: `rules-history:<site>:<version>` holds the document,
 * its metadata the note and the times (so one list call reads the whole history).
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { compareSimulations, parseRules, simulate, type RulesDocument, type SimulationLine, type SimulationResult } from "../../rules/index.js";
import { RULES_MAX_BYTES } from "../admin.js";
import type { Env } from "../env.js";
import { ApiError } from "../errors.js";
import { parseJson } from "../json-body.js";
import { forgetRules, rulesKey } from "../rules-cache.js";
import { keepActive, publish } from "../rules-history.js";
import { historyKey, OUTSIDE_NOTE, type VersionMeta } from "../../rules/store.js";
import { index } from "./db.js";
import { DAY_MS, ID, pathParam, queryInt, queryText } from "./params.js";

/** Most recorded events one simulation replays. */
export const SIMULATION_EVENTS_MAX = 20_000;
/** Longest look-back of a simulation. */
export const SIMULATION_DAYS_MAX = 90;
/** Longest note. */
export const NOTE_MAX = 200;

const VERSION = /^[\w.:+-]{1,64}$/;


function siteOf(c: Context): string {
  return pathParam(c, "site", ID, "expected 1-64 of a-z 0-9 _ -");
}

const limitBody = bodyLimit({
  maxSize: RULES_MAX_BYTES,
  onError: () => {
    throw new ApiError(413, "body_too_large", `a rules document is at most ${RULES_MAX_BYTES} bytes`);
  },
});

async function readJson(c: Context): Promise<unknown> {
  return parseJson(await c.req.text());
}

/** The draft in the body, validated whole and for this site; 400 with every error otherwise. */
async function readDraft(c: Context, site: string): Promise<RulesDocument> {
  const result = parseRules(await readJson(c));
  if (!result.ok) throw new ApiError(400, "invalid_rules", `${result.errors.length} error(s) in the rules`, result.errors);
  if (result.rules.site.id !== site) {
    throw new ApiError(400, "invalid_rules", `the document is for site "${result.rules.site.id}", not "${site}"`, [{ path: "$.site.id", message: `expected "${site}"` }]);
  }
  return result.rules;
}

async function activeRules(env: Env, site: string): Promise<RulesDocument> {
  const text = await env.RULES.get(rulesKey(site));
  if (text === null) throw new ApiError(404, "unknown_site", `no rules for site "${site}"`);
  // Parsed again: a document stored another way may lack the defaults the engine expects.
  const parsed = parseRules(JSON.parse(text));
  if (!parsed.ok) throw new ApiError(409, "invalid_active_rules", `the active rules of site "${site}" are invalid: publish a valid version`, parsed.errors);
  return parsed.rules;
}


type Listed = { version: string; active: boolean } & Partial<VersionMeta>;

/**
 * Histories written before publish times were kept honestly stamped a version taken in from outside
 * with the time of the publish or rollback that replaced it: that time, found on another version,
 * is not its own, so it reads as unknown.
 */
function forgetBorrowedTimes(versions: Listed[]): void {
  const times = new Set(versions.flatMap((v) => [v.note === OUTSIDE_NOTE ? null : v.publishedAt, v.restoredAt]).filter((t) => typeof t === "number"));
  for (const v of versions) if (v.note === OUTSIDE_NOTE && typeof v.publishedAt === "number" && times.has(v.publishedAt)) v.publishedAt = null;
}

async function activate(env: Env, site: string, doc: RulesDocument): Promise<void> {
  await env.RULES.put(rulesKey(site), JSON.stringify(doc));
  forgetRules(site);
}

function note(c: Context, required: boolean): string | undefined {
  const text = queryText(c, "note", NOTE_MAX)?.trim();
  if (required && !text) throw new ApiError(400, "invalid_query", "query.note: expected a note saying what changed and why", [{ path: "query.note", message: `expected a note of 1-${NOTE_MAX} characters saying what changed and why` }]);
  return text;
}

export const rulesVersions = new Hono<{ Bindings: Env }>();

rulesVersions.get("/v1/admin/sites/:site/rules/versions", async (c) => {
  const site = siteOf(c);
  const active = await activeRules(c.env, site);
  const prefix = historyKey(site, "");
  const versions: Listed[] = [];
  let cursor: string | undefined;
  do {
    const page = await c.env.RULES.list<VersionMeta>({ prefix, ...(cursor ? { cursor } : {}) });
    for (const k of page.keys) versions.push({ version: k.name.slice(prefix.length), active: false, ...k.metadata });
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  if (!versions.some((v) => v.version === active.version)) versions.push({ version: active.version, active: true, note: OUTSIDE_NOTE, publishedAt: null });
  for (const v of versions) v.active = v.version === active.version;
  forgetBorrowedTimes(versions);
  const at = (v: Partial<VersionMeta>) => Math.max(v.publishedAt ?? 0, v.restoredAt ?? 0);
  versions.sort((a, b) => Number(b.active) - Number(a.active) || at(b) - at(a));
  return c.json({ site, active: active.version, versions });
});

rulesVersions.get("/v1/admin/sites/:site/rules/versions/:version", async (c) => {
  const site = siteOf(c);
  const version = pathParam(c, "version", VERSION, "expected a version: 1-64 of letters, digits . _ : + -");
  const text = await c.env.RULES.get(historyKey(site, version));
  if (text === null) throw new ApiError(404, "unknown_version", `site "${site}" has no published version "${version}"`);
  return c.body(text, 200, { "content-type": "application/json" });
});

rulesVersions.post("/v1/admin/sites/:site/rules/validate", limitBody, async (c) => {
  const site = siteOf(c);
  const result = parseRules(await readJson(c));
  if (!result.ok) return c.json({ ok: false, errors: result.errors });
  if (result.rules.site.id !== site) return c.json({ ok: false, errors: [{ path: "$.site.id", message: `expected "${site}"` }] });
  return c.json({ ok: true, version: result.rules.version, rules: result.rules.rules.length, stages: result.rules.stages.map((s) => s.id) });
});

rulesVersions.post("/v1/admin/sites/:site/rules/simulate", limitBody, async (c) => {
  const site = siteOf(c);
  const days = queryInt(c, "days", 1, SIMULATION_DAYS_MAX, 30);
  const draft = await readDraft(c, site);
  const active = await activeRules(c.env, site);
  const db = index(c.env);
  const now = Date.now();
  const rows = await db.run(() => db.d1.prepare("SELECT visitor, id, at, body FROM lead_events WHERE site = ? AND at >= ? ORDER BY at, rowid LIMIT ?")
    .bind(site, now - days * DAY_MS, SIMULATION_EVENTS_MAX + 1).all());
  const truncated = rows.results.length > SIMULATION_EVENTS_MAX;
  const lines: SimulationLine[] = rows.results.slice(0, SIMULATION_EVENTS_MAX).map((r) => ({
    visitor: String(r.visitor), at: Number(r.at), event: { id: String(r.id), ...(JSON.parse(String(r.body)) as Omit<SimulationLine["event"], "id">) },
  }));
  const current = simulate(active, lines);
  const proposed = simulate(draft, lines);
  const changes = compareSimulations(current, proposed);
  const emails = new Map<string, string | null>();
  const changed = changes.slice(0, 500).map((ch) => ch.visitor);
  for (let i = 0; i < changed.length; i += 90) {
    const chunk = changed.slice(i, i + 90);
    const found = await db.d1.prepare(`SELECT visitor, email FROM leads WHERE site = ? AND visitor IN (${chunk.map(() => "?").join(",")})`).bind(site, ...chunk).all();
    for (const r of found.results) emails.set(String(r.visitor), r.email === null ? null : String(r.email));
  }
  return c.json({
    site, days, events: lines.length, truncated, visitors: current.visitors.length,
    current: { version: current.version, reached: current.reached },
    draft: { version: proposed.version, reached: proposed.reached },
    moves: stageMoves(current, proposed, active.stages.map((s) => s.id), draft.stages.map((s) => s.id)),
    changes: changes.slice(0, 500).map((ch) => ({ ...ch, email: emails.get(ch.visitor) ?? null })),
  });
});

rulesVersions.post("/v1/admin/sites/:site/rules/publish", limitBody, async (c) => {
  const site = siteOf(c);
  const text = note(c, true)!;
  const override = c.req.query("version");
  if (override !== undefined && !VERSION.test(override)) {
    // A "+" left unencoded in a query string reads as a space: say so, with what arrived.
    const hint = override.includes(" ") ? " (a + in a query string is written %2B)" : "";
    const message = `expected a version: 1-64 of letters, digits . _ : + -, got ${JSON.stringify(override)}${hint}`;
    throw new ApiError(400, "invalid_query", `query.version: ${message}`, [{ path: "query.version", message }]);
  }
  const draft = await readDraft(c, site);
  if (override) draft.version = override;
  const active = await activeRules(c.env, site);
  if ((await c.env.RULES.get(historyKey(site, draft.version))) !== null || active.version === draft.version) {
    throw new ApiError(409, "version_exists", `version "${draft.version}" was already published: give the draft a new version`, [{ path: "$.version", message: `expected a version other than "${draft.version}" (already published)` }]);
  }
  const now = Date.now();
  await publish(c.env, site, draft, active, { note: text, publishedAt: now }, false);
  return c.json({ ok: true, site, version: draft.version, previous: active.version, note: text, publishedAt: now });
});

rulesVersions.post("/v1/admin/sites/:site/rules/versions/:version/rollback", async (c) => {
  const site = siteOf(c);
  const version = pathParam(c, "version", VERSION, "expected a version: 1-64 of letters, digits . _ : + -");
  const why = note(c, false);
  const active = await activeRules(c.env, site);
  if (active.version === version) throw new ApiError(409, "already_active", `version "${version}" is the active one`);
  const stored = await c.env.RULES.getWithMetadata<VersionMeta>(historyKey(site, version));
  if (stored.value === null) throw new ApiError(404, "unknown_version", `site "${site}" has no published version "${version}"`);
  const now = Date.now();
  await keepActive(c.env, site, active);
  // A version stored without its metadata keeps an unknown publish time, not the rollback's.
  const meta: VersionMeta = { ...(stored.metadata ?? { note: "", publishedAt: null }), restoredAt: now, ...(why ? { restoreNote: why } : {}) };
  await c.env.RULES.put(historyKey(site, version), stored.value, { metadata: meta });
  await activate(c.env, site, JSON.parse(stored.value) as RulesDocument);
  return c.json({ ok: true, site, version, previous: active.version, restoredAt: now });
});

/**
 * Who would enter or leave each stage (after the first) if the draft replaced the active rules:
 * a visitor "is in" a stage when their final stage is that one or a later one.
 */
export function stageMoves(current: SimulationResult, draft: SimulationResult, currentStages: readonly string[], draftStages: readonly string[]) {
  const before = new Map(current.visitors.map((v) => [v.visitor, currentStages.indexOf(v.stage)]));
  const out: Record<string, { entering: string[]; leaving: string[] }> = {};
  for (const stage of [...new Set([...currentStages.slice(1), ...draftStages.slice(1)])]) {
    const ci = currentStages.indexOf(stage);
    const di = draftStages.indexOf(stage);
    const move = { entering: [] as string[], leaving: [] as string[] };
    for (const v of draft.visitors) {
      const wasIn = ci > 0 && (before.get(v.visitor) ?? -1) >= ci;
      const isIn = di > 0 && draftStages.indexOf(v.stage) >= di;
      if (isIn && !wasIn) move.entering.push(v.visitor);
      if (wasIn && !isIn) move.leaving.push(v.visitor);
    }
    out[stage] = move;
  }
  return out;
}
