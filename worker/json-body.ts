/** Reading a JSON request body for the admin and identity APIs: size, JSON, then the schema. */
import type { Context } from "hono";
import type * as z from "zod/mini";
import { flattenIssues, parseJsonText } from "../rules/index.js";
import { ApiError } from "./errors.js";

/** Reads a JSON body of at most `maxBytes` and checks it against `schema`; 400 naming every bad field otherwise. */
export async function jsonBody<T>(c: Context, schema: z.ZodMiniType<T>, maxBytes: number): Promise<T> {
  const text = await c.req.text();
  if (new TextEncoder().encode(text).length > maxBytes) throw new ApiError(413, "body_too_large", `the body is at most ${maxBytes} bytes`);
  const parsed = schema.safeParse(parseJson(text));
  if (!parsed.success) {
    const issues = flattenIssues(parsed.error.issues);
    throw new ApiError(400, "invalid_body", `${issues[0]!.path}: ${issues[0]!.message}`, issues);
  }
  return parsed.data;
}

/** Reads the body as JSON (a 400 saying why when it is not); checks are the caller's. */
export async function readJson(c: Context): Promise<unknown> {
  return parseJson(await c.req.text());
}

/** Parses a body's text: a 400 `invalid_json` naming the line and column where it stops being JSON otherwise. */
export function parseJson(text: string): unknown {
  const parsed = parseJsonText(text);
  if (parsed.ok) return parsed.value;
  const { line, column, message } = parsed.error;
  throw new ApiError(400, "invalid_json", `body is not valid JSON: ${message}`, [{ path: "$", message, line, column }]);
}
