/**
 * The script tag build: `<script src="https://WORKER/mql.js" data-site="acme" defer></script>`.
 * Reads its options from data-* attributes, replaces the pre-load stub by the API and replays the
 * calls the stub queued, in order.
 */
import { init } from "./client";
import type { Mql, Options } from "./types";

try {
  const s = (document.currentScript || document.querySelector("script[data-site]")) as HTMLScriptElement;
  const d = s.dataset;
  const w = window as unknown as { mql?: { q?: [keyof Mql, IArguments][] } | Mql };
  const queued = (w.mql as { q?: [keyof Mql, IArguments][] } | undefined)?.q;
  const api = (w.mql = init({ ...d, endpoint: d.endpoint || new URL(s.src).origin, debug: d.debug != null } as Options));
  // A page() queued before the script loaded is this page's view, which init has just recorded.
  queued?.map(([k, a]) => k != "page" && (api[k] as Function | undefined)?.(...a));
} catch {}
