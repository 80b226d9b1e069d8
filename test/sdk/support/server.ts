/**
 * A stand-in for the worker, for the snippet's browser tests. Two listeners on 127.0.0.1 (random
 * ports), so the page and the worker are cross-origin as in production:
 * - `site`: the host pages the test registers (`page(path, html)`);
 * - `api`: `/mql.js` (the built snippet) and `POST /v1/collect` by the contract of worker/wire.ts:
 *   the body is validated with the worker's own zod schema, ids are acknowledged and every id
 *   received is counted (a second copy is acknowledged but not stored again).
 * Failures can be injected: `fail = "offline"` (connection reset), 500, 400 (refused), or 429 with
 * Retry-After (exposed to the page, as the worker does).
 * - `site2`: a second origin of the site (same pages), and `POST /v1/identity/xd` and
 *   `POST /v1/identity/continue` as worker/identity/routes.ts answers them: strict bodies, the
 *   request's Origin one of the site's two, tokens single use, bound to the origin they were made
 *   for, expiring after `xdTtlMs`; errors as `{ error: { code } }` without CORS headers.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { CollectRequestSchema, type CollectResponse, type WireAction, type WireEvent } from "../../../worker/wire.js";

/** A request the collect endpoint accepted. */
export interface Received {
  events: WireEvent[];
  visitor: string;
  page?: string;
  /** `no-cors` for sendBeacon, `cors` for fetch. */
  mode?: string;
  /** When it was received (ms since the epoch). */
  at: number;
  contentType?: string;
}

/** A request to the identity API, and how it was answered. */
export interface IdentityCall {
  path: "/v1/identity/xd" | "/v1/identity/continue";
  origin?: string;
  body: unknown;
  status: number;
  /** The answer's body. */
  answer?: unknown;
  /** The error code, when refused. */
  code?: string;
}

export interface TestServer {
  site: string;
  /** Another of the site's origins (the same host on another port), serving the same pages. */
  site2: string;
  api: string;
  /** Registers a host page served at `site + path`. */
  page(path: string, html: string): void;
  /** The script tag of the snippet, with extra attributes. */
  tag(attrs?: string): string;
  fail: null | "offline" | 500 | 429 | 400;
  /** Retry-After (seconds) sent with injected 429s. */
  retryAfter: number;
  /** Actions returned with every answer. */
  actions: WireAction[];
  stage: string;
  /** Answer with optedOut. */
  optedOut: boolean;
  accepted: Received[];
  /** Times each event id was received in an accepted request. */
  seen: Map<string, number>;
  /** Events stored, once per id. */
  stored: Map<string, WireEvent>;
  /** Collect requests answered with an injected failure. */
  failed: number;
  /** When each injected failure was answered (ms since the epoch). */
  failedAt: number[];
  /** Bodies that failed the wire schema, and preflight requests: both must stay empty. */
  invalid: unknown[];
  preflights: number;
  /** Calls to the identity API, in order. */
  identity: IdentityCall[];
  /** Lifetime of the cross-domain tokens issued (the worker's is 120 s). */
  xdTtlMs: number;
  close(): Promise<void>;
}

const SITE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const VISITOR = /^[\w-]{8,64}$/;
const ORIGIN = /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i;
/** `body` has exactly `keys`, each a string matching its pattern: the worker's strict zod objects. */
const strict = (body: unknown, keys: Record<string, RegExp>): body is Record<string, string> =>
  typeof body == "object" && body != null && !Array.isArray(body) &&
  Object.keys(body).every((k) => k in keys) &&
  Object.entries(keys).every(([k, re]) => typeof (body as Record<string, unknown>)[k] == "string" && re.test((body as Record<string, string>)[k]!));

const listen = (handler: http.RequestListener) =>
  new Promise<http.Server>((resolve) => {
    const s = http.createServer(handler);
    s.listen(0, "127.0.0.1", () => resolve(s));
  });

