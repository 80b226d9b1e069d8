/**
 * Rebuilding the index from the visitor objects, the source of truth: the objects are listed by
 * the registry each one writes to KV on its first report (`visitors:<site>:<visitor>`), and each is
 * asked to report everything again. Paged: call again with the answered cursor until it is null.
 */
import { Hono } from "hono";
import { visitorStub, type Env } from "../env.js";
import { ApiError } from "../errors.js";
import { registryKey } from "./index-writer.js";
import { ID, pathParam, queryText } from "./params.js";

/** Visitors rebuilt per request (each is one Durable Object call). */
export const REBUILD_PAGE = 50;
const PARALLEL = 10;

export const rebuild = new Hono<{ Bindings: Env }>();

rebuild.post("/v1/admin/sites/:site/index/rebuild", async (c) => {
  const site = pathParam(c, "site", ID, "expected 1-64 of a-z 0-9 _ -");
  if (!c.env.INDEX) throw new ApiError(503, "index_unavailable", "the console's index is not configured: add the INDEX D1 binding to wrangler.toml");
  const cursor = queryText(c, "cursor", 1024);
  const prefix = registryKey(site, "");
  const page = await c.env.RULES.list({ prefix, limit: REBUILD_PAGE, ...(cursor ? { cursor } : {}) });
  const visitors = page.keys.map((k) => k.name.slice(prefix.length));
  const failed: string[] = [];
  for (let i = 0; i < visitors.length; i += PARALLEL) {
    await Promise.all(visitors.slice(i, i + PARALLEL).map(async (v) => {
      const ok = await visitorStub(c.env, site, v).reportIndex(true).catch(() => false);
      if (!ok) failed.push(v);
    }));
  }
  return c.json({ site, rebuilt: visitors.length - failed.length, failed, cursor: page.list_complete ? null : page.cursor });
});
