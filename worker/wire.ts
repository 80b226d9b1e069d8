/**
 * The collect protocol between the snippet and the worker. These zod schemas are the only source
 * of the wire types; the snippet imports the types only.
 *
 * The snippet POSTs the request as `text/plain` (a CORS "simple request": no preflight, and
 * `sendBeacon` can carry it on page unload) to `/v1/collect`; the body is JSON.
 */
import * as z from "zod/mini";
import { EVENT_TYPES } from "../rules/event.js";

/** Most events in one request. */
export const BATCH_MAX = 50;
/** Largest request body: also the browser's keepalive/sendBeacon budget. */
export const BODY_MAX_BYTES = 64 * 1024;

const Id = (what: string) => z.string().check(z.regex(/^[\w-]{8,64}$/, `expected ${what}: 8-64 letters, digits, _ or -`));
const Str = (max: number) => z.string().check(z.maxLength(max));
const Key = z.string().check(z.regex(/^[\w.-]{1,64}$/, "expected a key of 1-64 letters, digits, _ . -"));
const Value = z.union([Str(1024), z.number().check(z.gte(-1e15), z.lte(1e15)), z.boolean()]);
const Bag = (max: number) =>
  z.record(Key, Value).check(z.refine((r) => Object.keys(r).length <= max, `expected at most ${max} keys`));

/** One captured event. */
export const WireEventSchema = z.strictObject({
  /** Unique id stamped at capture; a resent event with the same id is acknowledged, never scored twice. */
  id: Id("an event id"),
  type: z.enum(EVENT_TYPES),
  /** Capture time on the device, ms since the epoch. */
  ts: z.number().check(z.int(), z.gte(0)),
  url: z.optional(z.string().check(z.maxLength(4096), z.regex(/^https?:\/\//i, "expected an http(s) URL"))),
  referrer: z.optional(Str(4096)),
  title: z.optional(Str(512)),
  name: z.optional(Str(128)),
  element: z.optional(Str(128)),
  href: z.optional(Str(4096)),
  form: z.optional(z.strictObject({ id: z.optional(Str(128)), name: z.optional(Str(128)) })),
  fields: z.optional(z.record(Key, Str(1024)).check(z.refine((r) => Object.keys(r).length <= 50, "expected at most 50 fields"))),
  props: z.optional(Bag(50)),
  email: z.optional(z.string().check(z.maxLength(254), z.regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, "expected an email address"))),
  traits: z.optional(Bag(50)),
  visit: z.optional(z.number().check(z.int(), z.gte(1), z.lte(1_000_000))),
  landing: z.optional(z.boolean()),
});

/** The body of `POST /v1/collect`. */
export const CollectRequestSchema = z.strictObject({
  site: z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "expected a site id")),
  visitor: Id("a visitor id"),
  session: z.optional(Id("a session id")),
  /** The page the snippet is on, as a path or a URL (read as events' URLs are: a hash route is the path): the CTAs returned are for this page. */
  page: z.optional(Str(4096)),
  events: z.array(WireEventSchema).check(z.minLength(1), z.maxLength(BATCH_MAX)),
});

export type WireEvent = z.infer<typeof WireEventSchema>;
export type CollectRequest = z.infer<typeof CollectRequestSchema>;

/** A CTA to render, as the worker sends it. Content is text; links are http(s) or relative. */
export interface WireAction {
  id: string;
  kind: "banner" | "modal" | "slide_in" | "inline";
  slot?: string;
  variant: { id: string; title?: string; text: string; button?: { label: string; href: string } };
}

/** The answer to `POST /v1/collect`. */
export interface CollectResponse {
  /** Ids of the events durably stored (or already stored): the snippet may forget them. */
  ack: string[];
  visitor: { stage: string; score: { fit: number; engagement: number; total: number } & Record<string, number> };
  /** CTAs to show now on `page`. */
  actions: WireAction[];
  /**
   * Set when the site honours Global Privacy Control (or Do Not Track) and the browser sent it:
   * the events were acknowledged and dropped; the snippet stops capturing and empties its queue.
   */
  optedOut?: true;
}

/**
 * CTA tracking: the snippet reports an impression, a click and a dismissal as events of type
 * `cta_impression`, `cta_click` and `cta_dismiss` with `element` = the CTA id and
 * `props.variant` = the variant id. Frequency caps and dismissals are enforced from them.
 */
export type CtaEventType = "cta_impression" | "cta_click" | "cta_dismiss";

/** The error body of every 4xx/5xx answer. */
export interface ErrorResponse {
  error: { code: string; message: string; issues?: { path: string; message: string; line?: number; column?: number }[] };
}
