import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import app from "../../worker/index.js";
import { collect, ORIGIN, pageView, seedRules, uid } from "./support/client.js";

beforeAll(() => seedRules());

const view = (site: string, visitor: string, headers: Record<string, string> = { origin: ORIGIN }) =>
  SELF.fetch(`http://mql.test/v1/visitors/${site}/${visitor}`, { headers });

describe("a visitor's own view of its score", () => {
  it("shows the stage, the scores and the explanation of every point, without the outbox", async () => {
    const visitor = uid("v");
    expect((await collect(visitor, [pageView("/"), pageView("/pricing")])).status).toBe(200);
    const res = await view("demo", visitor);
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as { stage: string; scores: Record<string, number>; explanation: { rules: { rule: string }[] }; outbox?: unknown };
    expect(body.stage).toBe("visitor");
    expect(body.scores.total).toBeGreaterThan(10);
    expect(body.explanation.rules.map((r) => r.rule)).toContain("pricing");
    expect(body.outbox).toBeUndefined();
  });

  it.each([
    ["a site id that is not one", "Bad Site!", "visitor_12345678", 400, "invalid_site"],
    ["a visitor id that is too short", "demo", "short", 400, "invalid_visitor"],
    ["an unknown site", "nosuchsite", "visitor_12345678", 404, "unknown_site"],
    ["a visitor never seen", "demo", "visitor_never_seen_1", 404, "unknown_visitor"],
  ])("answers %s with %i %s", async (_, site, visitor, status, code) => {
    const res = await view(encodeURIComponent(site), visitor);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  it("refuses another site's pages", async () => {
    const visitor = uid("v");
    await collect(visitor, [pageView("/")]);
    const res = await view("demo", visitor, { origin: "https://evil.example" });
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("is off unless VISITOR_SELF_VIEW is \"true\"", async () => {
    const visitor = uid("v");
    await collect(visitor, [pageView("/")]);
    const req = () => new Request(`http://mql.test/v1/visitors/demo/${visitor}`, { headers: { origin: ORIGIN } });
    for (const value of [undefined, "false", "1"]) {
      const res = await app.fetch(req(), { ...env, VISITOR_SELF_VIEW: value });
      expect(res.status, `VISITOR_SELF_VIEW=${value}`).toBe(404);
    }
    expect((await app.fetch(req(), { ...env, VISITOR_SELF_VIEW: "true" })).status).toBe(200);
  });
});
