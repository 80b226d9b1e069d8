/**
 * The rules of rules/examples/saas-40.json written by hand as a chain of ifs: what a developer
 * would write for this one site, the reference the compiled engine's speed is held against.
 * Same semantics as the rules (case-insensitive text, path globs with an optional trailing slash,
 * leading numbers of "1,000-5,000"), same bookkeeping (`bookkeeping.ts`), rules counted in
 * document order.
 */
import { toNumber } from "../rules/compile-condition.js";
import type { EngineEvent } from "../rules/event.js";
import type { RulesDocument } from "../rules/schema.js";
import type { VisitorState } from "../rules/state.js";
import { createBookkeeping } from "./bookkeeping.js";

/** A hand-written scorer: updates the state in place, returns the number of ledger entries written. */
export interface HandScorer {
  newState(visitor: string): VisitorState;
  apply(state: VisitorState, event: EngineEvent, now: number): number;
}

const PAID_MEDIUMS = new Set(["cpc", "ppc", "paid", "paid-social"]);
const REVIEW_SITES = new Set(["www.g2.com", "g2.com", "www.capterra.com", "capterra.com", "www.trustradius.com"]);
const SERVED = new Set(["fr", "be", "ch", "lu", "de", "gb", "us", "ca"]);
const COMPETITORS = new Set(["competitor.example", "rival-analytics.example", "metricsly.example"]);
const DECISION_MAKER = ["director", "head of", "vp", "chief", "founder", "ceo", "cmo", "cto"];
const HANDS_ON = ["manager", "lead", "analyst", "engineer", "specialist"];
const SENIOR = ["director", "head of", "vp", "chief"];
const STUDENT = ["student", "intern"];

/** Lower-cased text of a value, as the rules compare it. */
function low(v: unknown): string | undefined {
  return typeof v === "string" ? v.toLowerCase() : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
}

function hasAny(text: string | undefined, needles: readonly string[]): boolean {
  if (text === undefined) return false;
  for (const n of needles) if (text.includes(n)) return true;
  return false;
}

/** `prefix*` as a glob: one more path segment, optionally followed by a slash. */
function oneSegmentUnder(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  const slash = path.indexOf("/", prefix.length);
  return slash < 0 || slash === path.length - 1;
}

const atLeast = (n: number | undefined, min: number): boolean => n !== undefined && n >= min;

