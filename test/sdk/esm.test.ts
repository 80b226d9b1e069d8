/** The bundler build: `import { init } from "mql-edge/sdk"` resolves to the ESM build and its types. */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/** What Node resolves `specifier` to from the package root, as a path. */
const resolveFromRoot = (specifier: string) =>
  fileURLToPath(execFileSync(process.execPath, ["--input-type=module", "-e", `console.log(import.meta.resolve(${JSON.stringify(specifier)}))`], { encoding: "utf8" }).trim());

describe('import { init } from "mql-edge/sdk"', () => {
  it("resolves to dist/sdk/mql.esm.js, which exports init", async () => {
    expect(resolveFromRoot("mql-edge/sdk")).toBe(fileURLToPath(new URL("../../dist/sdk/mql.esm.js", import.meta.url)));
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", 'import("mql-edge/sdk").then((m) => console.log(typeof m.init))'], { encoding: "utf8" });
    expect(out.trim()).toBe("function");
  });

  it("has type declarations for init and the API", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8"));
    const types = pkg.exports["./sdk"].types as string;
    expect(existsSync(types)).toBe(true);
    const dts = readFileSync(types, "utf8");
    expect(dts).toMatch(/export \{ init \}/);
    expect(dts).toMatch(/Mql/);
  });
});
