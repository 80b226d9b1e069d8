import { describe, expect, it } from "vitest";
import demo from "../../rules/demo.json" with { type: "json" };
import { jsonPath, parseRules, type RuleError } from "../../rules/index.js";
import { RULES_MAX_NESTING } from "../../rules/validate.js";

// A rules document being edited by hand: any shape, as JSON.parse would give.
type Draft = any;

/** A valid document touching every section; each invalid case breaks one thing in it. */
function validDoc(): Draft {
  return {
    version: "2026-01-05.1",
    site: { id: "acme", origins: ["https://www.acme.example", "http://localhost:8787"], consent: "none", privacy: { retentionDays: 395 } },
    groups: [{ id: "fit", max: 60 }, { id: "engagement", decay: { halfLifeDays: 30 } }],
    rules: [
      { id: "pricing", on: "page_view", when: { all: [{ field: "path", glob: "/pricing" }, { field: "utm.medium", eq: "cpc" }] }, points: 10, cap: { times: 3 } },
      { id: "corporate", group: "fit", on: ["identify", "form_submit"], when: { field: "email.kind", eq: "corporate" }, points: 15 },
      { id: "unsubscribe", on: "custom", when: { field: "name", eq: "unsubscribe" }, points: -20, demoteTo: "lead" },
      { id: "demo-request", on: "form_submit", when: { field: "form.id", eq: "demo" }, points: 40 },
    ],
    stages: [
      { id: "visitor" },
      { id: "lead", when: { identified: true } },
      { id: "mql", when: { all: [{ score: "total", gte: 50 }, { score: "fit", gte: 10 }] } },
      { id: "sql", when: { any: [{ signal: "demo-request" }, { score: "engagement", gte: 80 }] } },
    ],
    ctas: [
      { id: "demo-offer", kind: "slide_in", stages: ["mql"], variants: [{ id: "a", text: "Book a demo", button: { label: "Book", href: "/demo" } }] },
      { id: "hero", kind: "inline", slot: "hero", variants: [{ id: "a", text: "Get the white paper" }] },
    ],
    webhooks: [
      { id: "crm", target: "crm", on: { stageEntered: ["mql", "sql"] } },
      { id: "hot", target: "slack", on: { scoreReached: { score: "total", value: 80 } } },
    ],
  };
}

function errorsOf(doc: unknown): RuleError[] {
  const result = parseRules(doc);
  return result.ok ? [] : result.errors;
}

describe("a valid rules document", () => {
  it.each([
    { name: "the test document", doc: validDoc() },
    { name: "rules/demo.json", doc: demo },
  ])("$name is accepted", ({ doc }) => {
    expect(errorsOf(doc)).toEqual([]);
  });

  it("comes back with every default filled in", () => {
    const doc = validDoc();
    delete doc.site.consent;
    delete doc.site.privacy;
    delete doc.ctas;
    delete doc.webhooks;
    doc.rules = [{ id: "any-page", on: "page_view", points: 1, cap: { times: 2 } }];
    doc.stages[3].when = { score: "total", gte: 80 };
    const result = parseRules(doc);
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.rules.site.consent).toBe("none");
    expect(result.rules.site.privacy).toEqual({ honorGpc: true, honorDnt: false, ignoreFields: [], retentionDays: 395 });
    expect(result.rules.rules[0]).toEqual({ id: "any-page", on: "page_view", points: 1, cap: { times: 2, per: "ever" }, group: "engagement", enabled: true });
    expect(result.rules.ctas).toEqual([]);
    expect(result.rules.webhooks).toEqual([]);
  });

  it("fills in CTA defaults: weight 1, dismissed for 30 days, priority 0", () => {
    const result = parseRules(validDoc());
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const cta = result.rules.ctas[0]!;
    expect([cta.dismissDays, cta.priority, cta.variants[0]!.weight]).toEqual([30, 0, 1]);
  });

  it("is not modified by validation", () => {
    const doc = validDoc();
    const before = structuredClone(doc);
    parseRules(doc);
    expect(doc).toEqual(before);
  });
});

