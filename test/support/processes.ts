// Child processes for process-level tests and benches: a free loopback port, and the propnet CLI
// run as a real process with its output collected.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "../..");
export const BIN = join(ROOT, "bin", "propnet.js");

/** A loopback port nothing listens on right now: bind port 0, read it, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** CLI processes started here and not yet closed; a test file kills the rest in its afterAll. */
export const children = new Set<ChildProcess>();

/** `node bin/propnet.js ...args` in `cwd` with `env`, its output collected until it closes. */
export function spawnCli(args: string[], cwd: string, env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<Ran>; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const done = new Promise<Ran>((resolve) =>
    child.once("close", (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, done, stderr: () => stderr };
}

/** Runs a CLI command to its end (killed after 30 s). */
export async function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  const { child, done } = spawnCli(args, cwd, env);
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

/** The environment for a CLI child process: this one's, without what would point it elsewhere (a node URL, a key, npm's lifecycle). */
export function cliEnv(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  for (const k of ["PROPNET_URL", "PROPNET_KEY", "PROPNET_HOST", "PROPNET_PORT", "npm_lifecycle_event"]) delete e[k];
  return e;
}
