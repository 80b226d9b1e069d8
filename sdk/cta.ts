/**
 * CTA rendering. Each CTA lives in its own shadow root (site CSS does not reach it, its CSS does
 * not reach the site), in a <dialog>: a modal is shown with showModal(), so the browser keeps the
 * focus inside it, closes it on Esc and makes the page behind inert. Content is set as text only;
 * the button is a link only for http(s) or relative URLs. An inline CTA replaces the content of
 * `[data-mql-slot="<slot>"]`. `--mql-accent` on the page sets the link colour.
 */
import type { WireAction } from "./types";
import { g } from "./util";

const STYLE =
  ":host{all:initial}" +
  "dialog{font:15px system-ui;max-width:24em;z-index:2147483647}" +
  ".banner,.slide_in{position:fixed;inset:auto 1em 1em auto}" +
  ".banner{left:1em;max-width:none}" +
  ".inline{position:static}" +
  "a{color:var(--mql-accent,#25e)}" +
  "form{float:right}";

/** Records `cta_impression`, `cta_click` (with the link) or `cta_dismiss` for a CTA. */
export type CtaTrack = (type: "cta_impression" | "cta_click" | "cta_dismiss", a: WireAction, href?: string) => void;

/** Shows a CTA and reports its impression, click and dismissal. */
export const render = (a: WireAction, track: CtaTrack) => {
  const d = document;
  const v = a.variant;
  const k = a.kind;
  const host = d.createElement("div");
  const make = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]>, to?: Node) => {
    const x = Object.assign(d.createElement(tag), props);
    to?.appendChild(x);
    return x;
  };
  (k == "inline" ? d.querySelector(`[data-mql-slot="${CSS.escape(a.slot!)}"]`)!.replaceChildren(host) : d.body.append(host));
  const root = host.attachShadow({ mode: "open" });
  make("style", { textContent: STYLE }, root);
  const dlg = make(
    "dialog",
    {
      className: k,
      ariaLabel: v.title || v.text,
      onclose: g(() => {
        host.remove();
        track("cta_dismiss", a);
      }),
    },
    root,
  );
  make("button", { textContent: "×", ariaLabel: "Close" }, make("form", { method: "dialog" }, dlg));
  make("b", { textContent: v.title || "" }, dlg);
  make("p", { textContent: v.text }, dlg);
  if (v.button) {
    const link = make("a", { href: v.button.href, textContent: v.button.label, onclick: g(() => track("cta_click", a, link.href)) });
    // Relative URLs resolve against the page; javascript:, data: and invalid URLs fail this test.
    if (/^https?:$/.test(link.protocol)) dlg.append(link);
  }
  dlg[k == "modal" ? "showModal" : "show"]();
  track("cta_impression", a);
};
