/**
 * Picks, per event, the rules whose conditions can hold, from what is cheap to read of the event
 * once: the first segment of its path, and which of the properties the rules read it carries.
 * Most rules of a site test the path with globs like `/pricing/*` or `/blog/**`, or read a value
 * only some events carry (`utm.source` needs a query, `landing` is set on a visit's first page), and
 * a page view matches few of them. A rule is listed under the segments and properties its
 * condition needs (derived from the condition: every part of an `all`, some part of an `any`,
 * nothing under a `not`), every other rule under all of them; the lists keep the rules' order, so
 * the rules picked are counted in the order they were written.
 */
import type { EngineEvent } from "./event.js";
import type { Condition } from "./schema.js";

/**
 * The first path segments, lower-cased, that an event's path must have for `c` to hold, or null
 * when `c` can hold whatever the path ("/Pricing/team" has first segment "pricing"; "/" has "").
 * Derived from path globs only: a glob matches ASCII letters of either case and never matches a
 * character beyond ASCII to one within it, so the segment of a matching path is the glob's,
 * lower-cased. Other operators compare `toLowerCase()` text, which can turn such a character
 * into ASCII (the Kelvin sign into "k"), so they give no segment.
 */
export function pathSegments(c: Condition): Set<string> | null {
  if ("field" in c) {
    if (c.field !== "path" || c.glob === undefined) return null;
    const segments = new Set<string>();
    for (const glob of typeof c.glob === "string" ? [c.glob] : c.glob) {
      const segment = globSegment(glob);
      if (segment === null) return null;
      segments.add(segment);
    }
    return segments;
  }
  if ("all" in c) {
    // Every part must hold: the narrowest part that names segments is enough.
    let best: Set<string> | null = null;
    for (const part of c.all) {
      const segments = pathSegments(part);
      if (segments !== null && (best === null || segments.size < best.size)) best = segments;
    }
    return best;
  }
  if ("any" in c) {
    // One part is enough: every part must name segments.
    const union = new Set<string>();
    for (const part of c.any) {
      const segments = pathSegments(part);
      if (segments === null) return null;
      for (const s of segments) union.add(s);
    }
    return union;
  }
  return null;
}

const WILDCARD = /[*?]/;
const ASCII = /^[\x00-\x7f]*$/;

/**
 * The first segment, lower-cased, of every path the glob matches, or null when the glob leaves it
 * open: "/pricing", "/pricing/*" and "/pricing/**" give "pricing"; "/pri*", "*" and "/*\/x" give null.
 */
function globSegment(glob: string): string | null {
  if (!glob.startsWith("/")) return null;
  const slash = glob.indexOf("/", 1);
  const segment = slash < 0 ? glob.slice(1) : glob.slice(1, slash);
  // Without a second slash the glob is the whole path (less an optional trailing slash): it must
  // be all literal. With one, the segment before it must be.
  if (WILDCARD.test(slash < 0 ? glob : segment) || !ASCII.test(segment)) return null;
  return segment.toLowerCase();
}

/**
 * The event properties `c` needs present (not undefined) to hold: a field test reads its field
 * from one property of the event (`utm.source` from `query`, `form.id` from `form`), and holds on
 * no value but for `exists: false`. Fields read from the visitor when the event lacks them
 * (`email`, `traits.*`) need nothing, nor does `type`, which every event has.
 */
export function requiredProperties(c: Condition): Set<string> {
  if ("field" in c) {
    const key = c.exists === false ? undefined : eventProperty(c.field);
    return new Set(key === undefined ? [] : [key]);
  }
  if ("all" in c) {
    const union = new Set<string>();
    for (const part of c.all) for (const k of requiredProperties(part)) union.add(k);
    return union;
  }
  if ("any" in c) {
    const [first, ...rest] = c.any.map(requiredProperties);
    return new Set([...(first ?? [])].filter((k) => rest.every((r) => r.has(k))));
  }
  return new Set();
}

/** The event property a field is read from, or undefined when it may be read from the visitor (or is `type`). */
function eventProperty(field: string): string | undefined {
  switch (field) {
    case "type": case "email": case "email.domain": case "email.kind": return undefined;
    case "referrer.host": return "referrerHost";
    case "form.id": case "form.name": return "form";
  }
  const dot = field.indexOf(".");
  if (dot < 0) return field;
  switch (field.slice(0, dot)) {
    case "utm": case "query": return "query";
    case "fields": return "fields";
    case "props": return "props";
  }
  return undefined;
}

