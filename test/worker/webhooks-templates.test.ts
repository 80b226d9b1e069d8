/**
 * Each template's payload, field by field: generic JSON, HubSpot contact upsert, Salesforce Lead,
 * Slack message, Zapier flat JSON; then each one end to end through the receiver.
 */
import { describe, expect, it } from "vitest";
import type { TemplateName } from "../../worker/webhooks/targets.js";
import { render, type WebhookPayload } from "../../worker/webhooks/templates.js";
import { collectOk, event, pageView, uid } from "./support/client.js";
import { deliveries, fireUntil, hookUrl, qualifyingSite } from "./support/receiver-client.js";

const MSG = "msg_0123456789abcdef0123456789abcdef";

const PAYLOAD: WebhookPayload = {
  type: "visitor.stage_entered",
  timestamp: "2026-12-03T10:00:00.000Z",
  data: {
    site: "demo",
    webhook: "crm-qualified",
    rulesVersion: "2026-12-03.1",
    visitor: {
      id: "v_1234567890",
      stage: "mql",
      scores: { fit: 35, engagement: 52.25, total: 87.25 },
      email: "ada@acme-logistics.example",
      emailKind: "corporate",
      traits: { name: "Ada Lovelace", company: "Acme Logistics", job_title: "VP Sales", phone: "+33 1 23 45 67 89", employees: 250 },
      firstSeen: 1_764_700_000_000,
      lastSeen: 1_764_756_000_000,
      firstTouch: { at: 1_764_700_000_000, path: "/blog/mql-vs-sql", referrerHost: "www.google.com", source: "newsletter", medium: "email", campaign: "dec-2026" },
    },
    stage: { from: "lead", to: "mql", reason: "total 87.25 >= 80", skipped: [] },
    explanation: [
      { rule: "pricing-view", description: "Viewed the pricing page", times: 3, points: 30 },
      { rule: "corporate-email", description: "Corporate email", times: 1, points: 25 },
      { rule: "case-study", times: 2, points: 12.25 },
    ],
    page: { path: "/pricing", url: "https://www.northwind.example/pricing" },
    event: "ev_abcdef123456",
  },
};

function body(template: TemplateName, payload: WebhookPayload = PAYLOAD): unknown {
  const out = render(template, payload, MSG);
  if (!out.ok) throw new Error(out.error);
  return JSON.parse(out.body);
}

function withVisitor(patch: Partial<WebhookPayload["data"]["visitor"]>): WebhookPayload {
  return { ...PAYLOAD, data: { ...PAYLOAD.data, visitor: { ...PAYLOAD.data.visitor, ...patch } } };
}

