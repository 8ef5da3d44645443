// The README quickstart, run as written: the `npx propnet ...` lines of its code blocks (read from
// README.md, so the two cannot drift) against a real `propnet serve` with the demo on, each run as
// `node bin/propnet.js ...` with PROPNET_URL naming the node. Every line must exit 0, and the
// subaccount ends with an open BTCUSD position. The node makes a block every second rather than
// every 12 s (the two chain lines wait for one), so the test takes ~30 s, most of it CLI start-up.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PropnetClient } from "../../src/client/propnet-client.ts";
import { cryptoReady, loadKey } from "../../src/keys/keys.ts";
import { children, cli as runCli, freePort, type Ran, spawnCli as spawnProcess } from "../support/processes.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HEADING = "## Quickstart: from start to a first order";

/** The `sh` code blocks of the README's quickstart section, each as its `npx propnet` lines (comments dropped). */
function quickstartBlocks(readme: string): string[][] {
  const start = readme.indexOf(`\n${HEADING}\n`);
  if (start < 0) throw new Error(`README.md has no "${HEADING}" section`);
  const end = readme.indexOf("\n## ", start + HEADING.length + 2);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
    (m[1] as string)
      .split("\n")
      .map((line) => line.replace(/\s+#.*$/, "").trim())
      .filter((line) => line.startsWith("npx propnet ")),
  );
}

/** The arguments of one line; refuses anything a plain split would get wrong. */
function argsOf(line: string): string[] {
  const rest = line.slice("npx propnet ".length);
  if (!/^[A-Za-z0-9_./:<>=-]+( +[A-Za-z0-9_./:<>=-]+)*$/.test(rest)) throw new Error(`README line uses shell syntax this test does not run: ${line}`);
  return rest.split(/ +/);
}

let dir = "";
let url = "";
let node: ChildProcess | undefined;

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", PROPNET_URL: url };
  delete e.PROPNET_KEY;
  return e;
}

const spawnCli = (args: string[]) => spawnProcess(args, dir, env());
const cli = (args: string[]) => runCli(args, dir, env());

/** Runs README lines in order; each must exit 0. */
async function runLines(lines: string[], substitute: (arg: string) => string = (a) => a): Promise<Ran[]> {
  const out: Ran[] = [];
  for (const line of lines) {
    const r = await cli(argsOf(line).map(substitute));
    expect(r.code, `${line}\n${r.stdout}${r.stderr}`).toBe(0);
    out.push(r);
  }
  return out;
}

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const [mainBlock = [], ownKeyBlock = []] = quickstartBlocks(readme);

beforeAll(async () => {
  await cryptoReady();
  dir = mkdtempSync(join(tmpdir(), "propnet-quickstart-"));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // As `npm start`, on a temp data dir and port, the demo on; blocks every second rather than every
  // 12 s to keep the test short (the two chain lines each wait for a block).
  const server = spawnCli(["serve", "--data", join(dir, "data"), "--port", String(port), "--block-time", "1000"]);
  node = server.child;
  const client = new PropnetClient({ baseUrl: url });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (Date.now() > deadline || server.child.exitCode !== null) throw new Error(`node did not start with prices: ${server.stderr()}`);
    if (/ready at seq/.test(server.stderr())) {
      const prices = await client.request("GET", "/v1/prices");
      if (prices.ok && (prices.body as { prices: Record<string, unknown> }).prices.BTCUSD) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

afterAll(async () => {
  if (node && node.exitCode === null) {
    const exited = new Promise((resolve) => node?.once("close", resolve));
    node.kill("SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
  for (const child of children) child.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("README quickstart", () => {
  it("reads the steps from README.md", () => {
    const commands = mainBlock.map((line) => argsOf(line).filter((a) => !a.startsWith("-") && !a.startsWith("/")).slice(0, 2).join(" "));
    expect(commands).toEqual([
      "status",
      "chain register",
      "collateral deposit",
      "entity register",
      "subaccount create",
      "order BTCUSD",
      "subaccount list",
      expect.stringMatching(/^status \w+_0$/),
    ]);
    expect(ownKeyBlock.map((line) => argsOf(line).slice(0, 2).join(" "))).toEqual(["keys new", "transfer <address>"]);
  });

  it("runs from a fresh node to an open BTCUSD position, every line exiting 0", async () => {
    const ran = await runLines(mainBlock);
    expect(ran.map((r) => r.stdout.split("\n")[0]).join("\n")).toMatch(/order [0-9a-f-]+: LONG BTCUSD leverage 0\.1 at [0-9.]+ for \w+_0/);

    const bob = loadKey("//Bob");
    const synthetic = `${bob.address}_0`;
    expect(mainBlock.at(-1)).toContain(synthetic);
    const detail = await new PropnetClient({ baseUrl: url, signer: bob }).getSubaccount(synthetic);
    expect(detail.ok).toBe(true);
    if (!detail.ok) return;
    expect(detail.body.subaccount.status).toBe("active");
    expect(detail.body.positions.filter((p) => !p.is_closed)).toMatchObject([{ trade_pair: "BTCUSD", net_leverage: 0.1 }]);
  });

  it("creates and funds a key of one's own as shown", async () => {
    const [keysNew, transfer] = ownKeyBlock as [string, string];
    const [made] = await runLines([keysNew]);
    const address = /^address (\w+)$/m.exec(made?.stdout ?? "")?.[1];
    expect(address, made?.stdout).toBeDefined();
    const [funded] = await runLines([transfer], (a) => (a === "<address>" ? (address as string) : a));
    expect(funded?.stdout).toMatch(new RegExp(`^transferred 6000 TAO from \\w+ to ${address} in block \\d+\n$`));
  });
});
