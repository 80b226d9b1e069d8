import { describe, expect, it } from "vitest";
import { compileCondition, fieldAccessor, pathGlob, SharedReads, toNumber } from "../../rules/compile-condition.js";
import { compileGlob } from "../../rules/glob.js";
import saas40 from "../../rules/examples/saas-40.json" with { type: "json" };
import { emptyState, FIELD_PATTERN, parseRules, type Condition, type EngineEvent, type VisitorState } from "../../rules/index.js";
import { MONDAY, prng, randomJourney } from "./fixtures.js";

const ev = (fields: Partial<EngineEvent>): EngineEvent => ({ id: "evt-00000001", type: "page_view", ...fields });
const visitor = (identity: Partial<VisitorState["identity"]> = {}): VisitorState => {
  const state = emptyState("visitor-1", "visitor", ["fit", "engagement"]);
  return { ...state, identity: { traits: {}, ...identity } };
};
const holds = (c: Condition, e: EngineEvent, s: VisitorState = visitor()) => compileCondition(c)(e, s);

describe("each operator", () => {
  it.each<{ name: string; when: Condition; event: Partial<EngineEvent>; expected: boolean }>([
    { name: "eq matches a string ignoring case", when: { field: "path", eq: "/Pricing" }, event: { path: "/pricing" }, expected: true },
    { name: "eq does not match a longer string", when: { field: "path", eq: "/pricing" }, event: { path: "/pricing/teams" }, expected: false },
    { name: "eq on a missing field is false", when: { field: "title", eq: "Pricing" }, event: {}, expected: false },
    { name: "eq with a number reads a numeric string", when: { field: "fields.seats", eq: 50 }, event: { fields: { seats: "50" } }, expected: true },
    { name: "eq with a number rejects another number", when: { field: "fields.seats", eq: 50 }, event: { fields: { seats: "51" } }, expected: false },
    { name: "eq true matches a true flag", when: { field: "landing", eq: true }, event: { landing: true }, expected: true },
    { name: "eq true rejects a false flag", when: { field: "landing", eq: true }, event: { landing: false }, expected: false },
    { name: "eq false matches a false flag", when: { field: "landing", eq: false }, event: { landing: false }, expected: true },
    { name: "eq false does not match a missing flag", when: { field: "landing", eq: false }, event: {}, expected: false },
    { name: "in matches one of the strings ignoring case", when: { field: "country", in: ["fr", "be"] }, event: { country: "BE" }, expected: true },
    { name: "in rejects a value not listed", when: { field: "country", in: ["FR", "BE"] }, event: { country: "DE" }, expected: false },
    { name: "in on a missing field is false", when: { field: "country", in: ["FR"] }, event: {}, expected: false },
    { name: "in matches numbers", when: { field: "visit", in: [2, 3] }, event: { visit: 3 }, expected: true },
    { name: "contains finds a substring ignoring case", when: { field: "fields.job_title", contains: "director" }, event: { fields: { job_title: "Marketing DIRECTOR" } }, expected: true },
    { name: "contains rejects a value without it", when: { field: "fields.job_title", contains: "director" }, event: { fields: { job_title: "Marketing manager" } }, expected: false },
    { name: "contains a list finds any of them", when: { field: "fields.job_title", contains: ["vp", "chief"] }, event: { fields: { job_title: "Chief Revenue Officer" } }, expected: true },
    { name: "contains a list rejects none of them", when: { field: "fields.job_title", contains: ["vp", "chief"] }, event: { fields: { job_title: "Analyst" } }, expected: false },
    { name: "contains on a missing field is false", when: { field: "fields.job_title", contains: "a" }, event: {}, expected: false },
    { name: "startsWith matches a prefix ignoring case", when: { field: "element", startsWith: "demo" }, event: { element: "Demo-hero" }, expected: true },
    { name: "startsWith rejects the text elsewhere", when: { field: "element", startsWith: "demo" }, event: { element: "book-demo" }, expected: false },
    { name: "endsWith matches a suffix ignoring case", when: { field: "email", endsWith: "@acme.example" }, event: { email: "Jo@ACME.example" }, expected: true },
    { name: "endsWith rejects the text elsewhere", when: { field: "email", endsWith: "@acme.example" }, event: { email: "jo@acme.example.org" }, expected: false },
    { name: "glob * matches one segment", when: { field: "path", glob: "/customers/*" }, event: { path: "/customers/acme" }, expected: true },
    { name: "glob * does not cross segments", when: { field: "path", glob: "/customers/*" }, event: { path: "/customers/acme/story" }, expected: false },
    { name: "glob ignores case", when: { field: "path", glob: "/pricing" }, event: { path: "/PRICING" }, expected: true },
    { name: "glob list matches any of them", when: { field: "path", glob: ["/pricing", "/plans/**"] }, event: { path: "/plans/team/annual" }, expected: true },
    { name: "glob list rejects none of them", when: { field: "path", glob: ["/pricing", "/plans/**"] }, event: { path: "/about" }, expected: false },
    { name: "glob on a number is false", when: { field: "visit", glob: "*" }, event: { visit: 2 }, expected: false },
    { name: "gte reads 51 from a range like 51-200", when: { field: "fields.company_size", gte: 50 }, event: { fields: { company_size: "51-200" } }, expected: true },
    { name: "gte reads 11 from 11-50", when: { field: "fields.company_size", gte: 50 }, event: { fields: { company_size: "11-50" } }, expected: false },
    { name: "gte holds on the bound", when: { field: "visit", gte: 2 }, event: { visit: 2 }, expected: true },
    { name: "gt reads 1000 from 1,000+", when: { field: "fields.company_size", gt: 999 }, event: { fields: { company_size: "1,000+" } }, expected: true },
    { name: "gt fails on the bound", when: { field: "visit", gt: 2 }, event: { visit: 2 }, expected: false },
    { name: "lte holds on the bound of 1,000+", when: { field: "fields.company_size", lte: 1000 }, event: { fields: { company_size: "1,000+" } }, expected: true },
    { name: "lte fails above", when: { field: "props.seats", lte: 10 }, event: { props: { seats: 11 } }, expected: false },
    { name: "lt holds below", when: { field: "props.seats", lt: 10 }, event: { props: { seats: "9 seats" } }, expected: true },
    { name: "lt fails on the bound of 1,000+", when: { field: "fields.company_size", lt: 1000 }, event: { fields: { company_size: "1,000+" } }, expected: false },
    { name: "a comparison on text with no number is false", when: { field: "fields.company_size", lt: 1_000_000 }, event: { fields: { company_size: "many" } }, expected: false },
    { name: "a comparison on a missing field is false", when: { field: "fields.company_size", lt: 1_000_000 }, event: {}, expected: false },
    { name: "exists true holds for a value", when: { field: "utm.campaign", exists: true }, event: { query: { utm_campaign: "spring" } }, expected: true },
    { name: "exists true fails for a missing value", when: { field: "utm.campaign", exists: true }, event: {}, expected: false },
    { name: "exists true fails for an empty string", when: { field: "utm.campaign", exists: true }, event: { query: { utm_campaign: "" } }, expected: false },
    { name: "exists true holds for 0 and false", when: { all: [{ field: "props.seats", exists: true }, { field: "props.trial", exists: true }] }, event: { props: { seats: 0, trial: false } }, expected: true },
    { name: "exists false holds for a missing value", when: { field: "referrer", exists: false }, event: {}, expected: true },
    { name: "exists false fails for a value", when: { field: "referrer", exists: false }, event: { referrer: "https://news.example/" }, expected: false },
  ])("$name", ({ when, event, expected }) => {
    expect(holds(when, ev(event))).toBe(expected);
  });
});

