/** `rules email-links`: asks the worker's admin API for a campaign's links and prints them; the secret stays in the worker. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { mainAsync } from "../../rules/cli.js";

const minted = {
  site: "acme", campaign: "launch", expiresAt: Date.UTC(2027, 2, 4),
  recipients: [{ email: "dana@helios.example", lead: "ld_x", open: "https://w.example/v1/e/open/t.gif", links: [{ url: "https://acme.example/pricing", href: "https://w.example/v1/e/click/c?u=x" }] }],
};

function fakeWorker(status: number, body: unknown) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetcher = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(JSON.stringify(body), { status });
  }) as unknown as typeof fetch;
  return { calls, fetcher };
}

afterEach(() => vi.restoreAllMocks());

describe("rules email-links", () => {
  it("posts the campaign, recipients, links and life to the admin API with the admin token, and prints each link", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const { calls, fetcher } = fakeWorker(201, minted);
    const code = await mainAsync(
      ["email-links", "--site", "acme", "--campaign", "launch", "--to", "dana@helios.example, eli@helios.example", "--link", "https://acme.example/pricing", "--link", "https://acme.example/demo", "--days", "30", "--endpoint", "https://w.example/"],
      { ADMIN_TOKEN: "tok" }, fetcher,
    );
    expect(code).toBe(0);
    expect(calls[0]!.url).toBe("https://w.example/v1/admin/sites/acme/email-tokens");
    expect(new Headers(calls[0]!.init.headers).get("authorization")).toBe("Bearer tok");
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({
      campaign: "launch", recipients: ["dana@helios.example", "eli@helios.example"], links: ["https://acme.example/pricing", "https://acme.example/demo"], days: 30,
    });
    const printed = String(log.mock.calls[0]![0]);
    expect(printed).toContain("open  https://w.example/v1/e/open/t.gif");
    expect(printed).toContain("https://w.example/v1/e/click/c?u=x");
  });

  it.each([
    ["no admin token", ["--site", "acme", "--campaign", "c", "--to", "a@b.example"], {}, 201, minted, "set ADMIN_TOKEN"],
    ["no recipients", ["--site", "acme", "--campaign", "c"], { ADMIN_TOKEN: "t" }, 201, minted, "usage"],
    ["a refusal from the worker", ["--site", "acme", "--campaign", "c", "--to", "nope"], { ADMIN_TOKEN: "t" }, 400,
      { error: { message: "$.recipients[0]: expected an email address", issues: [{ path: "$.recipients[0]", message: "expected an email address" }] } }, "$.recipients[0]: expected an email address"],
  ])("fails with %s, saying why", async (_, args, env, status, body, message) => {
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const { fetcher } = fakeWorker(status, body);
    expect(await mainAsync(["email-links", ...args], env, fetcher)).toBe(1);
    expect(String(error.mock.calls[0]![0])).toContain(message);
  });
});
