/**
 * The rules document: one JSON document per site saying what a visitor's behaviour is worth.
 *
 * This zod schema is the only source of the rules types (`z.infer`) and of `rules/schema.json`
 * (`npm run rules:schema`). It uses `zod/mini` so the worker that validates documents stays small.
 * Cross-references (a rule's group, a stage's signal, a CTA's stages...) are checked in `validate.ts`.
 */
import * as z from "zod/mini";
import { EVENT_TYPES } from "./event.js";

/** Identifier used for sites, rules, groups, stages, CTAs, variants and webhooks. */
const Id = z.string().check(
  z.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "expected an id: 1-64 of a-z 0-9 _ -, starting with a letter or digit"),
);
const Text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
const Int = (min: number, max: number) => z.number().check(z.int(), z.gte(min), z.lte(max));
const Positive = (max: number) => z.number().check(z.gt(0), z.lte(max));

/** Event types a rule can listen to. */
export const EventTypeSchema = z.enum(EVENT_TYPES);

/**
 * A field of the event (or of the visitor's identity) a condition reads.
 * `query.X`, `fields.X`, `props.X` and `traits.X` read one named value.
 */
export const FIELD_PATTERN =
  /^(type|path|url|title|referrer|referrer\.host|utm\.(source|medium|campaign|term|content)|query\.[\w.-]{1,64}|form\.(id|name)|fields\.[\w.-]{1,64}|element|href|name|props\.[\w.-]{1,64}|email|email\.domain|email\.kind|traits\.[\w.-]{1,64}|country|visit|landing)$/;

const Scalar = z.union([z.string().check(z.maxLength(256)), z.number(), z.boolean()]);
const Needle = z.string().check(z.minLength(1), z.maxLength(256));

/**
 * A leaf test on one field, with exactly one operator. String comparisons ignore case; numeric
 * comparisons read the leading number of a string value ("51-200" reads 51, "1,000+" reads 1000).
 */
export const FieldTestSchema = z.strictObject({
  field: z.string().check(
    z.regex(FIELD_PATTERN, "expected a known field: path, url, title, referrer, referrer.host, utm.source|medium|campaign|term|content, query.NAME, form.id, form.name, fields.NAME, element, href, name, props.NAME, email, email.domain, email.kind, traits.NAME, country, visit, landing, type"),
  ),
  eq: z.optional(Scalar),
  in: z.optional(z.array(z.union([z.string().check(z.maxLength(256)), z.number()])).check(z.minLength(1), z.maxLength(500))),
  contains: z.optional(z.union([Needle, z.array(Needle).check(z.minLength(1), z.maxLength(100))])),
  startsWith: z.optional(Needle),
  endsWith: z.optional(Needle),
  glob: z.optional(z.union([Needle, z.array(Needle).check(z.minLength(1), z.maxLength(100))])),
  gte: z.optional(z.number()),
  gt: z.optional(z.number()),
  lte: z.optional(z.number()),
  lt: z.optional(z.number()),
  exists: z.optional(z.boolean()),
});
/** The operators of a field test, in the order they are documented. */
export const OPERATORS = ["eq", "in", "contains", "startsWith", "endsWith", "glob", "gte", "gt", "lte", "lt", "exists"] as const;

/** A condition on an event: a field test, or all/any/not of conditions. */
export type Condition = FieldTest | { all: Condition[] } | { any: Condition[] } | { not: Condition };
export type FieldTest = z.infer<typeof FieldTestSchema>;

export const ConditionSchema: z.ZodMiniType<Condition> = z.union([
  FieldTestSchema,
  z.strictObject({ get all() { return z.array(ConditionSchema).check(z.minLength(1), z.maxLength(50)); } }),
  z.strictObject({ get any() { return z.array(ConditionSchema).check(z.minLength(1), z.maxLength(50)); } }),
  z.strictObject({ get not() { return ConditionSchema; } }),
]);

/** How a rule's points fade: they halve every `halfLifeDays`. */
export const HalfLifeSchema = z.strictObject({ halfLifeDays: Positive(3650) });

/** How often a rule may count: at most `times` times ever, or per UTC day or ISO week. */
export const CapSchema = z.strictObject({
  times: Int(1, 100000),
  per: z._default(z.enum(["ever", "day", "week"]), "ever"),
});

