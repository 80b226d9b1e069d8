/**
 * CTA rendering. Each CTA lives in its own shadow root (site CSS does not reach it, its CSS does
 * not reach the site), in a <dialog>. A modal is shown with showModal() (the page behind goes
 * inert) and keeps Tab and Esc to itself. Other kinds are only opened, so a banner never takes the
 * focus from the page. The markup is a constant; content is set as text only, and the link stays
 * only for http(s) or relative URLs. The site styles CTAs with its own CSS through the parts they expose:
 * `::part(mql-cta)` (the box), `::part(mql-link)` (the button link), `::part(mql-close)`. An inline CTA replaces the content of `[data-mql-slot="<slot>"]`;
 * dismissed, it gives the slot its own content back.
 */
import type { WireAction } from "./types";
import { g } from "./util";

/**
 * The CTA's look, as a constructed stylesheet: a page whose Content-Security-Policy refuses inline
 * styles (style-src without 'unsafe-inline') does not apply a <style> element, but does apply this.
 */
const CSS_TEXT =
  ":host{all:initial}dialog{font:15px system-ui;z-index:2147483647;border:1px solid #ccd;border-radius:8px;box-shadow:0 4px 24px #0003}" +
  ".banner,.slide_in{position:fixed;inset:auto 1em 1em}.slide_in{left:auto;max-width:24em}.inline{position:static}form{float:right}";
const HTML =
  "<dialog part=mql-cta><form method=dialog><button part=mql-close aria-label=Close>×</button></form><b></b><p></p><a part=mql-link></a></dialog>";
let sheet: CSSStyleSheet;

/** Records `cta_impression`, `cta_click` (with the link) or `cta_dismiss` for a CTA. */
export type CtaTrack = (type: "cta_impression" | "cta_click" | "cta_dismiss", a: WireAction, href?: string) => void;

/** Shows a CTA in `place` (its slot for an inline CTA, else the body) and reports its impression, click and dismissal. */
export const render = (a: WireAction, track: CtaTrack, place: Element) => {
  const d = document;
  const { kind, variant: v } = a;
  // What the slot held: taken out while the CTA shows, back in its place when it is dismissed.
  // Only inline CTAs have a slot (rules/validate.ts refuses a slot on any other kind).
  const own = a.slot ? [...place.childNodes] : [];
  const modal = kind == "modal";
  const host = d.createElement("div");
  const root = host.attachShadow({ mode: "open" });
  if (!sheet) (sheet = new CSSStyleSheet()).replaceSync(CSS_TEXT);
  root.adoptedStyleSheets = [sheet];
  root.innerHTML = HTML;
  const [dlg, close, b, p, link] = root.querySelectorAll("dialog,button,b,p,a") as unknown as [HTMLDialogElement, HTMLElement, HTMLElement, HTMLElement, HTMLAnchorElement];
  dlg.className = kind;
  dlg.ariaLabel = v.title || v.text;
  // Text only: an unset title or label leaves the element empty.
  b.textContent = v.title!;
  p.textContent = v.text;
  if (v.button) {
    link.textContent = v.button.label;
    link.href = v.button.href;
  }
  // Relative URLs resolve against the page; javascript:, data:, a missing button and invalid URLs fail this test.
  if (!/^https?:$/.test(link.protocol)) link.remove();
  link.onclick = g(() => track("cta_click", a, link.href));
  dlg.onclose = g(() => {
    host.replaceWith(...own);
    track("cta_dismiss", a);
  });
  // showModal() lets Tab leave the page for the browser's own UI, where Esc no longer reaches the
  // dialog, and Chromium drops Esc at times when another dialog opened after this one: Tab and
  // Shift+Tab cycle between the two controls (focusing a removed link does nothing), Esc closes.
  dlg.onkeydown = g((e: KeyboardEvent) => {
    if (e.key == "Escape") dlg.close();
    if (e.key == "Tab" && modal) {
      e.preventDefault();
      (root.activeElement == link ? close : link).focus();
    }
  });
  own.map((n) => n.remove());
  place.append(host);
  // Other kinds are only opened: show() would take the focus from the page.
  modal ? dlg.showModal() : (dlg.open = true);
  track("cta_impression", a);
};
