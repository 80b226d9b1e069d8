/** The JSON Schema of the rules document, generated from the zod schema (never edited by hand). */
import * as z from "zod/mini";
import { RulesDocumentSchema } from "./schema.js";

/** The JSON Schema of a rules document as written (defaults optional). */
export function rulesJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(RulesDocumentSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return {
    ...schema,
    $id: "https://mql-edge.dev/schema/rules.json",
    title: "mql-edge rules document",
    description: "What a visitor's behaviour is worth on one site: signals and points, score groups, stages, CTAs and webhooks.",
  };
}
