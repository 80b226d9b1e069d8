/**
 * The same rules run by json-rules-engine, the usual off-the-shelf choice: every rule of the
 * document translated to a json-rules-engine rule (its event types as a first condition, then its
 * condition tree), with operators that keep the rules' semantics (case-insensitive text, path
 * globs, leading numbers). The rules it reports as matched are then counted by the hand-written
 * bookkeeping in document order.
 */
import { Engine, type Almanac, type TopLevelCondition } from "json-rules-engine";
import { compileGlobs } from "../rules/glob.js";
import { toNumber } from "../rules/compile-condition.js";
import { emailDomain, emailKind } from "../rules/email.js";
import type { EngineEvent } from "../rules/event.js";
import type { Condition, FieldTest, RulesDocument } from "../rules/schema.js";
import type { VisitorState } from "../rules/state.js";
import { createBookkeeping } from "./bookkeeping.js";

type NestedCondition = TopLevelCondition | { fact: string; path?: string; operator: string; value: unknown };

/** A scorer whose rule evaluation is asynchronous. */
export interface AsyncScorer {
  newState(visitor: string): VisitorState;
  apply(state: VisitorState, event: EngineEvent, now: number): Promise<number>;
}

const lower = (v: unknown): string | undefined =>
  typeof v === "string" ? v.toLowerCase() : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
const asList = (v: string | string[]): string[] => (typeof v === "string" ? [v] : v);
const jsonPath = (...keys: string[]) => "$" + keys.map((k) => (/^[A-Za-z_]\w*$/.test(k) ? `.${k}` : `['${k}']`)).join("");

/** Where a field of the rules format is read from: a fact and a JSONPath into it. */
function factOf(field: string): { fact: string; path?: string } {
  const dot = field.indexOf(".");
  const head = dot < 0 ? field : field.slice(0, dot);
  const key = dot < 0 ? "" : field.slice(dot + 1);
  switch (field) {
    case "referrer.host": return { fact: "event", path: jsonPath("referrerHost") };
    case "form.id": return { fact: "event", path: jsonPath("form", "id") };
    case "form.name": return { fact: "event", path: jsonPath("form", "name") };
    case "email": return { fact: "email" };
    case "email.domain": return { fact: "emailDomain" };
    case "email.kind": return { fact: "emailKind" };
  }
  switch (head) {
    case "utm": return { fact: "event", path: jsonPath("query", `utm_${key}`) };
    case "query": case "fields": case "props": return { fact: "event", path: jsonPath(head, key) };
    case "traits": return { fact: "traits", path: jsonPath(key) };
  }
  return { fact: "event", path: jsonPath(field) };
}

/** A field test as a json-rules-engine condition, with constants lower-cased as the rules compare them. */
function translateTest(t: FieldTest): NestedCondition {
  const at = factOf(t.field);
  if (t.eq !== undefined) {
    return typeof t.eq === "number"
      ? { ...at, operator: "numberEquals", value: t.eq }
      : { ...at, operator: "textEquals", value: String(t.eq).toLowerCase() };
  }
  if (t.in !== undefined) return { ...at, operator: "textIn", value: t.in.map((x) => String(x).toLowerCase()) };
  if (t.contains !== undefined) return { ...at, operator: "textContains", value: asList(t.contains).map((x) => x.toLowerCase()) };
  if (t.startsWith !== undefined) return { ...at, operator: "textStartsWith", value: t.startsWith.toLowerCase() };
  if (t.endsWith !== undefined) return { ...at, operator: "textEndsWith", value: t.endsWith.toLowerCase() };
  if (t.glob !== undefined) return { ...at, operator: "glob", value: asList(t.glob) };
  if (t.exists !== undefined) return { ...at, operator: "present", value: t.exists };
  if (t.gte !== undefined) return { ...at, operator: "numberGte", value: t.gte };
  if (t.gt !== undefined) return { ...at, operator: "numberGt", value: t.gt };
  if (t.lte !== undefined) return { ...at, operator: "numberLte", value: t.lte };
  if (t.lt !== undefined) return { ...at, operator: "numberLt", value: t.lt };
  throw new Error(`condition on "${t.field}" has no operator`);
}

