/** Host pages for the browser tests. */

/** The pre-load stub a site pastes before the script tag (the one README.md documents). */
export const STUB =
  '<script>window.mql=window.mql||{q:[]};"track identify page consent on reset".split(" ").forEach(function(m){mql[m]=mql[m]||function(){mql.q.push([m,arguments])}})</script>';

/** A page with `head` in its head and `body` in its body. */
export const html = (title: string, body: string, head = "") =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${head}</head><body>${body}</body></html>`;