/** One signal and what it is worth. */
export const RuleSchema = z.strictObject({
  id: Id,
  description: z.optional(Text(200)),
  on: z.union([EventTypeSchema, z.array(EventTypeSchema).check(z.minLength(1))]),
  when: z.optional(ConditionSchema),
  group: z._default(Id, "engagement"),
  points: Int(-1000, 1000),
  cap: z.optional(CapSchema),
  decay: z.optional(HalfLifeSchema),
  /** Moves the visitor back to this stage when the rule counts (for example on unsubscribe). */
  demoteTo: z.optional(Id),
  enabled: z._default(z.boolean(), true),
});

/**
 * A score group (fit: who they are; engagement: what they do). `total` is the sum of all groups.
 * `max`/`min` clamp the group's score; `decay` is the default half-life of its rules;
 * `inactivity` takes `pointsPerDay` off a positive score for each day past `afterDays` without activity.
 */
export const GroupSchema = z.strictObject({
  id: Id,
  label: z.optional(Text(80)),
  max: z.optional(z.number()),
  min: z.optional(z.number()),
  decay: z.optional(HalfLifeSchema),
  inactivity: z.optional(z.strictObject({ afterDays: Int(0, 3650), pointsPerDay: Positive(1000) })),
});

/** A condition on the visitor (not on one event), deciding stage entry. */
export type StageCondition =
  | { score: string; gte: number }
  | { signal: string; times?: number }
  | { identified: boolean }
  | { all: StageCondition[] }
  | { any: StageCondition[] }
  | { not: StageCondition };

export const StageConditionSchema: z.ZodMiniType<StageCondition> = z.union([
  z.strictObject({ score: Id, gte: z.number() }),
  z.strictObject({ signal: Id, times: z.optional(Int(1, 100000)) }),
  z.strictObject({ identified: z.boolean() }),
  z.strictObject({ get all() { return z.array(StageConditionSchema).check(z.minLength(1), z.maxLength(20)); } }),
  z.strictObject({ get any() { return z.array(StageConditionSchema).check(z.minLength(1), z.maxLength(20)); } }),
  z.strictObject({ get not() { return StageConditionSchema; } }),
]);

/** An ordered stage of the funnel. The first stage has no condition; every later one has one. */
export const StageSchema = z.strictObject({
  id: Id,
  label: z.optional(Text(80)),
  when: z.optional(StageConditionSchema),
});

