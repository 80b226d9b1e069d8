/*
 * The demo's visitor panel (not part of mql-edge, not for production sites): a toggle in the
 * bottom-left corner that shows the current visitor live: stage, fit and engagement scores, and
 * the explained ledger (which rule gave how many points, and why each stage was entered).
 *
 * Scores and stage come from the snippet (`mql.on("stage", ...)`); the ledger from the visitor's
 * own view, `GET /v1/visitors/:site/:id` (on when the worker runs with VISITOR_SELF_VIEW=true, as
 * `npm start` does). The stage names and thresholds, and the fallback when the self view is off,
 * come from the admin API with the development token written on this script tag
 * (data-admin-token). DEMO ONLY: an admin token must never be shipped to browsers.
 */
(function () {
  var script = document.currentScript;
  var TOKEN = (script && script.dataset.adminToken) || "dev-admin-token";
  var SITE = (document.querySelector("script[data-site]") || { dataset: {} }).dataset.site || "demo";
  var POLL_MS = 1500;
  /** How long the panel waits for the first answer to this page's events before asking for the visitor anyway. */
  var FIRST_ANSWER_WAIT_MS = 2000;
  var OPEN_KEY = "mql-demo-panel-open";

  var rules = null;
  var timer = 0;

  var host = document.createElement("div");
  host.id = "mql-demo-panel";
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" +
    ":host{all:initial;font:13px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;color:#18203a}" +
    ".toggle{position:fixed;left:16px;bottom:16px;z-index:2147483646;display:flex;align-items:center;gap:8px;background:#18203a;color:#fff;border:0;border-radius:99px;padding:9px 14px;font:600 13px system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px rgb(0 0 0 / .25)}" +
    ".toggle .stage{background:#2f54eb;border-radius:99px;padding:1px 8px;text-transform:uppercase;font-size:11px}" +
    ".panel{position:fixed;left:16px;bottom:64px;z-index:2147483646;width:380px;max-width:calc(100vw - 66px);max-height:min(560px,calc(100vh - 96px));overflow:auto;background:#fff;border:1px solid #dfe3ec;border-radius:12px;box-shadow:0 12px 40px rgb(24 32 58 / .22);padding:16px}" +
    ".panel[hidden]{display:none}" +
    "h2{font-size:15px;margin:0}h3{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:#5b6475;margin:16px 0 6px}" +
    ".head{display:flex;justify-content:space-between;align-items:center;gap:8px}.id{color:#5b6475;font:11px ui-monospace,monospace}" +
    ".reset{font:12px system-ui,sans-serif;border:1px solid #cfd4e0;background:#fff;border-radius:6px;padding:3px 8px;cursor:pointer}" +
    ".steps{display:flex;gap:4px;margin-top:12px}.steps span{flex:1;text-align:center;padding:6px 2px;border-radius:6px;background:#eef0f5;color:#8a92a5;font-weight:600;font-size:11px}" +
    ".steps span.done{background:#dbe4ff;color:#1d39c4}.steps span.now{background:#2f54eb;color:#fff}" +
    ".bar{margin:8px 0}.bar .label{display:flex;justify-content:space-between;font-weight:600}.bar .track{position:relative;height:10px;background:#eef0f5;border-radius:5px;margin-top:4px;overflow:visible}" +
    ".bar .fill{position:absolute;left:0;top:0;bottom:0;border-radius:5px;background:#2f54eb;transition:width .4s}.bar.fit .fill{background:#13a07a}.bar.neg .fill{background:#d4380d}" +
    ".mark{position:absolute;top:-3px;bottom:-3px;width:2px;background:#18203a}.mark b{position:absolute;top:12px;left:-10px;font-size:10px;color:#5b6475;font-weight:600}" +
    ".who{margin-top:22px;color:#3a4252}" +
    "table{width:100%;border-collapse:collapse}td{padding:3px 0;border-bottom:1px solid #f0f2f6;vertical-align:top}td.p{text-align:right;font-weight:700;white-space:nowrap;padding-left:8px;width:3.5em}td.p.neg{color:#d4380d}td.g{color:#8a92a5;font-size:11px;padding-left:6px}" +
    ".history li{margin:2px 0}.empty{color:#8a92a5;font-style:italic}" +
    "</style>" +
    '<button class="toggle" type="button" aria-expanded="false" aria-controls="panel">Visitor <span class="stage" data-badge>…</span></button>' +
    '<section class="panel" id="panel" hidden aria-label="Current visitor">' +
    '<div class="head"><div><h2>Current visitor</h2><div class="id" data-id></div></div><button class="reset" type="button" data-reset>New visitor</button></div>' +
    '<div class="steps" data-steps></div>' +
    '<div data-bars></div><div class="who" data-who></div>' +
    '<h3>Why this score</h3><table data-rules></table>' +
    '<h3>Stage history</h3><ul class="history" data-history></ul>' +
    '<h3>Ledger (newest first)</h3><table data-ledger></table>' +
    "</section>";
  var $ = function (sel) { return root.querySelector(sel); };
  var toggle = $(".toggle");
  var panel = $(".panel");

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }
  function signed(n) { return (n > 0 ? "+" : "") + Math.round(n * 100) / 100; }

  function visitorId() {
    try { return JSON.parse(localStorage.getItem("mql") || "null").v || null; } catch (e) { return null; }
  }

  function api(path, admin) {
    return fetch(path, { headers: admin ? { authorization: "Bearer " + TOKEN } : {} }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.ok) return body;
        var code = body && body.error && body.error.code;
        if (code === "unknown_visitor") return null;
        var err = new Error((body && body.error && body.error.message) || "HTTP " + r.status);
        err.code = code;
        throw err;
      });
    });
  }

  /**
   * The visitor's explained score: from the visitor self view when the worker offers it, else from
   * the admin API with the development token (DEMO ONLY).
   */
  var selfView = true;
  function snapshot(site, id) {
    var admin = function () { return api("/v1/admin/sites/" + site + "/visitors/" + encodeURIComponent(id), true); };
    if (!selfView) return admin();
    return api("/v1/visitors/" + site + "/" + encodeURIComponent(id)).catch(function (e) {
      if (e.code !== "not_found") throw e;
      selfView = false;
      return admin();
    });
  }

  /** The total score a stage's entry condition asks for, if it has one ({ score: "total", gte: N }). */
  function threshold(cond) {
    if (!cond || typeof cond !== "object") return undefined;
    if (cond.score === "total" && typeof cond.gte === "number") return cond.gte;
    var list = cond.all || cond.any || [];
    for (var i = 0; i < list.length; i++) {
      var t = threshold(list[i]);
      if (t !== undefined) return t;
    }
    return undefined;
  }

  function renderStage(stage) {
    var stages = rules ? rules.stages : [{ id: "visitor" }, { id: "lead" }, { id: "mql" }, { id: "sql" }];
    var at = stages.findIndex(function (s) { return s.id === stage; });
    $("[data-badge]").textContent = stage || "…";
    $("[data-steps]").innerHTML = stages.map(function (s, i) {
      return '<span class="' + (i === at ? "now" : i < at ? "done" : "") + '" title="' + esc(s.label || s.id) + '">' + esc(s.id.toUpperCase()) + "</span>";
    }).join("");
  }

  function bar(cls, label, value, scaleMax, marks) {
    var width = Math.max(0, Math.min(100, (Math.abs(value) / scaleMax) * 100));
    var m = (marks || []).map(function (x) {
      return '<span class="mark" style="left:' + (x.at / scaleMax) * 100 + '%"><b>' + esc(x.label) + "</b></span>";
    }).join("");
    return '<div class="bar ' + cls + (value < 0 ? " neg" : "") + '" data-score="' + esc(cls) + '"><div class="label"><span>' + esc(label) +
      "</span><span>" + esc(Math.round(value * 100) / 100) + "</span></div><div class=\"track\"><span class=\"fill\" style=\"width:" + width + '%"></span>' + m + "</div></div>";
  }

  function renderScores(scores) {
    var groups = rules ? rules.groups : [{ id: "fit", label: "Fit" }, { id: "engagement", label: "Engagement" }];
    var marks = [];
    (rules ? rules.stages : []).forEach(function (s) {
      var t = threshold(s.when);
      if (t !== undefined) marks.push({ at: t, label: s.id.toUpperCase() + " " + t });
    });
    var top = Math.max(100, scores.total || 0);
    var html = groups.map(function (g) {
      return bar(g.id === "fit" ? "fit" : g.id, (g.label || g.id).split(":")[0], scores[g.id] || 0, g.max || top);
    }).join("");
    html += bar("total", "Total", scores.total || 0, top, marks);
    $("[data-bars]").innerHTML = html;
  }

  function renderSnapshot(s) {
    renderStage(s.stage);
    renderScores(s.scores);
    var id = s.identity || {};
    $("[data-who]").innerHTML = id.email
      ? "Identified as <b>" + esc(id.email) + "</b> (" + esc(id.kind || "email") + " address)"
      : '<span class="empty">Anonymous: no email yet</span>';
    var ex = s.explanation;
    $("[data-rules]").innerHTML = ex.rules.length
      ? ex.rules.map(function (r) {
        return "<tr><td>" + esc(r.description) + (r.times > 1 ? " ×" + r.times : "") + '</td><td class="g">' + esc(r.group) + '</td><td class="p' + (r.now < 0 ? " neg" : "") + '">' + signed(r.now) + "</td></tr>";
      }).join("")
      : '<tr><td class="empty">No points yet</td></tr>';
    $("[data-history]").innerHTML = ex.stages.length
      ? ex.stages.map(function (h) {
        return "<li><b>" + esc(h.from || "") + " → " + esc(h.to) + "</b> " + esc(h.reason || "") + ' <span class="id">' + esc(new Date(h.at).toLocaleTimeString()) + "</span></li>";
      }).join("")
      : '<li class="empty">Still a visitor</li>';
    $("[data-ledger]").innerHTML = ex.entries.slice().reverse().map(function (e) {
      return '<tr><td><span class="id">' + esc(new Date(e.at).toLocaleTimeString()) + "</span> " + esc(e.reason) + '</td><td class="g">' + esc(e.group) + '</td><td class="p' + (e.points < 0 ? " neg" : "") + '">' + signed(e.now) + "</td></tr>";
    }).join("");
  }

  /**
   * Whether the worker has answered this page's first batch (the snippet's first "stage" event), or
   * a moment has passed without it: before that, a new visitor is unknown to the worker and asking
   * would only be answered 404.
   */
  var answered = false;

  function refresh() {
    var id = visitorId();
    $("[data-id]").textContent = id ? "id " + id : "no id yet";
    if (!id || !answered) return Promise.resolve();
    var site = encodeURIComponent(SITE);
    // The stage names and thresholds drawn on the bars come from the rules (admin API, DEMO ONLY).
    var rulesReady = rules ? Promise.resolve() : api("/v1/admin/sites/" + site + "/rules", true).then(function (r) { rules = r; }, function () {});
    return rulesReady
      .then(function () {
        // A browser sending Global Privacy Control to a site that honours it is never stored: nothing to ask for.
        if (navigator.globalPrivacyControl === true && !(rules && rules.site && rules.site.privacy && rules.site.privacy.honorGpc === false)) {
          $("[data-id]").textContent = "Global Privacy Control is on: this browser is not scored";
          return null;
        }
        return snapshot(site, id);
      })
      .then(function (s) {
        if (s) renderSnapshot(s);
      })
      .catch(function (e) { $("[data-id]").textContent = "admin API: " + e.message; });
  }

  function poll() {
    clearTimeout(timer);
    if (panel.hidden) return;
    refresh().then(function () { timer = setTimeout(poll, POLL_MS); });
  }

  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    try { sessionStorage.setItem(OPEN_KEY, open ? "1" : ""); } catch (e) {}
    if (open) poll();
  }

  toggle.addEventListener("click", function () { setOpen(panel.hidden); });
  $("[data-reset]").addEventListener("click", function () {
    if (window.mql) window.mql.reset();
    location.reload();
  });

  document.body.appendChild(host);
  renderStage("");
  if (window.mql && window.mql.on) {
    window.mql.on("stage", function (stage, visitor) {
      answered = true;
      renderStage(stage);
      if (visitor && visitor.score) renderScores(visitor.score);
      refresh();
    });
  } else {
    $("[data-id]").textContent = "the mql-edge snippet is not loaded";
  }
  var open = false;
  try { open = sessionStorage.getItem(OPEN_KEY) === "1"; } catch (e) {}
  setOpen(open);
  setTimeout(function () {
    if (answered) return;
    answered = true;
    refresh();
  }, FIRST_ANSWER_WAIT_MS);
})();
