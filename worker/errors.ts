/**
 * One error shape for every 4xx and 5xx: `{ error: { code, message, issues? } }`, where each issue
 * names a field by its JSON path. Handlers throw `ApiError`; `onError` answers it.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ErrorResponse } from "./wire.js";

/** A field-level problem: where, and what was expected. */
export interface Issue {
  path: string;
  message: string;
  /** For a body that is not JSON: where it stops being JSON (1-based). */
  line?: number;
  column?: number;
}

/** An error the client can act on. */
export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly issues?: Issue[],
    readonly headers?: Record<string, string>,
  ) {
    super(status, { message });
  }
}

/** Answers errors as JSON; anything unexpected is a 500 without internals. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    const body: ErrorResponse = { error: { code: err.code, message: err.message } };
    if (err.issues) body.error.issues = err.issues;
    return c.json(body, err.status, err.headers);
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const body: ErrorResponse = { error: { code: status === 413 ? "body_too_large" : "http_error", message: err.message || "request rejected" } };
    return c.json(body, status);
  }
  console.error("unexpected error", err);
  return c.json({ error: { code: "internal", message: "internal error" } } satisfies ErrorResponse, 500);
}
