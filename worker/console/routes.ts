/**
 * The console's API, under /v1/admin behind the admin token (the same `requireAdmin` as the rest
 * of the admin API). The page itself is static (demo-site/console/): it holds no data and no
 * secret, and every datum comes from here.
 */
import { Hono } from "hono";
import { requireAdmin } from "../admin.js";
import type { Env } from "../env.js";
import { ctaStats } from "./cta-stats.js";
import { deliveries } from "./deliveries.js";
import { feedback } from "./feedback.js";
import { funnel } from "./funnel-api.js";
import { leads } from "./leads.js";
import { rebuild } from "./rebuild.js";
import { rulesVersions } from "./rules-versions.js";

export const consoleApi = new Hono<{ Bindings: Env }>();
consoleApi.use("/v1/admin/*", requireAdmin);
consoleApi.route("/", leads);
consoleApi.route("/", rebuild);
consoleApi.route("/", rulesVersions);
consoleApi.route("/", funnel);
consoleApi.route("/", feedback);
consoleApi.route("/", ctaStats);
consoleApi.route("/", deliveries);
