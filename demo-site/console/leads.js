// Leads: the filterable, sortable list with CSV export, and one lead's page (explanation, timeline, sales verdict).
import { api, failure, h, stagePill, when } from "./app.js";

const PAGE = 25;
const state = { stage: "", q: "", source: "", minScore: "", seenDays: "", sort: "score", order: "desc", offset: 0 };

function query(extra = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...state, ...extra })) if (v !== "" && v !== undefined) p.set(k, String(v));
  return p.toString();
}

const COLUMNS = [
  ["Lead", "company"], ["Stage", "stage"], ["Score", "score", "num"], ["Fit", null, "num"], ["Engagement", null, "num"],
  ["Source", "source"], ["Campaign", null], ["Last seen", "last_seen"],
];

/** The leads list. */
export async function leadsView() {
  const root = h("div", { class: "card" });
  const table = h("div");
  const stages = await api("/leads?limit=1").then((r) => r.stages);

  const input = (name, attrs) => {
    const el = h("input", { name, value: state[name], ...attrs });
    el.addEventListener("change", () => { state[name] = el.value.trim(); state.offset = 0; load(); });
    return el;
  };
  const stageSelect = h("select", { name: "stage" }, h("option", { value: "" }, "any stage"), stages.map((s) => h("option", { value: s.id, selected: state.stage === s.id }, s.label)));
  stageSelect.addEventListener("change", () => { state.stage = stageSelect.value; state.offset = 0; load(); });
  const exportButton = h("button", { type: "button", class: "secondary", onclick: exportCsv }, "Export CSV");

  root.append(
    h("h1", {}, "Leads"),
    h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      h("label", {}, "Stage", stageSelect),
      h("label", {}, "Search (email, company)", input("q", { type: "search", placeholder: "helios" })),
      h("label", {}, "Source", input("source", { placeholder: "google, (direct)" })),
      h("label", {}, "Min. score", input("minScore", { type: "number", class: "narrow" })),
      h("label", {}, "Seen in last … days", input("seenDays", { type: "number", min: 1, class: "narrow" })),
      exportButton),
    table);

  async function load() {
    let data;
    try {
      data = await api(`/leads?${query({ limit: PAGE })}`);
    } catch (e) {
      table.replaceChildren(failure(e));
      return;
    }
    // aria-sort belongs on the header cell; a new order starts again from its first page.
    const head = h("tr", {}, COLUMNS.map(([label, key, cls]) => h("th", { class: cls, "aria-sort": key && state.sort === key ? (state.order === "asc" ? "ascending" : "descending") : undefined }, key
      ? h("button", { type: "button", class: "link sort",
        onclick: () => { state.order = state.sort === key && state.order === "desc" ? "asc" : state.sort === key ? "desc" : key === "company" || key === "source" ? "asc" : "desc"; state.sort = key; state.offset = 0; load(); } }, label)
      : label)));
    const rows = data.leads.map((l) => h("tr", { class: "clickable", "data-visitor": l.visitor, onclick: () => (location.hash = `#/lead/${encodeURIComponent(l.visitor)}`) },
      h("td", {}, h("a", { href: `#/lead/${encodeURIComponent(l.visitor)}` }, l.email || l.visitor), l.company ? h("div", { class: "muted" }, l.company) : null,
        l.lead ? h("div", { class: "muted person", title: "This browser belongs to a lead: one person across browsers, whose stage and score drive webhooks" }, `person: ${(l.lead.stage ?? "?").toUpperCase()} · ${l.lead.total ?? "?"}`) : null),
      h("td", {}, stagePill(l.stage)),
      h("td", { class: "num" }, String(l.scores.total)), h("td", { class: "num" }, String(l.scores.fit)), h("td", { class: "num" }, String(l.scores.engagement)),
      h("td", {}, l.source, l.medium ? h("span", { class: "muted" }, ` / ${l.medium}`) : null),
      h("td", {}, l.campaign || "—"), h("td", {}, when(l.lastSeen))));
    const pages = h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", disabled: state.offset === 0, onclick: () => { state.offset = Math.max(0, state.offset - PAGE); load(); } }, "Previous"),
      h("span", { class: "muted", id: "lead-count" }, `${data.total === 0 ? 0 : state.offset + 1}–${state.offset + data.leads.length} of ${data.total}`),
      h("button", { type: "button", class: "secondary", disabled: state.offset + PAGE >= data.total, onclick: () => { state.offset += PAGE; load(); } }, "Next"));
    // On a narrow screen the table scrolls sideways inside its card rather than spilling out of it.
    table.replaceChildren(h("div", { class: "scroll-x" }, h("table", { id: "leads" }, h("thead", {}, head), h("tbody", {}, rows))), pages);
  }

  async function exportCsv() {
    // A bearer token cannot ride on a plain link: fetch the file, then hand it to the browser.
    const res = await api(`/leads.csv?${query({ offset: "" })}`, { raw: true });
    const url = URL.createObjectURL(await res.blob());
    const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "")?.[1] || "leads.csv";
    h("a", { href: url, download: name }).click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  /** Asks every visitor object to report everything again (after the index was lost), page by page. */
  async function rebuild(ev) {
    const button = ev.target;
    const note = button.nextElementSibling;
    button.disabled = true;
    let cursor = null;
    let rebuilt = 0;
    const failed = [];
    try {
      do {
        const r = await api(`/index/rebuild${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`, { method: "POST" });
        rebuilt += r.rebuilt;
        failed.push(...r.failed);
        cursor = r.cursor;
        note.textContent = `${rebuilt} visitors reported again…`;
      } while (cursor);
      note.textContent = `${rebuilt} visitors reported again${failed.length ? `; ${failed.length} could not report (retry later)` : ""}.`;
      await load();
    } catch (e) {
      note.textContent = e.message;
    }
    button.disabled = false;
  }

  root.append(h("p", { class: "muted row" }, "The list comes from the index, rebuilt from the visitors themselves if it is ever lost:",
    h("button", { type: "button", class: "link", id: "rebuild", onclick: rebuild }, "rebuild the index"), h("span", { role: "status" })));
  await load();
  return root;
}

