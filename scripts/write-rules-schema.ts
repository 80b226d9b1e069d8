/** Writes rules/schema.json, the JSON Schema editors use to autocomplete and check rules documents. */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { rulesJsonSchema } from "../rules/json-schema.js";

const target = fileURLToPath(new URL("../rules/schema.json", import.meta.url));
writeFileSync(target, `${JSON.stringify(rulesJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