describe("templates", () => {
  it("json: the stored payload as is", () => {
    expect(body("json")).toEqual(PAYLOAD);
  });

  it("hubspot: a batch upsert by email with lifecycle stage and score properties", () => {
    expect(body("hubspot")).toEqual({
      inputs: [{
        idProperty: "email",
        id: "ada@acme-logistics.example",
        properties: {
          email: "ada@acme-logistics.example",
          lifecyclestage: "marketingqualifiedlead",
          mql_edge_stage: "mql",
          mql_edge_score: "87.3",
          mql_edge_fit_score: "35",
          mql_edge_engagement_score: "52.3",
          mql_edge_reason: "total 87.25 >= 80",
          mql_edge_visitor_id: "v_1234567890",
          firstname: "Ada",
          lastname: "Lovelace",
          company: "Acme Logistics",
          jobtitle: "VP Sales",
        },
      }],
    });
  });

  it.each([
    ["visitor", "subscriber"], ["lead", "lead"], ["mql", "marketingqualifiedlead"], ["sql", "salesqualifiedlead"], ["custom-stage", undefined],
  ])("hubspot: stage %s is lifecycle stage %s", (stage, lifecycle) => {
    const p = { ...PAYLOAD, data: { ...PAYLOAD.data, stage: { ...PAYLOAD.data.stage!, to: stage } } };
    const props = (body("hubspot", p) as { inputs: { properties: Record<string, string> }[] }).inputs[0]!.properties;
    expect(props.lifecyclestage).toBe(lifecycle);
    expect(props.mql_edge_stage).toBe(stage);
  });

  it("hubspot: cannot upsert a visitor without an email, and says so", () => {
    expect(render("hubspot", withVisitor({ email: null }), MSG)).toEqual({
      ok: false, error: "template hubspot upserts contacts by email, and this visitor has not given one",
    });
  });

  it("salesforce: Lead fields", () => {
    expect(body("salesforce")).toEqual({
      FirstName: "Ada",
      LastName: "Lovelace",
      Email: "ada@acme-logistics.example",
      Company: "Acme Logistics",
      Title: "VP Sales",
      Phone: "+33 1 23 45 67 89",
      LeadSource: "newsletter",
      Status: "Working - Contacted",
      Description: "total 87.25 >= 80. Viewed the pricing page (+30); Corporate email (+25); case-study (+12.3)",
      MQL_Edge_Stage__c: "mql",
      MQL_Edge_Score__c: 87.3,
      MQL_Edge_Fit_Score__c: 35,
      MQL_Edge_Engagement_Score__c: 52.3,
      MQL_Edge_Visitor_Id__c: "v_1234567890",
    });
  });

  it("salesforce: an anonymous visitor still makes a valid Lead (LastName and Company are required)", () => {
    const lead = body("salesforce", withVisitor({ email: null, traits: {}, firstTouch: null })) as Record<string, unknown>;
    expect([lead.FirstName, lead.LastName, lead.Email, lead.Company, lead.LeadSource]).toEqual([null, "[not provided]", null, "[not provided]", "Web"]);
  });

  it("slack: text plus blocks saying who, which stage, why, with a link", () => {
    expect(body("slack")).toEqual({
      text: "Ada Lovelace (Acme Logistics) is now MQL: total 87.25 &gt;= 80",
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: "*Ada Lovelace (Acme Logistics) is now MQL: total 87.25 &gt;= 80*" } },
        {
          type: "section",
          fields: [
            { type: "mrkdwn", text: "*Stage*\nMQL" },
            { type: "mrkdwn", text: "*Score*\n87.3 (fit 35, engagement 52.3)" },
            { type: "mrkdwn", text: "*Email*\nada@acme-logistics.example" },
            { type: "mrkdwn", text: "*Source*\nnewsletter" },
          ],
        },
        { type: "section", text: { type: "mrkdwn", text: "*Why*\n• Viewed the pricing page (+30)\n• Corporate email (+25)\n• case-study (+12.3)" } },
        { type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: "Open the page they were on" }, url: "https://www.northwind.example/pricing" }] },
      ],
    });
  });

  it.each([
    ["a long tracking query: left off", `https://www.northwind.example/pricing?gclid=${"x".repeat(3200)}`, "https://www.northwind.example/pricing"],
    ["a path too long on its own: no button", `https://www.northwind.example/${"p".repeat(3100)}`, undefined],
  ])("slack: a page URL past Slack's 3,000 characters, %s", (_, url, button) => {
    const msg = body("slack", { ...PAYLOAD, data: { ...PAYLOAD.data, page: { ...PAYLOAD.data.page, url } } }) as { blocks: { type: string; elements?: { url: string }[] }[] };
    expect(msg.blocks.find((b) => b.type === "actions")?.elements?.[0]?.url).toBe(button);
  });

  it("slack: visitor-supplied text cannot ping a channel or inject links", () => {
    const msg = body("slack", withVisitor({ traits: { name: "<!channel> <https://evil.example|click> & co" } })) as { text: string };
    expect(msg.text).toBe("&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co is now MQL: total 87.25 &gt;= 80");
  });

  it("zapier: one flat level of scalars", () => {
    expect(body("zapier")).toEqual({
      id: MSG,
      event: "visitor.stage_entered",
      occurred_at: "2026-12-03T10:00:00.000Z",
      site: "demo",
      webhook: "crm-qualified",
      visitor_id: "v_1234567890",
      stage: "mql",
      stage_from: "lead",
      reason: "total 87.25 >= 80",
      score_total: 87.3,
      score_fit: 35,
      score_engagement: 52.3,
      email: "ada@acme-logistics.example",
      email_kind: "corporate",
      first_name: "Ada",
      last_name: "Lovelace",
      company: "Acme Logistics",
      title: "VP Sales",
      utm_source: "newsletter",
      utm_medium: "email",
      utm_campaign: "dec-2026",
      referrer_host: "www.google.com",
      landing_path: "/blog/mql-vs-sql",
      page_path: "/pricing",
      page_url: "https://www.northwind.example/pricing",
      top_rules: "Viewed the pricing page (+30); Corporate email (+25); case-study (+12.3)",
      trait_name: "Ada Lovelace",
      trait_company: "Acme Logistics",
      trait_job_title: "VP Sales",
      trait_phone: "+33 1 23 45 67 89",
      trait_employees: 250,
    });
  });

  it("score_reached messages explain the score instead of a stage change", () => {
    const p: WebhookPayload = { ...PAYLOAD, type: "visitor.score_reached", data: { ...PAYLOAD.data, stage: undefined, score: { name: "total", value: 87.25, threshold: 80 } } };
    const flat = body("zapier", p) as Record<string, unknown>;
    expect([flat.event, flat.stage, flat.stage_from, flat.reason]).toEqual(["visitor.score_reached", "mql", null, "total score reached 87.25 (threshold 80)"]);
  });
});

