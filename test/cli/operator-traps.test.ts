// The traps a new operator walks into, run as they would meet them: refusals they can act on
// (TAO with units, the command that fixes it, the list of pairs), `--json` errors as JSON, orders
// echoed as typed with fees on the position line, key files of random words refused, and
// `keys new` keeping its file out of git.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PropnetClient } from "../../src/client/propnet-client.ts";
import { reserveFor } from "../../src/core/entities/entity-commands.ts";
import { cryptoReady, loadKey } from "../../src/keys/keys.ts";
import { children, cli as runCli, cliEnv, freePort, spawnCli } from "../support/processes.ts";

const dirs: string[] = [];
let node: ReturnType<typeof spawnCli> | undefined;
let url = "";
let dir = "";

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "propnet-traps-"));
  dirs.push(d);
  return d;
}

const cli = (args: string[], cwd = dir) => runCli(args, cwd, cliEnv());

/** The words of a command line printed by the CLI, to run it as the user would (no quoting needed here). */
const words = (line: string) => line.trim().split(/\s+/).slice(1);

beforeAll(async () => {
  await cryptoReady();
  dir = tempDir();
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  node = spawnCli(["serve", "--data", join(dir, "data"), "--port", String(port), "--no-demo", "--block-time", "0"], dir, cliEnv());
  const deadline = Date.now() + 30_000;
  while (!/ready at seq/.test(node.stderr())) {
    if (Date.now() > deadline || node.child.exitCode !== null) throw new Error(`node did not start: ${node.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}, 40_000);

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("refusals a user can act on", () => {
  it("INSUFFICIENT_COLLATERAL in TAO, with the deposit command that fixes it; that command does; --json prints the error body", async () => {
    const k = ["--key", "//Bob", "--url", url];
    expect((await cli(["chain", "register", ...k])).code).toBe(0);
    expect((await cli(["entity", "register", ...k])).code).toBe(0);

    const refused = await cli(["subaccount", "create", ...k]);
    expect(refused.code).toBe(1);
    const reserve = Number(reserveFor(10_000) / 1_000_000_000n);
    expect(refused.stderr).toMatch(new RegExp(`error INSUFFICIENT_COLLATERAL: \\w+ has 0 TAO of free collateral; a 10,000 USD subaccount reserves ${reserve} TAO`));
    expect(refused.stderr).not.toMatch(/\d rao/);
    const fix = refused.stderr.split("\n").find((l) => l.trim().startsWith("propnet collateral deposit"));
    expect(fix?.trim()).toBe(`propnet collateral deposit ${reserve} --key //Bob --url ${url}`);

    const json = await cli(["subaccount", "create", ...k, "--json"]);
    expect(json.code).toBe(1);
    expect(json.stderr).toBe("");
    // The exact figures stay in rao in details.
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: "INSUFFICIENT_COLLATERAL", message: expect.stringContaining("0 TAO"), details: { free_rao: "0", required_rao: reserveFor(10_000).toString() } },
    });

    const deposited = await cli(words(fix as string));
    expect(deposited.code, deposited.stderr).toBe(0);
    const created = await cli(["subaccount", "create", ...k]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^created \w+_0 \(id 0\)/);
  }, 60_000);

  it("UNKNOWN_TRADE_PAIR lists the pairs; `propnet pairs` lists them with leverage and fees", async () => {
    // Three processes at once: each spends a second or two loading.
    const [refused, pairs, pairsJson] = await Promise.all([
      cli(["order", "FOOUSD", "LONG", "--leverage", "0.1", "--subaccount", "0", "--key", "//Bob", "--url", url]),
      cli(["pairs", "--url", url]),
      cli(["pairs", "--url", url, "--json"]),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error UNKNOWN_TRADE_PAIR: FOOUSD is not a trade pair\n {2}trade pairs: BTCUSD, ETHUSD, .*USDCHF; `propnet pairs` lists them/);
    expect(refused.stderr).not.toMatch(/TAOUSD/);

    expect(pairs.code, pairs.stderr).toBe(0);
    expect(pairs.stdout).toMatch(/^BTCUSD\s+crypto\s+leverage 0\.01 to 0\.5, fee 0\.1% per unit of leverage traded, carry 10\.95% a year$/m);
    expect(pairs.stdout).toMatch(/^EURUSD\s+forex\s+leverage 0\.1 to 5, fee 0\.007%/m);
    expect(pairs.stdout).toMatch(/^TAOUSD\s+valuation\s+not tradable/m);
    const listed = JSON.parse(pairsJson.stdout) as { trade_pairs: { id: string }[] };
    expect(listed.trade_pairs.map((p) => p.id)).toContain("SOLUSD");
  }, 30_000);

  it("a SHORT is echoed as typed (leverage 2, not -2); losses print as -$; the position line shows fees", async () => {
    const oracle = new PropnetClient({ baseUrl: url, signer: loadKey("//Alice") });
    const post = async (price: number) => {
      const r = await oracle.postPrices([{ trade_pair: "EURUSD", price, ts_ms: Date.now() }]);
      expect(r.ok && r.body.accepted, JSON.stringify(r.body)).toBe(1);
    };
    await post(1.1);
    const order = await cli(["order", "EURUSD", "SHORT", "--leverage", "2", "--subaccount", "0", "--key", "//Bob", "--url", url]);
    expect(order.code, order.stderr).toBe(0);
    expect(order.stdout).toMatch(/: SHORT EURUSD leverage 2 at 1\.1 for \w+_0\n/);
    // (Not a bare /-2/: the order's uuid may hold "-2" by chance.)
    expect(order.stdout).not.toMatch(/leverage -2\b|-2 leverage/);
    expect(order.stdout).toMatch(/\nposition EURUSD: short at leverage 2, average entry 1\.1, .*fees \$\d+\.\d\d \(spread \$\d+\.\d\d, carry \$0\.00\)/);
    expect(order.stdout).not.toMatch(/fees \$0\.00/);

    await post(1.111); // +1%: the short loses about 2% of $10,000
    const bob = loadKey("//Bob");
    const status = await cli(["status", `${bob.address}_0`, "--key", "//Bob", "--url", url]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/EURUSD: short at leverage 2, .*unrealized -\$\d{3}\.\d\d, fees \$/);
    expect(status.stdout).not.toMatch(/\$-/);
  }, 30_000);

  it("--json: refusals made here and an unreachable node print an error body too, on stdout", async () => {
    const port = await freePort();
    const [local, down] = await Promise.all([
      cli(["status", "not-a-hotkey", "--json", "--url", url]),
      cli(["status", "--json", "--url", `http://127.0.0.1:${port}`]),
    ]);
    expect(local.code).toBe(1);
    expect(JSON.parse(local.stdout)).toMatchObject({ error: { code: "VALIDATION_FAILED", message: expect.stringContaining("neither an SS58 hotkey") } });
    expect(down.code).toBe(2);
    expect(JSON.parse(down.stdout)).toMatchObject({ error: { code: "NODE_UNREACHABLE", message: expect.stringContaining("ECONNREFUSED") } });
  }, 30_000);
});

