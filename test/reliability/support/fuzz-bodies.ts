/**
 * Hostile bodies for `POST /v1/collect`, generated from a seed so that a failing body can be
 * replayed: wrong types, strings past their bounds, deep nesting, bytes that are not UTF-8,
 * prototype-pollution keys, bodies of megabytes, broken JSON, out-of-range numbers, unknown keys.
 * Every body is invalid by construction; `isInvalid` double-checks a JSON body against the wire
 * schema so a mutation that happens to stay valid is never counted as a rejection.
 */
import { CollectRequestSchema, BATCH_MAX, BODY_MAX_BYTES } from "../../../worker/wire.js";

export type Rand = () => number;

/** xorshift32: small, fast, seedable. */
export function prng(seed: number): Rand {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

const pick = <T>(r: Rand, l: readonly T[]): T => l[Math.floor(r() * l.length)]!;
const int = (r: Rand, n: number) => Math.floor(r() * n);

/** A fuzz case: the body and what kind of damage it carries. */
export interface FuzzBody {
  kind: string;
  body: string | Uint8Array;
}

type Json = Record<string, any>;

function validEvent(r: Rand, origin: string): Json {
  const n = int(r, 1e9).toString(36).padStart(8, "0");
  const type = pick(r, ["page_view", "form_submit", "cta_click", "identify", "custom", "download"] as const);
  // The capture time comes from the seed too, so that a seed names one body exactly.
  const e: Json = { id: `fz_${n}`, type, ts: 1_764_800_000_000 + int(r, 1e9), url: `${origin}/pricing` };
  if (type === "form_submit") Object.assign(e, { form: { id: "whitepaper" }, fields: { job_title: "Director" }, email: "jane@acme.example" });
  if (type === "identify") Object.assign(e, { email: "jane@acme.example", traits: { company_size: 120 } });
  if (type === "custom") Object.assign(e, { name: "pricing_calculator", props: { seats: 25 } });
  if (type === "cta_click") e.element = "demo-offer";
  return e;
}

const WRONG_TYPES: unknown[] = [null, 0, -1, 1.5, "", "x", true, false, [], [1, 2], {}, { a: 1 }, 1e308, -0];
const STRING_FIELDS: [string, number][] = [["url", 4096], ["referrer", 4096], ["title", 512], ["name", 128], ["element", 128], ["href", 4096], ["email", 254]];
const REQUEST_FIELDS = ["site", "visitor", "session", "page", "events"];
const EVENT_FIELDS = ["id", "type", "ts", "url", "referrer", "title", "name", "element", "href", "form", "fields", "props", "email", "traits", "visit", "landing"];

/** One mutation of a valid request; most leave JSON text, some raw bytes. */
const MUTATIONS: [string, (r: Rand, req: Json, ev: Json) => string | Uint8Array | Json][] = [
  ["wrong type in the request", (r, req) => ({ ...req, [pick(r, REQUEST_FIELDS)]: pick(r, WRONG_TYPES) })],
  ["wrong type in an event", (r, req, ev) => ({ ...req, events: [{ ...ev, [pick(r, EVENT_FIELDS)]: pick(r, WRONG_TYPES) }] })],
  ["missing required field", (r, req, ev) => {
    const which = pick(r, ["site", "visitor", "events", "id", "type", "ts"]);
    const out = { ...req, events: [{ ...ev }] };
    if (which in out) delete (out as Json)[which]; else delete out.events[0]![which];
    return out;
  }],
  ["string past its bound", (r, req, ev) => {
    const [field, max] = pick(r, STRING_FIELDS);
    const extra = 1 + int(r, 3) * int(r, 20_000);
    const base = field === "url" ? "https://x.example/" : field === "email" ? "a@b.example" : "";
    return { ...req, events: [{ ...ev, [field]: base + "y".repeat(max + extra - base.length) }] };
  }],
  ["request string past its bound", (r, req) => {
    const [field, len] = pick(r, [["site", 65], ["visitor", 65], ["session", 65], ["page", 2049]] as [string, number][]);
    return { ...req, [field]: "a".repeat(len + int(r, 5000)) };
  }],
  ["deep nesting", (r, req, ev) => {
    // Built as text: serialising 20,000 levels would overflow the stack before the worker sees it.
    const depth = pick(r, [50, 500, 5_000, 20_000]);
    const array = r() < 0.5;
    const deep = (array ? "[" : '{"a":').repeat(depth) + '"x"' + (array ? "]" : "}").repeat(depth);
    const where = pick(r, ["props", "traits", "fields", "form", "events", "request"]);
    const text = JSON.stringify({ ...req, events: [{ ...ev, [where]: "@@" }] });
    if (where === "events") return JSON.stringify({ ...req, events: ["@@"] }).replace('"@@"', deep);
    if (where === "request") return JSON.stringify({ ...req, extra: "@@" }).replace('"@@"', deep);
    return text.replace('"@@"', where === "form" ? `{"id":${deep}}` : `{"k":${deep}}`);
  }],
  ["bytes that are not UTF-8", (r, req, ev) => {
    const text = JSON.stringify({ ...req, events: [{ ...ev, title: "@@" }] });
    const [head, tail] = text.split("@@") as [string, string];
    const bad = pick(r, [[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xf0, 0x28, 0x8c, 0x28], [0xed, 0xa0, 0x80], [0x80, 0x80], [0xc0, 0xaf]]);
    const enc = new TextEncoder();
    return new Uint8Array([...enc.encode(head), ...bad, ...enc.encode(tail)]);
  }],
  ["prototype-pollution key", (r, req, ev) => {
    const key = pick(r, ["__proto__", "constructor", "prototype"]);
    const payload = pick(r, ['{"admin":true}', '"x"', '{"prototype":{"polluted":1}}', "1"]);
    const where = pick(r, ["request", "event", "props", "fields", "traits", "form"]);
    const text = JSON.stringify({ ...req, events: [{ ...ev, props: { seats: 1 }, fields: { a: "b" }, traits: { t: 1 }, form: { id: "f" } }] });
    const inject = (marker: string) => text.replace(marker, `${marker}"${key}":${payload},`);
    // "constructor" and "prototype" are harmless own keys inside records, so they go where keys are closed.
    if (key !== "__proto__" || where === "request") return text.replace(/^\{/, `{"${key}":${payload},`);
    if (where === "event") return inject('[{');
    return inject(`"${where}":{`);
  }],
  ["body of megabytes", (r, req, ev) => {
    const size = pick(r, [BODY_MAX_BYTES + 1, 256 * 1024, 1 << 20, 10 << 20]);
    return JSON.stringify({ ...req, events: [{ ...ev, title: "z".repeat(size) }] });
  }],
  ["broken JSON", (r, req, ev) => {
    const text = JSON.stringify({ ...req, events: [ev] });
    return pick(r, [
      () => text.slice(0, int(r, text.length)),
      () => text.replace(/"/g, "'"),
      () => text + pick(r, ["}", ",", "x", "]"]),
      () => text.replace(":", ""),
      () => "NaN",
      () => "",
      () => "\u0000".repeat(int(r, 100) + 1),
      () => text.replace(/"ts":\d+/, '"ts":NaN'),
      () => text.replace(/"ts":\d+/, '"ts":Infinity'),
      () => `{"site":"demo","visitor":"${"v".repeat(10)}","events":[${"[".repeat(2000)}`,
    ])();
  }],
  ["random bytes", (r) => Uint8Array.from({ length: 1 + int(r, 2000) }, () => int(r, 256))],
  ["number out of range", (r, req, ev) => pick(r, [
    () => ({ ...req, events: [{ ...ev, ts: -1 - int(r, 1e6) }] }),
    () => ({ ...req, events: [{ ...ev, ts: ev.ts + 0.5 }] }),
    () => ({ ...req, events: [{ ...ev, visit: pick(r, [0, -3, 1.5, 1_000_001, 1e20]) }] }),
    () => ({ ...req, events: [{ ...ev, props: { n: pick(r, [1e16, -1e16, 1e300]) } }] }),
    () => ({ ...req, events: [{ ...ev, traits: { n: pick(r, [1e16, -1e16]) } }] }),
  ])()],
  ["too many items", (r, req, ev) => pick(r, [
    () => ({ ...req, events: Array.from({ length: BATCH_MAX + 1 + int(r, 100) }, (_, i) => ({ ...ev, id: `${ev.id}_${i}` })) }),
    () => ({ ...req, events: [] }),
    () => ({ ...req, events: [{ ...ev, props: Object.fromEntries(Array.from({ length: 51 + int(r, 200) }, (_, i) => [`k${i}`, i])) }] }),
    () => ({ ...req, events: [{ ...ev, fields: Object.fromEntries(Array.from({ length: 51 + int(r, 200) }, (_, i) => [`f${i}`, "v"])) }] }),
  ])()],
  ["bad identifier", (r, req, ev) => {
    const bad = pick(r, ["", "short", "has space 123", "../../../etc", "x".repeat(65), "ünïcödé-id-1", "id\u0000null-byte", "<script>x</script>"]);
    return pick(r, [
      () => ({ ...req, visitor: bad }),
      () => ({ ...req, session: bad }),
      () => ({ ...req, site: pick(r, ["Demo", "-demo", "demo site", "a".repeat(65), "", "démo"]) }),
      () => ({ ...req, events: [{ ...ev, id: bad }] }),
      () => ({ ...req, events: [{ ...ev, type: pick(r, ["pageview", "PAGE_VIEW", "", "eval", "__proto__"]) }] }),
    ])();
  }],
  ["unknown key", (r, req, ev) => pick(r, [
    () => ({ ...req, [pick(r, ["user", "admin", "score", "stage", "Site"])]: "x" }),
    () => ({ ...req, events: [{ ...ev, [pick(r, ["points", "score", "Type", "rules", "stage"])]: 1 }] }),
    () => ({ ...req, events: [{ ...ev, form: { id: "f", action: "/x" } }] }),
  ])()],
  ["bad key in a bag", (r, req, ev) => {
    const key = pick(r, ["", "has space", "k".repeat(65), "ключ", "a/b", "a:b"]);
    return { ...req, events: [{ ...ev, [pick(r, ["props", "fields", "traits"])]: { [key]: "v" } }] };
  }],
];

/** True when `body` must be refused: not UTF-8, not JSON, too large, a __proto__ key, or not the wire shape. */
export function isInvalid(body: string | Uint8Array): boolean {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  if (bytes.length > BODY_MAX_BYTES) return true;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return true;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return true;
  }
  if (/"__proto__"\s*:/.test(text)) return true;
  return !CollectRequestSchema.safeParse(json).success;
}

/**
 * The `i`th hostile body of a run seeded with `seed`, for one of `visitors` (existing visitors whose
 * state must not change). Mutations that happen to stay valid are mutated again.
 */
export function fuzzBody(seed: number, i: number, visitors: readonly string[], origin: string): FuzzBody {
  const r = prng(seed * 1_000_003 + i);
  for (let attempt = 0; ; attempt++) {
    const req: Json = { site: "demo", visitor: pick(r, visitors), page: "/pricing" };
    const ev = validEvent(r, origin);
    req.events = [ev];
    // Megabyte bodies are rare: they cost the most to build and send.
    let [kind, mutate] = pick(r, MUTATIONS);
    if (kind === "body of megabytes" && r() < 0.9) [kind, mutate] = MUTATIONS[0]!;
    const out = mutate(r, req, ev);
    const body = typeof out === "string" || out instanceof Uint8Array ? out : JSON.stringify(out);
    if (isInvalid(body)) return { kind, body };
    if (attempt > 20) throw new Error(`seed ${seed}, body ${i}: mutations keep producing valid bodies`);
  }
}