function translate(c: Condition): NestedCondition {
  if ("field" in c) return translateTest(c);
  if ("all" in c) return { all: c.all.map(translate) };
  if ("any" in c) return { any: c.any.map(translate) };
  return { not: translate(c.not) };
}

/** Builds the json-rules-engine scorer for a document whose bookkeeping `bookkeeping.ts` knows. */
export function createJsonRulesEngine(doc: RulesDocument): AsyncScorer {
  const book = createBookkeeping(doc);
  const engine = new Engine([], { allowUndefinedFacts: true });
  const number = (test: (n: number, want: number) => boolean) => (fact: unknown, want: number) => {
    const n = toNumber(fact);
    return n !== undefined && test(n, want);
  };
  const globs = new Map<string, (path: string) => boolean>();
  engine.addOperator("textEquals", (fact: unknown, want: string) => lower(fact) === want);
  engine.addOperator("numberEquals", (fact: unknown, want: number) => toNumber(fact) === want);
  engine.addOperator("textIn", (fact: unknown, want: string[]) => {
    const v = lower(fact);
    return v !== undefined && want.includes(v);
  });
  engine.addOperator("textContains", (fact: unknown, needles: string[]) => {
    const v = lower(fact);
    return v !== undefined && needles.some((n) => v.includes(n));
  });
  engine.addOperator("textStartsWith", (fact: unknown, want: string) => lower(fact)?.startsWith(want) === true);
  engine.addOperator("textEndsWith", (fact: unknown, want: string) => lower(fact)?.endsWith(want) === true);
  engine.addOperator("glob", (fact: unknown, patterns: string[]) => {
    const key = patterns.join("\n");
    let match = globs.get(key);
    if (match === undefined) globs.set(key, (match = compileGlobs(patterns)));
    return typeof fact === "string" && match(fact);
  });
  engine.addOperator("present", (fact: unknown, want: boolean) => (fact !== undefined && fact !== null && fact !== "") === want);
  engine.addOperator("numberGte", number((n, want) => n >= want));
  engine.addOperator("numberGt", number((n, want) => n > want));
  engine.addOperator("numberLte", number((n, want) => n <= want));
  engine.addOperator("numberLt", number((n, want) => n < want));

  // Facts read from the visitor: the event's email first, else what the visitor told us before.
  const event = (almanac: Almanac) => almanac.factValue<EngineEvent>("event");
  const visitor = (almanac: Almanac) => almanac.factValue<VisitorState>("visitor");
  engine.addFact("email", async (_, almanac) => (await event(almanac)).email ?? (await visitor(almanac)).identity.email);
  engine.addFact("emailDomain", async (_, almanac) => {
    const e = await event(almanac);
    return e.email !== undefined ? emailDomain(e.email) : (await visitor(almanac)).identity.domain;
  });
  engine.addFact("emailKind", async (_, almanac) => {
    const e = await event(almanac);
    return e.email !== undefined ? emailKind(e.email) : (await visitor(almanac)).identity.kind;
  });
  engine.addFact("traits", async (_, almanac) => (await visitor(almanac)).identity.traits);

  for (const slot of book.slots) {
    const rule = doc.rules.find((x) => x.id === slot.id)!;
    const types = typeof rule.on === "string" ? [rule.on] : rule.on;
    const all: NestedCondition[] = [{ fact: "event", path: "$.type", operator: "in", value: types }];
    if (rule.when !== undefined) all.push(translate(rule.when));
    const conditions: TopLevelCondition = { all };
    engine.addRule({ name: rule.id, conditions, event: { type: rule.id, params: { index: slot.index } } });
  }

  return {
    newState: book.newState,
    async apply(s, e, now) {
      book.begin();
      book.identify(s, e);
      const { events } = await engine.run({ event: e, visitor: s });
      const matched = events.map((x) => x.params!.index as number).sort((a, b) => a - b);
      for (const index of matched) book.count(s, book.slots[index]!, e, now);
      book.settle(s, e, now);
      return book.ledger.length;
    },
  };
}