describe("keys", () => {
  it("a key file of random words is refused, not taken as some other account (--json: KEY_INVALID)", async () => {
    const d = tempDir();
    writeFileSync(join(d, "k"), "correct horse battery staple\n", { mode: 0o600 });
    const [inspected, order] = await Promise.all([
      cli(["keys", "inspect", "k"], d),
      cli(["order", "BTCUSD", "FLAT", "--key", "k", "--json", "--url", url], d),
    ]);
    expect(inspected.code).toBe(1);
    expect(inspected.stdout).toBe("");
    expect(inspected.stderr).toMatch(/key file k holds 4 word\(s\); a BIP39 mnemonic has 12, 15, 18, 21 or 24; refusing it/);
    expect(inspected.stderr).not.toMatch(/horse/);
    expect(order.code).toBe(1);
    expect(JSON.parse(order.stdout)).toMatchObject({ error: { code: "KEY_INVALID" } });
  }, 30_000);

  it("keys new inside a git work tree adds the file to .gitignore (git then ignores it); outside one it reminds", async () => {
    const repo = tempDir();
    execFileSync("git", ["init", "-q", repo]);
    writeFileSync(join(repo, ".gitignore"), "node_modules"); // no final newline
    const [made, outside] = await Promise.all([cli(["keys", "new", "--out", "keys/bob"], repo), cli(["keys", "new", "--out", "k"], tempDir())]);
    // keys/ does not exist: refused, nothing added
    expect(made.code).toBe(1);
    expect(readFileSync(join(repo, ".gitignore"), "utf8")).toBe("node_modules");
    expect(outside.code).toBe(0);
    expect(outside.stderr).toMatch(/is not inside a git work tree; never commit or share it/);

    const ok = await cli(["keys", "new", "--out", "my-key"], repo);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^address \w+\nkey file .*my-key/);
    expect(ok.stderr).toContain(`added /my-key to ${join(repo, ".gitignore")}`);
    expect(readFileSync(join(repo, ".gitignore"), "utf8")).toBe("node_modules\n# a propnet signing key: never commit it\n/my-key\n");
    execFileSync("git", ["check-ignore", "-q", "my-key"], { cwd: repo }); // throws unless ignored
    const status = execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], { cwd: repo, encoding: "utf8" });
    expect(status).not.toMatch(/my-key/);

    const again = await cli(["keys", "new", "--out", "second"], repo);
    expect(again.stderr).toContain("added /second to");
  }, 30_000);
});