export async function startServer(): Promise<TestServer> {
  const pages = new Map<string, string>();
  const snippet = () => readFileSync("dist/sdk/mql.js", "utf8");
  const t: TestServer = {
    site: "",
    site2: "",
    api: "",
    page: (path, html) => void pages.set(path, html),
    tag: (attrs = "") => `<script src="${t.api}/mql.js" data-site="acme" ${attrs}></script>`,
    fail: null,
    retryAfter: 1,
    actions: [],
    stage: "lead",
    optedOut: false,
    accepted: [],
    seen: new Map(),
    stored: new Map(),
    failed: 0,
    failedAt: [],
    invalid: [],
    preflights: 0,
    identity: [],
    xdTtlMs: 120_000,
    close: async () => {
      for (const s of [site, site2, api]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };

  const serve: http.RequestListener = (req, res) => {
    const html = pages.get(new URL(req.url!, "http://x").pathname);
    res.writeHead(html == null ? 404 : 200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(html ?? "not found");
  };
  const site = await listen(serve);
  const site2 = await listen(serve);

  /** Cross-domain tokens issued, by token. */
  const tokens = new Map<string, { visitor: string; aud: string; exp: number; used: boolean }>();
  /** The identity API, as the worker answers it. */
  const identity = (req: http.IncomingMessage, raw: string, res: http.ServerResponse) => {
    const path = req.url as IdentityCall["path"];
    const origin = req.headers.origin;
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {}
    const call: IdentityCall = { path, origin, body, status: 200 };
    t.identity.push(call);
    const answer = (status: number, json: unknown) => {
      call.status = status;
      call.answer = json;
      // The worker adds CORS headers to its answers, never to its errors: a page cannot read those.
      res.writeHead(status, { "content-type": "application/json", ...(status == 200 ? { "access-control-allow-origin": origin, vary: "Origin" } : {}) });
      res.end(JSON.stringify(json));
    };
    const refuse = (status: number, code: string) => ((call.code = code), answer(status, { error: { code, message: code } }));
    const origins = [t.site, t.site2];
    const now = Date.now();
    if (path == "/v1/identity/xd") {
      if (!strict(body, { site: SITE, visitor: VISITOR, to: ORIGIN })) return refuse(400, "invalid_body");
      if (body.site != "acme") return refuse(404, "unknown_site");
      if (!origins.includes(origin!)) return refuse(403, "origin_not_allowed");
      if (!origins.includes(body.to!) || body.to == origin) return refuse(400, "invalid_body");
      const token = `xd.${randomUUID()}`;
      tokens.set(token, { visitor: body.visitor!, aud: body.to!.toLowerCase(), exp: now + t.xdTtlMs, used: false });
      const expiresAt = Math.floor(now / 1000) * 1000 + t.xdTtlMs;
      return answer(200, { token, param: "mql_t", expiresAt, expiresIn: expiresAt - now });
    }
    if (!strict(body, { site: SITE, visitor: VISITOR, token: /^.{1,2048}$/ })) return refuse(400, "invalid_body");
    if (body.site != "acme") return refuse(404, "unknown_site");
    if (!origins.includes(origin!)) return refuse(403, "origin_not_allowed");
    const claim = tokens.get(body.token!);
    if (!claim) return refuse(400, "invalid_token");
    if (claim.exp <= now) return refuse(410, "token_expired");
    if (claim.aud != origin!.toLowerCase()) return refuse(403, "wrong_audience");
    if (claim.used) return refuse(409, "token_used");
    claim.used = true;
    return answer(200, { visitor: claim.visitor, continued: "xd" });
  };

  const api = await listen((req, res) => {
    const cors = { "access-control-allow-origin": "*" };
    if (req.method == "OPTIONS") {
      t.preflights++;
      res.writeHead(204, cors).end();
      return;
    }
    if (req.url == "/mql.js") {
      res.writeHead(200, { "content-type": "text/javascript", "cache-control": "no-store" }).end(snippet());
      return;
    }
    if (req.method == "POST" && (req.url == "/v1/identity/xd" || req.url == "/v1/identity/continue")) {
      let raw = "";
      req.setEncoding("utf8");
      req.on("data", (c) => (raw += c));
      req.on("end", () => identity(req, raw, res));
      return;
    }
    if (req.url != "/v1/collect" || req.method != "POST") {
      res.writeHead(404, cors).end();
      return;
    }
    if (t.fail == "offline") {
      t.failed++;
      t.failedAt.push(Date.now());
      req.socket.destroy();
      return;
    }
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { ...cors, "content-type": "application/json", ...headers }).end(JSON.stringify(body));
      const fail = t.fail;
      if (fail && fail != "offline") {
        t.failed++;
        t.failedAt.push(Date.now());
        const error = { error: { code: fail == 429 ? "rate_limited" : fail == 400 ? "invalid_body" : "internal", message: "injected" } };
        json(fail, error, fail == 429 ? { "retry-after": String(t.retryAfter), "access-control-expose-headers": "Retry-After" } : {});
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {}
      const parsed = CollectRequestSchema.safeParse(body);
      if (!parsed.success) {
        t.invalid.push({ raw, issues: parsed.error.issues });
        json(400, { error: { code: "invalid", message: "invalid body" } });
        return;
      }
      const r = parsed.data;
      t.accepted.push({
        events: r.events,
        visitor: r.visitor,
        page: r.page,
        mode: req.headers["sec-fetch-mode"] as string | undefined,
        at: Date.now(),
        contentType: req.headers["content-type"],
      });
      for (const e of r.events) {
        t.seen.set(e.id, (t.seen.get(e.id) ?? 0) + 1);
        if (!t.stored.has(e.id)) t.stored.set(e.id, e);
      }
      const answer: CollectResponse = {
        ack: r.events.map((e) => e.id),
        visitor: { stage: t.stage, score: { fit: 0, engagement: t.stored.size, total: t.stored.size } },
        actions: t.actions,
        ...(t.optedOut ? { optedOut: true as const } : {}),
      };
      json(200, answer);
    });
  });

  t.site = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  t.site2 = `http://127.0.0.1:${(site2.address() as AddressInfo).port}`;
  t.api = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  return t;
}

/** Resolves when `check` holds, polling every 25 ms; fails after `ms`. */
export async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
