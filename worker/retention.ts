/**
 * privacy.retentionDays, shared by visitor and lead objects: raw events received before the
 * retention are removed; what they earned stays (the ledger, and the scoring state).
 */
import type { Engine } from "../rules/index.js";
import { DAY_MS } from "../rules/state.js";

/** How often an instance taking events applies the retention (an alarm does it for those who stop). */
export const RETENTION_CHECK_MS = 3_600_000;

/** How long the site keeps raw events, in ms. */
export const retentionMs = (engine: Engine): number => engine.rules.site.privacy.retentionDays * DAY_MS;
