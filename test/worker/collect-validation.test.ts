/**
 * Bad input never reaches state: every malformed batch gets a 4xx naming what is wrong (the JSON
 * path of the failing field), nothing about the visitor is stored, and the worker never answers 5xx.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { BATCH_MAX, BODY_MAX_BYTES } from "../../worker/wire.js";
import { collectOk, getVisitor, ORIGIN, postRaw, seedRules, uid, type ErrorResponse } from "./support/client.js";

beforeAll(() => seedRules());

/** The event every malformed batch starts from: a pricing view, worth 11 points if it ever leaked into state. */
function baseEvent(id: string): Record<string, unknown> {
  return { id, type: "page_view", ts: Date.now(), url: `${ORIGIN}/pricing`, title: "Pricing" };
}

type Json = Record<string, unknown>;

interface Case {
  name: string;
  /** The body sent, built from a valid visitor id and a valid event. */
  body: (visitor: string, ev: Json) => string | Uint8Array;
  status?: number;
  code: string;
  /** The JSON path an issue must name (400 invalid_body); otherwise `message` must match. */
  path?: string;
  message?: RegExp;
  headers?: Record<string, string>;
}

const batch = (visitor: string, events: unknown[], extra: Json = {}) => JSON.stringify({ site: "demo", visitor, events, ...extra });
/** A valid batch of one event with `patch` applied to it (undefined deletes a field). */
const withEvent = (patch: Json) => (visitor: string, ev: Json) => {
  const e: Json = { ...ev, ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete e[k];
  return batch(visitor, [e]);
};
/** A valid batch with `patch` applied to the request itself. */
const withRequest = (patch: Json) => (visitor: string, ev: Json) => {
  const r: Json = { site: "demo", visitor, events: [ev], ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete r[k];
  return JSON.stringify(r);
};
const keys = (n: number, value: unknown) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value]));
const s = (n: number) => "x".repeat(n);

const invalid = (name: string, path: string, body: Case["body"]): Case => ({ name, body, code: "invalid_body", path });

