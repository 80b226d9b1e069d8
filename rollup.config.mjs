// Builds the snippet: dist/sdk/mql.js (one minified IIFE, the script tag's target, also written to
// demo-site/mql.js, which the worker serves as a static asset at /mql.js) and dist/sdk/mql.esm.js
// with type declarations for bundlers.
import resolve from "@rollup/plugin-node-resolve";
import terser from "@rollup/plugin-terser";
import typescript from "@rollup/plugin-typescript";
import { resolve as abs } from "node:path";

const ts = (declarations) =>
  typescript({
    tsconfig: "sdk/tsconfig.json",
    compilerOptions: {
      target: "ES2020",
      noEmit: false,
      ...(declarations ? { outDir: abs("dist/sdk"), declaration: true, declarationDir: abs("dist/sdk/types"), rootDir: abs(".") } : {}),
    },
  });

const minify = (module) =>
  terser({
    ecma: 2020,
    module,
    toplevel: true,
    // No unsafe_methods: it turns arrow properties (the API object's) into longer methods with `return`.
    compress: { passes: 3, unsafe_arrows: true, pure_getters: true },
    format: { comments: false },
  });

export default [
  {
    input: "sdk/snippet.ts",
    output: ["dist/sdk/mql.js", "demo-site/mql.js"].map((file) => ({ file, format: "iife", strict: false, plugins: [minify(false)] })),
    plugins: [resolve(), ts(false)],
  },
  {
    input: "sdk/index.ts",
    output: { dir: "dist/sdk", entryFileNames: "mql.esm.js", format: "es", plugins: [minify(true)] },
    plugins: [resolve(), ts(true)],
  },
];
