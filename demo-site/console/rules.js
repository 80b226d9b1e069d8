// Rules: the active document in an editor, validation errors shown on their lines, a simulation of
// the draft over the recorded events, publishing with a version and a note, rollback.
import { api, ApiError, h, when } from "./app.js";
import { barChart } from "./charts.js";
import { lineOfPath, nextVersion } from "./json-path.js";

/** The rules page. */
export async function rulesView() {
  const [active, history] = await Promise.all([api("/rules"), api("/rules/versions")]);
  const textarea = h("textarea", { id: "rules-editor", spellcheck: "false", "aria-label": "Rules document (JSON)" });
  textarea.value = JSON.stringify(active, null, 2);
  const gutter = h("pre", { class: "gutter", "aria-hidden": "true" });
  const issues = h("ul", { class: "issues", id: "rules-issues", role: "alert" });
  const status = h("p", { role: "status", id: "rules-status" });
  const simulation = h("div", { id: "simulation" });
  const versions = h("div");
  let errorLines = new Map();

  function paintGutter() {
    const lines = textarea.value.split("\n").length;
    gutter.replaceChildren(...Array.from({ length: lines }, (_, k) => {
      const msg = errorLines.get(k + 1);
      return h("span", { class: msg ? "err" : undefined, title: msg }, String(k + 1));
    }));
    gutter.scrollTop = textarea.scrollTop;
  }
  textarea.addEventListener("input", () => { errorLines = new Map(); issues.replaceChildren(); paintGutter(); });
  textarea.addEventListener("scroll", () => (gutter.scrollTop = textarea.scrollTop));

  function selectLine(line) {
    const lines = textarea.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    textarea.focus();
    textarea.setSelectionRange(start, start + (lines[line - 1] || "").length);
    textarea.scrollTop = Math.max(0, (line - 5) * 18);
  }

  /** Shows errors in place: a red line number and a list entry that jumps to the line. */
  function showErrors(errors) {
    errorLines = new Map();
    issues.replaceChildren(...errors.map((e) => {
      const line = e.line ?? lineOfPath(textarea.value, e.path) ?? 1;
      errorLines.set(line, [errorLines.get(line), `${e.path}: ${e.message}`].filter(Boolean).join("\n"));
      return h("li", {}, h("button", { type: "button", class: "link", onclick: () => selectLine(line) }, `line ${line}`), " ", h("code", {}, e.path), ` ${e.message}`);
    }));
    paintGutter();
  }

  /** The draft as JSON, or null after showing where it does not parse. */
  function draft() {
    try {
      return JSON.parse(textarea.value);
    } catch (e) {
      const pos = /position (\d+)/.exec(e.message);
      const line = /line (\d+)/.exec(e.message)?.[1];
      showErrors([{ path: "$", message: `not valid JSON: ${e.message}`, line: line ? Number(line) : pos ? textarea.value.slice(0, Number(pos[1])).split("\n").length : 1 }]);
      return null;
    }
  }

  const say = (cls, text) => { status.className = cls; status.textContent = text; };

  async function validate() {
    const doc = draft();
    if (!doc) {
      // The worker's reading of the text, as the CLI and the API give it: line, column, what was expected and what was found.
      try {
        await api("/rules/validate", { method: "POST", text: textarea.value });
      } catch (e) {
        if (e instanceof ApiError && e.issues.length) showErrors(e.issues);
      }
      say("error", "Not valid JSON: fix the marked line before validating, simulating or publishing.");
      return false;
    }
    const r = await api("/rules/validate", { method: "POST", body: doc });
    if (!r.ok) {
      showErrors(r.errors);
      say("error", `${r.errors.length} error(s): fix them before simulating or publishing.`);
      return false;
    }
    showErrors([]);
    say("ok", `Valid: ${r.rules} rules, stages ${r.stages.join(" → ")}. Publish makes it version ${versionInput.value.trim() || r.version}.`);
    return true;
  }

  async function runSimulation() {
    if (!(await validate())) return;
    const days = Number(daysInput.value) || 30;
    try {
      const r = await api(`/rules/simulate?days=${days}`, { method: "POST", body: draft() });
      const stages = Object.keys(r.draft.reached);
      const moved = Object.entries(r.moves).filter(([, m]) => m.entering.length + m.leaving.length > 0);
      const emailOf = new Map(r.changes.map((c) => [c.visitor, c.email]));
      simulation.replaceChildren(
        h("h2", {}, `Simulation over the last ${r.days} days`),
        h("p", { class: "muted" }, `${r.events} recorded events of ${r.visitors} visitors replayed through the active rules (${r.current.version}) and the draft.${r.truncated ? " Only the oldest events fitted: narrow the period." : ""}`),
        barChart(stages.map((s) => ({ label: s, values: [r.current.reached[s] ?? 0, r.draft.reached[s] ?? 0] })), { series: ["active", "draft"] }),
        moved.length === 0 ? h("p", { id: "simulation-none" }, "No visitor would change stage.")
          : h("table", { id: "simulation-moves" }, h("thead", {}, h("tr", {}, h("th", {}, "Stage"), h("th", {}, "Would enter"), h("th", {}, "Would leave"))),
            h("tbody", {}, moved.map(([stage, m]) => h("tr", {}, h("td", {}, stage.toUpperCase()),
              h("td", {}, m.entering.map((v) => h("div", { class: "entering" }, h("a", { href: `#/lead/${encodeURIComponent(v)}` }, emailOf.get(v) || v)))),
              h("td", {}, m.leaving.map((v) => h("div", { class: "leaving" }, h("a", { href: `#/lead/${encodeURIComponent(v)}` }, emailOf.get(v) || v)))))))));
    } catch (e) {
      if (e instanceof ApiError && e.issues.length) showErrors(e.issues);
      simulation.replaceChildren(h("p", { class: "error" }, e.message));
    }
  }

  async function publish() {
    if (!(await validate())) return;
    const note = noteInput.value.trim();
    if (!note) {
      say("error", "Write a note: what changed and why.");
      noteInput.focus();
      return;
    }
    try {
      const r = await api(`/rules/publish?note=${encodeURIComponent(note)}&version=${encodeURIComponent(versionInput.value.trim())}`, { method: "POST", body: draft() });
      say("ok", `Published version ${r.version} (was ${r.previous}).`);
      noteInput.value = "";
      const doc = draft();
      doc.version = r.version;
      textarea.value = JSON.stringify(doc, null, 2);
      paintGutter();
      await loadVersions(undefined, { version: r.version, note, publishedAt: r.publishedAt, active: true });
    } catch (e) {
      if (e instanceof ApiError && e.issues.length) showErrors(e.issues);
      say("error", e.message);
    }
  }

  async function rollback(version) {
    if (!confirm(`Make version ${version} the active rules again?`)) return;
    try {
      await api(`/rules/versions/${encodeURIComponent(version)}/rollback?note=${encodeURIComponent("rolled back from the console")}`, { method: "POST", body: {} });
      textarea.value = JSON.stringify(await api("/rules"), null, 2);
      paintGutter();
      say("ok", `Version ${version} is active again.`);
      await loadVersions();
    } catch (e) {
      say("error", e.message);
    }
  }

  /** Lists the versions; `published` is shown even if the history (KV, eventually consistent at the edge) does not list it yet. */
  async function loadVersions(data, published) {
    const v = data || (await api("/rules/versions"));
    if (published && !v.versions.some((x) => x.version === published.version)) {
      v.versions = [published, ...v.versions.map((x) => ({ ...x, active: false }))];
    }
    versionInput.value = nextVersion(v.versions.map((x) => x.version));
    versions.replaceChildren(h("div", { class: "scroll-x" }, h("table", { id: "rules-versions" },
      h("thead", {}, h("tr", {}, h("th", {}, "Version"), h("th", {}, "Note"), h("th", {}, "Published"), h("th", {}, ""))),
      h("tbody", {}, v.versions.map((x) => h("tr", { "data-version": x.version },
        h("td", {}, x.version, x.active ? h("strong", { class: "ok" }, " active") : null),
        h("td", {}, x.note || "", x.restoreNote ? h("div", { class: "muted" }, `restored: ${x.restoreNote}`) : null),
        h("td", {}, x.publishedAt == null
          ? h("span", { class: "muted", title: "This version was active before the console kept a history, so when it was published is not known." }, "before history")
          : when(x.publishedAt), x.restoredAt ? h("div", { class: "muted" }, `restored ${when(x.restoredAt)}`) : null),
        h("td", {}, x.active ? null : h("button", { type: "button", class: "secondary", onclick: () => rollback(x.version) }, "Roll back"))))))));
  }

  const daysInput = h("input", { type: "number", min: 1, max: 90, value: 30, class: "narrow", "aria-label": "days" });
  const noteInput = h("input", { id: "publish-note", placeholder: "what changed and why", "aria-label": "publish note: what changed and why", maxlength: 200, class: "grow" });
  const versionInput = h("input", { id: "publish-version", class: "version", "aria-label": "version" });
  await loadVersions(history);
  paintGutter();

  return h("div", {},
    h("div", { class: "card" },
      h("h1", {}, "Rules"),
      h("div", { class: "editor" }, gutter, textarea),
      issues,
      h("div", { class: "row" },
        h("button", { type: "button", class: "secondary", id: "validate", onclick: validate }, "Validate"),
        h("span", {}, "Simulate over the last"), daysInput, h("span", {}, "days"),
        h("button", { type: "button", class: "secondary", id: "simulate", onclick: runSimulation }, "Simulate")),
      h("div", { class: "row" }, h("label", {}, "Version ", versionInput), noteInput, h("button", { type: "button", id: "publish", onclick: publish }, "Publish")),
      status),
    h("div", { class: "card" }, simulation),
    h("div", { class: "card" }, h("h2", {}, "Versions"), versions));
}
