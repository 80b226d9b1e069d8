/**
 * Synthetic traffic for the rules benchmark: visitors of a B2B SaaS site (casual readers,
 * researchers, buyers, job seekers, customers, students) browsing over eight weeks, as the
 * worker would hand them to the engine: already-normalised events, in time order, generated
 * from a seeded PRNG so every run scores exactly the same traffic.
 */
import type { EngineEvent } from "../rules/event.js";

/** Every event of the run in time order, with who sent it and when. */
export interface Workload {
  events: EngineEvent[];
  /** Index into `visitors` of each event's visitor. */
  visitorOf: Int32Array;
  /** Each event's time (ms since epoch), non-decreasing. */
  at: Float64Array;
  visitors: string[];
}

/** Options of `generateWorkload`. */
export interface WorkloadOptions {
  seed: number;
  visitors: number;
  /** Monday 2 November 2026, 00:00 UTC unless told. */
  startMs?: number;
  /** How long first visits are spread over. */
  spreadDays?: number;
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** mulberry32: small, fast, and good enough to draw traffic from. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
type Weighted<T> = ReadonlyArray<readonly [T, number]>;

function pick<T>(rand: Rand, items: Weighted<T>): T {
  let total = 0;
  for (const [, w] of items) total += w;
  let point = rand() * total;
  for (const [item, w] of items) {
    point -= w;
    if (point < 0) return item;
  }
  return items[items.length - 1]![0];
}
const oneOf = <T>(rand: Rand, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
const chance = (rand: Rand, p: number): boolean => rand() < p;
/** 0, 1, 2... with mean `mean`. */
const geometric = (rand: Rand, mean: number): number => Math.floor(Math.log(1 - rand()) / Math.log(mean / (mean + 1)));

const PAGES = {
  home: ["/", "/product", "/product/attribution", "/product/scoring", "/about", "/contact"],
  pricing: ["/pricing", "/pricing", "/pricing/", "/Pricing", "/pricing/team", "/pricing/enterprise"],
  customers: ["/customers", "/customers/acme", "/customers/globex", "/customers/initech/", "/customers/umbrella"],
  blog: ["/blog", "/blog/2026/lead-scoring-guide", "/blog/2026/utm-hygiene", "/blog/tags/analytics", "/blog/2025/mql-vs-sql"],
  docs: ["/docs/getting-started", "/docs/api/events", "/docs/sdk/install", "/docs/rules/conditions"],
  integrations: ["/integrations", "/integrations/salesforce", "/integrations/hubspot", "/integrations/pipedrive"],
  trust: ["/security", "/trust/soc2", "/trust/gdpr/dpa"],
  compare: ["/compare/hubspot", "/alternatives/mixpanel", "/compare/6sense/"],
  careers: ["/careers", "/careers/engineering/backend-developer", "/careers/sales/account-executive"],
  app: ["/login", "/app/dashboard", "/app/rules/edit"],
  resources: ["/resources/benchmark-report", "/webinars/2026-12-pipeline", "/demo"],
} as const;
type Section = keyof typeof PAGES;

interface Persona {
  name: string;
  share: number;
  /** Mean number of visits after the first. */
  returns: number;
  /** Mean number of pages after the landing page. */
  depth: number;
  sections: Weighted<Section>;
  forms: Weighted<string>;
  /** Chance per page of a form, a CTA click, a download, a custom event. */
  form: number;
  click: number;
  download: number;
  custom: number;
  titles: readonly string[];
  sizes: readonly string[];
  /** Chance of a free-mail or a competitor's address. */
  freeMail: number;
  competitor: number;
}

const PERSONAS: readonly Persona[] = [
  {
    name: "reader", share: 54, returns: 0.6, depth: 2,
    sections: [["home", 4], ["blog", 6], ["customers", 1], ["pricing", 1], ["docs", 1], ["integrations", 1], ["resources", 1]],
    forms: [["newsletter", 6], ["whitepaper", 2], ["webinar", 1]],
    form: 0.015, click: 0.03, download: 0.01, custom: 0.1,
    titles: ["Marketing Manager", "Consultant", "Growth Marketer", "Content Lead", "Freelance"],
    sizes: ["1-10", "11-50", "51-200"], freeMail: 0.6, competitor: 0.01,
  },
  {
    name: "researcher", share: 22, returns: 1.6, depth: 3.6,
    sections: [["home", 3], ["pricing", 3], ["customers", 3], ["integrations", 2], ["compare", 2], ["docs", 2], ["blog", 2], ["trust", 1], ["resources", 1]],
    forms: [["whitepaper", 4], ["webinar", 3], ["newsletter", 2], ["trial", 1]],
    form: 0.05, click: 0.06, download: 0.05, custom: 0.12,
    titles: ["Marketing Manager", "Head of Growth", "Revenue Operations Analyst", "Marketing Director", "Sales Engineer", "Demand Generation Lead"],
    sizes: ["11-50", "51-200", "201-1,000", "250", "1,000-5,000"], freeMail: 0.25, competitor: 0.03,
  },
  {
    name: "buyer", share: 6, returns: 3, depth: 5,
    sections: [["pricing", 5], ["customers", 3], ["trust", 2], ["compare", 2], ["integrations", 2], ["home", 2], ["resources", 2], ["docs", 1]],
    forms: [["demo-request", 3], ["contact-sales", 2], ["trial", 2], ["webinar", 1], ["demo", 1]],
    form: 0.04, click: 0.08, download: 0.06, custom: 0.12,
    titles: ["VP Marketing", "Chief Revenue Officer", "Head of Sales", "Marketing Director", "CEO & Founder", "RevOps Manager"],
    sizes: ["51-200", "201-1,000", "1,000-5,000", "5000+", "120"], freeMail: 0.08, competitor: 0.01,
  },
  {
    name: "job-seeker", share: 6, returns: 0.8, depth: 2.5,
    sections: [["careers", 6], ["home", 2], ["blog", 1], ["customers", 1]],
    forms: [["newsletter", 1]],
    form: 0.01, click: 0.01, download: 0.0, custom: 0.02,
    titles: ["Software Engineer", "Student", "Account Executive"],
    sizes: ["1-10"], freeMail: 0.9, competitor: 0.05,
  },
  {
    name: "customer", share: 7, returns: 3, depth: 2,
    sections: [["app", 6], ["docs", 4], ["integrations", 1], ["blog", 1], ["pricing", 1]],
    forms: [["webinar", 1], ["newsletter", 1]],
    form: 0.01, click: 0.02, download: 0.02, custom: 0.06,
    titles: ["Marketing Operations Manager", "Data Engineer", "Head of Marketing"],
    sizes: ["51-200", "201-1,000"], freeMail: 0.05, competitor: 0.0,
  },
  {
    name: "student", share: 5, returns: 0.6, depth: 3,
    sections: [["blog", 4], ["docs", 2], ["home", 2], ["resources", 1]],
    forms: [["whitepaper", 3], ["newsletter", 1]],
    form: 0.04, click: 0.01, download: 0.04, custom: 0.03,
    titles: ["Student", "Marketing Intern", "MBA Student"],
    sizes: ["1-10", "5"], freeMail: 0.95, competitor: 0.0,
  },
];

const FREE_DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.fr", "icloud.com", "proton.me"];
const CORPORATE_DOMAINS = ["acme-corp.example", "globex.example", "initech.example", "umbrella.example", "hooli.example", "stark-industries.example", "wayne.example", "cyberdyne.example"];
const COMPETITOR_DOMAINS = ["competitor.example", "rival-analytics.example", "metricsly.example"];
const COUNTRIES: Weighted<string> = [["US", 30], ["FR", 14], ["GB", 10], ["DE", 10], ["IN", 8], ["CA", 5], ["BR", 5], ["ES", 5], ["NL", 4], ["BE", 3], ["CH", 2], ["LU", 1], ["JP", 3]];
const REFERRERS: Weighted<string | undefined> = [[undefined, 40], ["www.google.com", 35], ["www.bing.com", 4], ["www.linkedin.com", 8], ["www.g2.com", 3], ["www.capterra.com", 2], ["news.ycombinator.com", 2], ["partner-agency.example", 2]];
const CAMPAIGNS: Weighted<Record<string, string> | undefined> = [
  [undefined, 70],
  [{ utm_source: "google", utm_medium: "cpc", utm_campaign: "brand-2026" }, 8],
  [{ utm_source: "linkedin", utm_medium: "paid-social", utm_campaign: "abm-enterprise-q4" }, 4],
  [{ utm_source: "linkedin", utm_medium: "social", utm_campaign: "launch-week" }, 4],
  [{ utm_source: "bing", utm_medium: "ppc", utm_campaign: "competitor-terms" }, 3],
  [{ utm_source: "newsletter", utm_medium: "email", utm_campaign: "monthly-digest" }, 5],
  [{ ref: "agency-42" }, 3],
  [{ utm_source: "twitter", utm_medium: "social" }, 3],
];
const EMAIL_CAMPAIGNS = ["product-update-nov", "release-4-2", "webinar-invite", "monthly-digest", "case-study-globex"];
const CTA_IDS: Weighted<string> = [["demo-header", 4], ["demo-offer", 2], ["chat-open", 3], ["pricing-compare", 2], ["newsletter-footer", 2], ["Demo-Pricing", 1]];
const DOWNLOADS = ["/files/lumen-datasheet.pdf", "/files/benchmark-report-2026.pdf", "/files/Security-Overview.PDF", "/files/datasheet-enterprise.docx", "/files/brand-kit.zip"];

interface Draft {
  at: number;
  visitor: number;
  event: Omit<EngineEvent, "id">;
}

/**
 * Draws the traffic of `visitors` visitors. Deterministic for a seed. About ten events per visitor:
 * mostly page views, then CTA clicks, custom events, form submits, identify calls, downloads and
 * email clicks.
 */
export function generateWorkload(options: WorkloadOptions): Workload {
  const rand = prng(options.seed);
  const start = options.startMs ?? Date.UTC(2026, 10, 2);
  const spread = (options.spreadDays ?? 56) * DAY_MS;
  const drafts: Draft[] = [];
  const visitors: string[] = [];
  const personas: Weighted<Persona> = PERSONAS.map((p) => [p, p.share] as const);

  for (let v = 0; v < options.visitors; v++) {
    visitors.push(`v-${v.toString(36).padStart(6, "0")}`);
    const persona = pick(rand, personas);
    const country = pick(rand, COUNTRIES);
    const domain = chance(rand, persona.competitor) ? oneOf(rand, COMPETITOR_DOMAINS)
      : chance(rand, persona.freeMail) ? oneOf(rand, FREE_DOMAINS) : oneOf(rand, CORPORATE_DOMAINS);
    const email = `${oneOf(rand, ["alex", "sam", "kim", "lou", "noa", "ari"])}.${v}@${domain}`;
    const title = oneOf(rand, persona.titles);
    const size = oneOf(rand, persona.sizes);
    let identified = false;
    let t = start + Math.floor(rand() * spread);
    const visits = 1 + geometric(rand, persona.returns);

    for (let visit = 1; visit <= visits; visit++) {
      const push = (event: Omit<EngineEvent, "id">) => {
        drafts.push({ at: t, visitor: v, event });
        t += 5_000 + Math.floor(rand() * 170_000);
      };
      if (identified && chance(rand, 0.25)) {
        push({ type: "email_click", path: "/", query: { utm_source: "newsletter", utm_medium: "email", utm_campaign: oneOf(rand, EMAIL_CAMPAIGNS) } });
      }
      const query = pick(rand, CAMPAIGNS);
      const referrerHost = query === undefined ? pick(rand, REFERRERS) : undefined;
      const landingPath = oneOf(rand, PAGES[pick(rand, persona.sections)]);
      const landing: Omit<EngineEvent, "id"> = { type: "page_view", path: landingPath, title: "Lumen Metrics", landing: true, visit, country };
      if (query !== undefined) landing.query = { ...query };
      if (referrerHost !== undefined) {
        landing.referrer = `https://${referrerHost}/`;
        landing.referrerHost = referrerHost;
      }
      push(landing);

      const pages = geometric(rand, persona.depth);
      for (let p = 0; p < pages; p++) {
        push({ type: "page_view", path: oneOf(rand, PAGES[pick(rand, persona.sections)]), title: "Lumen Metrics", visit, country });
        if (chance(rand, persona.click)) push({ type: "cta_click", element: pick(rand, CTA_IDS), path: "/" });
        if (chance(rand, persona.download)) push({ type: "download", href: oneOf(rand, DOWNLOADS), path: "/resources" });
        if (chance(rand, persona.custom)) push(customEvent(rand, persona, identified));
        if (chance(rand, persona.form)) {
          const formId = pick(rand, persona.forms);
          const form: Omit<EngineEvent, "id"> = { type: "form_submit", path: `/forms/${formId}`, form: { id: formId }, email };
          form.fields = formId === "newsletter" ? {} : { job_title: title, company_size: size, country };
          push(form);
          if (!identified || chance(rand, 0.3)) {
            push({ type: "identify", email, traits: { job_title: title, company_size: size, country, plan: persona.name === "customer" ? "pro" : "none" } });
          }
          identified = true;
        }
      }
      // Next visit: hours to days later.
      t += 30 * MINUTE_MS + Math.floor(-Math.log(1 - rand()) * 2.5 * DAY_MS);
    }
  }

  drafts.sort((a, b) => a.at - b.at || a.visitor - b.visitor);
  const events: EngineEvent[] = new Array(drafts.length);
  const visitorOf = new Int32Array(drafts.length);
  const at = new Float64Array(drafts.length);
  drafts.forEach((d, i) => {
    events[i] = { id: `evt_${i.toString(36).padStart(8, "0")}`, ...d.event };
    visitorOf[i] = d.visitor;
    at[i] = d.at;
  });
  return { events, visitorOf, at, visitors };
}

function customEvent(rand: Rand, persona: Persona, identified: boolean): Omit<EngineEvent, "id"> {
  const kind = pick(rand, [["video_progress", 5], ["scroll_depth", 4], ["pricing_calculator", persona.name === "buyer" ? 4 : 1], ["unsubscribe", identified ? 0.6 : 0], ["copy_code", 1]] as const);
  switch (kind) {
    case "video_progress": return { type: "custom", name: kind, props: { video: "product-tour", percent: oneOf(rand, [25, 50, 75, 100]) } };
    case "scroll_depth": return { type: "custom", name: kind, props: { percent: oneOf(rand, [25, 50, 90]) } };
    case "pricing_calculator": return { type: "custom", name: kind, props: { seats: oneOf(rand, [5, 20, 50, 120, 500, "1,000"]), plan: "team" } };
    case "unsubscribe": return { type: "custom", name: kind, props: { list: "marketing" } };
    default: return { type: "custom", name: kind, props: { block: "install" } };
  }
}

/** How many events of each type, for the bench's report. */
export function typeMix(events: readonly EngineEvent[]): string {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([type, n]) => `${type} ${((100 * n) / events.length).toFixed(1)}%`).join(", ");
}

/** One visitor's events sent in one request, as the worker scores them. */
export interface Batch {
  /** Index into the workload's `visitors`. */
  visitor: number;
  events: EngineEvent[];
  /** Each event's time, in order. */
  at: Float64Array;
}

/**
 * The workload as requests: each visitor's events in time order, at most `max` to a request (the
 * snippet's BATCH_MAX). Requests are ordered by their first event; each request's events are parsed
 * from its own JSON text, as the worker parses a request's body, so they sit together in memory.
 */
export function batchesOf(w: Workload, max: number): Batch[] {
  const open = new Map<number, number[]>();
  const drafts: { visitor: number; index: number[] }[] = [];
  for (let i = 0; i < w.events.length; i++) {
    const visitor = w.visitorOf[i]!;
    let index = open.get(visitor);
    if (index === undefined || index.length >= max) {
      open.set(visitor, (index = []));
      drafts.push({ visitor, index });
    }
    index.push(i);
  }
  return drafts.map((d) => ({
    visitor: d.visitor,
    events: JSON.parse(JSON.stringify(d.index.map((i) => w.events[i]!))) as EngineEvent[],
    at: Float64Array.from(d.index, (i) => w.at[i]!),
  }));
}
