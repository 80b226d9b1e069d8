// Funnel, sales feedback and CTA results.
import { api, h, when } from "./app.js";
import { barChart } from "./charts.js";

/** A rate as a percentage (a no-break space, so "50 %" never wraps); a rate out of nobody (null) is unknown: "—", not "0 %". */
const pct = (r) => (r === null || r === undefined ? "—" : `${(r * 100).toFixed(r > 0 && r < 0.1 ? 1 : 0)}\u00a0%`);
/** The funnel's period: the last N days, or from/to dates (YYYY-MM-DD, `to` included), and why the last dates were refused. */
const funnelPeriod = { days: 30, from: "", to: "", error: "" };
/** Midnight starting a YYYY-MM-DD day where the user is, `plus` days later, in ms: the days picked are the user's, not UTC's. */
const localDay = (date, plus = 0) => {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(y, m - 1, d + plus).getTime();
};

/** Visitors -> leads -> MQL -> SQL for a period, and the MQL rate per channel and landing page. */
export async function funnelView() {
  const p = funnelPeriod;
  const query = p.from || p.to
    ? new URLSearchParams({ ...(p.from ? { from: String(localDay(p.from)) } : {}), ...(p.to ? { to: String(localDay(p.to, 1)) } : {}) })
    : `days=${p.days}`;
  const f = await api(`/funnel?${query}`);
  const error = p.error;
  p.error = "";
  const reload = () => dispatchEvent(new HashChangeEvent("hashchange"));
  const period = h("select", { id: "funnel-days", "aria-label": "period" }, [7, 30, 90, 365].map((d) => h("option", { value: d, selected: !p.from && !p.to && d === p.days }, `last ${d} days`)));
  period.addEventListener("change", () => Object.assign(p, { days: Number(period.value), from: "", to: "" }) && reload());
  const from = h("input", { type: "date", "aria-label": "from", value: p.from });
  const to = h("input", { type: "date", "aria-label": "to", value: p.to });
  // Dates out of order are refused here, next to the controls, and the period shown stays.
  const apply = h("button", {
    type: "button", class: "secondary",
    onclick: () => {
      const wrong = from.value && to.value && to.value < from.value;
      Object.assign(p, wrong ? { error: "The end date is before the start date." } : { from: from.value, to: to.value, error: "" });
      reload();
    },
  }, "Apply dates");
  const target = f.target.toUpperCase();
  const breakdown = (dim, title) => {
    const rows = f.by[dim] || [];
    return h("div", { class: "card", id: `funnel-${dim}` },
      h("h2", {}, title),
      rows.length === 0 ? h("p", { class: "muted" }, "No visitors in this period.")
        : [barChart(rows.slice(0, 10).map((r) => ({ label: r.key, values: [r.rate], note: `(${r.reached}/${r.visitors})` })), { format: pct, max: 1 }),
          h("div", { class: "scroll-x" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, dim), h("th", { class: "num" }, "Visitors"), h("th", { class: "num" }, target), h("th", { class: "num" }, "Rate"), h("th", { class: "num", title: "the rate these numbers guarantee at 95 % (Wilson lower bound)" }, "At least"), h("th", { class: "num" }, "Accepted by sales"))),
            h("tbody", {}, rows.map((r) => h("tr", {}, h("td", {}, r.key), h("td", { class: "num" }, String(r.visitors)), h("td", { class: "num" }, String(r.reached)), h("td", { class: "num" }, pct(r.rate)), h("td", { class: "num" }, pct(r.low)), h("td", { class: "num" }, String(r.accepted)))))))]);
  };
  return h("div", {},
    h("div", { class: "card" },
      h("div", { class: "row" }, h("h1", { class: "title" }, "Funnel"), period, "or from", from, "to", to, apply),
      error ? h("p", { class: "error", id: "funnel-error", role: "alert" }, error) : null,
      h("p", { class: "muted" }, `Visitors first seen from ${when(f.from)} to ${when(f.to)}, and how far they went since. Channels and pages are ranked by the ${target} rate their numbers can be trusted for.`),
      h("div", { id: "funnel-steps" }, barChart(f.steps.map((s, i) => ({ label: s.label, values: [s.reached], note: i === 0 ? "" : `${pct(s.fromPrevious)} of previous, ${pct(s.fromTop)} of all` }))))),
    h("div", { class: "grid2" }, breakdown("source", `${target} rate by source`), breakdown("medium", `${target} rate by medium`)),
    h("div", { class: "grid2" }, breakdown("campaign", `${target} rate by campaign`), breakdown("landing", `${target} rate by landing page`)));
}

