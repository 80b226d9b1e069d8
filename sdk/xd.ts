/**
 * Continuing a visit across the site's domains. Links to the other domains (`data-domains`) carry
 * a token, `mql_t`, with which the snippet there continues as the same visitor; email links that
 * land on the site carry one too (the recipient's claim).
 * - The token comes from `POST /v1/identity/xd` when a link is about to be followed (pointerdown
 *   or focus), is kept while it is valid, and is added to the link on click when it has more than
 *   XD_MIN_LEFT_MS left (it is single use: a click spends it). Its time left is counted on this
 *   device from the answer's `expiresIn`, so a device clock set wrong does not matter. Once the
 *   click has been followed, the link gets its own href back: a spent token never stays in it
 *   (a link opened in a new tab and clicked again asks for a fresh one).
 * - A page that has one in its URL takes it off (history.replaceState) and redeems it at
 *   `POST /v1/identity/continue`: the visitor becomes the one the worker names.
 */
import { XD_MIN_LEFT_MS } from "./constants";
import { state } from "./session";
import { hold, mem } from "./queue";
import { post } from "./transport";
import { api, cfg, log, now, on } from "./util";

/** The query parameter that carries a token (the worker's TOKEN_PARAM). */
export const TOKEN_PARAM = "mql_t";

/** A token as `POST /v1/identity/xd` answers it. */
interface XdToken {
  token: string;
  /** Ms since the epoch, by the worker's clock (not read: the device's clock may be off). */
  expiresAt: number;
  /**
   * Ms left when the worker answered. On arrival the snippet adds the device's clock to it: from
   * then on it is when the token expires by the device's clock.
   */
  expiresIn: number;
}

/** POSTs `x` with the site and the visitor to `/v1/identity/<path>`; resolves to the JSON answer, or undefined on any failure. */
const ask = (path: string, x: object): Promise<any> =>
  post(api("identity/" + path), { site: cfg.site, visitor: state().v, ...x })
    .then((r) => r && r.json())
    .catch(log);

/** The token this page was opened with, until it is redeemed. */
let token: string | null;
/**
 * Whether this page was opened with a token: the worker recorded its email click when it
 * redirected the link (or the visit continues from another domain), so the page does not.
 */
export let tokened: unknown;

/** Takes the token off this page's URL, before anything records the URL. */
export const takeToken = () => {
  const u = new URL(location as unknown as URL);
  if ((tokened = token = u.searchParams.get(TOKEN_PARAM))) {
    u.searchParams.delete(TOKEN_PARAM);
    history.replaceState(history.state, "", u);
  }
};

/**
 * Redeems the token taken, if any: this device continues as the visitor the worker answers, and so
 * do the events this page has queued (nothing may send them until this settles). Resolves once
 * done, failed or not; returns undefined without a token.
 */
export const redeem = () => {
  const t = token;
  token = null;
  return (
    t &&
    ask("continue", { token: t }).then((j) => {
      const v = j?.visitor;
      const old = state().v;
      if (v && v != old) {
        state((s) => (s.v = v));
        hold(Object.values(mem).filter((r) => r.v == old && (r.v = v)), 0);
      }
    })
  );
};

/** Decorates links to `cfg.domains` while `live()` holds. */
export const xd = (live: () => unknown) => {
  /** Tokens by target origin, `expiresIn` made a time by the device's clock; 1 while one is being fetched. */
  const tokens: Record<string, XdToken | 1 | undefined> = {};
  const domains = cfg.domains?.match(/[^\s,]+/g);
  if (domains)
    on("pointerdown focus click auxclick", (e: Event) => {
      const a = (e.target as Element).closest?.("a[href]") as HTMLAnchorElement | null;
      if (a && live() && a.host != location.host && domains.includes(a.hostname)) {
        const to = a.origin;
        const t = tokens[to] as XdToken;
        const ok = t && t.expiresIn - now() > XD_MIN_LEFT_MS;
        if (/click/.test(e.type)) {
          if (ok) {
            const href = a.href;
            const u = new URL(href);
            u.searchParams.set(TOKEN_PARAM, t.token);
            a.href = u.href;
            delete tokens[to];
            // The browser follows the link once this click is dispatched; then it is put back.
            setTimeout(() => (a.href = href));
          }
        } else if (!ok && (t as unknown) != 1) {
          tokens[to] = 1;
          ask("xd", { to }).then((j) => (tokens[to] = j?.token && ((j.expiresIn += now()), j)));
        }
      }
    });
};
