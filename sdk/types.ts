import type { CollectResponse, WireAction, WireEvent } from "../worker/wire";
import type { EventType } from "../rules/event";

export type { CollectResponse, WireAction, WireEvent, EventType };

/** Options of `init`; the script tag reads them from its `data-*` attributes. */
export interface Options {
  /** Site id, as in the rules (`data-site`). */
  site: string;
  /** Origin of the worker (`data-endpoint`; default: where mql.js was loaded from). */
  endpoint: string;
  /** `"required"`: nothing is stored on the device or sent before `consent(true)` (`data-consent`). */
  consent?: string;
  /** Log to the console (`data-debug`). */
  debug?: boolean;
  /**
   * The site's other domains, comma-separated (`data-domains="shop.example,docs.example"`): links
   * to them carry a token with which the snippet there continues as the same visitor.
   */
  domains?: string;
}

/** Properties of a custom event, or traits of an identified visitor. */
export type Props = Record<string, string | number | boolean>;

/** The snippet's public API (`window.mql`). */
export interface Mql {
  /** Records a custom event. */
  track(name: string, props?: Props): void;
  /** Attaches an email (and traits) to this visitor. */
  identify(email: string, traits?: Props): void;
  /** Records a page view of the current URL (SPA navigation is captured without it). */
  page(): void;
  /** Grants (true) or revokes (false) consent to store on the device and send. */
  consent(granted: boolean): void;
  /** Called with the visitor's stage on the page's first answer, then when it changes. */
  on(what: "stage", fn: (stage: string, visitor: CollectResponse["visitor"]) => void): void;
  /** Called for each new CTA the worker returns, before it is shown. */
  on(what: "action", fn: (action: WireAction) => unknown): void;
  /** Forgets the visitor (a new visitor id, a new visit). */
  reset(): void;
}

/** A queued event and the visitor it belongs to. */
export interface Rec {
  e: WireEvent;
  /** Visitor id at capture. */
  v: string;
  /** Claimed by a tab until this time (ms since the epoch). Stored in IndexedDB. */
  c?: number;
  /** In this tab only: 1 once on IndexedDB, 0 when IndexedDB failed (memory only), unset while pending. */
  p?: 0 | 1;
}

/** Records an event of `type` with fields `x` added to the common ones. */
/** Records an event; answers whether it did (nothing is recorded before consent, or after an opt-out). */
export type Emit = (type: EventType, x?: Partial<WireEvent>) => unknown;

/** Logs when debug is on. */
export type Log = (...a: unknown[]) => void;
