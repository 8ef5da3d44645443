import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { children, cli, freePort, ROOT, spawnCli } from "../support/processes.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "propnet-subtensor-serve-"));
  dirs.push(dir);
  return dir;
}

describe("propnet serve --chain subtensor (a real process)", () => {
  it("with an unreachable chain: starts, says so in /healthz, serves reads, stops cleanly", async () => {
    const port = await freePort();
    const data = dataDir();
    const { child, done, stderr } = spawnCli(["serve", "--data", data, "--port", String(port), "--chain", "subtensor", "--chain-url", "ws://127.0.0.1:1", "--netuid", "8"], ROOT, process.env);
    const base = `http://127.0.0.1:${port}`;
    let health: Record<string, unknown> | null = null;
    for (let i = 0; i < 100 && !health?.chain; i++) {
      await new Promise((r) => setTimeout(r, 100));
      health = await fetch(`${base}/healthz`).then((r) => r.json() as Promise<Record<string, unknown>>).catch(() => null);
    }
    expect(health).toMatchObject({ status: "ok", chain: { kind: "subtensor", url: "ws://127.0.0.1:1", netuid: 8, connected: false, epochs: 0 } });
    expect((health?.problems as string[]).join()).toMatch(/chain ws:\/\/127\.0\.0\.1:1 unreachable: .*ECONNREFUSED.*retrying/);
    // Reads go on: the public price list and the node's time.
    expect((await fetch(`${base}/v1/prices`)).status).toBe(200);
    expect((await fetch(`${base}/v1/time`)).status).toBe(200);
    // No devnet blocks are made while following a real chain.
    expect(health?.block).toBe(0);
    child.kill("SIGTERM");
    const ran = await done;
    expect(ran.code).toBe(0);
    expect(stderr()).toMatch(/following subnet 8 at ws:\/\/127\.0\.0\.1:1/);
    expect(stderr()).not.toMatch(/\n\s+at /);
  });

  it("refuses flags that do not go together, with the reason and exit code 2", async () => {
    const data = dataDir();
    const missingNetuid = await cli(["serve", "--data", data, "--chain", "subtensor", "--chain-url", "ws://127.0.0.1:1"], ROOT, process.env);
    expect(missingNetuid.code).toBe(2);
    expect(missingNetuid.stderr).toMatch(/--chain subtensor needs --netuid/);
    const devnetWithUrl = await cli(["serve", "--data", data, "--chain-url", "ws://127.0.0.1:1"], ROOT, process.env);
    expect(devnetWithUrl.code).toBe(2);
    expect(devnetWithUrl.stderr).toMatch(/--chain-url is for --chain subtensor/);
    const notWs = await cli(["serve", "--data", data, "--chain", "subtensor", "--chain-url", "http://127.0.0.1:1", "--netuid", "8"], ROOT, process.env);
    expect(notWs.code).toBe(2);
    expect(notWs.stderr).toMatch(/not a ws:\/\/ or wss:\/\/ URL/);
  });
});