/** Most properties a dispatch tells apart: the lists of one event type number (segments + 1) << this. */
const MAX_PROPERTIES = 8;

/**
 * The properties worth reading, most needed first: a property is left out when every rule that
 * needs it also needs one already read (a rule on `landing` and `visit` is told apart by `landing`
 * alone), and past MAX_PROPERTIES. Leaving one out only lists a rule under more events.
 */
function telling(needs: readonly Set<string>[]): string[] {
  const uses = new Map<string, number>();
  for (const n of needs) for (const p of n) uses.set(p, (uses.get(p) ?? 0) + 1);
  const kept: string[] = [];
  for (const [p] of [...uses].sort((a, b) => b[1] - a[1])) {
    if (kept.length === MAX_PROPERTIES) break;
    if (needs.some((n) => n.has(p) && !kept.some((k) => n.has(k)))) kept.push(p);
  }
  return kept;
}

/** Rules listed per first path segment and properties present. */
export interface Dispatch<T> {
  /** The rules to test for this event, in their order: those whose conditions can hold for it. */
  rulesFor(event: EngineEvent): readonly T[];
}

/**
 * Lists `rules` (with their conditions) by first path segment and properties present; null when
 * no condition needs a segment or a property, so every event is tested against all of them.
 */
export function compileDispatch<T>(rules: readonly T[], conditionOf: (rule: T) => Condition | undefined): Dispatch<T> | null {
  const needs = rules.map((r) => {
    const c = conditionOf(r);
    const segments = c === undefined ? null : pathSegments(c);
    const properties = c === undefined ? new Set<string>() : requiredProperties(c);
    // A segment already says the path is a string.
    if (segments !== null) properties.delete("path");
    return { segments, properties };
  });
  const segments = [...new Set(needs.flatMap((n) => (n.segments === null ? [] : [...n.segments])))];
  const properties = telling(needs.map((n) => n.properties));
  if (segments.length === 0 && properties.length === 0) return null;

  const segmentNumber = new Map(segments.map((s, i) => [s, i]));
  const guards = needs.map((n) => ({
    segments: n.segments === null ? null : new Set([...n.segments].map((s) => segmentNumber.get(s)!)),
    mask: properties.reduce((mask, p, i) => (n.properties.has(p) ? mask | (1 << i) : mask), 0),
  }));
  // Segments by length, so a path's segment is found by comparing characters, without a copy.
  const byLength: number[][] = [];
  segments.forEach((s, i) => (byLength[s.length] ??= []).push(i));
  const width = properties.length;
  const lists: (readonly T[] | undefined)[] = new Array((segments.length + 1) << width);

  function segmentOf(path: unknown): number {
    if (segments.length === 0 || typeof path !== "string" || path.charCodeAt(0) !== 47) return -1;
    let end = path.indexOf("/", 1);
    if (end < 0) end = path.length;
    const candidates = byLength[end - 1];
    if (candidates === undefined) return -1;
    for (let k = 0; k < candidates.length; k++) {
      const segment = segments[candidates[k]!]!;
      let i = 0;
      for (; i < segment.length; i++) {
        let c = path.charCodeAt(i + 1);
        if (c >= 65 && c <= 90) c += 32;
        if (c !== segment.charCodeAt(i)) break;
      }
      if (i === segment.length) return candidates[k]!;
    }
    return -1;
  }

  function listFor(segment: number, mask: number): readonly T[] {
    return rules.filter((_, i) => {
      const g = guards[i]!;
      return (g.segments === null || g.segments.has(segment)) && (g.mask & mask) === g.mask;
    });
  }

  return {
    rulesFor(event) {
      const segment = segmentOf(event.path);
      const e = event as unknown as Record<string, unknown>;
      let mask = 0;
      for (let i = 0; i < width; i++) if (e[properties[i]!] !== undefined) mask |= 1 << i;
      const at = ((segment + 1) << width) | mask;
      return lists[at] ?? (lists[at] = listFor(segment, mask));
    },
  };
}
