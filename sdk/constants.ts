/** Build-time constants: the minifier inlines them. */

/** Events kept on the device at most; the oldest are dropped past it. */
export const QUEUE_MAX = 1000;
/** Most events in one request (the worker's BATCH_MAX). */
export const BATCH_MAX = 50;
/**
 * Most UTF-16 code units of events in one request. A code unit is at most 3 UTF-8 bytes, so a batch
 * stays under the browser's 64 KB keepalive/sendBeacon budget (the worker's BODY_MAX_BYTES).
 */
export const BATCH_MAX_CHARS = 20_000;
/** A visit ends after this much idle time. */
export const VISIT_IDLE_MS = 30 * 60_000;
/** Events captured close together go in one request. */
export const FLUSH_DELAY_MS = 300;
/**
 * A page's claim on the events it is sending. A page that went away mid-request (its keepalive
 * request may still arrive) leaves them claimed this long; the next flush after that sends them.
 */
export const CLAIM_MS = 15_000;
/** First retry delay; doubled on each failure up to RETRY_MAX_MS, then jittered by up to -50%. */
export const RETRY_BASE_MS = 1_000;
export const RETRY_MAX_MS = 60_000;
/** An IndexedDB call slower than this counts as hung: the page falls back to memory. */
export const IDB_TIMEOUT_MS = 3_000;
/**
 * localStorage keys: the visitor state, and the backup of events a page still had on its way to
 * IndexedDB when it went away (the browser aborts those writes).
 */
export const STATE_KEY = "mql";
export const BACKUP_KEY = "mql_q";
/** A cross-domain token is added to a link only with more than this left before it expires. */
export const XD_MIN_LEFT_MS = 10_000;
