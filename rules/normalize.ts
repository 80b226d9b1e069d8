/**
 * Turns a captured event (full URL, referrer) into the event the engine scores (path, query,
 * referrer host): done once, at the edge, so rules never parse URLs.
 */
import type { EngineEvent } from "./event.js";

/** A captured event: the engine event's fields, with `url` still whole. */
export type CapturedEvent = Omit<EngineEvent, "path" | "query" | "referrerHost"> & Partial<Pick<EngineEvent, "path" | "query" | "referrerHost">>;

/**
 * The event as scored: path and query from `url`, host from `referrer`. Returns a new object.
 * A hash route (`/app#/pricing`, `/#!/pricing?plan=team`: a single-page app routing by fragment)
 * is the page's path, its query added to the page's; any other fragment is not part of the page.
 */
export function normalizeEvent(captured: CapturedEvent): EngineEvent {
  const event: EngineEvent = { ...captured };
  if (captured.url !== undefined && (captured.path === undefined || captured.query === undefined)) {
    const url = safeUrl(captured.url);
    if (url !== undefined) {
      const hash = /^#!?(\/.*)$/.exec(url.hash);
      const route = hash ? safeUrl(hash[1]!, url.href) : undefined;
      if (captured.path === undefined) event.path = decodePath((route ?? url).pathname);
      if (captured.query === undefined && url.search.length + (route?.search.length ?? 0) > 1) {
        // The page's query, then the route's (a landing's UTM parameters sit before the fragment).
        const query: Record<string, string> = {};
        let n = 0;
        for (const [k, v] of [...url.searchParams, ...(route?.searchParams ?? [])]) {
          if (n++ >= 50) break;
          if (/^[\w.-]{1,64}$/.test(k) && !(k in query)) query[k] = v.slice(0, 512);
        }
        event.query = query;
      }
    }
  }
  if (captured.referrer && captured.referrerHost === undefined) {
    const ref = safeUrl(captured.referrer);
    if (ref !== undefined && ref.hostname) event.referrerHost = ref.hostname.toLowerCase();
  }
  return event;
}

function safeUrl(text: string, base?: string): URL | undefined {
  try {
    return new URL(text, base);
  } catch {
    return undefined;
  }
}

function decodePath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return pathname;
  }
}
