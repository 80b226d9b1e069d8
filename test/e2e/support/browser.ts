/** A fresh visitor: Debian's Chromium driven by playwright-core with its own profile, launched as TOOLCHAIN.md says. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** What a desktop Chrome on Linux sends. */
const USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36";

export interface Visitor {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Opens a browser with an empty profile: a visitor the site has never seen. */
export async function newVisitor(): Promise<Visitor> {
  const dir = mkdtempSync(join(tmpdir(), "mql-e2e-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 860 },
    // Headless Chromium says "HeadlessChrome", which the worker rightly treats as a bot (acknowledged, never scored).
    userAgent: USER_AGENT,
    args: [
      // The context's userAgent is not applied to beacons sent while a page unloads: the switch is.
      `--user-agent=${USER_AGENT}`,
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
