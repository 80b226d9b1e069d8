/**
 * Capture of intent signals from the DOM: page views (SPA navigation and bfcache restores
 * included), email click-throughs, form submissions, CTA clicks, downloads and outbound links.
 * Listeners run in the capture phase, so pages that stop propagation or preventDefault (forms
 * submitted by fetch) are still seen.
 */
import type { Emit } from "./types";
import { bag, clip, g, on } from "./util";
import { tokened } from "./xd";

/** Email click-throughs: utm_medium=email, or the click id of a common email tool. */
export const EMAIL_CLICK = /[?&](utm_medium=e-?mail|mc_[ce]id|_hsenc|mkt_tok)\b/i;
/** Links that count as downloads. */
export const DOWNLOAD = /\.(pdf|docx?|xlsx?|pptx?|csv|zip)$/i;
/**
 * Fields never read, tested on type + checked + autocomplete + name run together: hidden fields,
 * files, buttons, unchecked boxes; passwords however shown (a "show password" toggle makes one a
 * text field: its current-password / new-password token or its name still says so), one-time
 * codes, secrets and tokens; payment cards (cc-* autocomplete tokens, card, cvc, iban names).
 */
export const SKIP = /^(hidden|file|submit|button|reset|image|(checkbox|radio)false)|pass|pwd|secret|token|one-time|cc-|card|cvc|cvv|iban/i;
/** A plausible email address, as the wire accepts it (at most 254 characters). */
export const EMAIL = /^(?=.{6,254}$)[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Installs the listeners; returns the page-view recorder (`page(1)` records an unchanged URL too). */
export const capture = (emit: Emit) => {
  let last: string | undefined;
  const d = document;
  const page = (force?: unknown) => {
    // A hash route (#/pricing, #!/pricing) is a page of its own; any other fragment is not.
    const u = location.href.replace(/#(?![/!]).*/, "");
    // Nothing recorded (no consent yet) leaves the page unseen: the page view recorded once consent
    // comes keeps the real referrer and email click.
    if ((u != last || force) && emit("page_view", { referrer: clip(last || d.referrer), title: clip(d.title, 200) })) {
      if (!last && !tokened && EMAIL_CLICK.test(location.search)) emit("email_click");
      last = u;
    }
  };
  // SPA routers set the title after the URL: record on the next task.
  const spa = () => setTimeout(g(page));
  for (const m of ["pushState", "replaceState"] as const) {
    const orig = history[m];
    history[m] = (...a: Parameters<History["pushState"]>) => (spa(), orig.apply(history, a));
  }
  on("popstate hashchange", spa);
  on("pageshow", (e: PageTransitionEvent) => e.persisted && page(1));

  on("submit", (e: SubmitEvent) => {
    const f = e.target as HTMLFormElement;
    const fields: Record<string, string> = {};
    let email: string | undefined;
    for (const el of f.elements as unknown as HTMLInputElement[]) {
      const k = el.name || el.id;
      // Every option chosen in a multiple select (only selects have selectedOptions); fields of one name (a group of checkboxes) joined.
      const o: HTMLOptionElement[] | undefined = (el as any).selectedOptions;
      const v = o?.length! > 1 ? [...o!].map((x) => x.value) + "" : el.value;
      if (k && !SKIP.test(el.type + el.checked + el.autocomplete + k) && !el.closest("[data-mql-ignore]")) {
        fields[k] = k in fields ? fields[k] + "," + v : v;
        if (/mail/i.test(el.type + k) && EMAIL.test(v.trim())) email = v.trim();
      }
    }
    const traits = bag(fields);
    // getAttribute: a field named "id" or "name" shadows the form's own property.
    emit("form_submit", { form: { id: clip(f.getAttribute("id"), 128), name: clip(f.getAttribute("name"), 128) }, fields: traits });
    if (email) emit("identify", { email, traits });
  });

  // The primary or the middle button (a new tab), not a context menu; inside a web component's shadow root too.
  on("click auxclick", (e: MouseEvent) => {
    const a = (e.composedPath()[0] as Element).closest?.("[data-mql-cta],a[href]") as HTMLAnchorElement | null;
    if (!a || e.button > 1) return;
    const id = a.dataset.mqlCta;
    const href = clip(a.href);
    if (id != null) emit("cta_click", { element: clip(id, 128), href });
    else if (a.hasAttribute("download") || DOWNLOAD.test(a.pathname)) emit("download", { href });
    else if (a.host != location.host && /^http/.test(href!)) emit("custom", { name: "outbound", href });
  });
  return page;
};
