#!/usr/bin/env node
/**
 * A stand-in CRM for the demo: receives mql-edge's webhooks on POST /hooks/crm, verifies each
 * Standard Webhooks signature (webhook-id, webhook-timestamp, webhook-signature) with the secret
 * it shares with the worker, and keeps everything it received in memory.
 *
 *   GET  /               a page listing the webhooks received (refreshes itself)
 *   GET  /api/webhooks   the same as JSON
 *
 * Environment: CRM_PORT (8788), CRM_SECRET (whsec_..., required). `npm start` runs it.
 */
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { Webhook } from "standardwebhooks";

/** Largest webhook body accepted. */
const BODY_MAX_BYTES = 256 * 1024;

/**
 * Starts the inbox; resolves once it listens.
 * @param {{ port?: number, host?: string, secret: string }} options
 * @returns {Promise<{ server: import("node:http").Server, received: object[], url: string }>}
 */
export function startCrmInbox({ port = 8788, host = "127.0.0.1", secret }) {
  const verifier = new Webhook(secret);
  /** Every delivery, oldest first; a retried webhook appears again with `duplicate: true`. */
  const received = [];
  const seen = new Set();

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://inbox");
      if (req.method === "POST" && url.pathname === "/hooks/crm") {
        const body = await readBody(req);
        if (body === undefined) return send(res, 413, "text/plain", "body too large\n");
        const record = receive(verifier, req.headers, body, seen);
        received.push(record);
        console.log(`crm inbox: ${record.type ?? "?"} ${record.stage ?? ""} ${record.email ?? ""} ${record.verified ? "verified" : `NOT verified (${record.error})`}`);
        // A 401 on a bad signature tells the sender to look at its secret; it will retry.
        return send(res, record.verified ? 204 : 401, "text/plain", record.verified ? "" : `${record.error}\n`);
      }
      if (req.method === "GET" && url.pathname === "/api/webhooks") return send(res, 200, "application/json", JSON.stringify(received));
      if (req.method === "GET" && url.pathname === "/") return send(res, 200, "text/html; charset=utf-8", page(received));
      send(res, 404, "text/plain", "not found\n");
    } catch (e) {
      send(res, 500, "text/plain", `${e instanceof Error ? e.message : e}\n`);
    }
  });
  return new Promise((resolveStart, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolveStart({ server, received, url: `http://${host}:${typeof address === "object" && address ? address.port : port}` });
    });
  });
}

/** One received webhook: verified or not, with the fields a sales team looks at first. */
function receive(verifier, headers, body, seen) {
  const id = header(headers, "webhook-id");
  const record = { id, receivedAt: new Date().toISOString(), verified: false, duplicate: id !== undefined && seen.has(id) };
  let payload;
  try {
    payload = verifier.verify(body, {
      "webhook-id": id ?? "",
      "webhook-timestamp": header(headers, "webhook-timestamp") ?? "",
      "webhook-signature": header(headers, "webhook-signature") ?? "",
    });
    record.verified = true;
  } catch (e) {
    record.error = e instanceof Error ? e.message : String(e);
    try {
      payload = JSON.parse(body);
    } catch {
      payload = body;
    }
  }
  if (record.verified && id !== undefined) seen.add(id);
  const data = payload && typeof payload === "object" ? payload.data ?? {} : {};
  Object.assign(record, {
    type: payload?.type,
    stage: data.stage?.to ?? data.visitor?.stage,
    visitor: data.visitor?.id,
    email: data.visitor?.email ?? undefined,
    explanation: Array.isArray(data.explanation) ? data.explanation : [],
    payload,
  });
  return record;
}

function header(headers, name) {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function readBody(req) {
  return new Promise((resolveBody, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size <= BODY_MAX_BYTES) chunks.push(c);
    });
    req.on("end", () => resolveBody(size > BODY_MAX_BYTES ? undefined : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res, status, type, body) {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(received) {
  const rows = received
    .slice()
    .reverse()
    .map((r) => {
      const why = r.explanation.map((e) => `${esc(e.description ?? e.rule)} <b>${e.points > 0 ? "+" : ""}${esc(e.points)}</b>`).join("<br>");
      return `<tr class="${r.verified ? "ok" : "bad"}">
  <td>${esc(r.receivedAt.slice(11, 19))}</td><td>${esc(r.type)}</td><td><span class="stage">${esc(r.stage)}</span></td>
  <td>${esc(r.email ?? "anonymous")}<br><small>${esc(r.visitor)}</small></td>
  <td>${r.verified ? "✓ valid" : `✗ ${esc(r.error)}`}${r.duplicate ? "<br><small>retry of an earlier delivery</small>" : ""}</td>
  <td><code>${esc(r.id)}</code></td><td class="why">${why}</td></tr>`;
    })
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>CRM inbox (${received.length})</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1d2433}
h1{font-size:20px;margin:0 0 .2em}p{color:#5b6475;margin:0 0 1.5em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.6em .8em;border-bottom:1px solid #e3e6ec}
th{font-size:12px;text-transform:uppercase;color:#5b6475}tr.bad{background:#fff1f1}tr.ok td:nth-child(5){color:#137333}
.stage{background:#1d4ed8;color:#fff;border-radius:4px;padding:.1em .5em;text-transform:uppercase;font-size:12px}
.why{font-size:13px;color:#3a4252}code{font-size:12px}
</style></head><body>
<h1>CRM inbox</h1>
<p>Webhooks from mql-edge, each signature checked (Standard Webhooks, HMAC-SHA256). This page refreshes every 3 s.</p>
${received.length ? `<table><thead><tr><th>Time</th><th>Type</th><th>Stage</th><th>Visitor</th><th>Signature</th><th>webhook-id</th><th>Why</th></tr></thead><tbody>
${rows}
</tbody></table>` : "<p><i>Nothing yet. Browse the demo site until a visitor qualifies.</i></p>"}
</body></html>`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const secret = process.env.CRM_SECRET;
  if (!secret) {
    console.error("CRM_SECRET is not set (whsec_ followed by base64): npm start sets it");
    process.exit(1);
  }
  const { url } = await startCrmInbox({ port: Number(process.env.CRM_PORT ?? 8788), secret });
  console.log(`crm inbox listening on ${url}`);
}
