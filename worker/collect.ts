/**
 * `POST /v1/collect`: the snippet's batches. Checks run cheapest first and none touches state:
 * size, JSON, schema, site, origin, rate, privacy signals, bots. Only then is the batch handed to
 * the visitor's Durable Object, which scores it and answers with the CTAs for the page.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { isbot } from "isbot";
import { flattenIssues, normalizeEvent, type Engine, type EngineEvent } from "../rules/index.js";
import { visitorStub, type Env } from "./env.js";
import { ApiError } from "./errors.js";
import { parseJson } from "./json-body.js";
import { limit } from "./rate-limit.js";
import { getEngine } from "./rules-cache.js";
import { BODY_MAX_BYTES, CollectRequestSchema, type CollectRequest, type CollectResponse } from "./wire.js";

/** Seconds a client waits before resending a batch the visitor's storage could not take. */
export const STORAGE_RETRY_AFTER_S = 2;

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export const collect = new Hono<{ Bindings: Env }>();

/** Preflight for clients that send JSON with a JSON content type (the snippet sends text/plain and needs none). */
collect.options("/v1/collect", (c) => {
  const origin = c.req.header("origin");
  if (!origin) return c.body(null, 204);
  return c.body(null, 204, {
    "access-control-allow-origin": origin,
    "access-control-allow-methods": "POST",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": "86400",
    vary: "Origin",
  });
});

/**
 * A batch refused for what it is (400, 413, 415: it can never be taken as sent) carries CORS
 * headers for whatever page sent it, so the snippet reads the refusal and drops the batch; without
 * them the browser reports a network error and the snippet would keep the batch and retry it for
 * good. Refusals that configuration can lift (an unknown site, an origin not yet in the rules) go
 * without: the snippet keeps those events and retries with backoff, so they arrive once it is fixed.
 */
collect.use("/v1/collect", async (c, next) => {
  await next();
  const origin = c.req.header("origin");
  if (origin && c.req.method === "POST" && [400, 413, 415].includes(c.res.status) && !c.res.headers.has("access-control-allow-origin")) {
    c.res.headers.set("access-control-allow-origin", origin);
    c.res.headers.append("vary", "Origin");
  }
});

