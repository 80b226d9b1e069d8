/// <reference types="node" />
/**
 * A real HTTP receiver for the webhook tests, run in Node by vitest's globalSetup. It verifies
 * every delivery's Standard Webhooks signature with the `standardwebhooks` package (a bad one is
 * answered 401 and recorded as such) and records every request, so tests read what really went
 * over the wire.
 *
 *   POST /hooks/NAME        a delivery; answered by NAME's plan (default 204)
 *   PUT  /plans/NAME        sets NAME's plan: { status?, failFirst?, failStatus?, retryAfter?, holdMs?, reset? }
 *   GET  /log/NAME          every delivery to NAME, oldest first
 *   POST /spare             reserves a port nothing listens on yet: { port }
 *   POST /spare/PORT/up     starts listening on a reserved port (same handler)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

/** How the receiver answers deliveries to one name. */
export interface Plan {
  /** Status of every answer once the first `failFirst` failed (default 204). */
  status?: number;
  /** How many deliveries fail before `status` is answered. */
  failFirst?: number;
  /** Status of those failures (default 503). */
  failStatus?: number;
  /** Retry-After header sent with failures. */
  retryAfter?: string;
  /** Answer headers sent with `status` (a Location for redirects, say). */
  headers?: Record<string, string>;
  /** Holds each answer this long (to observe concurrency). */
  holdMs?: number;
  /** Drops the connection instead of answering (a network error). */
  reset?: boolean;
}

/** One request as received. */
export interface Delivery {
  name: string;
  webhookId: string | null;
  timestamp: string | null;
  signature: string | null;
  verified: boolean;
  error: string | null;
  contentType: string | null;
  userAgent: string | null;
  /** The Authorization header, for targets that send an API token. */
  authorization: string | null;
  body: unknown;
  answered: number;
  /** Requests to this name in flight when this one arrived (itself included). */
  inFlight: number;
}

/** Starts the receiver on 127.0.0.1, port chosen by the system. */
export async function startReceiver(secret: string): Promise<{ url: string; close: () => Promise<void> }> {
  const verifier = new Webhook(secret);
  const plans = new Map<string, Plan>();
  const logs = new Map<string, Delivery[]>();
  const inFlight = new Map<string, number>();
  const spares = new Map<number, Server | null>();

  async function deliver(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const log = logs.get(name) ?? [];
    logs.set(name, log);
    const plan = plans.get(name) ?? {};
    const flying = (inFlight.get(name) ?? 0) + 1;
    inFlight.set(name, flying);
    const header = (h: string) => (typeof req.headers[h] === "string" ? (req.headers[h] as string) : null);
    let verified = false;
    let error: string | null = null;
    try {
      verifier.verify(raw, {
        "webhook-id": header("webhook-id") ?? "",
        "webhook-timestamp": header("webhook-timestamp") ?? "",
        "webhook-signature": header("webhook-signature") ?? "",
      });
      verified = true;
    } catch (e) {
      error = (e as Error).message;
    }
    let body: unknown = raw;
    try {
      body = JSON.parse(raw);
    } catch {
      // kept as text: the test will say what it expected
    }
    const failing = log.filter((d) => d.verified).length < (plan.failFirst ?? 0);
    const answered = !verified ? 401 : failing ? (plan.failStatus ?? 503) : (plan.status ?? 204);
    log.push({
      name, webhookId: header("webhook-id"), timestamp: header("webhook-timestamp"), signature: header("webhook-signature"),
      verified, error, contentType: header("content-type"), userAgent: header("user-agent"), authorization: header("authorization"), body, answered: plan.reset ? 0 : answered, inFlight: flying,
    });
    if (plan.holdMs) await new Promise((r) => setTimeout(r, plan.holdMs));
    inFlight.set(name, (inFlight.get(name) ?? 1) - 1);
    if (plan.reset && verified) {
      req.socket.destroy();
      return;
    }
    const headers: Record<string, string> = { "content-type": "text/plain" };
    if (verified && failing && plan.retryAfter) headers["retry-after"] = plan.retryAfter;
    if (verified && !failing) Object.assign(headers, plan.headers);
    res.writeHead(answered, headers).end(verified ? "" : `${error}\n`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://receiver");
    const [, kind, name, action] = url.pathname.split("/");
    if (req.method === "POST" && kind === "hooks" && name) return deliver(name, req, res);
    if (req.method === "PUT" && kind === "plans" && name) {
      plans.set(name, JSON.parse(await readBody(req)) as Plan);
      return json(res, 200, { ok: true });
    }
    if (req.method === "GET" && kind === "log" && name) return json(res, 200, logs.get(name) ?? []);
    if (req.method === "POST" && kind === "spare" && !name) {
      const port = await freePort();
      spares.set(port, null);
      return json(res, 200, { port });
    }
    if (req.method === "POST" && kind === "spare" && name && action === "up") {
      const port = Number(name);
      if (!spares.has(port)) return json(res, 404, { error: "not a reserved port" });
      const spare = createServer((q, s) => void handle(q, s).catch((e) => json(s, 500, { error: String(e) })));
      await new Promise<void>((resolve) => spare.listen(port, "127.0.0.1", resolve));
      spares.set(port, spare);
      return json(res, 200, { ok: true });
    }
    return json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  }

  const server = createServer((req, res) => void handle(req, res).catch((e) => json(res, 500, { error: String(e) })));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const s of [server, ...spares.values()]) if (s) await new Promise((r) => s.close(r));
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** A port that was free a moment ago (listen on 0, read it, close). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}
