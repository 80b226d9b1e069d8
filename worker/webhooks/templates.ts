/**
 * Payload templates: the generic JSON the outbox stores, and the shapes HubSpot, Salesforce,
 * Slack and Zapier/Make expect. Pure functions of the stored payload, rendered with the target's
 * template at each try: every try sends the same body, and a replay what the first try sent, unless
 * the target's template was changed meanwhile (then the message goes in the new shape, same id).
 */
import type { TemplateName } from "./targets.js";

/** The generic payload written to the outbox with the stage change (see visitor-object.ts). */
export interface WebhookPayload {
  /** `visitor.*` for a visitor or a lead (a person), `account.*` for a company (worker/identity/account-object.ts). */
  type: "visitor.stage_entered" | "visitor.score_reached" | "account.stage_entered" | "account.score_reached";
  timestamp: string;
  data: {
    site: string;
    webhook: string;
    rulesVersion: string;
    visitor: {
      id: string;
      stage: string;
      scores: Record<string, number>;
      email: string | null;
      emailKind: string | null;
      traits: Record<string, string | number | boolean>;
      firstSeen: number | null;
      lastSeen: number | null;
      firstTouch: { at: number; path?: string; referrerHost?: string; source?: string; medium?: string; campaign?: string } | null;
    };
    stage?: { from: string | null; to: string; reason: string | null; skipped: string[] };
    score?: { name: string; value: number; threshold: number };
    explanation: { rule: string; description?: string; times: number; points: number }[];
    page: { path: string | null; url: string | null };
    event: string;
    /** Set when the message is about a lead: one person across visitors (`visitor.id` is then the lead id). */
    lead?: { id: string; visitors: string[]; account: string | null };
    /** Set on `account.*` messages: the company and its people (`visitor` then describes the account). */
    account?: { id: string; name: string; members: number };
  };
}

/** A rendered body, or why this payload cannot be sent with this template. */
export type Rendered = { ok: true; body: string } | { ok: false; error: string };

/** HubSpot's lifecycle stages for the funnel stage ids the rules usually use. */
export const HUBSPOT_LIFECYCLE: Record<string, string> = {
  visitor: "subscriber", subscriber: "subscriber", lead: "lead", mql: "marketingqualifiedlead",
  sql: "salesqualifiedlead", opportunity: "opportunity", customer: "customer",
};

/** Salesforce Lead Status for the funnel stage ids the rules usually use. */
export const SALESFORCE_STATUS: Record<string, string> = {
  visitor: "Open - Not Contacted", lead: "Open - Not Contacted", mql: "Working - Contacted", sql: "Qualified",
};

/** Rules listed in a Slack message. */
const SLACK_RULES_MAX = 5;

/** Renders the body a target receives; `messageId` is the webhook-id of every try. */
export function render(template: TemplateName, payload: WebhookPayload, messageId: string): Rendered {
  switch (template) {
    case "json": return ok(payload);
    case "hubspot": return hubspot(payload);
    case "salesforce": return ok(salesforce(payload));
    case "slack": return ok(slack(payload));
    case "zapier": return ok(zapier(payload, messageId));
  }
}

function ok(body: unknown): Rendered {
  return { ok: true, body: JSON.stringify(body) };
}

/** The stage the message is about: the one entered, or the visitor's current one. */
function stageOf(p: WebhookPayload): string {
  return p.data.stage?.to ?? p.data.visitor.stage;
}

function trait(p: WebhookPayload, ...names: string[]): string | null {
  for (const n of names) {
    const v = p.data.visitor.traits[n];
    if (v !== undefined && v !== "") return String(v);
  }
  return null;
}

/** First and last name from the traits (`firstName`/`lastName`, or one `name` split at its last space). */
function names(p: WebhookPayload): { first: string | null; last: string | null } {
  const first = trait(p, "firstName", "first_name", "firstname");
  const last = trait(p, "lastName", "last_name", "lastname");
  if (first || last) return { first, last };
  const full = trait(p, "name", "fullName", "full_name");
  if (!full) return { first: null, last: null };
  const i = full.trim().lastIndexOf(" ");
  return i < 0 ? { first: null, last: full.trim() } : { first: full.slice(0, i).trim(), last: full.slice(i + 1).trim() };
}

function company(p: WebhookPayload): string | null {
  return trait(p, "company", "companyName", "company_name", "organization");
}

function jobTitle(p: WebhookPayload): string | null {
  return trait(p, "title", "jobTitle", "job_title");
}

function score(p: WebhookPayload, group: string): number {
  return p.data.visitor.scores[group] ?? 0;
}

/** One line saying why: the stage change's reason, or the score reached. */
function why(p: WebhookPayload): string {
  if (p.data.stage) return p.data.stage.reason ?? `entered ${p.data.stage.to}`;
  const s = p.data.score!;
  return `${s.name} score reached ${s.value} (threshold ${s.threshold})`;
}