/** Each rule's precision: of the judged leads it gave points to, the share sales accepted. */
export async function feedbackView() {
  const f = await api("/feedback?days=365");
  return h("div", {},
    h("div", { class: "card" },
      h("h1", {}, "Sales feedback"),
      h("p", { class: "muted" }, "Sales accept or reject MQLs and SQLs on a lead's page, or from the CRM: ",
        h("code", {}, "POST /v1/admin/sites/<site>/feedback {\"email\" | \"visitor\", \"verdict\": \"accepted\" | \"rejected\", \"reason\"?}"), "."),
      h("div", { class: "kpis" },
        h("div", { class: "kpi" }, h("b", {}, String(f.overall.accepted)), "accepted"),
        h("div", { class: "kpi" }, h("b", {}, String(f.overall.rejected)), "rejected"),
        h("div", { class: "kpi" }, h("b", {}, pct(f.overall.precision)), "accepted overall"))),
    h("div", { class: "card" },
      h("h2", {}, "Precision by rule"),
      f.rules.length === 0 ? h("p", { class: "muted" }, "No verdict yet.")
        : [barChart(f.rules.map((r) => ({ label: r.description, values: [r.precision], note: `(${r.accepted}/${r.accepted + r.rejected})` })), { format: pct, max: 1 }),
          h("div", { class: "scroll-x" }, h("table", { id: "precision" }, h("thead", {}, h("tr", {}, h("th", {}, "Rule"), h("th", { class: "num" }, "Accepted"), h("th", { class: "num" }, "Rejected"), h("th", { class: "num" }, "Precision"), h("th", { class: "num" }, "At least"))),
            h("tbody", {}, f.rules.map((r) => h("tr", { "data-rule": r.rule }, h("td", {}, r.description, h("div", { class: "muted" }, r.rule)), h("td", { class: "num" }, String(r.accepted)), h("td", { class: "num" }, String(r.rejected)), h("td", { class: "num" }, pct(r.precision)), h("td", { class: "num" }, pct(r.low)))))))]),
    h("div", { class: "card" },
      h("h2", {}, "Verdicts"),
      h("div", { class: "scroll-x" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Lead"), h("th", {}, "Stage"), h("th", {}, "Verdict"), h("th", {}, "Reason"), h("th", {}, "By"), h("th", {}, "When"))),
        h("tbody", {}, f.feedback.map((x) => h("tr", {},
          h("td", {}, h("a", { href: `#/lead/${encodeURIComponent(x.visitor)}` }, x.email || x.visitor)), h("td", {}, x.stage.toUpperCase()),
          h("td", { class: x.verdict === "accepted" ? "ok" : "error" }, x.verdict), h("td", {}, x.reason || ""), h("td", {}, x.by || ""), h("td", {}, when(x.at)))))))));
}
let ctaDays = 30;

/** Per CTA and variant: impressions, clicks, dismissals, conversions, and the A/B verdict. */
export async function ctasView() {
  const r = await api(`/ctas?days=${ctaDays}`);
  const period = h("select", { "aria-label": "period" }, [7, 30, 90].map((d) => h("option", { value: d, selected: d === ctaDays }, `last ${d} days`)));
  period.addEventListener("change", () => {
    ctaDays = Number(period.value);
    dispatchEvent(new HashChangeEvent("hashchange"));
  });
  const verdict = (c) => {
    const v = c.verdict;
    if (c.variants.length < 2) return h("p", { class: "muted verdict" }, "One variant only: nothing to compare, so no A/B test. Add a second variant to the CTA to test it.");
    if (!v.leader) return h("p", { class: "muted verdict" }, "No impressions in this period.");
    if (v.confidence === null) return h("p", { class: "muted verdict" }, `Only variant ${v.leader} was seen in this period: nothing to compare yet.`);
    // Equal rates (z = 0): the order between them is a coin toss, not a lead.
    if (v.confidence === 0.5) return h("p", { class: "muted verdict" }, "The variants convert at the same rate so far: no leader.");
    if (v.winner) return h("p", { class: "winner verdict" }, `Winner: variant ${v.winner}, ${pct(v.confidence)} confidence${v.lift !== null ? `, +${pct(v.lift)} conversions over the next best` : ""}.`);
    return h("p", { class: "verdict" }, `Variant ${v.leader} leads with ${pct(v.confidence)} confidence: not enough to call a winner (95 % needed).`);
  };
  return h("div", {},
    h("div", { class: "card" },
      h("div", { class: "row" }, h("h1", { class: "title" }, "CTAs"), period),
      h("p", { class: "muted" }, "A conversion is a visitor who clicked the variant and then entered the CTA's target stage or submitted a form. Rates are per visitor who saw the variant; the winner is called by a two-proportion z-test at 95 %.")),
    r.ctas.map((c) => h("div", { class: "card", "data-cta": c.id },
      h("h2", {}, c.id, h("span", { class: "muted" }, ` ${c.kind ?? "removed from the rules"}${c.stages ? ` · shown to ${c.stages.join(", ")}` : ""}${c.target ? ` · aims at ${c.target.toUpperCase()}` : ""}`)),
      h("div", { class: "scroll-x" }, h("table", {}, h("thead", {}, h("tr", {}, ["Variant", "Impressions", "Viewers", "Clicks", "Dismissals", "Conversions", "Click rate", "Conversion rate"].map((t, i) => h("th", { class: i ? "num" : undefined }, t)))),
        h("tbody", {}, c.variants.map((v) => h("tr", { "data-variant": v.id }, h("td", {}, v.id, v.id === c.verdict.winner ? h("span", { class: "winner" }, " winner") : null),
          [v.impressions, v.viewers, v.clicks, v.dismissals, v.conversions].map((n) => h("td", { class: "num" }, String(n))),
          h("td", { class: "num" }, pct(v.ctr)), h("td", { class: "num" }, pct(v.conversionRate))))))),
      c.verdict.leader ? barChart(c.variants.map((v) => ({ label: `variant ${v.id}`, values: [v.ctr, v.conversionRate] })), { series: ["click rate", "conversion rate"], format: pct, max: 1 }) : null,
      verdict(c))));
}
