/** Small helpers shared by the snippet's modules. */
import type { Options } from "./types";

/** The options `init` was called with (one snippet per page). */
export const cfg = {} as Options;

/** Logs only with debug on: the snippet's one logger. */
export const log = (...a: unknown[]) => cfg.debug && console.warn("[mql]", ...a);

/** Wraps a function so that it never throws into the host page. */
export const g =
  <F extends (...a: any[]) => any>(f: F): F =>
  ((...a: unknown[]) => {
    try {
      return f(...a);
    } catch (e) {
      log(e);
    }
  }) as F;

/**
 * Listens, guarded, in the capture phase (pages that stop propagation do not hide events) to each
 * of the space-separated event types `t`, on `to` or the window.
 */
export const on = (t: string, f: (e: any) => unknown, to: EventTarget = window) =>
  t.split(" ").map((t) => to.addEventListener(t, g(f), true));

/** The URL of the worker's `/v1/<path>`. */
export const api = (path: string) => new URL("/v1/" + path, cfg.endpoint);

/** Milliseconds since the epoch. */
export const now = () => Date.now();

let seq = 1e6;
/**
 * A unique, time-ordered id: base-36 milliseconds, a counter of this page (so ids of one
 * millisecond keep the order they were made in), then about 52 random bits.
 */
export const rid = (): string => now().toString(36) + (++seq).toString(36) + Math.random().toString(36).slice(2, 12);

/** `s` as a string of at most `n` characters (4,096 by default: the wire's limit for URLs), or undefined. */
export const clip = (s: any, n = 4096): string | undefined => s?.toString().slice(0, n);

/**
 * Props, traits or form fields as the wire accepts them (one key it refuses would cost the whole
 * batch): at most 50 keys of 1-64 letters, digits, _ . -; values booleans, numbers within +-1e15,
 * or strings of at most 256 characters, so that the largest event stays within the keepalive budget.
 */
export const bag = (o: any): Record<string, any> =>
  Object.fromEntries(
    Object.entries(o || 0)
      .slice(0, 50)
      .map(([k, v]: [string, any]) => [k.replace(/[^\w.-]/g, "_").slice(0, 64) || "_", v === !!v || (v === +v && v * v <= 1e30) ? v : clip(v, 256)]),
  );

/**
 * localStorage, never throwing (it throws when blocked): reads the JSON at `key`, or writes `v`
 * there when `v` is given, or removes the key when `v` is null.
 */
export const store = (key: string, v?: unknown): any => {
  try {
    return v ? (localStorage[key] = JSON.stringify(v)) : v === null ? delete localStorage[key] : JSON.parse(localStorage[key]);
  } catch {}
};

