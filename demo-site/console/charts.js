// Charts drawn as inline SVG: grouped horizontal bars with their values written out.
import { h, svg } from "./app.js";

const ROW = 22;
const LABEL_W = 170;
const WIDTH = 640;
/** Width of a character of the charts' 11 px text, generously (digits and lower case are narrower). */
const CHAR_W = 6.2;

/**
 * Horizontal bars, one group per item: items are { label, values: [n, ...], note? }; `series`
 * names the bars of a group (a legend is drawn when there are several); `format` writes a value.
 */
export function barChart(items, { series = [""], format = (v) => String(v), max } = {}) {
  const top = Math.max(max ?? 0, ...items.flatMap((i) => i.values), 1);
  const groupH = ROW * series.length + 8;
  const height = items.length * groupH + (series.length > 1 ? 24 : 4);
  // Room right of the longest bar for its value and note: 11 px text is about 6 px a character.
  const written = Math.max(...items.flatMap((i) => i.values.map((v, k) => format(v, k).length + (i.note && k === i.values.length - 1 ? i.note.length + 3 : 0))), 4);
  const room = Math.min(WIDTH - LABEL_W - 120, written * CHAR_W + 16);
  const scale = (v) => Math.max(0, (v / top) * (WIDTH - LABEL_W - room));
  const legend = series.length > 1
    ? series.map((name, k) => svg("g", {}, svg("rect", { x: LABEL_W + k * 110, y: 4, width: 12, height: 12, class: k ? "bar alt" : "bar" }), svg("text", { x: LABEL_W + k * 110 + 16, y: 14 }, name)))
    : [];
  const y0 = series.length > 1 ? 24 : 4;
  const groups = items.map((item, i) => svg("g", { transform: `translate(0 ${y0 + i * groupH})` },
    svg("text", { x: LABEL_W - 8, y: (groupH - 8) / 2 + 4, "text-anchor": "end" }, truncate(item.label, 26)),
    item.values.map((v, k) => svg("g", {},
      svg("rect", { x: LABEL_W, y: k * ROW, width: scale(v), height: ROW - 6, rx: 2, class: k ? "bar alt" : "bar" }),
      // The note is a tspan set apart by dx: SVG collapses spaces, so "2  67 % of previous" would read "2 67 % of previous".
      svg("text", { x: LABEL_W + scale(v) + 6, y: k * ROW + ROW / 2 + 1 }, format(v, k),
        item.note && k === item.values.length - 1 ? svg("tspan", { dx: 12, class: "note" }, item.note) : null)))));
  return h("figure", { class: "chart" }, svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, width: "100%", role: "img", "aria-label": items.map((i) => `${i.label}: ${i.values.map((v) => format(v)).join(", ")}`).join("; ") }, legend, groups));
}

function truncate(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}
