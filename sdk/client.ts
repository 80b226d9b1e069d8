/**
 * The snippet's core: turns captured signals into queued events, delivers them to
 * `<endpoint>/v1/collect` (each id until acknowledged, never in flight twice), and hands the
 * worker's answer to the listeners and the CTA renderer. One snippet per page.
 */
import { batch } from "./batch";
import { capture, EMAIL } from "./capture";
import { BACKUP_KEY, FLUSH_DELAY_MS, STATE_KEY } from "./constants";
import { post, retryIn } from "./transport";
import { render, type CtaTrack } from "./cta";
import { add, claim, drop, fly, free, mem } from "./queue";
import { allow, allowed, reset, state, touch } from "./session";
import type { CollectResponse, Emit, Mql, Options, Rec } from "./types";
import { bag, cfg, clip, g, log, rid, store } from "./util";

/** Starts the snippet and returns its API; every entry point is guarded. */
export const init = (o: Options): Mql => {
  Object.assign(cfg, o);
  const url = new URL("/v1/collect", o.endpoint).href;
  const shown: Record<string, unknown> = {};
  const listeners: Record<string, Function[]> = {};
  let off: unknown;
  let busy: unknown;
  let tries = 0;
  let until = 0;
  let timer: any;
  let stage: string;
  allow(o.consent != "required" || state().c);

  /** Flushes in `ms`, or when the backoff ends. */
  const later = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(flush, Math.max(ms, until - Date.now()));
  };
  const queue = (r: Rec) => add(r).then(() => later(r.e.type == "page_view" ? 0 : FLUSH_DELAY_MS));
  const body = (b: Rec[]) => JSON.stringify({ site: o.site, visitor: b[0]!.v, page: location.pathname, events: b.map((r) => r.e) });
  /** Calls the listeners of `k`. */
  const fire = (k: string, ...a: unknown[]) => (listeners[k] || []).map((f) => g(f as any)(...a));

  const emit: Emit = (type, x) => {
    if (off || !allowed) return;
    const now = Date.now();
    const s = touch(now);
    const e = { id: rid(), type, ts: now, url: location.href.slice(0, 2000), visit: s.n, landing: (s.f && type == "page_view") || undefined, ...x };
    log(type, e);
    queue({ e, v: s.v });
  };
  const track: CtaTrack = (type, a, href) => emit(type, { element: a.id, props: { variant: a.variant.id }, href });

  const flush = async () => {
    if (busy || !allowed || off) return;
    busy = 1;
    let b: Rec[] = [];
    let wait = -1;
    try {
      if ((b = await claim())[0]) {
        const res = await post(url, body(b));
        wait = 0;
        if (res && res.ok) {
          tries = 0;
          const a: CollectResponse = await res.json();
          // Events not acknowledged stay claimed: they are sent again when the claim runs out.
          drop(a.ack || []);
          if (a.optedOut) {
            off = 1;
            drop();
          }
          const v = a.visitor;
          if (v && v.stage != stage) fire("stage", (stage = v.stage), v);
          a.actions?.forEach((x) => !off && !shown[x.id] && fire("action", x) && (shown[x.id] = 1) && g(render)(x, track));
        } else if ((wait = retryIn(res, tries++)) < 0) {
          log("refused", res);
          drop(b.map((r) => r.e.id));
        } else {
          until = Date.now() + wait;
          free(b);
        }
      }
    } catch (e) {
      log(e);
    }
    b.forEach((r) => delete fly[r.e.id]);
    busy = 0;
    if (wait >= 0) later(wait);
  };

  /** Page exit: one beacon of what this page has not sent; a backup of what is not yet on IndexedDB. */
  const bye = () => {
    if (allowed && !off) {
      const mine = Object.values(mem);
      const b = batch(mine.filter((r) => !fly[r.e.id]));
      if (b[0]) navigator.sendBeacon(url, body(b));
      const keep = mine.filter((r) => r.p != 1);
      if (keep[0]) store(BACKUP_KEY, keep);
    }
  };

  /** Queues the events that a page backed up on exit. */
  const restore = g(() => {
    (store(BACKUP_KEY) || []).forEach((r: Rec) => queue({ e: r.e, v: r.v }));
    localStorage.removeItem(BACKUP_KEY);
  });

  const api: Mql = {
    track: (name, props) => emit("custom", { name: clip(name, 128), props: bag(props) }),
    identify: (email, traits) => EMAIL.test(email) && emit("identify", { email, traits: bag(traits) }),
    page: () => page(1),
    consent: (granted) => {
      const was = allowed;
      // Before consent nothing was captured: the page view is recorded now.
      if (allow(granted)) {
        state((s) => (s.c = 1));
        restore();
        page(1);
      } else if (was) {
        drop();
        localStorage.removeItem(STATE_KEY);
      }
    },
    on: (what: string, fn: Function) => (listeners[what] ||= []).push(fn),
    reset,
  };
  for (const k in api) (api as any)[k] = g((api as any)[k]);

  const page = capture(emit);
  if (allowed) restore();
  page();
  const on = (t: string, f: () => unknown) => addEventListener(t, g(f));
  on("pagehide", bye);
  on("visibilitychange", () => document.hidden && bye());
  on("online", () => later((until = tries = 0)));
  return api;
};
