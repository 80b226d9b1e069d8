/**
 * `GET /v1/admin/sites/:site/ctas`: per CTA and variant, impressions, clicks, dismissals and
 * conversions in a period, with the winner and its confidence.
 *
 * A conversion is a visitor who clicked the variant and afterwards entered the CTA's target stage
 * (the stage after the furthest one it is shown to: a CTA for leads aims at MQL) or submitted a
 * form. Rates are per visitor: conversions out of the visitors who saw the variant, null when
 * nobody saw it (a rate out of nobody is unknown, not 0).
 */
import { Hono } from "hono";
import type { Cta, RulesDocument } from "../../rules/index.js";
import type { Env } from "../env.js";
import { abVerdict } from "./ab-test.js";
import { index } from "./db.js";
import { ratio } from "./funnel.js";
import { queryPeriod, siteEngine } from "./params.js";

/** The stage a CTA tries to move its visitors into, or null (a CTA for the last stage, or for everyone). */
export function targetStage(cta: Pick<Cta, "stages">, stages: readonly string[]): string | null {
  if (!cta.stages || cta.stages.length === 0) return null;
  const furthest = Math.max(...cta.stages.map((s) => stages.indexOf(s)));
  return furthest >= 0 && furthest < stages.length - 1 ? stages[furthest + 1]! : null;
}

/** Counts of one variant. */
export interface VariantStats {
  id: string;
  impressions: number;
  viewers: number;
  clicks: number;
  clickers: number;
  dismissals: number;
  conversions: number;
  ctr: number | null;
  conversionRate: number | null;
}

export const ctaStats = new Hono<{ Bindings: Env }>();

ctaStats.get("/v1/admin/sites/:site/ctas", async (c) => {
  const { site, engine } = await siteEngine(c);
  const { from, to } = queryPeriod(c, 30);
  const db = index(c.env);
  const [counts, clicks] = await db.run(() => Promise.all([
    db.d1.prepare(`SELECT cta, coalesce(variant, '?') AS variant, type, count(*) AS n, count(DISTINCT visitor) AS v FROM lead_events
      WHERE site = ? AND cta IS NOT NULL AND at >= ? AND at < ? GROUP BY cta, variant, type`).bind(site, from, to).all(),
    db.d1.prepare(`SELECT c.cta, c.variant, c.visitor,
        EXISTS (SELECT 1 FROM lead_events f WHERE f.site = ?1 AND f.visitor = c.visitor AND f.type = 'form_submit' AND f.at >= c.clicked) AS formed,
        (SELECT group_concat(s.stage) FROM lead_stages s WHERE s.site = ?1 AND s.visitor = c.visitor AND s.at >= c.clicked) AS entered
      FROM (SELECT cta, coalesce(variant, '?') AS variant, visitor, min(at) AS clicked FROM lead_events
        WHERE site = ?1 AND type = 'cta_click' AND cta IS NOT NULL AND at >= ?2 AND at < ?3 GROUP BY cta, variant, visitor) c`).bind(site, from, to).all(),
  ]));
  return c.json({ site, from, to, ctas: assemble(engine.rules, counts.results, clicks.results) });
});

type Row = Record<string, unknown>;

/** Per CTA of the rules (and CTAs since removed that still have data): variants with counts and the verdict. */
function assemble(rules: RulesDocument, counts: Row[], clicks: Row[]) {
  const stageIds = rules.stages.map((s) => s.id);
  const known = new Map(rules.ctas.map((c) => [c.id, c]));
  const ids = [...new Set([...rules.ctas.map((c) => c.id), ...counts.map((r) => String(r.cta))])];
  return ids.map((id) => {
    const cta = known.get(id);
    const target = cta ? targetStage(cta, stageIds) : null;
    const variantIds = [...new Set([...(cta?.variants.map((v) => v.id) ?? []), ...counts.filter((r) => r.cta === id).map((r) => String(r.variant))])];
    const variants: VariantStats[] = variantIds.map((v) => {
      const of = (type: string) => counts.find((r) => r.cta === id && r.variant === v && r.type === type);
      const imp = of("cta_impression");
      const clk = of("cta_click");
      const dis = of("cta_dismiss");
      const conversions = clicks.filter((r) => r.cta === id && r.variant === v
        && (Number(r.formed) === 1 || (target !== null && String(r.entered ?? "").split(",").includes(target)))).length;
      const viewers = Math.max(Number(imp?.v ?? 0), Number(clk?.v ?? 0));
      return {
        id: v, impressions: Number(imp?.n ?? 0), viewers, clicks: Number(clk?.n ?? 0), clickers: Number(clk?.v ?? 0), dismissals: Number(dis?.n ?? 0),
        conversions, ctr: viewers === 0 ? null : ratio(Number(clk?.v ?? 0), viewers), conversionRate: viewers === 0 ? null : ratio(conversions, viewers),
      };
    });
    return {
      id, kind: cta?.kind ?? null, removed: cta === undefined, stages: cta?.stages ?? null, target, variants,
      verdict: abVerdict(variants.map((v) => ({ id: v.id, n: v.viewers, x: v.conversions }))),
    };
  });
}
