/**
 * Webhook targets cannot point inside a network: private, loopback, link-local, CGNAT, multicast
 * and reserved addresses in every spelling, IPv6 local and mapped forms, and internal names are
 * refused, in production and (loopback aside) in development; the admin API refuses them with
 * the field's path and leaves the targets as they were.
 */
import { describe, expect, it } from "vitest";
import { checkTargetUrl } from "../../worker/webhooks/ssrf.js";
import { adminFetch, uid } from "./support/client.js";
import { putTarget, SECRET, storedTargets } from "./support/receiver-client.js";

/** Refused everywhere, WEBHOOK_ALLOW_LOCAL or not. */
const FORBIDDEN_ALWAYS: [string, RegExp][] = [
  ["https://10.0.0.1/hook", /private/],
  ["https://10.255.255.255/hook", /private/],
  ["https://172.16.0.1/hook", /private/],
  ["https://172.31.255.254/hook", /private/],
  ["https://192.168.1.1/hook", /private/],
  ["https://169.254.169.254/latest/meta-data/", /link-local/],
  ["https://100.64.0.1/hook", /CGNAT/],
  ["https://100.127.255.255/hook", /CGNAT/],
  ["https://0.0.0.0/hook", /this network/],
  ["https://224.0.0.1/hook", /multicast/],
  ["https://239.255.255.250/hook", /multicast/],
  ["https://240.0.0.1/hook", /reserved/],
  ["https://255.255.255.255/hook", /broadcast/],
  ["https://198.18.0.1/hook", /benchmarking/],
  ["https://192.0.2.10/hook", /documentation/],
  ["https://3232235777/hook", /private/], // 192.168.1.1 as one decimal number
  ["https://0xC0A80101/hook", /private/], // 192.168.1.1 in hex
  ["https://0300.0250.01.01/hook", /private/], // 192.168.1.1 in octal
  ["https://0xa.0.0.1/hook", /private/], // 10.0.0.1, hex first part
  ["https://10.1/hook", /private/], // 10.0.0.1, short form
  ["https://[fd00::1]/hook", /unique local/],
  ["https://[fc00:1234::1]/hook", /unique local/],
  ["https://[fe80::1]/hook", /link-local/],
  ["https://[ff02::1]/hook", /multicast/],
  ["https://[::]/hook", /unspecified/],
  ["https://[::ffff:10.0.0.1]/hook", /IPv4-mapped/],
  ["https://[::ffff:127.0.0.1]/hook", /IPv4-mapped/],
  ["https://[::ffff:169.254.169.254]/hook", /IPv4-mapped/],
  ["https://[64:ff9b::a00:1]/hook", /NAT64/],
  ["https://[2002:c0a8:101::1]/hook", /6to4/],
  ["https://metadata.google.internal/computeMetadata/v1/", /internal host name/],
  ["https://metadata/computeMetadata/v1/", /single-label/],
  ["https://intranet/hook", /single-label/],
  ["https://printer.local/hook", /internal host name \(\.local\)/],
  ["https://crm.corp/hook", /internal host name/],
  ["https://router.home.arpa/hook", /internal host name/],
  ["https://db.lan/hook", /internal host name/],
  ["https://10.0.0.1.nip.io/hook", /wildcard-DNS/],
  ["https://127.0.0.1.sslip.io/hook", /wildcard-DNS/],
  ["https://user:pass@hooks.example.com/hook", /credentials/],
  ["ftp://hooks.example.com/hook", /ftp: URLs are not allowed/],
  ["file:///etc/passwd", /file: URLs are not allowed/],
  ["http://hooks.zapier.com/hooks/catch/1/abc/", /only https/],
  ["http://10.0.0.1/hook", /private/],
  ["not a url", /not an absolute URL/],
];

/** Loopback in every spelling: refused in production, allowed with WEBHOOK_ALLOW_LOCAL. */
const LOOPBACK = [
  "http://127.0.0.1:8788/hooks/crm",
  "https://127.0.0.1/hook",
  "http://127.1/hook",
  "http://2130706433/hook",
  "http://0x7f000001/hook",
  "http://0177.0.0.1/hook",
  "http://127.255.255.254/hook",
  "http://localhost:8788/hook",
  "http://LOCALHOST./hook",
  "http://crm.localhost/hook",
  "http://[::1]:8788/hook",
];

/** Public https targets, allowed in both modes. */
const ALLOWED = [
  "https://hooks.slack.com/services/T000/B000/XXXX",
  "https://api.hubapi.com/crm/v3/objects/contacts/batch/upsert",
  "https://hooks.zapier.com/hooks/catch/123/abc/",
  "https://example.salesforce.com/services/data/v61.0/sobjects/Lead",
  "https://8.8.8.8/hook",
  "https://[2606:4700:4700::1111]/hook",
  "https://hooks.example.com:8443/in?x=1",
];

describe("target URLs in production (WEBHOOK_ALLOW_LOCAL not \"true\")", () => {
  it("has a table of at least 20 forbidden targets", () => {
    expect(FORBIDDEN_ALWAYS.length + LOOPBACK.length).toBeGreaterThanOrEqual(20);
  });

  it.each(FORBIDDEN_ALWAYS)("refuses %s", (url, why) => {
    const check = checkTargetUrl(url, { allowLocal: false });
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toMatch(why);
  });

  it.each(LOOPBACK)("refuses loopback %s", (url) => {
    const check = checkTargetUrl(url, { allowLocal: false });
    expect(check).toEqual({ ok: false, reason: expect.stringMatching(/loopback: allowed only when WEBHOOK_ALLOW_LOCAL is "true"$/) });
  });

  it.each(ALLOWED)("allows %s", (url) => {
    expect(checkTargetUrl(url, { allowLocal: false }).ok).toBe(true);
  });
});

describe("target URLs in development (WEBHOOK_ALLOW_LOCAL = \"true\")", () => {
  it.each(LOOPBACK)("allows loopback %s", (url) => {
    expect(checkTargetUrl(url, { allowLocal: true }).ok).toBe(true);
  });

  it.each(FORBIDDEN_ALWAYS)("still refuses %s", (url, why) => {
    const check = checkTargetUrl(url, { allowLocal: true });
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toMatch(why);
  });
});

describe("PUT /v1/admin/sites/:site/targets/:id", () => {
  it.each(FORBIDDEN_ALWAYS)("answers 400 naming $.url for %s, targets unchanged", async (url) => {
    const site = uid("ssrf").toLowerCase();
    expect((await putTarget(site, "crm", { url: "https://hooks.example.com/ok", template: "json", secret: SECRET })).status).toBe(201);
    const before = await storedTargets(site);
    const res = await putTarget(site, "crm", { url, template: "json", secret: SECRET });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(body.error.code).toBe("invalid_target");
    expect(body.error.issues.map((i) => i.path)).toEqual(["$.url"]);
    expect(await storedTargets(site)).toBe(before);
    const listed = (await (await adminFetch(`/v1/admin/sites/${site}/targets`)).json()) as { targets: { url: string }[] };
    expect(listed.targets.map((t) => t.url)).toEqual(["https://hooks.example.com/ok"]);
  });
});
