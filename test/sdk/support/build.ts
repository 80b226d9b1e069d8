/** Builds dist/sdk once before the Chromium and size tests, so they always run the current sources. */
import { execFileSync } from "node:child_process";

export default function setup() {
  execFileSync(process.execPath, ["node_modules/rollup/dist/bin/rollup", "-c", "--silent"], { stdio: "inherit" });
}