describe("path globs tested without their RegExp", () => {
  const globs = [
    "/pricing", "/pricing/", "/pricing/*", "/blog/**", "/trust/**", "**", "*", "", "/", "/a-b_c.d/*", "/v1.0/**",
    "/PriCing", "/plans/*/annual", "/docs/?", "/x**y", "/caf\u00e9", "/k*", "/s**",
  ];
  const paths = [
    "", "/", "/pricing", "/pricing/", "/pricing//", "/PRICING", "/Pricing/Team", "/pricing/team", "/pricing/team/", "/pricing/team/x",
    "/pricingx", "/pricin", "/blog/", "/blog", "/blog/a/b/c", "/blog/a\nb", "/blog/a\rb", "/blog/\u2028", "/blog/\u2029/",
    "/trust/soc2/", "/a-b_c.d/x", "/a-b_cxd/x", "/v1.0/x", "/v1x0/x", "/plans/team/annual", "/docs/a", "/docs/ab",
    "/\u212a", "/k", "/K", "/\u017f", "/s", "/S", "/\u0130", "/i", "/caf\u00e9", "/caf\u00c9", "/pricing/\ud83d\ude00", "/pricing/a\nb/",
  ];

  it.each(globs)("%j answers as its RegExp on every path", (glob) => {
    const fast = pathGlob(glob);
    const slow = compileGlob(glob);
    for (const path of paths) expect(fast(path), JSON.stringify(path)).toBe(slow(path));
  });
});