/** A link that is either absolute http(s) or relative to the site ("/demo", "?x=1", "#form"). */
const Href = z.string().check(
  z.maxLength(2048),
  z.regex(/^(https?:\/\/[^\s\\]+|\/(?![/\\])[^\s\\]*|[?#][^\s\\]*)$/i, "expected an http(s) URL or a path starting with / (no backslashes)"),
);

/** One version of a CTA's content (A/B tests pick one per visitor, weighted). Rendered as text only. */
export const VariantSchema = z.strictObject({
  id: Id,
  weight: z._default(Positive(1000), 1),
  title: z.optional(Text(120)),
  text: Text(500),
  button: z.optional(z.strictObject({ label: Text(60), href: Href })),
});

/** A call to action shown to visitors in the given stages on the given pages. */
export const CtaSchema = z.strictObject({
  id: Id,
  kind: z.enum(["banner", "modal", "slide_in", "inline"]),
  /** For `inline`: fills `<div data-mql-slot="NAME">`. */
  slot: z.optional(Id),
  stages: z.optional(z.array(Id).check(z.minLength(1))),
  pages: z.optional(z.array(Needle).check(z.minLength(1), z.maxLength(100))),
  excludePages: z.optional(z.array(Needle).check(z.minLength(1), z.maxLength(100))),
  variants: z.array(VariantSchema).check(z.minLength(1), z.maxLength(10)),
  /** At most `times` impressions ever, or per UTC day or ISO week. */
  frequency: z.optional(CapSchema),
  /** Once dismissed, hidden for this many days. */
  dismissDays: z._default(z.number().check(z.gte(0), z.lte(3650)), 30),
  priority: z._default(Int(-1000, 1000), 0),
});

/** When a webhook fires: on entering one of the stages, or when a score reaches a value. */
export const WebhookTriggerSchema = z.union([
  z.strictObject({ stageEntered: z.array(Id).check(z.minLength(1)) }),
  z.strictObject({ scoreReached: z.strictObject({ score: Id, value: z.number() }) }),
]);

/** A webhook: which configured target to call (URL, template and secret live outside the rules). */
export const WebhookSchema = z.strictObject({
  id: Id,
  target: Id,
  on: WebhookTriggerSchema,
});

/**
 * A condition on an account (the company its leads roll up into): an account score, how many of its
 * people there are, how many gave a signal (a rule that counted for them), how many reached a stage.
 */
export type AccountCondition =
  | { score: string; gte: number }
  | { members: number }
  | { signal: string; members?: number }
  | { stage: string; members?: number }
  | { all: AccountCondition[] }
  | { any: AccountCondition[] }
  | { not: AccountCondition };

export const AccountConditionSchema: z.ZodMiniType<AccountCondition> = z.union([
  z.strictObject({ score: Id, gte: z.number() }),
  z.strictObject({ members: Int(1, 100000) }),
  z.strictObject({ signal: Id, members: z.optional(Int(1, 100000)) }),
  z.strictObject({ stage: Id, members: z.optional(Int(1, 100000)) }),
  z.strictObject({ get all() { return z.array(AccountConditionSchema).check(z.minLength(1), z.maxLength(20)); } }),
  z.strictObject({ get any() { return z.array(AccountConditionSchema).check(z.minLength(1), z.maxLength(20)); } }),
  z.strictObject({ get not() { return AccountConditionSchema; } }),
]);

/**
 * Accounts: leads with the same corporate email domain (or, for free-mail addresses, the same
 * `company` trait) roll up into one account with its own scores (per group: `sum`, `max` or `avg`
 * of its people's; by default `max` for a group named fit, `sum` for the others), its own ordered
 * stages (only forward) and its own webhooks (`account.stage_entered`, `account.score_reached`).
 */
export const AccountsSchema = z.strictObject({
  scores: z.optional(z.record(Id, z.enum(["sum", "max", "avg"]))),
  stages: z.array(z.strictObject({ id: Id, label: z.optional(Text(80)), when: z.optional(AccountConditionSchema) })).check(z.minLength(2), z.maxLength(10)),
  webhooks: z._default(z.array(WebhookSchema).check(z.maxLength(50)), []),
});

/** Site identity and privacy. */
export const SiteSchema = z.strictObject({
  id: Id,
  name: z.optional(Text(120)),
  origins: z.array(
    z.string().check(z.regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i, "expected an origin like https://www.example.com (no path, no trailing slash)")),
  ).check(z.minLength(1), z.maxLength(50)),
  consent: z._default(z.enum(["none", "required"]), "none"),
  /**
   * One lead across visits, devices and domains: visitors that identify with the same email become
   * one lead, scored once over their merged history (needs the worker's IDENTITY_SECRET). Off unless
   * set: linking a person's devices is a processing the site decides on.
   */
  stitch: z.optional(z.boolean()),
  privacy: z._default(
    z.strictObject({
      honorGpc: z._default(z.boolean(), true),
      honorDnt: z._default(z.boolean(), false),
      /** Form fields never captured, on top of passwords, hidden and card fields. */
      ignoreFields: z._default(z.array(Needle).check(z.maxLength(100)), []),
      retentionDays: z._default(Int(1, 3650), 395),
    }),
    { honorGpc: true, honorDnt: false, ignoreFields: [], retentionDays: 395 },
  ),
});

/** The whole rules document of one site. */
export const RulesDocumentSchema = z.strictObject({
  $schema: z.optional(z.string()),
  version: z.string().check(z.regex(/^[\w.:+-]{1,64}$/, "expected a version: 1-64 of letters, digits . _ : + -")),
  site: SiteSchema,
  groups: z.array(GroupSchema).check(z.minLength(1), z.maxLength(10)),
  rules: z.array(RuleSchema).check(z.maxLength(1000)),
  stages: z.array(StageSchema).check(z.minLength(2), z.maxLength(10)),
  ctas: z._default(z.array(CtaSchema).check(z.maxLength(100)), []),
  webhooks: z._default(z.array(WebhookSchema).check(z.maxLength(50)), []),
  accounts: z.optional(AccountsSchema),
});

/** A validated rules document, defaults filled in. */
export type RulesDocument = z.infer<typeof RulesDocumentSchema>;
/** A rules document as written (defaults optional). */
export type RulesInput = z.input<typeof RulesDocumentSchema>;
export type Rule = z.infer<typeof RuleSchema>;
export type Group = z.infer<typeof GroupSchema>;
export type Stage = z.infer<typeof StageSchema>;
export type Cta = z.infer<typeof CtaSchema>;
export type Variant = z.infer<typeof VariantSchema>;
export type Webhook = z.infer<typeof WebhookSchema>;
export type Cap = z.infer<typeof CapSchema>;
export type Site = z.infer<typeof SiteSchema>;
export type Accounts = z.infer<typeof AccountsSchema>;
