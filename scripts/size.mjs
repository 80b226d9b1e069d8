// Builds the snippet and prints its size; the last line is exactly
// `size:sdk gzip=<bytes> brotli=<bytes>` (gzip level 9, brotli at its default quality 11).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, gzipSync } from "node:zlib";

/** The budget for dist/sdk/mql.js, gzip -9. */
export const SIZE_BUDGET_GZIP_BYTES = 2500;

/** Sizes of a built file: raw, gzip -9 and brotli. */
export function measure(file = "dist/sdk/mql.js") {
  const code = readFileSync(file);
  return { raw: code.length, gzip: gzipSync(code, { level: 9 }).length, brotli: brotliCompressSync(code).length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  execFileSync(process.execPath, ["node_modules/rollup/dist/bin/rollup", "-c", "--silent"], { stdio: "inherit" });
  const { raw, gzip, brotli } = measure();
  console.log(`dist/sdk/mql.js: ${raw} bytes, budget ${SIZE_BUDGET_GZIP_BYTES} gzip`);
  console.log(`size:sdk gzip=${gzip} brotli=${brotli}`);
}