describe("toNumber reads the leading number of a value", () => {
  it.each<{ value: unknown; expected: number | undefined }>([
    { value: 42, expected: 42 },
    { value: -3.5, expected: -3.5 },
    { value: "51-200", expected: 51 },
    { value: "1,000+", expected: 1000 },
    { value: "10 000", expected: 10000 },
    { value: " 12 ", expected: 12 },
    { value: "-5", expected: -5 },
    { value: ".5", expected: 0.5 },
    { value: "2.75 million", expected: 2.75 },
    { value: "abc", expected: undefined },
    { value: "", expected: undefined },
    { value: Number.NaN, expected: undefined },
    { value: Number.POSITIVE_INFINITY, expected: undefined },
    { value: true, expected: undefined },
    { value: undefined, expected: undefined },
  ])("$value reads as $expected", ({ value, expected }) => {
    expect(toNumber(value)).toBe(expected);
  });
});

describe("each field a condition can read", () => {
  const full = ev({
    type: "form_submit",
    path: "/resources/white-paper",
    url: "https://www.acme.example/resources/white-paper?plan=team&utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=scoring&utm_content=hero",
    title: "The lead scoring benchmark",
    referrer: "https://www.google.com/search?q=lead+scoring",
    referrerHost: "www.google.com",
    query: { plan: "team", utm_source: "news", utm_medium: "email", utm_campaign: "spring", utm_term: "scoring", utm_content: "hero" },
    form: { id: "whitepaper", name: "Download the white paper" },
    fields: { job_title: "Director of Marketing", company_size: "51-200" },
    element: "demo-hero",
    href: "/files/benchmark.pdf",
    name: "pricing_calculator",
    props: { seats: 25, annual: true },
    email: "Jo@Acme.example",
    traits: { role: "cmo" },
    country: "FR",
    visit: 3,
    landing: true,
  });
  const known = visitor({ email: "sam@globex.example", domain: "globex.example", kind: "corporate", traits: { role: "founder", plan: "trial" } });
  const bare = ev({ type: "page_view" });

  it.each<{ field: string; event: EngineEvent; state?: VisitorState; expected: unknown }>([
    { field: "type", event: full, expected: "form_submit" },
    { field: "path", event: full, expected: "/resources/white-paper" },
    { field: "url", event: full, expected: full.url },
    { field: "title", event: full, expected: "The lead scoring benchmark" },
    { field: "referrer", event: full, expected: "https://www.google.com/search?q=lead+scoring" },
    { field: "referrer.host", event: full, expected: "www.google.com" },
    { field: "utm.source", event: full, expected: "news" },
    { field: "utm.medium", event: full, expected: "email" },
    { field: "utm.campaign", event: full, expected: "spring" },
    { field: "utm.term", event: full, expected: "scoring" },
    { field: "utm.content", event: full, expected: "hero" },
    { field: "query.plan", event: full, expected: "team" },
    { field: "query.plan", event: bare, expected: undefined },
    { field: "form.id", event: full, expected: "whitepaper" },
    { field: "form.name", event: full, expected: "Download the white paper" },
    { field: "form.id", event: bare, expected: undefined },
    { field: "fields.job_title", event: full, expected: "Director of Marketing" },
    { field: "fields.job_title", event: bare, expected: undefined },
    { field: "element", event: full, expected: "demo-hero" },
    { field: "href", event: full, expected: "/files/benchmark.pdf" },
    { field: "name", event: full, expected: "pricing_calculator" },
    { field: "props.seats", event: full, expected: 25 },
    { field: "props.annual", event: full, expected: true },
    { field: "email", event: full, state: known, expected: "Jo@Acme.example" },
    { field: "email", event: bare, state: known, expected: "sam@globex.example" },
    { field: "email", event: bare, expected: undefined },
    { field: "email.domain", event: full, state: known, expected: "acme.example" },
    { field: "email.domain", event: bare, state: known, expected: "globex.example" },
    { field: "email.kind", event: ev({ email: "jo@gmail.com" }), state: known, expected: "free" },
    { field: "email.kind", event: full, expected: "corporate" },
    { field: "email.kind", event: bare, state: known, expected: "corporate" },
    { field: "traits.role", event: full, state: known, expected: "cmo" },
    { field: "traits.role", event: bare, state: known, expected: "founder" },
    { field: "traits.plan", event: full, state: known, expected: "trial" },
    { field: "traits.role", event: bare, expected: undefined },
    { field: "country", event: full, expected: "FR" },
    { field: "visit", event: full, expected: 3 },
    { field: "landing", event: full, expected: true },
  ])("$field reads $expected", ({ field, event, state, expected }) => {
    expect(fieldAccessor(field)(event, state ?? visitor())).toEqual(expected);
  });

  it("is a field the rules format accepts, for every accessor", () => {
    const fields = ["type", "path", "url", "title", "referrer", "referrer.host", "utm.source", "utm.medium", "utm.campaign", "utm.term", "utm.content", "query.x", "form.id", "form.name", "fields.x", "element", "href", "name", "props.x", "email", "email.domain", "email.kind", "traits.x", "country", "visit", "landing"];
    for (const field of fields) expect(FIELD_PATTERN.test(field), field).toBe(true);
    expect(FIELD_PATTERN.test("utm.channel")).toBe(false);
  });

  it("rejects an unknown field when compiled", () => {
    expect(() => fieldAccessor("cookie")).toThrow('unknown field "cookie"');
  });
});

