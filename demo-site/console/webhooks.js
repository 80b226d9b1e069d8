// Webhook deliveries across visitors (from the index), each message's tries, dead letters and their replay.
import { api, h, when } from "./app.js";

let filter = "";

/** The webhooks page. */
export async function webhooksView() {
  const [d, dead] = await Promise.all([api(`/deliveries?days=90${filter ? `&status=${filter}` : ""}`), api("/webhooks/dead")]);
  const status = h("p", { role: "status" });
  const statusSelect = h("select", { "aria-label": "status" }, ["", "pending", "delivered", "dead"].map((s) => h("option", { value: s, selected: s === filter }, s || "any status")));
  statusSelect.addEventListener("change", () => {
    filter = statusSelect.value;
    dispatchEvent(new HashChangeEvent("hashchange"));
  });

  /** Where a message's outbox is: a stitched lead's own (its id starts ld_), or the visitor's. */
  const outbox = (owner) => owner.startsWith("ld_") ? `/identity/leads/${encodeURIComponent(owner)}/webhooks` : `/visitors/${encodeURIComponent(owner)}/webhooks`;

  async function replay(visitor, id, button) {
    button.disabled = true;
    try {
      await api(`${outbox(visitor)}/${encodeURIComponent(id)}/replay`, { method: "POST" });
      status.className = "ok";
      status.textContent = `Message ${id} queued again with the same webhook-id; it is sent within seconds.`;
    } catch (e) {
      status.className = "error";
      status.textContent = e.message;
      button.disabled = false;
    }
  }

  /** Opens a message's tries under its row (from the visitor's own outbox). */
  async function showTries(row, m) {
    const next = row.nextElementSibling;
    if (next?.classList.contains("tries")) return next.remove();
    const all = await api(outbox(m.visitor));
    const msg = all.webhooks.find((x) => x.id === m.id);
    const tries = msg?.tries ?? [];
    row.after(h("tr", { class: "tries" }, h("td", { colspan: 8 },
      tries.length === 0 ? h("span", { class: "muted" }, "No try yet.")
        : h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Try"), h("th", {}, "When"), h("th", {}, "Answer"), h("th", { class: "num" }, "Duration"), h("th", {}, "Outcome"))),
          h("tbody", {}, tries.map((t, i) => h("tr", {}, h("td", {}, String(i + 1)), h("td", {}, when(t.at)), h("td", {}, t.status === null ? t.error || "no answer" : t.error?.startsWith(`HTTP ${t.status}`) ? t.error : `HTTP ${t.status}${t.error ? ` ${t.error}` : ""}`), h("td", { class: "num" }, `${t.durationMs} ms`), h("td", {}, t.outcome))))))));
  }

  /** What a message reports: the stage entered, or the score reached (null from an index older than that). */
  const about = (m) => m.stage ? m.stage.toUpperCase() : m.score ? `${m.score.name} ≥ ${m.score.threshold}` : "—";

  const replayButton = (visitor, id) => {
    const b = h("button", { type: "button", class: "secondary", "data-replay": id, onclick: (e) => { e.stopPropagation(); replay(visitor, id, b); } }, "Replay");
    return b;
  };

  return h("div", {},
    h("div", { class: "card" },
      h("div", { class: "row" }, h("h1", { class: "title" }, "Webhooks"), statusSelect),
      h("div", { class: "kpis" }, Object.entries(d.totals).map(([s, t]) => h("div", { class: "kpi" }, h("b", {}, String(t.messages)), `${s} (${t.attempts} tries)`))),
      status,
      h("div", { class: "scroll-x" }, h("table", { id: "deliveries" },
        h("thead", {}, h("tr", {}, ["Created", "Lead", "Webhook", "Reports", "Target", "Status", "Tries", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, d.deliveries.map((m) => {
          const row = h("tr", { class: "clickable", "data-message": m.id, title: "show every try" },
            h("td", {}, when(m.createdAt)), h("td", {}, m.visitor.startsWith("ld_")
              // A stitched lead's own message: the person, not one browser (its browsers are on the Leads page).
              ? h("span", { title: "a person across browsers (stitched lead)" }, `person ${m.visitor}`)
              : h("a", { href: `#/lead/${encodeURIComponent(m.visitor)}`, onclick: (e) => e.stopPropagation() }, m.email || m.visitor)),
            h("td", {}, m.webhook), h("td", { class: "about" }, about(m)), h("td", {}, m.target),
            h("td", { class: m.status === "dead" ? "error" : m.status === "delivered" ? "ok" : undefined }, m.status,
              m.nextAt ? h("div", { class: "muted next" }, `next try ${when(m.nextAt)}`) : null,
              m.lastError ? h("div", { class: "muted" }, m.lastError) : null),
            h("td", { class: "num" }, String(m.attempts)),
            h("td", {}, h("button", { type: "button", class: "link", "aria-label": `show every try of ${m.id}`, onclick: (e) => { e.stopPropagation(); showTries(row, m); } }, "tries"),
              " ", m.status === "dead" ? replayButton(m.visitor, m.id) : null));
          row.addEventListener("click", () => showTries(row, m));
          return row;
        }))))),
    h("div", { class: "card" },
      h("h2", {}, "Dead letters"),
      dead.deadLetters.length === 0 ? h("p", { class: "muted" }, "None: every message was delivered or is still being tried.")
        : h("div", { class: "scroll-x" }, h("table", { id: "dead-letters" }, h("thead", {}, h("tr", {}, ["Died", "Visitor", "Webhook", "Target", "Last error", ""].map((t) => h("th", {}, t)))),
          h("tbody", {}, dead.deadLetters.map((x) => h("tr", {}, h("td", {}, when(x.at)), h("td", {}, x.visitor.startsWith("ld_") ? `person ${x.visitor}` : h("a", { href: `#/lead/${encodeURIComponent(x.visitor)}` }, x.visitor)),
            h("td", {}, x.webhook), h("td", {}, x.target), h("td", {}, x.error || ""), h("td", {}, replayButton(x.visitor, x.id)))))))));
}
