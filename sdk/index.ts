/**
 * mql-edge browser snippet, for bundlers: `import { init } from "mql-edge/sdk"`.
 * The script tag build (mql.js) reads the same options from `data-*` attributes.
 */
export { init } from "./client";
export type { CollectResponse, EventType, Mql, Options, Props, WireAction, WireEvent } from "./types";
/** Version of the snippet. */
export const VERSION = "0.1.0";
