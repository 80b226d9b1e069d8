/**
 * The snippet's core: turns captured signals into queued events, delivers them to
 * `<endpoint>/v1/collect` (each id until acknowledged, never in flight twice), and hands the
 * worker's answer to the listeners and the CTA renderer. One snippet per page.
 */
import { batch } from "./batch";
import { capture, EMAIL } from "./capture";
import { BACKUP_KEY, CLAIM_MS, FLUSH_DELAY_MS, STATE_KEY } from "./constants";
import { post, retryIn } from "./transport";
import { render, type CtaTrack } from "./cta";
import { add, claim, drop, due, hold, mem } from "./queue";
import { allow, allowed, forget, reset, state, touch } from "./session";
import type { CollectResponse, Emit, Mql, Options, Rec } from "./types";
import { api, bag, cfg, clip, g, log, now, on, rid, store } from "./util";
import { redeem, takeToken, xd } from "./xd";

/** Starts the snippet and returns its API; every entry point is guarded. */
export const init = (o: Options): Mql => {
  Object.assign(cfg, o);
  const url = api("collect");
  const shown: Record<string, 1> = {};
  const listeners: Record<string, Function[]> = {};
  let off: unknown;
  let busy: unknown;
  let tries = 0;
  let until = 0;
  let timer: any;
  let stage: string;
  takeToken();
  allow(o.consent != "required" || state().c);

  /** Flushes in `ms`, or when the backoff ends. */
  const later = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(flush, Math.max(ms, until - now()));
  };
  const queue = (r: Rec) => add(r).then(() => later(r.e.type == "page_view" ? 0 : FLUSH_DELAY_MS));
  // The page's URL: the worker reads its path as it reads events' (a hash route is the page).
  const body = (b: Rec[]) => ({ site: o.site, visitor: b[0]!.v, page: clip(location.href), events: b.map((r) => r.e) });
  /** Calls the listeners of `k`. */
  const fire = (k: string, ...a: unknown[]) => (listeners[k] || []).map((f) => g(f as any)(...a));
  /** Sending is on: allowed, and the worker did not answer that the visitor opted out. */
  const live = () => allowed && !off;

  const emit: Emit = (type, x) => {
    if (live()) {
      const t = now();
      const s = touch(t);
      const e = { id: rid(), type, ts: t, url: clip(location.href), visit: s.n, landing: (s.f && type == "page_view") || undefined, ...x };
      log(type, e);
      queue({ e, v: s.v });
      return 1;
    }
  };
  const track: CtaTrack = (type, a, href) => emit(type, { element: a.id, props: { variant: a.variant.id }, href });

  const flush = async () => {
    if (busy || !live()) return;
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
          const v = a.visitor;
          // Events not acknowledged stay claimed: they are sent again when the claim runs out.
          drop(!(off = a.optedOut) && a.ack);
          if (v.stage != stage) fire("stage", (stage = v.stage), v);
          // An inline CTA whose slot this page lacks is not shown, nor announced: a page with the slot may show it.
          // The slot name is escaped: the snippet trusts no answer to hold only what the rules allow.
          let p: Element | null;
          a.actions.map((x) => !off && !shown[x.id] && (p = x.slot ? document.querySelector(`[data-mql-slot="${CSS.escape(x.slot!)}"]`) : document.body) && fire("action", x) && (shown[x.id] = 1) && g(render)(x, track, p));
        } else if ((wait = retryIn(res, tries)) < 0) {
          // Refused for good: the next batch goes at once.
          log(res);
          drop(b.map((r) => r.e.id));
          wait = 0;
        } else {
          tries++;
          until = now() + wait;
          // Consent withdrawn meanwhile: nothing goes back on the device.
          if (live()) hold(b, 0);
        }
      } else if (due) wait = due - now();
    } catch (e) {
      log(e);
    }
    busy = 0;
    if (wait >= 0) later(wait);
  };

  /**
   * Page exit (or the tab hidden): one beacon of this page's events that are not on their way,
   * claimed like any request; a backup of those not yet on IndexedDB (the browser aborts pending
   * writes). No beacon after a failed request: the network is down, the events wait for the next page.
   */
  const bye = () => {
    if (live()) {
      const t = now();
      const mine = Object.values(mem);
      const b = batch(mine.filter((r) => !tries && !(r.c! > t)));
      if (b[0] && navigator.sendBeacon?.(url, JSON.stringify(body(b)))) hold(b, t + CLAIM_MS);
      store(BACKUP_KEY, mine.filter((r) => r.p != 1));
    }
  };

  const mql: Mql = {
    track: (name, props) => emit("custom", { name: clip(name, 128), props: bag(props) }),
    identify: (email, traits) => EMAIL.test(email) && emit("identify", { email, traits: bag(traits) }),
    page: () => page(1),
    consent: (granted) => {
      const was = allowed;
      if (allow(granted)) {
        state((s) => (s.c = 1));
        // Before consent nothing was captured: the page view is recorded now.
        if (!was) start(1);
      } else if (was) {
        // Withdrawn: the queue, the stored visitor and the backup go, and a later consent starts a new visitor.
        drop();
        forget();
        store(STATE_KEY, null);
        store(BACKUP_KEY, null);
      }
    },
    on: (what: string, fn: Function) => (listeners[what] ||= []).push(fn),
    reset,
  };
  for (const k in mql) (mql as any)[k] = g((mql as any)[k]);

  /**
   * Queues the events a page backed up on exit, records the page view, and redeems a `mql_t`
   * token: nothing is sent before the answer, which may make this device another visitor.
   */
  const start = (force?: 1) => {
    if (allowed) {
      (store(BACKUP_KEY) || []).map(queue);
      store(BACKUP_KEY, null);
      const r = redeem();
      if (r) {
        busy = 1;
        r.then(() => later((busy = 0)));
      }
    }
    page(force);
  };
  const page = capture(emit);
  start();
  on("pagehide", bye);
  on("visibilitychange", () => document.hidden && bye());
  on("online", () => later((until = tries = 0)));
  xd(live);
  return mql;
};
