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
  bytes: number;
  contentType: string | undefined;
  mode: string | undefined;
}

/** A tap listening on 127.0.0.1: `url` is the endpoint origin to give the snippet. */
export interface Tap {
  url: string;
  seen: Tapped[];
  close(): Promise<void>;
}

/** Starts a tap forwarding to `target` (an origin such as http://127.0.0.1:PORT). */
export async function startTap(target: string): Promise<Tap> {
  const seen: Tapped[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? "", bytes: body.length, contentType: req.headers["content-type"], mode: req.headers["sec-fetch-mode"] as string | undefined });
      const headers = { ...req.headers };
      delete headers.host;
      const out = http.request(new URL(req.url ?? "/", target), { method: req.method, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      // The target dropping the connection (an injected outage) is passed on as a dropped connection.
      out.on("error", () => req.socket.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
