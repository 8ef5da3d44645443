import { createRequire } from "node:module";

const pkg = createRequire(import.meta.url)("../package.json") as { version: string };

/** The code version recorded in snapshots and reported by /healthz. */
export const CODE_VERSION: string = pkg.version;
