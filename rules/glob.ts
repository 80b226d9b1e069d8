/**
 * Path globs for rules and CTA targeting: `*` matches within one path segment, `**` across
 * segments, `?` one character; everything else is literal. Matching ignores case, and a
 * trailing slash on the path is ignored ("/pricing/" matches "/pricing").
 * Compiled once to a RegExp (workerd forbids code generation from strings, not RegExp).
 */

/** Compiles one glob to a predicate on a path. */
export function compileGlob(glob: string): (path: string) => boolean {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === "*") {
      if (glob[i + 1] === "*") {
        source += ".*";
        i++;
      } else source += "[^/]*";
    } else if (ch === "?") source += "[^/]";
    else source += ch.replace(/[.+^${}()|[\]\\/]/g, "\\$&");
  }
  const re = new RegExp(`^${source}/?$`, "i");
  return (path) => re.test(path);
}

/** Compiles several globs to one predicate that holds when any of them matches. */
export function compileGlobs(globs: readonly string[]): (path: string) => boolean {
  const tests = globs.map(compileGlob);
  if (tests.length === 1) return tests[0]!;
  return (path) => {
    for (const test of tests) if (test(path)) return true;
    return false;
  };
}