/** One lead: who, stage and scores, why (every point), what they did, and the sales verdict. */
export async function leadView(visitor) {
  const id = encodeURIComponent(visitor);
  const [data, snap] = await Promise.all([api(`/leads/${id}`), api(`/visitors/${id}`)]);
  const l = data.lead;
  const ex = snap.explanation;
  const pointsByEvent = new Map();
  for (const e of ex.entries) pointsByEvent.set(e.event, [...(pointsByEvent.get(e.event) || []), e]);

  const verdicts = h("div", { id: "verdicts" });
  const renderVerdicts = (list) => verdicts.replaceChildren(list.length === 0 ? h("p", { class: "muted" }, "No verdict yet.")
    : h("ul", {}, list.map((f) => h("li", {}, `${f.verdict} as ${f.stage.toUpperCase()}`, f.by ? ` by ${f.by}` : "", f.reason ? ` — ${f.reason}` : "", h("span", { class: "muted" }, ` (${when(f.at)})`)))));
  renderVerdicts(data.feedback);
  const reason = h("input", { name: "reason", placeholder: "why (optional)", "aria-label": "reason for the verdict (optional)", maxlength: 500 });
  const judged = h("p", { role: "status" });
  const judge = async (verdict) => {
    try {
      await api("/feedback", { method: "POST", body: { visitor, verdict, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}), by: "console" } });
      // The reason was for this verdict: kept, it would be sent again with the next one.
      reason.value = "";
      renderVerdicts((await api(`/leads/${id}`)).feedback);
      judged.className = "ok";
      judged.textContent = `Marked ${verdict}.`;
    } catch (e) {
      judged.className = "error";
      judged.textContent = e.message;
    }
  };
  const qualified = data.stages.some((s) => s.stage === "mql" || s.stage === "sql");

  return h("div", {},
    h("p", {}, h("a", { href: "#/leads" }, "← All leads")),
    h("div", { class: "card" },
      h("h1", {}, l.email || l.visitor, " ", stagePill(l.stage)),
      h("p", { class: "muted" }, [l.company, `visitor ${l.visitor}`, `first seen ${when(l.firstSeen)}`, `last seen ${when(l.lastSeen)}`, `${l.events} events`].filter(Boolean).join(" · ")),
      h("p", {}, `Came from ${l.source}`, l.medium ? ` / ${l.medium}` : "", l.campaign ? ` (campaign ${l.campaign})` : "", l.landing ? `, landed on ${l.landing}` : ""),
      l.lead ? h("p", { id: "person" }, `This browser is one of a person's: lead ${l.lead.id}, ${(l.lead.stage ?? "?").toUpperCase()} with ${l.lead.total ?? "?"} points over all their browsers (what stages and webhooks go by). The score below is this browser's own.`) : null),
    h("div", { class: "grid2" },
      h("div", { class: "card", id: "explanation" },
        h("h2", {}, "Why this score"),
        h("div", { class: "kpis" }, ex.groups.map((g) => h("div", { class: "kpi" }, h("b", {}, String(g.score)), g.label)), h("div", { class: "kpi" }, h("b", {}, String(ex.scores.total ?? 0)), "Total")),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Rule"), h("th", {}, "Group"), h("th", { class: "num" }, "Times"), h("th", { class: "num" }, "Points now"))),
          h("tbody", {}, ex.rules.map((r) => h("tr", { "data-rule": r.rule }, h("td", {}, r.description), h("td", {}, r.group), h("td", { class: "num" }, String(r.times)), h("td", { class: "num" }, String(r.now)))))),
        h("h3", {}, "Stages"),
        ex.stages.length === 0 ? h("p", { class: "muted", id: "stages-none" }, "No stage change yet.")
          : h("ul", { id: "stages" }, ex.stages.map((s) => h("li", {}, `${s.from} → ${s.to}: ${s.reason}`, h("span", { class: "muted" }, ` (${when(s.at)})`))))),
      h("div", { class: "card" },
        h("h2", {}, "Sales verdict"),
        qualified
          ? h("div", { class: "row" }, reason, h("button", { type: "button", class: "good", onclick: () => judge("accepted") }, "Accept"), h("button", { type: "button", class: "bad", onclick: () => judge("rejected") }, "Reject"))
          : h("p", { class: "muted" }, "Sales judge leads once they are MQL or SQL."),
        judged, verdicts,
        h("h2", {}, "Timeline"),
        h("ol", { class: "timeline", reversed: true }, data.timeline.map((e) => h("li", {},
          h("span", { class: "muted" }, when(e.at)), " ", describe(e),
          (pointsByEvent.get(e.id) || []).map((p) => h("span", { class: `pts ${p.points < 0 ? "neg" : "pos"}`, title: p.reason }, ` ${p.points > 0 ? "+" : ""}${p.points} ${p.rule}`))))))));
}

function describe(e) {
  switch (e.type) {
    case "page_view": return `viewed ${e.path || e.url || "a page"}`;
    case "form_submit": return `submitted form ${e.form?.id || e.form?.name || ""}`;
    case "identify": return `identified as ${e.email || "someone"}`;
    case "download": return `downloaded ${e.href || ""}`;
    case "cta_click": return `clicked CTA ${e.element || ""}`;
    case "cta_impression": return `saw CTA ${e.element || ""}`;
    case "cta_dismiss": return `dismissed CTA ${e.element || ""}`;
    case "custom": return `did ${e.name || "something"}`;
    default: return e.type;
  }
}