describe("all, any and not", () => {
  const director = { field: "fields.job_title", contains: "director" } as const;
  const big = { field: "fields.company_size", gte: 50 } as const;
  const freeMail = { field: "email.kind", eq: "free" } as const;
  const lead = (title: string, size: string, email: string) => ev({ type: "form_submit", fields: { job_title: title, company_size: size }, email });

  it.each<{ name: string; when: Condition; event: EngineEvent; expected: boolean }>([
    { name: "all holds when every part holds", when: { all: [director, big] }, event: lead("Director", "51-200", "a@acme.example"), expected: true },
    { name: "all fails when one part fails", when: { all: [director, big] }, event: lead("Director", "1-10", "a@acme.example"), expected: false },
    { name: "all of one part is that part", when: { all: [director] }, event: lead("Analyst", "1-10", "a@acme.example"), expected: false },
    { name: "any holds when one part holds", when: { any: [director, big] }, event: lead("Analyst", "51-200", "a@acme.example"), expected: true },
    { name: "any fails when no part holds", when: { any: [director, big] }, event: lead("Analyst", "1-10", "a@acme.example"), expected: false },
    { name: "any of one part is that part", when: { any: [big] }, event: lead("Analyst", "500", "a@acme.example"), expected: true },
    { name: "not inverts a holding test", when: { not: freeMail }, event: lead("Analyst", "1-10", "a@gmail.com"), expected: false },
    { name: "not inverts a failing test", when: { not: freeMail }, event: lead("Analyst", "1-10", "a@acme.example"), expected: true },
    { name: "not of not is the test", when: { not: { not: director } }, event: lead("Director", "1-10", "a@acme.example"), expected: true },
    { name: "all of any and not nests", when: { all: [{ any: [director, big] }, { not: freeMail }] }, event: lead("VP", "200", "a@acme.example"), expected: true },
    { name: "all of any and not fails on free mail", when: { all: [{ any: [director, big] }, { not: freeMail }] }, event: lead("VP", "200", "a@yahoo.com"), expected: false },
    { name: "any of all nests", when: { any: [{ all: [director, big] }, { field: "form.id", eq: "demo" }] }, event: lead("Director", "5", "a@acme.example"), expected: false },
  ])("$name", ({ when, event, expected }) => {
    expect(holds(when, event)).toBe(expected);
  });
});