collect.post(
  "/v1/collect",
  bodyLimit({
    maxSize: BODY_MAX_BYTES,
    onError: () => {
      throw new ApiError(413, "body_too_large", `request body is larger than ${BODY_MAX_BYTES} bytes: send fewer events per batch`);
    },
  }),
  async (c) => {
    const batch = await readBatch(c);
    const engine = await getEngine(c.env.RULES, batch.site);
    if (!engine) throw new ApiError(404, "unknown_site", `no site "${batch.site}": push its rules first`, [{ path: "$.site", message: "unknown site" }]);

    const origin = c.req.header("origin");
    // Origins compare case-insensitively: rules may spell one in capitals, browsers send lower case.
    if (!origin || !engine.rules.site.origins.some((o) => o.toLowerCase() === origin.toLowerCase())) {
      throw new ApiError(403, "origin_not_allowed", origin
        ? `origin ${origin} is not allowed for site "${batch.site}": add it to site.origins in the rules`
        : "missing Origin header: events are accepted from the site's pages only");
    }
    const cors = { "access-control-allow-origin": origin, vary: "Origin" };

    const ip = c.req.header("cf-connecting-ip") ?? "local";
    // Both counters at once: one round trip to the limiter instead of two on every batch.
    const [byIp, byVisitor] = await Promise.all([limit(c.env.IP_RATE, `ip:${ip}`), limit(c.env.VISITOR_RATE, `v:${batch.site}:${batch.visitor}`)]);
    const limited = byIp ?? byVisitor;
    if (limited) throw new ApiError(429, "rate_limited", `too many requests ${limited.scope}: retry in ${limited.retryAfter} s`, undefined, { ...cors, "retry-after": String(limited.retryAfter), "access-control-expose-headers": "Retry-After" });

    const ids = batch.events.map((e) => e.id);
    const privacy = engine.rules.site.privacy;
    if ((privacy.honorGpc && c.req.header("sec-gpc") === "1") || (privacy.honorDnt && c.req.header("dnt") === "1")) {
      return c.json({ ...unscored(engine, ids), optedOut: true } satisfies CollectResponse, 200, cors);
    }
    const ua = c.req.header("user-agent") ?? "";
    if (ua === "" || isbot(ua)) return c.json(unscored(engine, ids), 200, { ...cors, "x-mql-bot": "1" });

    const country = (c.req.raw.cf as { country?: string } | undefined)?.country;
    const ignored = ignoredFields(engine);
    const events = batch.events.map(({ ts, ...captured }) => ({
      event: withoutIgnored(normalizeEvent(country && country.length === 2 ? { ...captured, country } : captured), ignored),
      capturedAt: ts,
    }));
    const page = pagePath(batch.page) ?? lastPath(events.map((e) => e.event.path));
    const stub = visitorStub(c.env, batch.site, batch.visitor);
    let result: CollectResponse;
    try {
      result = await stub.collect({ site: batch.site, visitor: batch.visitor, page, events, now: Date.now() });
    } catch (e) {
      // Nothing was acknowledged (the transaction rolled back): the snippet keeps the events and
      // retries 5xx answers with backoff, so a storage fault costs a delay, never an event.
      console.error(`visitor ${batch.site}:${batch.visitor}: ${(e as Error).message}`);
      throw new ApiError(503, "storage_unavailable", "visitor storage is unavailable: the events were not stored, retry later", undefined,
        { ...cors, "retry-after": String(STORAGE_RETRY_AFTER_S), "access-control-expose-headers": "Retry-After" });
    }
    return c.json(result satisfies CollectResponse, 200, cors);
  },
);

async function readBatch(c: Context<{ Bindings: Env }>): Promise<CollectRequest> {
  const type = (c.req.header("content-type") ?? "text/plain").split(";")[0]!.trim().toLowerCase();
  if (type !== "text/plain" && type !== "application/json") {
    throw new ApiError(415, "unsupported_media_type", `content-type ${type} is not accepted: send JSON as text/plain or application/json`);
  }
  let text: string;
  try {
    // Strict: a lenient decoder would turn bad bytes into U+FFFD and score a corrupted event.
    text = UTF8.decode(await c.req.arrayBuffer());
  } catch {
    throw new ApiError(400, "invalid_encoding", "body is not valid UTF-8: send the JSON encoded as UTF-8");
  }
  const raw = parseJson(text);
  // zod drops "__proto__" keys silently; an explicit refusal tells the sender what went wrong.
  const polluted = (text.includes("__proto__") || text.includes("\\u")) && protoKeyPath(raw, "$");
  if (polluted) throw new ApiError(400, "invalid_body", `${polluted}: "__proto__" is not accepted as a key`, [{ path: polluted, message: '"__proto__" is not accepted as a key' }]);
  // JSON escapes can name half of a surrogate pair (a snippet cutting text in the middle of an
  // emoji does): each such half becomes U+FFFD, as a UTF-8 encoder would make it, so the event is
  // stored and indexed as the same text everywhere.
  const json = LONE_ESCAPE.test(text) ? wellFormed(raw) : raw;
  const parsed = CollectRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = flattenIssues(parsed.error.issues);
    throw new ApiError(400, "invalid_body", `${issues[0]!.path}: ${issues[0]!.message}`, issues);
  }
  // One id names one event: a copy is a resend (acknowledged, counted once), but another event
  // under the same id would be acknowledged and never stored.
  const first = new Map<string, number>();
  const events = parsed.data.events;
  const repeated = events.flatMap((e, i) => {
    const at = first.get(e.id);
    if (at === undefined) first.set(e.id, i);
    return at === undefined || JSON.stringify(e) === JSON.stringify(events[at]) ? []
      : [{ path: `$.events[${i}].id`, message: `expected an id of its own, or a copy of $.events[${at}], which has "${e.id}"` }];
  });
  if (repeated.length > 0) throw new ApiError(400, "invalid_body", `${repeated[0]!.path}: ${repeated[0]!.message}`, repeated);
  return parsed.data;
}