const cases: Case[] = [
  // Not JSON at all.
  { name: "an empty body", body: () => "", code: "invalid_json", message: /not valid JSON/ },
  { name: "truncated JSON", body: (v, ev) => batch(v, [ev]).slice(0, -3), code: "invalid_json", message: /not valid JSON/ },
  { name: "plain text", body: () => "site=demo&visitor=x", code: "invalid_json", message: /not valid JSON/ },
  { name: "a trailing comma", body: (v, ev) => batch(v, [ev]).replace(/}$/, ",}"), code: "invalid_json", message: /not valid JSON/ },
  { name: "single-quoted JSON", body: () => "{'site':'demo'}", code: "invalid_json", message: /not valid JSON/ },
  // JSON of the wrong shape.
  invalid("null", "$", () => "null"),
  invalid("an array", "$", (v, ev) => JSON.stringify([{ site: "demo", visitor: v, events: [ev] }])),
  invalid("a string", "$", () => '"demo"'),
  invalid("a number", "$", () => "42"),
  // The request's fields.
  invalid("a missing site", "$.site", withRequest({ site: undefined })),
  invalid("a numeric site", "$.site", withRequest({ site: 7 })),
  invalid("a site id with capitals", "$.site", withRequest({ site: "Demo" })),
  invalid("a site id with a slash", "$.site", withRequest({ site: "demo/../admin" })),
  invalid("a site id of 65 characters", "$.site", withRequest({ site: `d${s(64)}` })),
  invalid("a missing visitor", "$.visitor", withRequest({ visitor: undefined })),
  invalid("a visitor id of 3 characters", "$.visitor", withRequest({ visitor: "abc" })),
  invalid("a visitor id with a path in it", "$.visitor", withRequest({ visitor: "v_1234/../../x" })),
  invalid("a visitor id of 65 characters", "$.visitor", withRequest({ visitor: `v${s(64)}` })),
  invalid("a numeric visitor id", "$.visitor", withRequest({ visitor: 12345678 })),
  invalid("a session id with spaces", "$.session", withRequest({ session: "s 1234 5678" })),
  invalid("a page of 4,097 characters", "$.page", withRequest({ page: `/${s(4096)}` })),
  invalid("a numeric page", "$.page", withRequest({ page: 404 })),
  invalid("an unknown request key", "$.user", withRequest({ user: "jane" })),
  invalid("missing events", "$.events", withRequest({ events: undefined })),
  invalid("events as an object", "$.events", withRequest({ events: { 0: "x" } })),
  invalid("no events", "$.events", withRequest({ events: [] })),
  invalid(`${BATCH_MAX + 1} events`, "$.events", (v, ev) =>
    batch(v, Array.from({ length: BATCH_MAX + 1 }, (_, i) => ({ ...ev, id: `${String(ev.id)}_${i}` })))),
  // An event's fields.
  invalid("a null event", "$.events[0]", (v) => batch(v, [null])),
  invalid("an event that is a string", "$.events[0]", (v) => batch(v, ["page_view"])),
  invalid("a missing event id", "$.events[0].id", withEvent({ id: undefined })),
  invalid("an event id of 7 characters", "$.events[0].id", withEvent({ id: "ev_1234" })),
  invalid("an event id with spaces", "$.events[0].id", withEvent({ id: "ev 1234 5678" })),
  invalid("an event id of 65 characters", "$.events[0].id", withEvent({ id: `e${s(64)}` })),
  invalid("a missing type", "$.events[0].type", withEvent({ type: undefined })),
  invalid("an unknown type", "$.events[0].type", withEvent({ type: "purchase" })),
  invalid("a type in capitals", "$.events[0].type", withEvent({ type: "PAGE_VIEW" })),
  invalid("a missing ts", "$.events[0].ts", withEvent({ ts: undefined })),
  invalid("a negative ts", "$.events[0].ts", withEvent({ ts: -1 })),
  invalid("a fractional ts", "$.events[0].ts", withEvent({ ts: 1733250000000.5 })),
  invalid("a ts as a string", "$.events[0].ts", withEvent({ ts: "1733250000000" })),
  invalid("a ts past the safe integers", "$.events[0].ts", withEvent({ ts: 1e300 })),
  invalid("a javascript: url", "$.events[0].url", withEvent({ url: "javascript:alert(1)" })),
  invalid("a data: url", "$.events[0].url", withEvent({ url: "data:text/html,<p>hi</p>" })),
  invalid("a relative url", "$.events[0].url", withEvent({ url: "/pricing" })),
  invalid("a url of 4,097 characters", "$.events[0].url", withEvent({ url: `${ORIGIN}/${s(4096 - ORIGIN.length)}` })),
  invalid("a referrer of 4,097 characters", "$.events[0].referrer", withEvent({ referrer: s(4097) })),
  invalid("a title of 513 characters", "$.events[0].title", withEvent({ title: s(513) })),
  invalid("a name of 129 characters", "$.events[0].name", withEvent({ type: "custom", name: s(129) })),
  invalid("an element of 129 characters", "$.events[0].element", withEvent({ type: "cta_click", element: s(129) })),
  invalid("an href of 4,097 characters", "$.events[0].href", withEvent({ type: "download", href: s(4097) })),
  invalid("an email without @", "$.events[0].email", withEvent({ type: "identify", email: "jane.acme.example" })),
  invalid("an email with a space", "$.events[0].email", withEvent({ type: "identify", email: "jane doe@acme.example" })),
  invalid("an email without a dot in the domain", "$.events[0].email", withEvent({ type: "identify", email: "jane@localhost" })),
  invalid("an email of 255 characters", "$.events[0].email", withEvent({ type: "identify", email: `${s(242)}@acme.example` })),
  invalid("a numeric email", "$.events[0].email", withEvent({ type: "identify", email: 42 })),
  invalid("a nested object in props", "$.events[0].props.plan", withEvent({ props: { plan: { tier: "pro" } } })),
  invalid("an array in props", "$.events[0].props.tags", withEvent({ props: { tags: ["a", "b"] } })),
  invalid("a null in props", "$.events[0].props.seen", withEvent({ props: { seen: null } })),
  invalid("51 props", "$.events[0].props", withEvent({ props: keys(51, 1) })),
  invalid("a props key with a space", '$.events[0].props["bad key"]', withEvent({ props: { "bad key": 1 } })),
  invalid("a props value of 1,025 characters", "$.events[0].props.note", withEvent({ props: { note: s(1025) } })),
  invalid("a props number past 1e15", "$.events[0].props.amount", withEvent({ props: { amount: 2e15 } })),
  invalid("props as an array", "$.events[0].props", withEvent({ props: [1, 2] })),
  invalid("51 form fields", "$.events[0].fields", withEvent({ type: "form_submit", fields: keys(51, "x") })),
  invalid("a numeric form field", "$.events[0].fields.company_size", withEvent({ type: "form_submit", fields: { company_size: 200 } })),
  invalid("a form field of 1,025 characters", "$.events[0].fields.message", withEvent({ type: "form_submit", fields: { message: s(1025) } })),
  invalid("51 traits", "$.events[0].traits", withEvent({ type: "identify", traits: keys(51, "x") })),
  invalid("a nested object in traits", "$.events[0].traits.company", withEvent({ type: "identify", traits: { company: { name: "Acme" } } })),
  invalid("an unknown form key", "$.events[0].form.action", withEvent({ type: "form_submit", form: { id: "demo-request", action: "/post" } })),
  invalid("a form that is a string", "$.events[0].form", withEvent({ type: "form_submit", form: "demo-request" })),
  invalid("an unknown event key", "$.events[0].score", withEvent({ score: 1000 })),
  invalid("a path key (the worker derives it)", "$.events[0].path", withEvent({ path: "/pricing" })),
  invalid("a __proto__ key in an event", "$.events[0].__proto__", (v, ev) => batch(v, [ev]).replace('"id"', '"__proto__":{"type":"x"},"id"')),
  invalid("a visit number of 0", "$.events[0].visit", withEvent({ visit: 0 })),
  invalid("a landing flag as a string", "$.events[0].landing", withEvent({ landing: "yes" })),
  invalid("a bad second event after a valid one", "$.events[1].type", (v, ev) =>
    batch(v, [ev, { ...ev, id: `${String(ev.id)}_2`, type: "signup" }])),
  invalid(`a bad last event in a batch of ${BATCH_MAX}`, `$.events[${BATCH_MAX - 1}].ts`, (v, ev) =>
    batch(v, Array.from({ length: BATCH_MAX }, (_, i) => ({ ...ev, id: `${String(ev.id)}_${i}`, ts: i === BATCH_MAX - 1 ? -5 : ev.ts })))),
  // Transport.
  {
    name: "a form-encoded content type", body: (v, ev) => batch(v, [ev]), headers: { "content-type": "application/x-www-form-urlencoded" },
    status: 415, code: "unsupported_media_type", message: /content-type application\/x-www-form-urlencoded/,
  },
  {
    name: "a multipart content type", body: (v, ev) => batch(v, [ev]), headers: { "content-type": "multipart/form-data; boundary=x" },
    status: 415, code: "unsupported_media_type", message: /content-type multipart\/form-data/,
  },
  {
    name: "an XML content type", body: (v, ev) => batch(v, [ev]), headers: { "content-type": "application/xml" },
    status: 415, code: "unsupported_media_type", message: /content-type application\/xml/,
  },
  {
    name: "a body one byte over the limit", body: (v, ev) => {
      const fits = batch(v, [ev], { page: "" });
      return batch(v, [ev], { page: s(BODY_MAX_BYTES - fits.length + 1) });
    },
    status: 413, code: "body_too_large", message: new RegExp(`larger than ${BODY_MAX_BYTES} bytes`),
  },
  {
    name: "a 1 MB body", body: (v, ev) => batch(v, [ev], { page: s(1 << 20) }),
    status: 413, code: "body_too_large", message: /larger than/,
  },
  // Bytes that are not UTF-8 inside an otherwise valid batch: a lenient decoder would store U+FFFD.
  {
    name: "a title with bytes that are not UTF-8", code: "invalid_encoding", message: /not valid UTF-8/,
    body: (v, ev) => {
      const [head, tail] = batch(v, [{ ...ev, title: "@@" }]).split("@@") as [string, string];
      const enc = new TextEncoder();
      return new Uint8Array([...enc.encode(head), 0xc3, 0x28, 0xff, ...enc.encode(tail)]);
    },
  },
  invalid("a __proto__ key in props", '$.events[0].props.__proto__', (v, ev) =>
    batch(v, [ev]).replace('"title":"Pricing"', '"title":"Pricing","props":{"__proto__":"x"}')),
  invalid("a __proto__ key in fields", '$.events[0].fields.__proto__', (v, ev) =>
    batch(v, [ev]).replace('"title":"Pricing"', '"title":"Pricing","fields":{"__proto__":"x"}')),
  invalid("a __proto__ key in the request", "$.__proto__", (v, ev) => batch(v, [ev]).replace(/}$/, ',"__proto__":{"admin":true}}')),
  invalid("a second event under the first one's id", "$.events[1].id", (v, ev) => batch(v, [ev, { ...ev, type: "form_submit", form: { id: "demo-request" } }])),
];

