/**
 * CSV as spreadsheets read it (RFC 4180): fields with a comma, quote or line break are quoted,
 * quotes doubled, lines end with CRLF. Text starting with = + - @ (or a tab or carriage return) is
 * prefixed with an apostrophe: a visitor's name or company typed as "=HYPERLINK(...)" must not
 * become a formula in the marketer's spreadsheet.
 */

/** One cell: text, number, boolean, or empty for null/undefined. */
export type Cell = string | number | boolean | null | undefined;

/** Escapes one cell. */
export function csvCell(value: Cell): string {
  if (value === null || value === undefined) return "";
  let text = typeof value === "number" ? (Number.isFinite(value) ? String(value) : "") : String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A whole document: a header line, then one line per row. */
export function toCsv(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}
