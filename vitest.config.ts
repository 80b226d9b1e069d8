import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: "rules", include: ["test/rules/**/*.test.ts", "test/scripts/**/*.test.ts"], environment: "node" },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: { ADMIN_TOKEN: "test-admin-token", VISITOR_SELF_VIEW: "true", WEBHOOK_ALLOW_LOCAL: "true" } },
          }),
        ],
        // The webhook receiver runs in Node; tests in workerd reach it over real HTTP.
        test: { name: "worker", include: ["test/worker/**/*.test.ts"], globalSetup: ["test/worker/support/receiver-setup.ts"] },
      },
      {
        // The snippet in real Chromium (and its size budget), against a local collect server.
        test: {
          name: "sdk",
          include: ["test/sdk/*.test.ts"],
          environment: "node",
          globalSetup: ["test/sdk/support/build.ts"],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        // The snippet's modules under happy-dom, IndexedDB from fake-indexeddb.
        test: {
          name: "sdk-unit",
          include: ["test/sdk/unit/**/*.test.ts"],
          environment: "happy-dom",
          setupFiles: ["fake-indexeddb/auto"],
        },
      },
      {
        // The whole product as `npm start` runs it (wrangler dev, demo site, CRM inbox), driven in Chromium.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Reliability suite, worker side: fuzzed bodies and server faults inside workerd.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ADMIN_TOKEN: "test-admin-token",
                WEBHOOK_ALLOW_LOCAL: "true",
                // CI runs 10,000 bodies (about 15 s); `npm run test:reliability` runs 100,000.
                FUZZ_BODIES: process.env.FUZZ_BODIES ?? "10000",
                ...(process.env.FUZZ_SEED ? { FUZZ_SEED: process.env.FUZZ_SEED } : {}),
              },
            },
          }),
        ],
        test: {
          name: "reliability-worker",
          include: ["test/reliability/*.worker.test.ts"],
          globalSetup: ["test/worker/support/receiver-setup.ts"],
          testTimeout: 600_000,
        },
      },
      {
        // Reliability suite, browser side: the built snippet in Chromium under offline, unload, tabs, IndexedDB faults, hostile CTAs.
        test: {
          name: "reliability-browser",
          include: ["test/reliability/browser/*.test.ts"],
          environment: "node",
          globalSetup: ["test/sdk/support/build.ts"],
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
