/**
 * Compiles a rule's event condition to a closure. Fields are resolved by accessors built once;
 * constants are lower-cased once; nothing is parsed per event.
 */
import type { EngineEvent } from "./event.js";
import { emailDomain, emailKind } from "./email.js";
import { compileGlob } from "./glob.js";
import type { Condition, FieldTest } from "./schema.js";
import type { VisitorState } from "./state.js";

/** A compiled event condition. */
export type EventTest = (event: EngineEvent, state: VisitorState) => boolean;
type Accessor = (event: EngineEvent, state: VisitorState) => unknown;

/** Builds the accessor of a field named in a condition (`path`, `utm.source`, `fields.job_title`...). */
export function fieldAccessor(field: string): Accessor {
  const dot = field.indexOf(".");
  const head = dot < 0 ? field : field.slice(0, dot);
  const key = dot < 0 ? "" : field.slice(dot + 1);
  switch (field) {
    case "type": return (e) => e.type;
    case "path": return (e) => e.path;
    case "url": return (e) => e.url;
    case "title": return (e) => e.title;
    case "referrer": return (e) => e.referrer;
    case "referrer.host": return (e) => e.referrerHost;
    case "form.id": return (e) => e.form?.id;
    case "form.name": return (e) => e.form?.name;
    case "element": return (e) => e.element;
    case "href": return (e) => e.href;
    case "name": return (e) => e.name;
    case "country": return (e) => e.country;
    case "visit": return (e) => e.visit;
    case "landing": return (e) => e.landing;
    case "email": return (e, s) => e.email ?? s.identity.email;
    case "email.domain": return (e, s) => (e.email !== undefined ? emailDomain(e.email) : s.identity.domain);
    case "email.kind": return (e, s) => (e.email !== undefined ? emailKind(e.email) : s.identity.kind);
  }
  switch (head) {
    case "utm": { const param = `utm_${key}`; return (e) => e.query?.[param]; }
    case "query": return (e) => e.query?.[key];
    case "fields": return (e) => e.fields?.[key];
    case "props": return (e) => e.props?.[key];
    case "traits": return (e, s) => e.traits?.[key] ?? s.identity.traits[key];
  }
  throw new Error(`unknown field "${field}"`);
}

/** Reads the leading number of a value: 42 -> 42, "51-200" -> 51, "1,000+" -> 1000, "abc" -> undefined. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^[-+]?\d*\.?\d+/.exec(value.replace(/[\s,_]/g, ""));
  return m ? Number(m[0]) : undefined;
}

const lower = (v: unknown): string | undefined =>
  typeof v === "string" ? v.toLowerCase() : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
const asList = (v: string | string[]): string[] => (typeof v === "string" ? [v] : v);

/**
 * Field values an engine reads once per event: a field several rules test (a job title four rules
 * search, the form id six rules compare) is lower-cased or read as a number once, then the other
 * tests read it here. Register every condition with `count`, compile them with this, then call
 * `next` before testing another event or visitor (or the same visitor once its identity changed):
 * a value read is kept until then.
 */
export class SharedReads {
  private readonly uses = new Map<string, number>();
  private readonly slots = new Map<string, number>();
  private values: unknown[] = [];
  private readIn = new Float64Array(0);
  private event = 1;

  /** Counts the reads of a condition. */
  count(c: Condition): void {
    if ("field" in c) {
      const key = readKey(c);
      this.uses.set(key, (this.uses.get(key) ?? 0) + 1);
    } else if ("all" in c) for (const p of c.all) this.count(p);
    else if ("any" in c) for (const p of c.any) this.count(p);
    else this.count(c.not);
  }

  /** The reader of `key` (kind and field), shared when several tests read it. */
  reader(key: string, read: Accessor): Accessor {
    if ((this.uses.get(key) ?? 0) < 2) return read;
    let slot = this.slots.get(key);
    if (slot === undefined) {
      this.slots.set(key, (slot = this.slots.size));
      const grown = new Float64Array(this.slots.size);
      grown.set(this.readIn);
      this.readIn = grown;
      this.values.length = this.slots.size;
    }
    const at = slot;
    return (e, s) => {
      if (this.readIn[at] === this.event) return this.values[at];
      const v = read(e, s);
      this.values[at] = v;
      this.readIn[at] = this.event;
      return v;
    };
  }

  /** Forgets the values read: the next tests are on another event or state. */
  next(): void {
    this.event++;
  }
}

/** How a test reads its field: lower-cased text, a number, or the value as it is. */
function readKey(t: FieldTest): string {
  const kind = t.glob !== undefined || t.exists !== undefined ? "value"
    : t.gte !== undefined || t.gt !== undefined || t.lte !== undefined || t.lt !== undefined || typeof t.eq === "number" ? "number"
    : "text";
  return `${kind} ${t.field}`;
}