describe("templates end to end", () => {
  it.each(["json", "hubspot", "salesforce", "slack", "zapier"] as const)("%s: the receiver gets the rendered payload of the stored message, signed", async (template) => {
    const name = uid(template);
    const { site, origin } = await qualifyingSite(hookUrl(name), { template }, { pageViewPoints: 25 });
    const visitor = uid("v");
    await collectOk(visitor, [
      pageView("/blog?utm_source=newsletter&utm_campaign=dec", {}, origin),
      event("identify", { email: "grace@hopper-logistics.example", traits: { name: "Grace Hopper", company: "Hopper Logistics" } }),
      pageView("/pricing", {}, origin),
    ], { site, origin });
    const [message] = await fireUntil(site, visitor, (m) => m.length === 1 && m[0]!.status === "delivered");
    const [got] = await deliveries(name);
    expect(got).toMatchObject({ verified: true, webhookId: message!.id });
    const b = got!.body as Record<string, unknown>;
    const expected: Record<TemplateName, (b: any) => unknown[]> = {
      json: (b) => [b.data.visitor.email, b.data.visitor.traits.company, b.data.stage.to, b.data.visitor.firstTouch.source, b.data.page.path],
      hubspot: (b) => [b.inputs[0].id, b.inputs[0].properties.company, b.inputs[0].properties.lifecyclestage, b.inputs[0].properties.firstname, b.inputs[0].properties.mql_edge_score],
      salesforce: (b) => [b.Email, b.Company, b.Status, b.LeadSource, b.LastName],
      slack: (b) => [b.text, b.blocks.length],
      zapier: (b) => [b.email, b.company, b.stage, b.utm_source, b.page_path],
    };
    const want: Record<TemplateName, unknown[]> = {
      json: ["grace@hopper-logistics.example", "Hopper Logistics", "mql", "newsletter", "/pricing"],
      hubspot: ["grace@hopper-logistics.example", "Hopper Logistics", "marketingqualifiedlead", "Grace", "50"],
      salesforce: ["grace@hopper-logistics.example", "Hopper Logistics", "Working - Contacted", "newsletter", "Hopper"],
      slack: [expect.stringMatching(/^Grace Hopper \(Hopper Logistics\) is now MQL: /), 4],
      zapier: ["grace@hopper-logistics.example", "Hopper Logistics", "mql", "newsletter", "/pricing"],
    };
    expect(expected[template](b)).toEqual(want[template]);
  });
});
