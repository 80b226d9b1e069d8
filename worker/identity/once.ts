/**
 * Single-use tokens: the object that accepts a token records its nonce until the token expires,
 * in the same SQLite storage (strongly consistent, one writer), so a second use of the same token is
 * refused wherever it is presented. Nonces of expired tokens are dropped as new ones arrive.
 */

/** The table of used nonces. */
export const USED_TOKENS_DDL = "CREATE TABLE IF NOT EXISTS used_tokens (n TEXT PRIMARY KEY, exp INTEGER NOT NULL);";

/** Records a nonce valid until `expS` (seconds); answers false when it was already used. */
export function useOnce(sql: SqlStorage, n: string, expS: number, nowMs: number): boolean {
  sql.exec("DELETE FROM used_tokens WHERE exp < ?", Math.floor(nowMs / 1000));
  return sql.exec("INSERT OR IGNORE INTO used_tokens (n, exp) VALUES (?, ?)", n, expS).rowsWritten > 0;
}
