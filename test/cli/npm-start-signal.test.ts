// `npm start &` then `kill $!`: npm runs the node under `sh -c`, so the signal reaches npm (and
// the shell) but not the node. The node must notice and stop cleanly by itself, leaving a log that
// verifies — whether npm was asked to stop (SIGTERM) or killed outright (SIGKILL).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli, cliEnv, freePort, ROOT } from "../support/processes.ts";

const dirs: string[] = [];
const started: ChildProcess[] = [];
const nodePids: number[] = [];

afterAll(() => {
  for (const child of started) child.kill("SIGKILL");
  for (const pid of nodePids) if (alive(pid)) process.kill(pid, "SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}


async function npmStartThenKill(signal: NodeJS.Signals): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "propnet-npm-start-"));
  dirs.push(dir);
  const data = join(dir, "data");
  const port = await freePort();
  const npm = spawn("npm", ["start", "--", "--data", data, "--port", String(port), "--no-demo", "--block-time", "0"], {
    cwd: ROOT,
    env: cliEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(npm);
  let output = "";
  npm.stdout?.setEncoding("utf8").on("data", (c: string) => (output += c));
  npm.stderr?.setEncoding("utf8").on("data", (c: string) => (output += c));
  await until("the node to be ready", () => /ready at seq/.test(output), 30_000);
  const lock = JSON.parse(readFileSync(join(data, "lock.json"), "utf8")) as { pid: number };
  nodePids.push(lock.pid);
  // The node is not npm itself: the case that used to leave it running.
  expect(lock.pid).not.toBe(npm.pid);
  expect(alive(lock.pid)).toBe(true);

  npm.kill(signal);
  const killedAt = Date.now();
  await until(`node pid ${lock.pid} to exit after npm got ${signal}`, () => !alive(lock.pid), 8_000);
  const took = Date.now() - killedAt;
  expect(took).toBeLessThan(8_000);
  // A clean stop released the lock; the log verifies.
  expect(existsSync(join(data, "lock.json"))).toBe(false);
  const verified = await cli(["verify", "--data", data], dir, cliEnv());
  expect(verified.code, verified.stderr).toBe(0);
  expect(verified.stdout).toMatch(/^verified \d+ events/m);
  process.stderr.write(`npm start, ${signal} to npm: node exited after ${took} ms\n`);
}

describe("npm start, then the npm process is killed", () => {
  it("SIGTERM to npm: the node stops cleanly within a few seconds and its log verifies", async () => {
    await npmStartThenKill("SIGTERM");
  }, 60_000);

  it("SIGKILL to npm (the shell is orphaned, not killed): the node still stops cleanly", async () => {
    await npmStartThenKill("SIGKILL");
  }, 60_000);
});
