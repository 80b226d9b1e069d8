/** Delivery over HTTP: what is sent, and when a batch is retried or given up. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { post, retryIn } from "../../../sdk/transport";
import { RETRY_BASE_MS, RETRY_MAX_MS } from "../../../sdk/constants";

const answer = (status: number, headers: Record<string, string> = {}) => new Response(status == 204 ? null : "{}", { status, headers });

afterEach(() => vi.restoreAllMocks());

describe("post", () => {
  it("sends the body as JSON in text/plain (no preflight) with keepalive, and resolves to the answer", async () => {
    const fetch = vi.spyOn(globalThis, "fetch").mockResolvedValue(answer(200));
    const res = await post("https://w.example/v1/collect", { a: 1 });
    expect(res && res.status).toBe(200);
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe("https://w.example/v1/collect");
    expect(init).toMatchObject({ method: "POST", body: '{"a":1}', keepalive: true });
    // A string body with no content-type header goes out as text/plain;charset=UTF-8.
    expect(init!.headers).toBeUndefined();
  });

  it("passes the URL as a string (a host page's fetch wrapper may read only strings), and resolves to 0 when the wrapper throws", async () => {
    const fetch = vi.spyOn(globalThis, "fetch").mockImplementationOnce(() => {
      throw new TypeError("wrapper broke");
    });
    expect(await post(new URL("https://w.example/v1/collect"), {})).toBe(0);
    expect(fetch.mock.calls[0]![0]).toBe("https://w.example/v1/collect");
  });

  it("resolves to 0 on a network error instead of throwing", async () => {
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Failed to fetch"));
    expect(await post("https://w.example/v1/collect", {})).toBe(0);
  });
});

describe("retryIn", () => {
  it.each([
    ["a 400 (invalid body)", 400],
    ["a 403 (origin not allowed)", 403],
    ["a 404 (unknown site)", 404],
    ["a 413 (body too large)", 413],
    ["a 415", 415],
  ])("gives up on %s: sending it again would not help", (_, status) => {
    expect(retryIn(answer(status), 0)).toBe(-1);
  });

  it.each([
    ["a network error", 0 as const],
    ["a 500", answer(500)],
    ["a 503 (storage unavailable)", answer(503, { "retry-after": "2" })],
    ["a 429 without Retry-After", answer(429)],
  ])("retries %s after a jittered, doubling backoff", (_, res) => {
    for (const [tries, full] of [
      [0, RETRY_BASE_MS],
      [1, 2 * RETRY_BASE_MS],
      [3, 8 * RETRY_BASE_MS],
      [20, RETRY_MAX_MS],
    ] as const) {
      const waits = Array.from({ length: 50 }, () => retryIn(res, tries));
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(full / 2);
      expect(Math.max(...waits)).toBeLessThanOrEqual(full);
      // Jittered: pages that failed together do not retry together.
      expect(new Set(waits).size).toBeGreaterThan(1);
    }
  });

  it("waits as long as a 429's Retry-After says", () => {
    expect(retryIn(answer(429, { "retry-after": "7" }), 0)).toBe(7_000);
    expect(retryIn(answer(429, { "retry-after": "7" }), 5)).toBe(7_000);
  });
});
