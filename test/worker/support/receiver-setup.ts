/// <reference types="node" />
/**
 * vitest globalSetup of the worker tests: starts the webhook receiver in Node and hands its URL and
 * secret to the tests running in workerd (`inject("receiverUrl")`, `inject("receiverSecret")`).
 */
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { startReceiver } from "./receiver.js";

declare module "vitest" {
  export interface ProvidedContext {
    receiverUrl: string;
    receiverSecret: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const receiver = await startReceiver(secret);
  project.provide("receiverUrl", receiver.url);
  project.provide("receiverSecret", secret);
  return receiver.close;
}