describe("fields several tests read, read once per event", () => {
  const parsed = parseRules(saas40);
  if (!parsed.ok) throw new Error("saas-40 is invalid");
  const extra: Condition[] = [
    { field: "fields.job_title", eq: "director" },
    { field: "fields.company_size", eq: 50 },
    { field: "path", exists: true },
    { any: [{ field: "traits.job_title", startsWith: "vp" }, { field: "traits.job_title", endsWith: "officer" }] },
  ];
  const conditions = [...parsed.rules.rules.flatMap((r) => (r.when ? [r.when] : [])), ...extra];
  const shared = new SharedReads();
  for (const c of conditions) shared.count(c);
  const plain = conditions.map((c) => compileCondition(c));
  const once = conditions.map((c) => compileCondition(c, shared));

  it("give what each test reading for itself gives, for every event and visitor", () => {
    const states = [
      visitor(),
      visitor({ email: "jo@acme.example", domain: "acme.example", kind: "corporate", traits: { job_title: "VP Sales", company_size: "1,000+", country: "fr" } }),
      visitor({ email: "kim@gmail.com", domain: "gmail.com", kind: "free", traits: { job_title: "Student" } }),
    ];
    let held = 0;
    for (const [i, [, e]] of randomJourney(prng(9), 600, MONDAY).entries()) {
      for (const s of [states[i % 3]!, states[(i + 1) % 3]!]) {
        shared.next();
        const want = plain.map((t) => t(e, s));
        expect(once.map((t) => t(e, s))).toEqual(want);
        held += want.filter(Boolean).length;
      }
    }
    expect(held).toBeGreaterThan(300);
  });

  const counting = (target: Record<string, unknown>, key: string, count: { n: number }) =>
    new Proxy(target, { get: (t, k, r) => ((k === key && count.n++), Reflect.get(t, k, r)) });

  it.each([
    { name: "a form field's text", key: "job_title", make: (c: { n: number }) => ev({ type: "form_submit", fields: counting({ job_title: "Marketing Director", company_size: "51-200" }, "job_title", c) as Record<string, string> }) },
    { name: "a form field's number", key: "company_size", make: (c: { n: number }) => ev({ type: "form_submit", fields: counting({ job_title: "Analyst", company_size: "51-200" }, "company_size", c) as Record<string, string> }) },
    { name: "the form id", key: "id", make: (c: { n: number }) => ev({ type: "form_submit", form: counting({ id: "webinar" }, "id", c) }) },
    { name: "a trait", key: "job_title", make: (c: { n: number }) => ev({ type: "identify", traits: counting({ job_title: "VP Sales" }, "job_title", c) as Record<string, string> }) },
  ])("reads $name once for all the tests of it", ({ make }) => {
    const count = { n: 0 };
    const e = make(count);
    shared.next();
    for (const t of once) t(e, visitor());
    expect(count.n).toBe(1);
    count.n = 0;
    for (const t of plain) t(e, visitor());
    expect(count.n).toBeGreaterThan(1);
  });
});
