/**
 * The mql-edge worker. Routes: `/v1/health`; the collect endpoint, admin API and snippet are added
 * by their own modules.
 */
import { Hono } from "hono";

/** Bindings and secrets the worker runs with. */
export interface Env {
  RULES: KVNamespace;
}

const app = new Hono<{ Bindings: Env }>();

app.get("/v1/health", (c) => c.json({ ok: true }));

export default app;
