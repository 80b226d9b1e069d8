/**
 * Which CTAs a visitor sees on a page right now: those targeting the visitor's stage and the page,
 * under their frequency cap, not recently dismissed. At most one overlay (banner, modal or
 * slide-in: the highest priority, then the first in the document) and one CTA per inline slot, so
 * a visitor is never shown a pile of offers. The variant is chosen per visitor, weighted and
 * stable, so an A/B test shows each visitor one variant for good.
 */
import { compileGlobs } from "./glob.js";
import type { Cta, Variant } from "./schema.js";
import { countIn, DAY_MS, type VisitorState } from "./state.js";

/** The page a visitor is on. */
export interface Page {
  path: string;
}

/** A CTA to render, with the variant picked for this visitor. */
export interface CtaDecision {
  id: string;
  kind: Cta["kind"];
  slot?: string;
  variant: Variant;
}

/** FNV-1a, 32 bits: a stable, well-spread hash for variant assignment. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The variant a visitor sees: weighted, stable for (visitor, CTA). */
export function pickVariant(cta: Cta, visitor: string): Variant {
  const total = cta.variants.reduce((sum, v) => sum + v.weight, 0);
  let point = (hash32(`${visitor}:${cta.id}`) / 0x1_0000_0000) * total;
  for (const v of cta.variants) {
    point -= v.weight;
    if (point < 0) return v;
  }
  return cta.variants[cta.variants.length - 1]!;
}

const pageTests = new WeakMap<Cta, { include?: (p: string) => boolean; exclude?: (p: string) => boolean }>();

function pageMatches(cta: Cta, path: string): boolean {
  let tests = pageTests.get(cta);
  if (tests === undefined) {
    tests = {};
    if (cta.pages) tests.include = compileGlobs(cta.pages);
    if (cta.excludePages) tests.exclude = compileGlobs(cta.excludePages);
    pageTests.set(cta, tests);
  }
  if (tests.include && !tests.include(path)) return false;
  return !(tests.exclude && tests.exclude(path));
}

/** Whether one CTA may be shown to this visitor on this page now. */
export function eligible(cta: Cta, state: VisitorState, page: Page, now: number): boolean {
  if (cta.stages && !cta.stages.includes(state.stage)) return false;
  if (!pageMatches(cta, page.path)) return false;
  const memory = state.ctas[cta.id];
  if (memory?.dismissedAt !== undefined && now - memory.dismissedAt < cta.dismissDays * DAY_MS) return false;
  if (cta.frequency && countIn(memory?.shown, cta.frequency.per, now) >= cta.frequency.times) return false;
  return true;
}

/** The CTAs to show now on a page. */
export function selectCtas(ctas: readonly Cta[], state: VisitorState, page: Page, now: number): CtaDecision[] {
  let overlay: Cta | undefined;
  const slots = new Map<string, Cta>();
  for (const cta of ctas) {
    if (!eligible(cta, state, page, now)) continue;
    if (cta.kind === "inline") {
      const held = slots.get(cta.slot!);
      if (held === undefined || cta.priority > held.priority) slots.set(cta.slot!, cta);
    } else if (overlay === undefined || cta.priority > overlay.priority) overlay = cta;
  }
  const chosen = overlay ? [overlay, ...slots.values()] : [...slots.values()];
  return chosen.map((cta) => {
    const decision: CtaDecision = { id: cta.id, kind: cta.kind, variant: pickVariant(cta, state.visitor) };
    if (cta.slot !== undefined) decision.slot = cta.slot;
    return decision;
  });
}