function topRules(p: WebhookPayload, max: number): string[] {
  return p.data.explanation.slice(0, max).map((r) => `${r.description ?? r.rule} (${r.points >= 0 ? "+" : ""}${round(r.points)})`);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/**
 * HubSpot batch upsert by email (`POST /crm/v3/objects/contacts/batch/upsert`): lifecycle stage
 * plus mql-edge properties (create them as custom contact properties in HubSpot).
 */
function hubspot(p: WebhookPayload): Rendered {
  const email = p.data.visitor.email;
  if (!email) return { ok: false, error: "template hubspot upserts contacts by email, and this visitor has not given one" };
  const { first, last } = names(p);
  const properties: Record<string, string> = {
    email,
    mql_edge_stage: stageOf(p),
    mql_edge_score: String(round(score(p, "total"))),
    mql_edge_fit_score: String(round(score(p, "fit"))),
    mql_edge_engagement_score: String(round(score(p, "engagement"))),
    mql_edge_reason: why(p),
    mql_edge_visitor_id: p.data.visitor.id,
  };
  const lifecycle = HUBSPOT_LIFECYCLE[stageOf(p)];
  if (lifecycle) properties.lifecyclestage = lifecycle;
  if (first) properties.firstname = first;
  if (last) properties.lastname = last;
  const org = company(p);
  if (org) properties.company = org;
  const title = jobTitle(p);
  if (title) properties.jobtitle = title;
  return ok({ inputs: [{ idProperty: "email", id: email, properties }] });
}

/** Salesforce Lead fields (standard ones, plus mql-edge custom fields ending in `__c`). */
function salesforce(p: WebhookPayload) {
  const { first, last } = names(p);
  const ft = p.data.visitor.firstTouch;
  return {
    FirstName: first,
    LastName: last ?? p.data.visitor.email ?? "[not provided]",
    Email: p.data.visitor.email,
    Company: company(p) ?? "[not provided]",
    Title: jobTitle(p),
    Phone: trait(p, "phone"),
    LeadSource: ft?.source ?? (ft?.referrerHost ? "Web Referral" : "Web"),
    Status: SALESFORCE_STATUS[stageOf(p)] ?? "Open - Not Contacted",
    Description: `${why(p)}. ${topRules(p, SLACK_RULES_MAX).join("; ")}`,
    MQL_Edge_Stage__c: stageOf(p),
    MQL_Edge_Score__c: round(score(p, "total")),
    MQL_Edge_Fit_Score__c: round(score(p, "fit")),
    MQL_Edge_Engagement_Score__c: round(score(p, "engagement")),
    MQL_Edge_Visitor_Id__c: p.data.visitor.id,
  };
}

/** The longest URL a Slack button takes. */
const SLACK_URL_MAX = 3000;

/** Slack's mrkdwn treats &, < and > as markup (`<!channel>` pings everyone): visitor text is escaped. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A Slack incoming webhook message: text for notifications, blocks for who, which stage, why, and a link. */
function slack(p: WebhookPayload) {
  const { first, last } = names(p);
  const person = [first, last].filter(Boolean).join(" ");
  const who = slackEscape(person || p.data.visitor.email || `visitor ${p.data.visitor.id}`);
  const org = company(p);
  const stage = slackEscape(stageOf(p).toUpperCase());
  const text = `${who}${org ? ` (${slackEscape(org)})` : ""} is now ${stage}: ${slackEscape(why(p))}`;
  const fields = [
    `*Stage*\n${stage}`,
    `*Score*\n${round(score(p, "total"))} (fit ${round(score(p, "fit"))}, engagement ${round(score(p, "engagement"))})`,
    `*Email*\n${p.data.visitor.email ? slackEscape(p.data.visitor.email) : "not given"}`,
    `*Source*\n${slackEscape(p.data.visitor.firstTouch?.source ?? p.data.visitor.firstTouch?.referrerHost ?? "direct")}`,
  ];
  const blocks: object[] = [
    { type: "section", text: { type: "mrkdwn", text: `*${text}*` } },
    { type: "section", fields: fields.map((f) => ({ type: "mrkdwn", text: f })) },
    { type: "section", text: { type: "mrkdwn", text: `*Why*\n${topRules(p, SLACK_RULES_MAX).map((r) => `• ${slackEscape(r)}`).join("\n") || "no rule counted"}` } },
  ];
  // Slack refuses a button URL past 3,000 characters (the whole message with it): a long tracking
  // query is left off, and a page whose path alone is too long gets no button.
  const page = p.data.page.url;
  const link = page && page.length > SLACK_URL_MAX ? page.replace(/[?#].*$/, "") : page;
  if (link && link.length <= SLACK_URL_MAX && /^https?:\/\//i.test(link)) {
    blocks.push({ type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: "Open the page they were on" }, url: link }] });
  }
  return { text, blocks };
}

/** Zapier/Make catch hooks map flat keys best: one level, scalar values only. */
function zapier(p: WebhookPayload, messageId: string) {
  const v = p.data.visitor;
  const ft = v.firstTouch;
  const flat: Record<string, string | number | boolean | null> = {
    id: messageId,
    event: p.type,
    occurred_at: p.timestamp,
    site: p.data.site,
    webhook: p.data.webhook,
    visitor_id: v.id,
    stage: stageOf(p),
    stage_from: p.data.stage?.from ?? null,
    reason: why(p),
    score_total: round(score(p, "total")),
    score_fit: round(score(p, "fit")),
    score_engagement: round(score(p, "engagement")),
    email: v.email,
    email_kind: v.emailKind,
    first_name: names(p).first,
    last_name: names(p).last,
    company: company(p),
    title: jobTitle(p),
    utm_source: ft?.source ?? null,
    utm_medium: ft?.medium ?? null,
    utm_campaign: ft?.campaign ?? null,
    referrer_host: ft?.referrerHost ?? null,
    landing_path: ft?.path ?? null,
    page_path: p.data.page.path,
    page_url: p.data.page.url,
    top_rules: topRules(p, SLACK_RULES_MAX).join("; "),
  };
  for (const [k, value] of Object.entries(v.traits)) {
    const key = `trait_${k.replace(/[^\w]/g, "_")}`;
    if (!(key in flat)) flat[key] = value;
  }
  return flat;
}