/** A `\uD800`-`\uDFFF` escape: the text may hold half a surrogate pair once parsed. */
const LONE_ESCAPE = /\\u[dD][89a-fA-F]/;
const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `v` with every half of a surrogate pair left alone in its strings made U+FFFD (as deep as a batch's shape goes). */
function wellFormed(v: unknown, depth = 0): unknown {
  if (typeof v === "string") return v.replace(LONE, "\uFFFD");
  if (typeof v !== "object" || v === null || depth > 8) return v;
  if (Array.isArray(v)) return v.map((x) => wellFormed(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = wellFormed((v as Record<string, unknown>)[k], depth + 1);
  return out;
}

/** The answer for events acknowledged without scoring (bots, opted-out visitors). */
function unscored(engine: Engine, ids: string[]): CollectResponse {
  const score: CollectResponse["visitor"]["score"] = { fit: 0, engagement: 0, total: 0 };
  for (const g of engine.rules.groups) score[g.id] = 0;
  return { ack: ids, visitor: { stage: engine.rules.stages[0]!.id, score }, actions: [] };
}

/** The JSON path of the first own "__proto__" key in `v` (JSON.parse makes it an own key), or undefined. */
function protoKeyPath(v: unknown, path: string, depth = 0): string | undefined {
  if (typeof v !== "object" || v === null || depth > 64) return undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const found = protoKeyPath(v[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const k of Object.keys(v)) {
    if (k === "__proto__") return `${path}.__proto__`;
    const found = protoKeyPath((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The path of the page a batch names: a path as given, a URL's path as an event's is read (hash routes included). */
function pagePath(page: string | undefined): string | undefined {
  if (page === undefined || !/^https?:\/\//i.test(page)) return page;
  return normalizeEvent({ id: "page", type: "page_view", url: page }).path ?? page;
}

function lastPath(paths: (string | undefined)[]): string | undefined {
  for (let i = paths.length - 1; i >= 0; i--) if (paths[i] !== undefined) return paths[i];
  return undefined;
}

/** The site's `privacy.ignoreFields`, lower-cased, per compiled rules document. */
const ignoredOf = new WeakMap<Engine, ReadonlySet<string>>();
function ignoredFields(engine: Engine): ReadonlySet<string> {
  let names = ignoredOf.get(engine);
  if (names === undefined) ignoredOf.set(engine, (names = new Set(engine.rules.site.privacy.ignoreFields.map((f) => f.toLowerCase()))));
  return names;
}

/**
 * The event without the form fields and traits the site never wants kept (`privacy.ignoreFields`,
 * names compared without case): dropped here, before anything is stored, scored or indexed. The
 * snippet does not know the rules; `data-mql-ignore` keeps a field off the wire as well.
 */
export function withoutIgnored(event: EngineEvent, ignored: ReadonlySet<string>): EngineEvent {
  if (ignored.size === 0) return event;
  const strip = (bag: Record<string, string | number | boolean> | undefined) => {
    if (bag === undefined || !Object.keys(bag).some((k) => ignored.has(k.toLowerCase()))) return bag;
    return Object.fromEntries(Object.entries(bag).filter(([k]) => !ignored.has(k.toLowerCase())));
  };
  const fields = strip(event.fields) as Record<string, string> | undefined;
  const traits = strip(event.traits);
  if (fields === event.fields && traits === event.traits) return event;
  const out: EngineEvent = { ...event };
  if (fields !== undefined) out.fields = fields;
  if (traits !== undefined) out.traits = traits;
  return out;
}
