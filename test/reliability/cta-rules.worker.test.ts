/**
 * Hostile CTA content from rules, worker side: 500 inline CTAs (5 sites of 100, one slot each) whose
 * titles, texts and labels carry script, published through the admin API and answered to a
 * visitor. The worker hands content over as data, byte for byte, in JSON; links are only ever http(s)
 * or relative, because a rules document with any other link is refused whole, naming each one.
 * (The snippet's side, rendering such content in Chromium, is browser/xss.browser.test.ts.)
 */
import { describe, expect, it } from "vitest";
import type { RulesInput } from "../../rules/index.js";
import { adminFetch, collectOk, pageView, putRules, siteDoc, uid } from "../worker/support/client.js";
import { record } from "./support/figures.js";

const SITES = 5;
const PER_SITE = 100;
const TEXTS = [
  "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(1)>', "</p><iframe src=javascript:alert(1)>",
  "{{constructor.constructor('alert(1)')()}}", "${alert(1)}", "<a href=javascript:alert(1)>x</a>", "\u2028<script>alert(1)</script>",
  "<style>*{background:url(javascript:alert(1))}</style>", "<!--<img src=--><img src=x onerror=alert(1)//>",
];
/** Links the rules accept however hostile their text: they are http(s) or relative, and rendered as such. */
const ACCEPTED = ["https://x.example/\"><img/src=x/onerror=alert(1)>", "/demo?q=<script>alert(1)</script>", "#\"><svg/onload=alert(1)>", "/pricing", "HTTPS://x.example/'-alert(1)-'"];
/** Links the rules refuse. */
const REFUSED = ["javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>",
  "vbscript:alert(1)", "//evil.example/x", "/\\evil.example", "\u0001javascript:alert(1)", "javascript://%0aalert(1)"];
const SAFE_LINK = /^(https?:\/\/|\/(?![/\\])|[?#])/i;

function ctas(site: number, hrefs: readonly string[]): NonNullable<RulesInput["ctas"]> {
  return Array.from({ length: PER_SITE }, (_, k) => {
    const i = site * PER_SITE + k;
    return {
      id: `cta-${k}`, kind: "inline" as const, slot: `slot-${k}`,
      variants: [{ id: "a", title: TEXTS[(i * 7) % TEXTS.length]!.slice(0, 120), text: `${TEXTS[i % TEXTS.length]!} #${i}`, button: { label: TEXTS[(i * 3) % TEXTS.length]!.slice(0, 60), href: hrefs[i % hrefs.length]! } }],
    };
  });
}

describe(`${SITES * PER_SITE} hostile CTAs published as rules`, () => {
  it("reach the visitor as the same text, with only http(s) or relative links", async () => {
    let checked = 0;
    let unsafe = 0;
    let altered = 0;
    for (let s = 0; s < SITES; s++) {
      const site = uid("xs").toLowerCase();
      const origin = `https://${site.replace(/_/g, "-")}.example`;
      const doc = siteDoc(site, origin, { ctas: ctas(s, ACCEPTED), webhooks: [] });
      const put = await putRules(site, doc);
      expect(put.status, await put.clone().text()).toBe(200);
      const answer = await collectOk(uid("v"), [pageView("/offer", {}, origin)], { site, origin, page: "/offer" });
      expect(answer.actions).toHaveLength(PER_SITE);
      const byId = new Map(doc.ctas!.map((c) => [c.id, c.variants[0]!]));
      for (const a of answer.actions) {
        const rule = byId.get(a.id)!;
        checked++;
        if (!SAFE_LINK.test(a.variant.button?.href ?? "/")) unsafe++;
        if (a.variant.text !== rule.text || a.variant.title !== rule.title || a.variant.button?.label !== rule.button?.label) altered++;
      }
    }
    console.log(`cta rules: ctas=${checked} unsafeLinks=${unsafe} altered=${altered}`);
    record("rules-cta-content", { checks: checked, xss: unsafe });
    expect({ checked, unsafe, altered }).toEqual({ checked: SITES * PER_SITE, unsafe: 0, altered: 0 });
  });

  it("are refused whole when any link is not http(s) or relative, each one named, and the running rules stay", async () => {
    const site = uid("xs").toLowerCase();
    const origin = `https://${site.replace(/_/g, "-")}.example`;
    const good = siteDoc(site, origin, { version: "good", webhooks: [] });
    expect((await putRules(site, good)).status).toBe(200);
    const bad = { ...good, version: "bad", ctas: ctas(0, REFUSED).slice(0, REFUSED.length) };
    const res = await putRules(site, bad);
    const body = (await res.json()) as { error: { code: string; issues: { path: string }[] } };
    expect(res.status).toBe(400);
    expect(body.error.code).toBe("invalid_rules");
    const hrefIssues = body.error.issues.filter((i) => /button\.href$/.test(i.path));
    expect(hrefIssues).toHaveLength(REFUSED.length);
    const running = (await (await adminFetch(`/v1/admin/sites/${site}/rules`)).json()) as { version?: string; rules?: { version: string } };
    expect(running.version ?? running.rules?.version).toBe("good");
    record("rules-cta-refused", { checks: REFUSED.length, xss: REFUSED.length - hrefIssues.length });
  });
});
