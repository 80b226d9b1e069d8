/**
 * Where a visitor or a lead first came from: the first page view's (or tracked email click's) path,
 * UTM source, medium and campaign, and the referring host. A referrer on one of the site's own hosts is no source: a
 * visitor starts on a page of the site after `mql.reset()` or a cleared device, or continues from
 * another of its domains, and the source would read as the site itself.
 */
import type { Engine, EngineEvent } from "../rules/index.js";

/** Where a visitor first came from (kept for reports and webhooks). */
export interface FirstTouch {
  at: number;
  path?: string;
  referrerHost?: string;
  source?: string;
  medium?: string;
  campaign?: string;
}

/** The host names of a site's own origins, per compiled rules document. */
const hostsOf = new WeakMap<Engine, Set<string>>();

export function ownHosts(engine: Engine): ReadonlySet<string> {
  let hosts = hostsOf.get(engine);
  if (hosts === undefined) {
    hosts = new Set();
    for (const origin of engine.rules.site.origins) {
      try {
        hosts.add(new URL(origin).hostname.toLowerCase());
      } catch {
        // An origin that is no URL names no host.
      }
    }
    hostsOf.set(engine, hosts);
  }
  return hosts;
}

/**
 * Whether an event can be a first touch: a page view, or a click on a tracked email link (recorded
 * by the worker before the landing page's own page view, which then carries no campaign).
 */
export function touches(event: EngineEvent): boolean {
  return (event.type === "page_view" || event.type === "email_click") && event.path !== undefined;
}

/** The first touch a page view or email click at `at` makes, for a site whose own hosts are `own`. */
export function touchOf(event: EngineEvent, at: number, own: ReadonlySet<string>): FirstTouch {
  const ft: FirstTouch = { at };
  if (event.path !== undefined) ft.path = event.path;
  if (event.referrerHost && !own.has(event.referrerHost.toLowerCase())) ft.referrerHost = event.referrerHost;
  const q = event.query;
  if (q?.utm_source) ft.source = q.utm_source;
  if (q?.utm_medium) ft.medium = q.utm_medium;
  if (q?.utm_campaign) ft.campaign = q.utm_campaign;
  return ft;
}
