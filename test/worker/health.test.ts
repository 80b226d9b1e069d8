import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

describe("the worker", () => {
  it("answers its health check", async () => {
    const res = await SELF.fetch("https://edge.test/v1/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });
});