describe("an invalid rules document", () => {
  it.each<{ name: string; edit: (d: Draft) => void; path: string; message: string }>([
    // shape: types, unknown keys, ids
    { name: "no version", edit: (d) => delete d.version, path: "$.version", message: "expected string" },
    { name: "a version with a space", edit: (d) => (d.version = "v 1"), path: "$.version", message: "expected a version" },
    { name: "an unknown top-level key", edit: (d) => (d.rule = []), path: "$.rule", message: 'unknown key "rule"' },
    { name: "an unknown key in a rule", edit: (d) => (d.rules[0].weight = 2), path: "$.rules[0].weight", message: 'unknown key "weight"' },
    { name: "an unknown key in a field test", edit: (d) => (d.rules[0].when.all[1].regex = "x"), path: "$.rules[0].when.all[1].regex", message: 'unknown key "regex"' },
    { name: "an unknown key in the privacy options", edit: (d) => (d.site.privacy.anonymize = true), path: "$.site.privacy.anonymize", message: 'unknown key "anonymize"' },
    { name: "webhooks that are not a list", edit: (d) => (d.webhooks = { crm: {} }), path: "$.webhooks", message: "expected array" },
    { name: "points written as a string", edit: (d) => (d.rules[0].points = "10"), path: "$.rules[0].points", message: "expected number, received string" },
    { name: "a condition that is not an object", edit: (d) => (d.rules[1].when = "corporate"), path: "$.rules[1].when", message: "expected object" },
    { name: "a stage score threshold written as a string", edit: (d) => (d.stages[2].when.all[0].gte = "50"), path: "$.stages[2].when.all[0].gte", message: "expected number" },
    { name: "an upper-case rule id", edit: (d) => (d.rules[0].id = "Pricing"), path: "$.rules[0].id", message: "expected an id" },
    { name: "a rule id starting with a dash", edit: (d) => (d.rules[0].id = "-pricing"), path: "$.rules[0].id", message: "expected an id" },
    { name: "a 65-character CTA id", edit: (d) => (d.ctas[0].id = "d".repeat(65)), path: "$.ctas[0].id", message: "expected an id" },
    { name: "a site id with a space", edit: (d) => (d.site.id = "acme inc"), path: "$.site.id", message: "expected an id" },
    { name: "an unknown event type", edit: (d) => (d.rules[0].on = "click"), path: "$.rules[0].on", message: "page_view" },
    // conditions
    { name: "an unknown field name", edit: (d) => (d.rules[0].when.all[1].field = "utm.channel"), path: "$.rules[0].when.all[1].field", message: "expected a known field" },
    { name: "a field test with no operator", edit: (d) => delete d.rules[0].when.all[1].eq, path: "$.rules[0].when.all[1]", message: "expected one operator" },
    { name: "a field test with two operators", edit: (d) => (d.rules[0].when.all[1].in = ["ppc"]), path: "$.rules[0].when.all[1]", message: "found eq, in" },
    { name: "an empty all", edit: (d) => (d.rules[0].when = { all: [] }), path: "$.rules[0].when.all", message: ">=1" },
    { name: "a bad field deep inside not/any", edit: (d) => (d.rules[1].when = { not: { any: [{ field: "email.kind", eq: "free" }, { field: "mail", exists: true }] } }), path: "$.rules[1].when.not.any[1].field", message: "expected a known field" },
    { name: "a glob with ***", edit: (d) => (d.rules[0].when.all[0].glob = "/docs/***"), path: "$.rules[0].when.all[0].glob", message: "use * (one path segment) or ** (any depth)" },
    { name: "an empty contains list", edit: (d) => (d.rules[1].when = { field: "fields.job_title", contains: [] }), path: "$.rules[1].when.contains", message: ">=1" },
    // points, caps, decay
    { name: "points above 1000", edit: (d) => (d.rules[0].points = 1001), path: "$.rules[0].points", message: "<=1000" },
    { name: "points below -1000", edit: (d) => (d.rules[2].points = -1001), path: "$.rules[2].points", message: ">=-1000" },
    { name: "fractional points", edit: (d) => (d.rules[0].points = 2.5), path: "$.rules[0].points", message: "expected int" },
    { name: "a cap of 0 times", edit: (d) => (d.rules[0].cap.times = 0), path: "$.rules[0].cap.times", message: ">=1" },
    { name: "a cap per month", edit: (d) => (d.rules[0].cap.per = "month"), path: "$.rules[0].cap.per", message: '"week"' },
    { name: "a half-life of 0 days", edit: (d) => (d.groups[1].decay.halfLifeDays = 0), path: "$.groups[1].decay.halfLifeDays", message: ">0" },
    { name: "inactivity losing 0 points a day", edit: (d) => (d.groups[1].inactivity = { afterDays: 14, pointsPerDay: 0 }), path: "$.groups[1].inactivity.pointsPerDay", message: ">0" },
    // ids and references
    { name: "two rules with one id", edit: (d) => (d.rules[2].id = "pricing"), path: "$.rules[2].id", message: 'duplicate id "pricing" (first used at $.rules[0].id)' },
    { name: "two groups with one id", edit: (d) => d.groups.push({ id: "fit" }), path: "$.groups[2].id", message: 'duplicate id "fit"' },
    { name: "two stages with one id", edit: (d) => d.stages.push({ id: "mql", when: { identified: true } }), path: "$.stages[4].id", message: 'duplicate id "mql"' },
    { name: "two CTAs with one id", edit: (d) => (d.ctas[1].id = "demo-offer"), path: "$.ctas[1].id", message: 'duplicate id "demo-offer"' },
    { name: "two webhooks with one id", edit: (d) => (d.webhooks[1].id = "crm"), path: "$.webhooks[1].id", message: 'duplicate id "crm"' },
    { name: "two variants with one id", edit: (d) => d.ctas[0].variants.push({ id: "a", text: "Again" }), path: "$.ctas[0].variants[1].id", message: 'duplicate variant id "a"' },
    { name: "a rule in an unknown group", edit: (d) => (d.rules[1].group = "firmographics"), path: "$.rules[1].group", message: 'unknown group "firmographics": expected one of fit, engagement' },
    { name: "a demotion to an unknown stage", edit: (d) => (d.rules[2].demoteTo = "prospect"), path: "$.rules[2].demoteTo", message: 'unknown stage "prospect"' },
    { name: "a stage on an unknown score", edit: (d) => (d.stages[2].when.all[1].score = "fitness"), path: "$.stages[2].when.all[1].score", message: 'unknown score "fitness"' },
    { name: "a stage on an unknown signal", edit: (d) => (d.stages[3].when.any[0].signal = "demo"), path: "$.stages[3].when.any[0].signal", message: 'unknown rule "demo"' },
    { name: "a CTA for an unknown stage", edit: (d) => (d.ctas[0].stages = ["mql", "customer"]), path: "$.ctas[0].stages[1]", message: 'unknown stage "customer"' },
    { name: "a webhook on an unknown stage", edit: (d) => (d.webhooks[0].on.stageEntered = ["opportunity"]), path: "$.webhooks[0].on.stageEntered[0]", message: 'unknown stage "opportunity"' },
    { name: "a webhook on an unknown score", edit: (d) => (d.webhooks[1].on.scoreReached.score = "intent"), path: "$.webhooks[1].on.scoreReached.score", message: 'unknown score "intent"' },
    { name: "a webhook on the first stage", edit: (d) => (d.webhooks[0].on.stageEntered = ["visitor"]), path: "$.webhooks[0].on.stageEntered[0]", message: '"visitor" is the first stage' },
    { name: "a misspelt webhook trigger", edit: (d) => (d.webhooks[0].on = { stageEnter: ["mql"] }), path: "$.webhooks[0].on", message: "{ stageEntered } or { scoreReached }" },
    { name: "a webhook with both triggers", edit: (d) => (d.webhooks[0].on = { stageEntered: ["mql"], scoreReached: { score: "total", value: 50 } }), path: "$.webhooks[0].on", message: "expected only one of scoreReached, stageEntered" },
    { name: "a webhook trigger with an unknown key beside it", edit: (d) => (d.webhooks[0].on = { stageEntered: ["mql"], when: "now" }), path: "$.webhooks[0].on.when", message: 'unknown key "when"' },
    // groups and stages
    { name: "a group named total", edit: (d) => d.groups.push({ id: "total" }), path: "$.groups[2].id", message: '"total" is reserved' },
    { name: "a group whose min is above its max", edit: (d) => (d.groups[0].min = 70), path: "$.groups[0].min", message: "min (70) is above max (60)" },
    { name: "a first stage with a condition", edit: (d) => (d.stages[0].when = { identified: false }), path: "$.stages[0].when", message: "the first stage" },
    { name: "a later stage without a condition", edit: (d) => delete d.stages[2].when, path: "$.stages[2].when", message: "every stage after the first needs one" },
    { name: "an unknown key in a stage condition", edit: (d) => (d.stages[2].when.all[0].lte = 90), path: "$.stages[2].when.all[0].lte", message: 'unknown key "lte"' },
    // CTAs
    { name: "an inline CTA without a slot", edit: (d) => delete d.ctas[1].slot, path: "$.ctas[1].slot", message: "expected a slot name" },
    { name: "a slide-in with a slot", edit: (d) => (d.ctas[0].slot = "hero"), path: "$.ctas[0].slot", message: 'only inline CTAs take a slot (this one is "slide_in")' },
    { name: "an unknown CTA kind", edit: (d) => (d.ctas[0].kind = "popup"), path: "$.ctas[0].kind", message: '"banner"' },
    { name: "a CTA without variants", edit: (d) => (d.ctas[0].variants = []), path: "$.ctas[0].variants", message: ">=1" },
    { name: "a variant weight of 0", edit: (d) => (d.ctas[0].variants[0].weight = 0), path: "$.ctas[0].variants[0].weight", message: ">0" },
    { name: "an empty variant text", edit: (d) => (d.ctas[1].variants[0].text = ""), path: "$.ctas[1].variants[0].text", message: ">=1" },
    { name: "a CTA frequency of 0 times", edit: (d) => (d.ctas[0].frequency = { times: 0, per: "day" }), path: "$.ctas[0].frequency.times", message: ">=1" },
    { name: "a negative dismissal", edit: (d) => (d.ctas[0].dismissDays = -1), path: "$.ctas[0].dismissDays", message: ">=0" },
    { name: "a javascript: href", edit: (d) => (d.ctas[0].variants[0].button.href = "javascript:alert(1)"), path: "$.ctas[0].variants[0].button.href", message: "expected an http(s) URL or a path starting with /" },
    { name: "a JavaScript: href in capitals", edit: (d) => (d.ctas[0].variants[0].button.href = "JavaScript:void(0)"), path: "$.ctas[0].variants[0].button.href", message: "expected an http(s) URL" },
    { name: "a protocol-relative href", edit: (d) => (d.ctas[0].variants[0].button.href = "//evil.com/demo"), path: "$.ctas[0].variants[0].button.href", message: "expected an http(s) URL" },
    { name: "a data: href", edit: (d) => (d.ctas[0].variants[0].button.href = "data:text/html,<script>alert(1)</script>"), path: "$.ctas[0].variants[0].button.href", message: "expected an http(s) URL" },
    { name: "an href with no leading slash", edit: (d) => (d.ctas[0].variants[0].button.href = "demo"), path: "$.ctas[0].variants[0].button.href", message: "expected an http(s) URL" },
    // site
    { name: "an origin with a path", edit: (d) => (d.site.origins[0] = "https://www.acme.example/app"), path: "$.site.origins[0]", message: "expected an origin like https://www.example.com" },
    { name: "an origin with a trailing slash", edit: (d) => (d.site.origins[1] = "http://localhost:8787/"), path: "$.site.origins[1]", message: "no trailing slash" },
    { name: "an origin without a scheme", edit: (d) => (d.site.origins[0] = "www.acme.example"), path: "$.site.origins[0]", message: "expected an origin" },
    { name: "an ftp origin", edit: (d) => (d.site.origins[0] = "ftp://acme.example"), path: "$.site.origins[0]", message: "expected an origin" },
    { name: "a wildcard origin", edit: (d) => (d.site.origins[0] = "https://*.acme.example"), path: "$.site.origins[0]", message: "expected an origin" },
    { name: "no origins", edit: (d) => (d.site.origins = []), path: "$.site.origins", message: ">=1" },
    { name: "an unknown consent mode", edit: (d) => (d.site.consent = "optional"), path: "$.site.consent", message: '"required"' },
    { name: "a retention of 0 days", edit: (d) => (d.site.privacy.retentionDays = 0), path: "$.site.privacy.retentionDays", message: ">=1" },
  ])("reports $name at $path", ({ edit, path, message }) => {
    const doc = validDoc();
    edit(doc);
    expect(errorsOf(doc)).toEqual([{ path, message: expect.stringContaining(message) }]);
  });

  it("reports a rule left in the default engagement group when the document has no such group", () => {
    const doc = validDoc();
    doc.groups = [{ id: "fit" }];
    doc.rules = [{ id: "visit", on: "page_view", points: 1 }];
    doc.stages = [{ id: "visitor" }, { id: "lead", when: { identified: true } }];
    doc.ctas = [];
    doc.webhooks = [];
    expect(errorsOf(doc)).toEqual([{ path: "$.rules[0].group", message: 'unknown group "engagement": expected one of fit' }]);
  });

  it("reports a misspelt operator as an unknown key and a test with no operator", () => {
    const doc = validDoc();
    doc.rules[1].when = { field: "email.kind", equals: "corporate" };
    expect(errorsOf(doc)).toEqual([
      { path: "$.rules[1].when.equals", message: 'unknown key "equals"' },
      { path: "$.rules[1].when", message: expect.stringContaining("expected one operator") },
    ]);
  });

  it.each([2_500, 100_000])("refuses a condition nested %d levels deep at the level past the limit, without running out of stack", (levels) => {
    const doc = validDoc();
    let when: Draft = { field: "path", eq: "/x" };
    for (let i = 0; i < levels; i++) when = { not: when };
    doc.rules[0].when = when;
    expect(errorsOf(doc)).toEqual([{
      path: `$.rules[0].when${".not".repeat(RULES_MAX_NESTING - 3)}`,
      message: `expected at most ${RULES_MAX_NESTING} levels of nested objects and arrays: flatten the condition (all, any and not take lists)`,
    }]);
  });

  it("takes a condition nested as deep as the limit allows", () => {
    const doc = validDoc();
    let when: Draft = { field: "path", eq: "/x" };
    // $.rules[0].when is 3 levels down; the test itself is one more.
    for (let i = 0; i < RULES_MAX_NESTING - 4; i++) when = { not: when };
    doc.rules[0].when = when;
    expect(errorsOf(doc)).toEqual([]);
  });

  it("reports every error of a document together, shape and references alike", () => {
    const doc = validDoc();
    doc.version = "";
    doc.rules[0].points = 5000;
    doc.rules[0].when.all[1].field = "utm.channel";
    doc.rules[1].group = "firmographics";
    doc.rules[2].id = "pricing";
    doc.stages[0].when = { identified: false };
    doc.ctas[0].variants[0].button.href = "javascript:alert(1)";
    doc.webhooks[0].on.stageEntered = ["visitor"];
    expect(errorsOf(doc).map((e) => e.path).sort()).toEqual([
      "$.ctas[0].variants[0].button.href",
      "$.rules[0].points",
      "$.rules[0].when.all[1].field",
      "$.rules[1].group",
      "$.rules[2].id",
      "$.stages[0].when",
      "$.version",
      "$.webhooks[0].on.stageEntered[0]",
    ]);
  });

  it.each([
    { name: "null", doc: null, message: "expected object, received null" },
    { name: "a list", doc: [validDoc()], message: "expected object, received array" },
    { name: "a string", doc: "{}", message: "expected object, received string" },
  ])("reports $name as a whole at $", ({ doc, message }) => {
    expect(errorsOf(doc)).toEqual([{ path: "$", message: expect.stringContaining(message) }]);
  });
});

describe("jsonPath", () => {
  it.each<{ path: PropertyKey[]; expected: string }>([
    { path: [], expected: "$" },
    { path: ["version"], expected: "$.version" },
    { path: ["rules", 2, "when", "all", 0, "field"], expected: "$.rules[2].when.all[0].field" },
    { path: ["$schema"], expected: "$.$schema" },
    { path: ["fields", "job-title"], expected: '$.fields["job-title"]' },
    { path: ["a b"], expected: '$["a b"]' },
  ])("writes $path as $expected", ({ path, expected }) => {
    expect(jsonPath(path)).toBe(expected);
  });
});