describe("POST /v1/collect with a malformed body", () => {
  it("covers at least 40 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)("rejects $name without touching state", async (c) => {
    const visitor = uid("v");
    const eventId = uid("ev");
    const res = await postRaw(c.body(visitor, baseEvent(eventId)), c.headers);
    const body = (await res.json()) as ErrorResponse;

    expect(res.status, JSON.stringify(body)).toBe(c.status ?? 400);
    expect(body.error.code).toBe(c.code);
    if (c.path !== undefined) {
      expect(body.error.issues?.map((i) => i.path)).toContain(c.path);
      expect(body.error.message.startsWith(`${c.path}:`) || body.error.issues!.length > 1).toBe(true);
      for (const issue of body.error.issues!) expect(issue.message.length).toBeGreaterThan(0);
    }
    if (c.message !== undefined) expect(body.error.message).toMatch(c.message);

    // Nothing stored: the visitor is unknown, and the same event id sent validly is new and scores
    // from zero (a page view on "/" is worth 1; a leaked pricing view would have added 11).
    expect((await getVisitor("demo", visitor)).status).toBe(404);
    const after = await collectOk(visitor, [{ id: eventId, type: "page_view", ts: Date.now(), url: `${ORIGIN}/` }], { page: "/" });
    expect(after.ack).toEqual([eventId]);
    expect(after.visitor).toEqual({ stage: "visitor", score: { fit: 0, engagement: 1, total: 1 } });
  });
});

