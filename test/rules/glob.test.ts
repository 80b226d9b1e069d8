import { describe, expect, it } from "vitest";
import { compileGlob, compileGlobs } from "../../rules/index.js";

describe("a path glob", () => {
  it.each([
    { glob: "/pricing", path: "/pricing", matches: true },
    { glob: "/pricing", path: "/pricing/", matches: true },
    { glob: "/pricing", path: "/Pricing", matches: true },
    { glob: "/pricing", path: "/pricing-old", matches: false },
    { glob: "/pricing", path: "/en/pricing", matches: false },
    { glob: "/customers/*", path: "/customers/acme", matches: true },
    { glob: "/customers/*", path: "/customers/acme/", matches: true },
    { glob: "/customers/*", path: "/customers/acme/story", matches: false },
    { glob: "/customers/*", path: "/customers", matches: false },
    { glob: "/blog/**", path: "/blog/2026/01/scoring", matches: true },
    { glob: "/blog/**", path: "/blog/a", matches: true },
    { glob: "/blog/**", path: "/blogroll", matches: false },
    { glob: "/**/pricing", path: "/en/us/pricing", matches: true },
    { glob: "/*/pricing", path: "/en/us/pricing", matches: false },
    { glob: "/docs/v?/api", path: "/docs/v2/api", matches: true },
    { glob: "/docs/v?/api", path: "/docs/v10/api", matches: false },
    { glob: "/docs/v?/api", path: "/docs/v/api", matches: false },
    { glob: "/files/*.pdf", path: "/files/report.pdf", matches: true },
    { glob: "/files/*.pdf", path: "/files/reportXpdf", matches: false },
    { glob: "/search(new)", path: "/search(new)", matches: true },
    { glob: "/a+b", path: "/aab", matches: false },
    { glob: "/a+b", path: "/a+b", matches: true },
    { glob: "/[x]", path: "/[x]", matches: true },
    { glob: "/[x]", path: "/x", matches: false },
    { glob: "**", path: "/anything/at/all", matches: true },
  ])("$glob against $path: $matches", ({ glob, path, matches }) => {
    expect(compileGlob(glob)(path)).toBe(matches);
  });
});

describe("several globs", () => {
  const test = compileGlobs(["/pricing", "/plans/**"]);
  it.each([
    { path: "/pricing", matches: true },
    { path: "/plans/team", matches: true },
    { path: "/about", matches: false },
  ])("match $path when any of them does: $matches", ({ path, matches }) => {
    expect(test(path)).toBe(matches);
  });
});