function compileTest(t: FieldTest, shared?: SharedReads): EventTest {
  const get = fieldAccessor(t.field);
  const key = readKey(t);
  const read: Accessor = key.startsWith("text") ? (e, s) => lower(get(e, s)) : key.startsWith("number") ? (e, s) => toNumber(get(e, s)) : get;
  // A value as it is costs no more to read again than to look up.
  const value = shared === undefined || read === get ? read : shared.reader(key, read);
  if (t.eq !== undefined) {
    const c = t.eq;
    if (typeof c === "number") return (e, s) => value(e, s) === c;
    const want = String(c).toLowerCase();
    return (e, s) => value(e, s) === want;
  }
  const text = value as (e: EngineEvent, s: VisitorState) => string | undefined;
  if (t.in !== undefined) {
    const set = new Set(t.in.map((x) => String(x).toLowerCase()));
    return (e, s) => {
      const v = text(e, s);
      return v !== undefined && set.has(v);
    };
  }
  if (t.contains !== undefined) {
    const needles = asList(t.contains).map((n) => n.toLowerCase());
    return (e, s) => {
      const v = text(e, s);
      if (v === undefined) return false;
      for (let i = 0; i < needles.length; i++) if (v.includes(needles[i]!)) return true;
      return false;
    };
  }
  if (t.startsWith !== undefined) {
    const p = t.startsWith.toLowerCase();
    return (e, s) => text(e, s)?.startsWith(p) === true;
  }
  if (t.endsWith !== undefined) {
    const p = t.endsWith.toLowerCase();
    return (e, s) => text(e, s)?.endsWith(p) === true;
  }
  if (t.glob !== undefined) {
    const match = pathGlobs(asList(t.glob));
    return (e, s) => {
      const v = value(e, s);
      return typeof v === "string" && match(v);
    };
  }
  if (t.exists !== undefined) {
    const want = t.exists;
    return (e, s) => {
      const v = value(e, s);
      return (v !== undefined && v !== null && v !== "") === want;
    };
  }
  const num = value as (e: EngineEvent, s: VisitorState) => number | undefined;
  if (t.gte !== undefined) {
    const c = t.gte;
    return (e, s) => {
      const n = num(e, s);
      return n !== undefined && n >= c;
    };
  }
  if (t.gt !== undefined) {
    const c = t.gt;
    return (e, s) => {
      const n = num(e, s);
      return n !== undefined && n > c;
    };
  }
  if (t.lte !== undefined) {
    const c = t.lte;
    return (e, s) => {
      const n = num(e, s);
      return n !== undefined && n <= c;
    };
  }
  if (t.lt !== undefined) {
    const c = t.lt;
    return (e, s) => {
      const n = num(e, s);
      return n !== undefined && n < c;
    };
  }
  throw new Error(`condition on "${t.field}" has no operator`);
}

/** Several globs as one predicate that holds when any of them matches. */
function pathGlobs(globs: readonly string[]): (path: string) => boolean {
  const tests = globs.map(pathGlob);
  if (tests.length === 1) return tests[0]!;
  return (path) => {
    for (const test of tests) if (test(path)) return true;
    return false;
  };
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * A path glob with the answers of `compileGlob`, tested with string comparisons when it has one of
 * the common shapes (a literal, then at most one `*` or `**` at the end) and otherwise with its
 * RegExp: most rules test the path, and every page view runs every page-view rule.
 */
export function pathGlob(glob: string): (path: string) => boolean {
  const star = glob.indexOf("*");
  const literal = star < 0 ? glob : glob.slice(0, star);
  const tail = star < 0 ? "" : glob.slice(star);
  if (literal.includes("?") || !ASCII.test(literal) || (tail !== "" && tail !== "*" && tail !== "**")) return compileGlob(glob);
  const low = literal.toLowerCase();
  const n = low.length;
  // The RegExp is `^literal(tail)/?$` matching case-insensitively: an ASCII letter matches either
  // case, and no other character matches one not equal to it (RegExp case folding never maps a
  // character beyond ASCII to one within it).
  const startsLiteral = (path: string): boolean => {
    if (path.length < n) return false;
    for (let i = 0; i < n; i++) {
      let c = path.charCodeAt(i);
      if (c >= 65 && c <= 90) c += 32;
      if (c !== low.charCodeAt(i)) return false;
    }
    return true;
  };
  if (tail === "") {
    // `literal/?`: the literal, optionally followed by one slash.
    return (path) => (path.length === n || (path.length === n + 1 && path.charCodeAt(n) === 47)) && startsLiteral(path);
  }
  if (tail === "*") {
    // `[^/]*/?`: the rest holds no slash, but for one at its very end.
    return (path) => {
      if (!startsLiteral(path)) return false;
      const slash = path.indexOf("/", n);
      return slash < 0 || slash === path.length - 1;
    };
  }
  // `.*/?`: `.` matches anything but a line terminator.
  return (path) => {
    if (!startsLiteral(path)) return false;
    for (let i = n; i < path.length; i++) {
      const c = path.charCodeAt(i);
      if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return false;
    }
    return true;
  };
}

/**
 * Compiles a condition tree to one closure. With `shared`, fields several tests read are read
 * once per event (see `SharedReads`).
 */
export function compileCondition(c: Condition, shared?: SharedReads): EventTest {
  if ("field" in c) return compileTest(c, shared);
  if ("all" in c) {
    const parts = c.all.map((p) => compileCondition(p, shared));
    if (parts.length === 1) return parts[0]!;
    if (parts.length === 2) {
      const [a, b] = parts as [EventTest, EventTest];
      return (e, s) => a(e, s) && b(e, s);
    }
    return (e, s) => {
      for (let i = 0; i < parts.length; i++) if (!parts[i]!(e, s)) return false;
      return true;
    };
  }
  if ("any" in c) {
    const parts = c.any.map((p) => compileCondition(p, shared));
    if (parts.length === 1) return parts[0]!;
    if (parts.length === 2) {
      const [a, b] = parts as [EventTest, EventTest];
      return (e, s) => a(e, s) || b(e, s);
    }
    return (e, s) => {
      for (let i = 0; i < parts.length; i++) if (parts[i]!(e, s)) return true;
      return false;
    };
  }
  const inner = compileCondition(c.not, shared);
  return (e, s) => !inner(e, s);
}