/** Builds the if-chain scorer for the saas-40 document. */
export function createIfChain(doc: RulesDocument): HandScorer {
  const book = createBookkeeping(doc);
  const r = (id: string) => book.slot(id);
  const PAGE_VIEW = r("page-view"), PRICING = r("pricing"), PRICING_PLAN = r("pricing-plan"), CASE_STUDY = r("case-study");
  const BLOG = r("blog"), DOCS = r("docs"), INTEGRATIONS = r("integrations"), SECURITY = r("security"), COMPARISON = r("comparison");
  const CAREERS = r("careers"), EXISTING_CUSTOMER = r("existing-customer"), RETURN_VISIT = r("return-visit");
  const PAID_CAMPAIGN = r("paid-campaign"), ABM_CAMPAIGN = r("abm-campaign"), REVIEW_SITE = r("review-site");
  const PARTNER_REFERRAL = r("partner-referral"), SERVED_COUNTRY = r("served-country");
  const EMAIL_CLICK = r("email-click"), EMAIL_PRODUCT_NEWS = r("email-product-news");
  const WHITE_PAPER = r("white-paper"), WEBINAR = r("webinar"), NEWSLETTER = r("newsletter"), TRIAL_SIGNUP = r("trial-signup");
  const DEMO_REQUEST = r("demo-request"), CONTACT_SALES = r("contact-sales");
  const DEMO_CTA = r("demo-cta"), CHAT_OPEN = r("chat-open"), PDF_DOWNLOAD = r("pdf-download"), DATASHEET = r("datasheet");
  const PRICING_CALCULATOR = r("pricing-calculator"), LARGE_DEPLOYMENT = r("large-deployment"), VIDEO_WATCHED = r("video-watched");
  const UNSUBSCRIBE = r("unsubscribe");
  const CORPORATE_EMAIL = r("corporate-email"), FREE_MAIL = r("free-mail"), COMPETITOR = r("competitor");
  const DECISION_MAKER_RULE = r("decision-maker"), PRACTITIONER = r("practitioner"), STUDENT_RULE = r("student");
  const COMPANY_SIZE = r("company-size"), ENTERPRISE = r("enterprise"), TARGET_COUNTRY = r("target-country");
  if (book.slots.length !== 42) throw new Error(`the if-chain is written for the 42 rules of saas-40, the document has ${book.slots.length}`);

  function fit(s: VisitorState, e: EngineEvent, now: number, emailOk: boolean): void {
    const identity = s.identity;
    const kind = e.email !== undefined ? (emailOk ? identity.kind : undefined) : identity.kind;
    if (kind === "corporate") book.count(s, CORPORATE_EMAIL, e, now);
    if (kind === "free") book.count(s, FREE_MAIL, e, now);
    const domain = e.email !== undefined ? (emailOk ? identity.domain : undefined) : identity.domain;
    if (domain !== undefined && COMPETITORS.has(domain)) book.count(s, COMPETITOR, e, now);
    const title = low(identity.traits.job_title);
    const fieldTitle = low(e.fields?.job_title);
    if (hasAny(title, DECISION_MAKER) || hasAny(fieldTitle, DECISION_MAKER)) book.count(s, DECISION_MAKER_RULE, e, now);
    if ((hasAny(title, HANDS_ON) || hasAny(fieldTitle, HANDS_ON)) && !(hasAny(title, SENIOR) || hasAny(fieldTitle, SENIOR))) {
      book.count(s, PRACTITIONER, e, now);
    }
    if (hasAny(title, STUDENT) || hasAny(fieldTitle, STUDENT)) book.count(s, STUDENT_RULE, e, now);
    const size = toNumber(identity.traits.company_size);
    const fieldSize = toNumber(e.fields?.company_size);
    if (atLeast(size, 50) || atLeast(fieldSize, 50)) book.count(s, COMPANY_SIZE, e, now);
    if (atLeast(size, 1000) || atLeast(fieldSize, 1000)) book.count(s, ENTERPRISE, e, now);
    const country = low(identity.traits.country);
    const fieldCountry = low(e.fields?.country);
    if ((country !== undefined && SERVED.has(country)) || (fieldCountry !== undefined && SERVED.has(fieldCountry))) {
      book.count(s, TARGET_COUNTRY, e, now);
    }
  }

  function pageView(s: VisitorState, e: EngineEvent, now: number): void {
    book.count(s, PAGE_VIEW, e, now);
    const p = e.path === undefined ? "" : e.path.toLowerCase();
    if (p === "/pricing" || p === "/pricing/") book.count(s, PRICING, e, now);
    if (oneSegmentUnder(p, "/pricing/")) book.count(s, PRICING_PLAN, e, now);
    if (oneSegmentUnder(p, "/customers/")) book.count(s, CASE_STUDY, e, now);
    if (p.startsWith("/blog/")) book.count(s, BLOG, e, now);
    if (p.startsWith("/docs/")) book.count(s, DOCS, e, now);
    if (oneSegmentUnder(p, "/integrations/")) book.count(s, INTEGRATIONS, e, now);
    if (p === "/security" || p === "/security/" || p.startsWith("/trust/")) book.count(s, SECURITY, e, now);
    if (oneSegmentUnder(p, "/compare/") || oneSegmentUnder(p, "/alternatives/")) book.count(s, COMPARISON, e, now);
    if (p === "/careers" || p.startsWith("/careers/")) book.count(s, CAREERS, e, now);
    if (p === "/login" || p === "/login/" || p.startsWith("/app/")) book.count(s, EXISTING_CUSTOMER, e, now);
    if (e.landing === true && atLeast(toNumber(e.visit), 2)) book.count(s, RETURN_VISIT, e, now);
    const q = e.query;
    if (q !== undefined) {
      const medium = low(q.utm_medium);
      if (medium !== undefined && PAID_MEDIUMS.has(medium)) book.count(s, PAID_CAMPAIGN, e, now);
      if (low(q.utm_source) === "linkedin" && low(q.utm_campaign)?.startsWith("abm-") === true) book.count(s, ABM_CAMPAIGN, e, now);
    }
    const host = low(e.referrerHost);
    if (host !== undefined && REVIEW_SITES.has(host)) book.count(s, REVIEW_SITE, e, now);
    const ref = q?.ref;
    if (ref !== undefined && ref !== "") book.count(s, PARTNER_REFERRAL, e, now);
    if (e.landing === true) {
      const country = low(e.country);
      if (country !== undefined && SERVED.has(country)) book.count(s, SERVED_COUNTRY, e, now);
    }
  }

  function formSubmit(s: VisitorState, e: EngineEvent, now: number, emailOk: boolean): void {
    switch (low(e.form?.id)) {
      case "whitepaper": book.count(s, WHITE_PAPER, e, now); break;
      case "webinar": book.count(s, WEBINAR, e, now); break;
      case "newsletter": book.count(s, NEWSLETTER, e, now); break;
      case "trial": book.count(s, TRIAL_SIGNUP, e, now); break;
      case "demo-request": case "demo": book.count(s, DEMO_REQUEST, e, now); break;
      case "contact-sales": book.count(s, CONTACT_SALES, e, now); break;
    }
    fit(s, e, now, emailOk);
  }

  function custom(s: VisitorState, e: EngineEvent, now: number): void {
    switch (low(e.name)) {
      case "pricing_calculator":
        book.count(s, PRICING_CALCULATOR, e, now);
        if (atLeast(toNumber(e.props?.seats), 100)) book.count(s, LARGE_DEPLOYMENT, e, now);
        break;
      case "video_progress":
        if (atLeast(toNumber(e.props?.percent), 75)) book.count(s, VIDEO_WATCHED, e, now);
        break;
      case "unsubscribe": book.count(s, UNSUBSCRIBE, e, now); break;
    }
  }

  return {
    newState: book.newState,
    apply(s, e, now) {
      book.begin();
      const emailOk = book.identify(s, e);
      switch (e.type) {
        case "page_view": pageView(s, e, now); break;
        case "form_submit": formSubmit(s, e, now, emailOk); break;
        case "identify": fit(s, e, now, emailOk); break;
        case "custom": custom(s, e, now); break;
        case "cta_click": {
          const element = low(e.element);
          if (element?.startsWith("demo") === true) book.count(s, DEMO_CTA, e, now);
          if (element === "chat-open") book.count(s, CHAT_OPEN, e, now);
          break;
        }
        case "download": {
          const href = low(e.href);
          if (href?.endsWith(".pdf") === true) book.count(s, PDF_DOWNLOAD, e, now);
          if (href?.includes("datasheet") === true) book.count(s, DATASHEET, e, now);
          break;
        }
        case "email_click": {
          book.count(s, EMAIL_CLICK, e, now);
          if (hasAny(low(e.query?.utm_campaign), ["product-update", "release"])) book.count(s, EMAIL_PRODUCT_NEWS, e, now);
          break;
        }
      }
      book.settle(s, e, now);
      return book.ledger.length;
    },
  };
}
