/**
 * The event the scoring engine reads: already normalised by the worker (URL split into path and
 * query, referrer host extracted), so the engine never parses anything on the hot path.
 */
import * as z from "zod/mini";

/** Every event type the snippet sends and a rule can listen to. */
export const EVENT_TYPES = [
  "page_view",
  "form_submit",
  "cta_click",
  "download",
  "email_click",
  "email_open",
  "identify",
  "custom",
  "cta_impression",
  "cta_dismiss",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const Str = (max: number) => z.string().check(z.maxLength(max));
const Key = z.string().check(z.regex(/^[\w.-]{1,64}$/, "expected a key of 1-64 letters, digits, _ . -"));
const Value = z.union([Str(1024), z.number(), z.boolean()]);

/** A normalised event, as scored. */
export const EngineEventSchema = z.strictObject({
  /** Unique id stamped at capture: the engine's unit of exactly-once. */
  id: z.string().check(z.regex(/^[\w-]{8,64}$/, "expected an event id of 8-64 letters, digits, _ or -")),
  type: z.enum(EVENT_TYPES),
  path: z.optional(Str(2048)),
  url: z.optional(Str(4096)),
  title: z.optional(Str(512)),
  query: z.optional(z.record(Key, Str(512))),
  referrer: z.optional(Str(4096)),
  referrerHost: z.optional(Str(255)),
  /** Custom event name (type `custom`). */
  name: z.optional(Str(128)),
  /** CTA or element id (`data-mql-cta`), for clicks, impressions and dismissals. */
  element: z.optional(Str(128)),
  href: z.optional(Str(4096)),
  form: z.optional(z.strictObject({ id: z.optional(Str(128)), name: z.optional(Str(128)) })),
  fields: z.optional(z.record(Key, Str(1024))),
  props: z.optional(z.record(Key, Value)),
  email: z.optional(Str(254)),
  traits: z.optional(z.record(Key, Value)),
  country: z.optional(Str(2)),
  /** Ordinal of this visit on the device (1 = first visit). */
  visit: z.optional(z.number().check(z.int(), z.gte(1))),
  /** First page view of a visit. */
  landing: z.optional(z.boolean()),
});

/** A normalised event, as scored. */
export type EngineEvent = z.infer<typeof EngineEventSchema>;
