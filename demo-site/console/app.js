// The console's shell: sign-in, the API client, the router and a tiny DOM helper.
//
// Sign-in asks for the site id and the admin token and keeps them in sessionStorage: they live as
// long as the tab, are never written to disk by this page, never sent anywhere but /v1/admin on
// this origin (as a bearer header, so no cookie and no CSRF), and closing the tab logs out.
// Everything shown is set as text (textContent), never parsed as HTML: visitor data is untrusted.
import { leadsView, leadView } from "./leads.js";
import { rulesView } from "./rules.js";
import { funnelView, feedbackView, ctasView } from "./insights.js";
import { webhooksView } from "./webhooks.js";

const SESSION_KEY = "mql-console";
/** The last site opened (not a secret, so it outlives the tab; the token never does). */
const SITE_KEY = "mql-console-site";

/** Creates an element: attributes (on* as listeners), then children (strings become text nodes). */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** Creates an SVG element, as `h` does. */
export function svg(tag, attrs, ...children) {
  return fill(document.createElementNS("http://www.w3.org/2000/svg", tag), attrs, children);
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** The signed-in session: { site, token }, or null. */
export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

/** An API error with the server's code, message and field issues. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.issues = body?.error?.issues || [];
  }
}

/** Calls /v1/admin/sites/<site><path> with `body` as JSON (or `text` as it is); answers the parsed JSON (or the Response for `raw`). */
export async function api(path, { method = "GET", body, text, raw = false } = {}) {
  const s = session();
  const headers = { authorization: `Bearer ${s?.token || ""}` };
  if (body !== undefined || text !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`/v1/admin/sites/${encodeURIComponent(s?.site || "")}${path}`, {
    method, headers, body: text !== undefined ? text : body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    logout("Your token was refused: sign in again.");
    throw new ApiError(401, await res.json().catch(() => null));
  }
  if (raw && res.ok) return res;
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/** Formats a time as a short local date and time. */
export function when(t) {
  return t === null || t === undefined ? "—" : new Date(t).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A stage as a coloured pill. */
export function stagePill(stage) {
  return h("span", { class: `stage ${stage}` }, stage);
}

/** A message shown in place of a view that failed to load. */
export function failure(e) {
  return h("p", { class: "error", role: "alert" }, e instanceof ApiError ? `${e.message}${e.issues.length ? ` (${e.issues.map((i) => i.path).join(", ")})` : ""}` : String(e));
}

const view = () => document.getElementById("view");

function logout(message = "") {
  sessionStorage.removeItem(SESSION_KEY);
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message;
  view().hidden = true;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
}

const routes = {
  leads: () => leadsView(),
  lead: (id) => leadView(id),
  funnel: () => funnelView(),
  rules: () => rulesView(),
  feedback: () => feedbackView(),
  ctas: () => ctasView(),
  webhooks: () => webhooksView(),
};

async function route() {
  if (!session()) return logout();
  const [name, arg] = location.hash.replace(/^#\/?/, "").split("/");
  const key = routes[name] ? name : "leads";
  for (const a of document.querySelectorAll("#nav a")) {
    const here = a.dataset.view === (key === "lead" ? "leads" : key);
    a.classList.toggle("active", here);
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const v = view();
  v.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const content = await routes[key](arg && decodeURIComponent(arg));
    v.replaceChildren(content);
  } catch (e) {
    if (e?.status !== 401) v.replaceChildren(failure(e));
  }
}

function signedIn() {
  const s = session();
  document.getElementById("login").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("who").hidden = false;
  document.getElementById("who-site").textContent = `site ${s.site}`;
  view().hidden = false;
  route();
}

document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const s = { site: String(form.get("site")).trim(), token: String(form.get("token")).trim() };
  const error = document.getElementById("login-error");
  error.textContent = "";
  // The token is checked against the site's rules before it is kept.
  const res = await fetch(`/v1/admin/sites/${encodeURIComponent(s.site)}/rules`, { headers: { authorization: `Bearer ${s.token}` } });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    error.textContent = res.status === 401 ? "This token is not the admin token." : body?.error?.message || `HTTP ${res.status}`;
    return;
  }
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  localStorage.setItem(SITE_KEY, s.site);
  signedIn();
});
document.getElementById("logout").addEventListener("click", () => logout());
addEventListener("hashchange", route);
document.querySelector("#login input[name=site]").value = localStorage.getItem(SITE_KEY) || "";
if (session()) signedIn();
