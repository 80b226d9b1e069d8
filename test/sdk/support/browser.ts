/** Debian's Chromium driven by playwright-core, launched as TOOLCHAIN.md says. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** What a desktop Chrome on Linux sends: the worker treats "HeadlessChrome" as a bot (acknowledged, never scored). */
export const DESKTOP_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36";

/** Launches Chromium with an empty profile; `userAgent` replaces the headless one. */
export async function launch(userAgent?: string, viewport?: { width: number; height: number }): Promise<Browser> {
  const dir = mkdtempSync(join(tmpdir(), "mql-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    // The switch too: requests a page leaves behind as it unloads (beacons) skip the per-page override.
    ...(userAgent ? { userAgent } : {}),
    ...(viewport ? { viewport } : {}),
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
      ...(userAgent ? [`--user-agent=${userAgent}`] : []),
    ],
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
