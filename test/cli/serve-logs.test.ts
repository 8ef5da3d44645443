// `propnet serve` as a process: the structured log on stdout (--log-level, --log-format), the
// `propnet: ...` messages on stderr as before.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { children, freePort, spawnCli } from "../support/processes.ts";

const dirs: string[] = [];

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function serve(extra: string[], env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), "propnet-serve-logs-"));
  dirs.push(dir);
  const port = await freePort();
  const run = spawnCli(["serve", "--data", join(dir, "data"), "--port", String(port), "--no-demo", "--block-time", "0", ...extra], dir, { ...process.env, NO_COLOR: "1", ...env });
  await until("ready", () => run.stderr().includes("propnet: ready at seq"));
  return { ...run, base: `http://127.0.0.1:${port}` };
}

describe("propnet serve logs", () => {
  it("JSON lines on stdout at the level asked (requests by route, the final snapshot); propnet: lines stay on stderr", async () => {
    const node = await serve(["--log-level", "debug"]);
    expect((await fetch(`${node.base}/v1/chain/head`)).status).toBe(200);
    expect((await fetch(`${node.base}/healthz`)).status).toBe(200);
    expect((await fetch(`${node.base}/v1/chain/subnets/1`)).status).toBe(200);
    node.child.kill("SIGTERM");
    const ran = await node.done;
    expect(ran.code).toBe(0);
    const lines = ran.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === "request");
    expect(requests.map((r) => [r.route, r.level])).toEqual([
      ["/v1/chain/head", 30],
      ["/healthz", 20],
      ["/v1/chain/subnets/:netuid", 30],
    ]);
    expect(lines).toContainEqual(expect.objectContaining({ event: "snapshot", msg: "snapshot written" }));
    expect(ran.stderr).toMatch(/^propnet: listening on /);
    expect(ran.stderr).toContain("propnet: stopped at seq");
    expect(ran.stderr).not.toContain('"level"');
  }, 40_000);

  it("PROPNET_LOG_LEVEL=warn: nothing routine on stdout; --log-format pretty prints no JSON", async () => {
    const quiet = await serve([], { PROPNET_LOG_LEVEL: "warn" });
    const pretty = await serve(["--log-format", "pretty"]);
    for (const node of [quiet, pretty]) expect((await fetch(`${node.base}/v1/chain/head`)).status).toBe(200);
    quiet.child.kill("SIGTERM");
    pretty.child.kill("SIGTERM");
    const [q, p] = await Promise.all([quiet.done, pretty.done]);
    expect(q.stdout).toBe("");
    expect(p.stdout).toMatch(/INFO: request .*"route":"\/v1\/chain\/head"/);
    expect(p.stdout).not.toMatch(/^\{/m);
  }, 40_000);
});
