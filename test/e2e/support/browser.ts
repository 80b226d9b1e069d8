/** A fresh visitor: Debian's Chromium with its own empty profile and a desktop Chrome user agent. */
import type { BrowserContext, Page } from "playwright-core";
import { DESKTOP_USER_AGENT, launch } from "../../sdk/support/browser.js";

export interface Visitor {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Opens a browser with an empty profile: a visitor the site has never seen. */
export async function newVisitor(): Promise<Visitor> {
  const { context, close } = await launch(DESKTOP_USER_AGENT, { width: 1280, height: 860 });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, close };
}
