// Where a JSON path ($.rules[2].points) sits in a JSON text: the line an error is shown on.
// Pure functions, no DOM: the console's editor and its unit tests use them.

/** Writes a path as the rules validator does: $.rules[2].when["odd key"]. */
export function pathText(parts) {
  let out = "$";
  for (const p of parts) out += typeof p === "number" ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`;
  return out;
}

/** Maps every path of a JSON text to the offset where its key (or, for array items, its value) starts. Throws on invalid JSON. */
export function pathOffsets(text) {
  const offsets = new Map();
  let i = 0;
  const ws = () => { while (i < text.length && " \t\r\n".includes(text[i])) i++; };
  const fail = (what) => { throw new SyntaxError(`expected ${what} at line ${lineAt(text, i)}`); };
  const string = () => {
    if (text[i] !== '"') fail("a string");
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    if (i >= text.length) fail("a closing quote");
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const value = (parts, at) => {
    ws();
    offsets.set(pathText(parts), at ?? i);
    const c = text[i];
    if (c === "{") {
      i++; ws();
      if (text[i] === "}") { i++; return; }
      for (;;) {
        ws();
        const keyAt = i;
        const key = string();
        ws();
        if (text[i] !== ":") fail('":"');
        i++;
        value([...parts, key], keyAt);
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "}") { i++; return; }
        fail('"," or "}"');
      }
    }
    if (c === "[") {
      i++; ws();
      if (text[i] === "]") { i++; return; }
      for (let n = 0; ; n++) {
        value([...parts, n]);
        ws();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "]") { i++; return; }
        fail('"," or "]"');
      }
    }
    if (c === '"') return void string();
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) fail("a value");
    i += m[0].length;
  };
  value([]);
  ws();
  if (i < text.length) fail("the end of the document");
  return offsets;
}

/** The 1-based line of an offset. */
export function lineAt(text, offset) {
  let line = 1;
  for (let k = 0; k < offset && k < text.length; k++) if (text[k] === "\n") line++;
  return line;
}

/**
 * The line of an error path in a JSON text: the path itself, or its nearest existing parent (a
 * missing key is reported on the object that lacks it). Null when the text is not JSON.
 */
export function lineOfPath(text, path) {
  let offsets;
  try {
    offsets = pathOffsets(text);
  } catch {
    return null;
  }
  let p = path;
  for (;;) {
    if (offsets.has(p)) return lineAt(text, offsets.get(p));
    const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
    if (cut <= 0) return 1;
    p = p.slice(0, cut);
  }
}

/**
 * The next version for a draft: today's date and a counter ("2026-12-04.1", then ".2"), past every
 * counter of today's versions taken (".9" taken: ".10", not a gap below it), never one of `taken`.
 */
export function nextVersion(taken, now = new Date()) {
  const day = now.toISOString().slice(0, 10);
  let n = 0;
  for (const v of taken) {
    const m = v.startsWith(`${day}.`) ? /^(\d+)/.exec(v.slice(day.length + 1)) : null;
    if (m) n = Math.max(n, Number(m[1]));
  }
  for (n++; taken.includes(`${day}.${n}`); n++);
  return `${day}.${n}`;
}
