/// <reference types="node" />
/**
 * A pass-through in front of a collect endpoint that records every request exactly as the browser
 * sent it: method, byte size of the body, content type, fetch mode (`no-cors` is a beacon). The
 * browser's own request events miss beacons sent by a closing page; a socket on the path does not.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** One request as it arrived. */
export interface Tapped {
  method: string;
  /** Path and query. */
  url: string;
  bytes: number;
  contentType: string | undefined;
  mode: string | undefined;
  /** The body as text. */
  body: string;
  /** The answer's status; 0 while none came (or the network was down). */
  status: number;
}

/** A tap listening on 127.0.0.1: `url` is the endpoint origin to give the snippet. */
export interface Tap {
  url: string;
  seen: Tapped[];
  /** While true, every API request (/v1/...) is dropped, its connection closed unanswered: the network is down. */
  down: boolean;
  close(): Promise<void>;
}

/**
 * Starts a tap forwarding to `target` (an origin such as http://127.0.0.1:PORT). `pages` are HTML
 * pages the tap answers itself, by path: a page served on the tap's origin sends to it same-origin.
 */
export async function startTap(target: string, pages: Record<string, string> = {}): Promise<Tap> {
  const seen: Tapped[] = [];
  const tap = { down: false };
  const server = http.createServer((req, res) => {
    const page = req.method == "GET" ? pages[new URL(req.url ?? "/", "http://tap").pathname] : undefined;
    if (page !== undefined) return void res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? "", url: req.url ?? "/", bytes: body.length, contentType: req.headers["content-type"], mode: req.headers["sec-fetch-mode"] as string | undefined, body: body.toString("utf8"), status: 0 });
      const tapped = seen[seen.length - 1]!;
      if (tap.down && (req.url ?? "").startsWith("/v1/")) return void req.socket.destroy();
      const headers = { ...req.headers };
      delete headers.host;
      const out = http.request(new URL(req.url ?? "/", target), { method: req.method, headers }, (answer) => {
        tapped.status = answer.statusCode ?? 502;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      // The target dropping the connection (an injected outage) is passed on as a dropped connection.
      out.on("error", () => req.socket.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return Object.assign(tap, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  });
}
