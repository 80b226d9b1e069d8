/** The demo's CRM inbox keeps every webhook it receives and says whether its Standard Webhooks signature holds. */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations
import { startCrmInbox } from "../../scripts/crm-inbox.mjs";

const secret = `whsec_${randomBytes(32).toString("base64")}`;
let inbox: { server: Server; url: string };

beforeAll(async () => {
  inbox = await startCrmInbox({ port: 0, secret });
});
afterAll(() => new Promise<void>((r) => inbox.server.close(() => r())));

const payload = (stage: string) =>
  JSON.stringify({ type: "visitor.stage_entered", data: { visitor: { id: "visitor-123", email: "dana@helios.example" }, stage: { to: stage }, explanation: [{ rule: "pricing", description: "Viewed pricing", points: 20 }] } });

function post(body: string, headers: Record<string, string>) {
  return fetch(`${inbox.url}/hooks/crm`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
}

function signed(signer: Webhook, id: string, body: string) {
  const now = new Date();
  return { "webhook-id": id, "webhook-timestamp": String(Math.floor(now.getTime() / 1000)), "webhook-signature": signer.sign(id, now, body) };
}

describe("the CRM inbox", () => {
  it.each([
    { case: "a webhook signed with the shared secret", sign: (body: string) => signed(new Webhook(secret), "msg_ok", body), status: 204, verified: true },
    { case: "a webhook signed with another secret", sign: (body: string) => signed(new Webhook(`whsec_${randomBytes(32).toString("base64")}`), "msg_other", body), status: 401, verified: false },
    { case: "a webhook without signature headers", sign: () => ({}), status: 401, verified: false },
  ])("$case: answers $status and records verified=$verified", async ({ sign, status, verified }) => {
    const body = payload("mql");
    const res = await post(body, sign(body));
    expect(res.status).toBe(status);
    const last = ((await (await fetch(`${inbox.url}/api/webhooks`)).json()) as Record<string, unknown>[]).at(-1)!;
    expect(last).toMatchObject({ verified, type: "visitor.stage_entered", stage: "mql", visitor: "visitor-123", email: "dana@helios.example" });
  });

  it("rejects a signed webhook whose body was changed on the way", async () => {
    const headers = signed(new Webhook(secret), "msg_tampered", payload("mql"));
    expect((await post(payload("sql"), headers)).status).toBe(401);
  });

  it("marks a second delivery of the same webhook-id as a retry", async () => {
    const body = payload("sql");
    await post(body, signed(new Webhook(secret), "msg_twice", body));
    await post(body, signed(new Webhook(secret), "msg_twice", body));
    const twice = ((await (await fetch(`${inbox.url}/api/webhooks`)).json()) as { id: string; duplicate: boolean }[]).filter((r) => r.id === "msg_twice");
    expect(twice.map((r) => r.duplicate)).toEqual([false, true]);
  });

  it("lists what it received on its page, escaped", async () => {
    const body = payload("mql").replace("Viewed pricing", "<img src=x onerror=alert(1)>");
    await post(body, signed(new Webhook(secret), "msg_html", body));
    const html = await (await fetch(`${inbox.url}/`)).text();
    expect(html).not.toContain("<img");
    expect(html).toContain("&#60;img src=x onerror=alert(1)&#62;");
    expect(html).toContain("dana@helios.example");
    expect(html).toContain("msg_ok");
    expect(html).toContain("Viewed pricing");
  });
});