describe("a refusal of /v1/collect", () => {
  it("names what a record's key must be", async () => {
    const res = await postRaw(withEvent({ props: { "bad key": 1 } })(uid("v"), baseEvent(uid("ev"))));
    expect(((await res.json()) as ErrorResponse).error.issues).toEqual([{ path: '$.events[0].props["bad key"]', message: "expected a key of 1-64 letters, digits, _ . -" }]);
  });

  it.each([
    ["a malformed batch (400)", (v: string) => batch(v, []), {}, 400],
    ["a body over the limit (413)", (v: string) => batch(v, [{ ...baseEvent(uid("ev")), title: s(BODY_MAX_BYTES) }]), {}, 413],
    ["a content type it does not take (415)", (v: string) => batch(v, [baseEvent(uid("ev"))]), { "content-type": "image/png" }, 415],
  ])("of %s can be read by the page that sent it: the snippet drops the batch instead of retrying it", async (_, body, headers, status) => {
    const res = await postRaw(body(uid("v")), { ...headers, origin: "https://www.anywhere.example" });
    expect(res.status).toBe(status);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://www.anywhere.example");
  });

  it.each([
    ["an origin the rules do not list yet (403)", { origin: "https://www.not-yet.example" }, "demo", 403],
    ["a site whose rules are not pushed yet (404)", {}, "not-pushed-yet", 404],
  ])("for %s stays unreadable to the page: the snippet keeps the events and retries until it is fixed", async (_, headers, site, status) => {
    const res = await postRaw(JSON.stringify({ site, visitor: uid("v"), events: [baseEvent(uid("ev"))] }), headers);
    expect(res.status).toBe(status);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("POST /v1/collect with a valid body", () => {
  it("stores half a surrogate pair (an emoji cut in two) as U+FFFD, the same text wherever it is kept", async () => {
    const visitor = uid("v");
    const id = uid("ev");
    // A title cut in the middle of an emoji, and an address typed with one.
    const text = batch(visitor, [{ ...baseEvent(id), title: "Pricing @@" }, { id: uid("ev"), type: "identify", ts: Date.now(), email: "ana@@@acme.example" }])
      .replace("Pricing @@", "Pricing \\ud83d").replace("ana@@@", "ana\\udc4d@");
    const res = await postRaw(text);
    expect(res.status, await res.clone().text()).toBe(200);
    const stored = JSON.stringify((await getVisitor("demo", visitor)).body);
    expect(stored).toContain("ana\uFFFD@acme.example");
    expect(stored).not.toMatch(/\\ud8|\\udc/i);
  });

  it.each([
    ["text/plain", "text/plain"],
    ["text/plain with a charset", "text/plain;charset=UTF-8"],
    ["application/json", "application/json"],
    ["application/json with a charset, in capitals", "Application/JSON; charset=utf-8"],
  ])("accepts %s", async (_, type) => {
    const visitor = uid("v");
    const ev = baseEvent(uid("ev"));
    const res = await postRaw(batch(visitor, [ev]), { "content-type": type });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ack: string[] }).ack).toEqual([ev.id]);
  });

  it(`accepts ${BATCH_MAX} events, the first with every optional field at its longest`, async () => {
    const visitor = uid("v");
    const long = (n: number) => "y".repeat(n);
    const first = {
      id: `e${long(63)}`, type: "custom", ts: 0, url: `${ORIGIN}/${long(4095 - ORIGIN.length)}`, referrer: long(4096), title: long(512),
      name: long(128), element: long(128), href: long(4096), form: { id: long(128), name: long(128) }, fields: keys(50, long(10)),
      props: keys(50, -1e15), email: `${long(241)}@acme.example`, traits: keys(50, true), visit: 1_000_000, landing: false,
    };
    const events = [first, ...Array.from({ length: BATCH_MAX - 1 }, () => baseEvent(uid("ev")))];
    const body = JSON.stringify({ site: "demo", visitor, session: `s${long(63)}`, page: `/${long(4095)}`, events });
    expect(body.length).toBeLessThanOrEqual(BODY_MAX_BYTES);
    const res = await postRaw(body);
    const answer = (await res.json()) as { ack: string[] };
    expect(res.status, JSON.stringify(answer)).toBe(200);
    expect(answer.ack).toEqual(events.map((e) => e.id));
  });
});
