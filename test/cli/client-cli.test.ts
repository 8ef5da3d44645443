// The user-facing CLI as a user runs it: `propnet keys new|inspect` in a temp dir (secrets stay in
// files), local refusals before anything is sent, and `propnet status` against a real node.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { children, cli as runCli, freePort, spawnCli as spawnProcess } from "../support/processes.ts";

const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

const dirs: string[] = [];

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "propnet-client-cli-"));
  dirs.push(dir);
  return dir;
}

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete e.PROPNET_URL;
  delete e.PROPNET_KEY;
  delete e.PROPNET_HOST;
  delete e.PROPNET_PORT;
  return e;
}

const spawnCli = (args: string[], cwd: string) => spawnProcess(args, cwd, env());
const cli = (args: string[], cwd: string) => runCli(args, cwd, env());

beforeAll(async () => {
  await cryptoWaitReady();
});

describe("propnet keys", () => {
  it("new writes a 0600 mnemonic file and prints only the address; inspect agrees and hides the secret", async () => {
    const dir = tempDir();
    const made = await cli(["keys", "new", "--out", "k"], dir);
    expect(made.code, made.stderr).toBe(0);
    const path = join(dir, "k");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const secret = readFileSync(path, "utf8").trim();
    expect(secret.split(" ")).toHaveLength(12);
    const address = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri(secret).address;
    expect(made.stdout).toBe(`address ${address}\nkey file ${path} (mode 0600; keep it secret, back it up)\n`);
    const words = secret.split(" ");
    for (const out of [made.stdout, made.stderr]) expect(words.filter((w) => out.includes(w)).length).toBeLessThan(3);

    const again = await cli(["keys", "new", "--out", "k"], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists; refusing to overwrite/);
    expect(readFileSync(path, "utf8").trim()).toBe(secret);

    const inspected = await cli(["keys", "inspect", "k"], dir);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toMatch(new RegExp(`^address ${address}\npublic key 0x[0-9a-f]{64}\n`));
    expect(inspected.stdout + inspected.stderr).not.toContain(secret);
    expect(words.filter((w) => inspected.stdout.includes(w)).length).toBeLessThan(3);

    const shown = await cli(["keys", "inspect", "k", "--show-secret"], dir);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`secret ${secret}\n`);
  });

  it("inspect refuses a key file readable by others, and takes a //Uri", async () => {
    const dir = tempDir();
    expect((await cli(["keys", "new", "--out", "k"], dir)).code).toBe(0);
    chmodSync(join(dir, "k"), 0o644);
    const refused = await cli(["keys", "inspect", "k"], dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/mode 0644; it must be 0600/);
    expect(refused.stdout).toBe("");
    const alice = await cli(["keys", "inspect", "//Alice"], dir);
    expect(alice.stdout).toMatch(new RegExp(`^address ${ALICE}\n`));
  });
});

describe("client commands", () => {
  it("refuse bad input locally", async () => {
    const dir = tempDir();
    const cases: [string[], RegExp][] = [
      [["order", "BTCUSD", "LONG", "--key", "//Alice", "--leverage", "abc"], /--leverage.*must be a positive number/],
      [["order", "BTCUSD", "LONG", "--key", "//Alice", "--leverage", "Infinity"], /--leverage.*must be a positive number/],
      [["order", "BTCUSD", "LONG", "--key", "//Alice"], /LONG needs --leverage/],
      [["order", "BTCUSD", "BUY", "--key", "//Alice", "--leverage", "1"], /must be LONG, SHORT or FLAT/],
      [["order", "BTCUSD", "FLAT", "--key", "//Alice", "--subaccount", "01"], /--subaccount.*must be a subaccount id/],
      [["subaccount", "create", "--key", "//Alice", "--account-size", "1e4"], /--account-size.*must be an integer/],
      [["entity", "register"], /required option '--key/],
      [["status", `${ALICE}_01`], /neither an SS58 hotkey nor a synthetic hotkey/],
      [["status", "--url", "ftp://x"], /--url.*http/],
    ];
    // Three at a time: each process spends a second or two loading.
    for (let i = 0; i < cases.length; i += 3) {
      const batch = cases.slice(i, i + 3);
      const results = await Promise.all(batch.map(([args]) => cli(args, dir)));
      results.forEach((r, j) => {
        const [args, pattern] = batch[j] as [string[], RegExp];
        expect(r.code, args.join(" ")).toBe(1);
        expect(r.stderr, args.join(" ")).toMatch(pattern);
      });
    }
  });

  it("exit 2 with a clear message when the node is unreachable", async () => {
    const port = await freePort();
    const r = await cli(["status", "--url", `http://127.0.0.1:${port}`], tempDir());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED.*is the node running/);
  });

  it("status summarises a real node's health and chain head; --json prints the bodies", async () => {
    const dir = tempDir();
    const port = await freePort();
    const node = spawnCli(["serve", "--data", join(dir, "data"), "--port", String(port), "--no-demo", "--block-time", "0"], dir);
    const deadline = Date.now() + 30_000;
    while (!/ready at seq/.test(node.stderr())) {
      if (Date.now() > deadline || node.child.exitCode !== null) throw new Error(`node did not start: ${node.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    try {
      const url = `http://127.0.0.1:${port}`;
      const r = await cli(["status", "--url", url], dir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^node ${url}: ok, version .+\nchain: block 0 \\(genesis\\), issuance [0-9.]+ TAO`));
      const j = await cli(["status", "--url", url, "--json"], dir);
      expect(JSON.parse(j.stdout)).toMatchObject({ health: { status: "ok" }, chain_head: { block: 0 } });
    } finally {
      node.child.kill("SIGKILL");
    }
  });
});
