/** The rules format and the scoring engine. */
export * from "./schema.js";
export * from "./event.js";
export * from "./validate.js";
export * from "./engine.js";
export * from "./score.js";
export * from "./state.js";
export * from "./select-ctas.js";
export * from "./explain.js";
export { emailDomain, emailKind, type EmailKind } from "./email.js";
export { compileGlob, compileGlobs } from "./glob.js";
export { parseJsonText, pointAt, type JsonSyntaxError } from "./json-text.js";
export { toNumber } from "./compile-condition.js";
export { normalizeEvent, type CapturedEvent } from "./normalize.js";
export { simulate, compareSimulations, readEventLines, SimulationLineSchema, type SimulationLine, type SimulationResult } from "./simulate.js";
export { compileAccounts, type AccountEngine, type AccountMember, type AccountState, type AccountUpdate } from "./account.js";
