/**
 * Reading JSON text written by people (rules files, admin request bodies) with errors that say
 * where: line, column, what was expected there and what was found. JSON.parse does the parsing;
 * only when it fails is the text scanned again to find the first place it stops being JSON
 * (JSON.parse's own messages name an offset at best, sometimes only a quote of the text).
 */

/** Where a text stops being JSON, and why. */
export interface JsonSyntaxError {
  /** 1-based line and column (in UTF-16 code units, as editors count them). */
  line: number;
  column: number;
  /** 0-based offset in the text. */
  offset: number;
  /** What would have been JSON there. */
  expected: string;
  /** What is there: a character, quoted, or "the end of the text". */
  found: string;
  /** `expected ..., found ...`. */
  reason: string;
  /** `line 3, column 8: expected ..., found ...`. */
  message: string;
}

export type JsonParse = { ok: true; value: unknown } | { ok: false; error: JsonSyntaxError };

/** Parses `text`, or says where and why it is not JSON. */
export function parseJsonText(text: string): JsonParse {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: locateJsonError(text) ?? atEnd(text, (e as Error).message) };
  }
}

/** The line of `text` an error is on, with a caret under its column: for terminals. */
export function pointAt(text: string, error: JsonSyntaxError): string {
  const start = text.lastIndexOf("\n", error.offset - 1) + 1;
  let end = text.indexOf("\n", start);
  if (end < 0) end = text.length;
  // Long lines (minified JSON) are cut around the column.
  const from = Math.max(start, error.offset - 60);
  const to = Math.min(end, error.offset + 60);
  const shown = (from > start ? "..." : "") + text.slice(from, to).replace(/\t/g, " ").replace(/\r$/, "") + (to < end ? "..." : "");
  const caret = " ".repeat(error.offset - from + (from > start ? 3 : 0)) + "^";
  return `${shown}\n${caret}`;
}

/** Deepest nesting scanned; deeper text is reported by JSON.parse's own message. */
const MAX_DEPTH = 1_000;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

class Stop {
  constructor(readonly offset: number, readonly expected: string) {}
}

/** The first place `text` is not JSON, or undefined when the scan finds none. */
export function locateJsonError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const n = text.length;
  const stop = (expected: string): never => {
    throw new Stop(i, expected);
  };
  const space = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++i));
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= n) stop("a closing double quote");
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 32) stop("no control character inside a string (a line break is written \\n)");
      if (c === 92) {
        const e = text[i + 1];
        if (e === "u") {
          HEX4.lastIndex = i + 2;
          if (!HEX4.test(text)) {
            i++;
            stop("\\u followed by 4 hexadecimal digits");
          }
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) {
          i++;
          stop('an escape: \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\u and 4 hexadecimal digits');
        }
        i += 2;
        continue;
      }
      i++;
    }
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) throw new Stop(-1, "");
    space();
    const c = text[i];
    if (c === "{") {
      i++;
      space();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        space();
        if (text[i] !== '"') stop("a property name in double quotes");
        string();
        space();
        if (text[i] !== ":") stop('":" after the property name');
        i++;
        value(depth + 1);
        space();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        stop('"," or "}" after a property value');
      }
    }
    if (c === "[") {
      i++;
      space();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        space();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        stop('"," or "]" after an array element');
      }
    }
    if (c === '"') return string();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (m === null) {
        i++;
        return stop("a digit");
      }
      i += m[0].length;
      // "01", "1.", "1e": the number stops early and what follows is no JSON.
      const next = text[i];
      if (next !== undefined && /[0-9.eE+-]/.test(next)) stop("a digit, or the end of the number");
      return;
    }
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    stop("a value: an object, array, string, number, true, false or null");
  };
  try {
    value(0);
    space();
    if (i < n) stop("the end of the text after the JSON value");
    return undefined;
  } catch (e) {
    if (!(e instanceof Stop) || e.offset < 0) return undefined;
    return errorAt(text, e.offset, e.expected);
  }
}

function errorAt(text: string, offset: number, expected: string): JsonSyntaxError {
  let line = 1;
  let lineStart = 0;
  for (let k = text.indexOf("\n"); k >= 0 && k < offset; k = text.indexOf("\n", k + 1)) {
    line++;
    lineStart = k + 1;
  }
  const column = offset - lineStart + 1;
  const ch = text[offset];
  const found = ch === undefined ? "the end of the text"
    : ch === "\n" || ch === "\r" ? "a line break"
    : /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch) ? JSON.stringify(ch)
    : `U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}${ch === "\uFEFF" ? " (a byte order mark)" : ""}`;
  const reason = `expected ${expected}, found ${found}`;
  return { line, column, offset, expected, found, reason, message: `line ${line}, column ${column}: ${reason}` };
}

/** The scan found nothing (nesting too deep for it): JSON.parse's message, placed at the end. */
function atEnd(text: string, reason: string): JsonSyntaxError {
  const error = errorAt(text, text.length, "JSON");
  return { ...error, reason, message: reason };
}
