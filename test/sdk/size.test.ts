/** The size budget of the script tag's target, as `npm run size` measures it. */
import { describe, expect, it } from "vitest";
import { measure, SIZE_BUDGET_GZIP_BYTES } from "../../scripts/size.mjs";

describe("dist/sdk/mql.js", () => {
  it(`stays within ${SIZE_BUDGET_GZIP_BYTES} bytes gzipped`, () => {
    const { gzip, brotli } = measure();
    expect(brotli).toBeLessThan(gzip);
    expect(gzip).toBeLessThanOrEqual(SIZE_BUDGET_GZIP_BYTES);
  });
});
