// Process-level tests of `propnet serve` and `propnet verify`: real child processes, real ports,
// real data directories, as a user (or an operator's script) would drive them.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, type TestContext, test } from "vitest";
import { freePort } from "../support/processes.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin", "propnet.js");
const READY_TIMEOUT_MS = 20_000;
const RUN_TIMEOUT_MS = 30_000;
/** A stack trace line, as Node prints it for an uncaught error. */
const STACK_LINE = /\n\s+at .+[(:]\d+/;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Proc {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<Exit>;
}

interface Ran extends Exit {
  stdout: string;
  stderr: string;
}

const everyChild = new Set<ChildProcess>();
const tempDirs: string[] = [];

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

afterAll(() => {
  for (const child of everyChild) kill(child);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(label = "propnet-cli-"): string {
  const dir = mkdtempSync(join(tmpdir(), label));
  tempDirs.push(dir);
  return dir;
}


/** Holds a loopback port open until closed (to make the port busy, or to keep it from a child). */
async function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { port: address.port, server };
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete env.PROPNET_HOST;
  delete env.PROPNET_PORT;
  return env;
}

/** Starts `node bin/propnet.js ...args`; the test that started it kills it when it finishes. */
function start(ctx: TestContext | null, args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: childEnv(), stdio: ["ignore", "pipe", "pipe"] });
  everyChild.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once("close", (code, signal) => {
      everyChild.delete(child);
      resolve({ code, signal });
    });
  });
  ctx?.onTestFinished(() => kill(child));
  return {
    child,
    exited,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
  };
}

/**
 * Runs a command to completion. Killed after `timeoutMs`, or as soon as stderr matches `killOn`
 * (a refusal that did not happen: the process went on to serve), so a bug fails fast.
 */
async function run(args: string[], options: { timeoutMs?: number; killOn?: RegExp } = {}): Promise<Ran> {
  await acquireSlot();
  try {
    return await runNow(args, options);
  } finally {
    releaseSlot();
  }
}

// Each CLI process spends a second or two of CPU loading; on a small machine, starting many at
// once only makes each slower. Concurrent tests share this many slots for short-lived commands.
const SLOTS = 3;
let slotsInUse = 0;
const waiting: (() => void)[] = [];

async function acquireSlot(): Promise<void> {
  if (slotsInUse < SLOTS) {
    slotsInUse++;
    return;
  }
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function releaseSlot(): void {
  const next = waiting.shift();
  if (next) next();
  else slotsInUse--;
}

async function runNow(args: string[], options: { timeoutMs?: number; killOn?: RegExp }): Promise<Ran> {
  const proc = start(null, args);
  const timer = setTimeout(() => kill(proc.child), options.timeoutMs ?? RUN_TIMEOUT_MS);
  let watcher: NodeJS.Timeout | undefined;
  if (options.killOn) {
    const pattern = options.killOn;
    watcher = setInterval(() => {
      if (pattern.test(proc.stderr)) kill(proc.child);
    }, 50);
  }
  try {
    const exit = await proc.exited;
    return { ...exit, stdout: proc.stdout, stderr: proc.stderr };
  } finally {
    clearTimeout(timer);
    if (watcher) clearInterval(watcher);
    kill(proc.child);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeProc(proc: Proc): string {
  return `exit ${proc.child.exitCode ?? proc.child.signalCode}; stderr:\n${proc.stderr}\nstdout:\n${proc.stdout}`;
}

async function waitForStderr(proc: Proc, pattern: RegExp, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(proc.stderr)) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`process exited before printing ${pattern}: ${describeProc(proc)}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}: ${describeProc(proc)}`);
    await sleep(50);
  }
}

async function get(port: number, path: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3_000) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body, headers: response.headers };
}

/** Polls /readyz until 200; fails fast (with the child's output) if the process exits. */
async function waitReady(proc: Proc, port: number, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`serve exited before it was ready: ${describeProc(proc)}`);
    }
    try {
      const ready = await get(port, "/readyz");
      if (ready.status === 200) return;
      expect(ready.status).toBe(503);
    } catch (error) {
      if ((error as Error).name === "AssertionError") throw error;
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`serve was not ready in ${timeoutMs} ms: ${describeProc(proc)}`);
    await sleep(100);
  }
}

async function serveReady(ctx: TestContext, dir: string, extra: string[] = []): Promise<{ proc: Proc; port: number }> {
  const port = await freePort();
  const proc = start(ctx, ["serve", "--no-demo", "--data", dir, "--port", String(port), ...extra]);
  await waitReady(proc, port);
  return { proc, port };
}

/** SIGTERM (or SIGINT) and wait for the exit; returns how long it took. */
async function stop(proc: Proc, signal: NodeJS.Signals = "SIGTERM"): Promise<Exit & { ms: number }> {
  const started = Date.now();
  proc.child.kill(signal);
  const timeout = sleep(12_000).then(() => "timeout" as const);
  const exit = await Promise.race([proc.exited, timeout]);
  if (exit === "timeout") {
    kill(proc.child);
    throw new Error(`serve did not exit within 12 s of ${signal}: ${describeProc(proc)}`);
  }
  return { ...exit, ms: Date.now() - started };
}

function snapshotFiles(dir: string): string[] {
  const snapshots = join(dir, "snapshots");
  return existsSync(snapshots) ? readdirSync(snapshots).filter((n) => /^snapshot-\d{12}\.json$/.test(n)) : [];
}

function lastSeq(dir: string): number {
  const db = new Database(join(dir, "events.sqlite"), { readonly: true });
  try {
    return (db.prepare("SELECT max(seq) AS seq FROM events").get() as { seq: number }).seq;
  } finally {
    db.close();
  }
}

function hotkeyOf(stderr: string): string | undefined {
  return /node hotkey (\w+)/.exec(stderr)?.[1];
}

describe("propnet serve: a running node", () => {
  test("listens, answers health, readiness, 404 and time; stops on SIGTERM with a snapshot; verifies; restarts at the same seq", async (ctx) => {
    const dir = tempDir();
    const port = await freePort();
    const proc = start(ctx, ["serve", "--no-demo", "--data", dir, "--port", String(port)]);

    await waitForStderr(proc, new RegExp(`http://127\\.0\\.0\\.1:${port}\\b`));
    await waitReady(proc, port);
    // /readyz and the stderr pipe race each other to this process: wait for the line itself.
    await waitForStderr(proc, /ready at seq 1\b/, 5_000);

    const health = await get(port, "/healthz");
    expect(health.status).toBe(200);
    const h = health.body as Record<string, unknown>;
    expect(h.status).toBe("ok");
    expect(typeof h.seq).toBe("number");
    expect(h.seq as number).toBeGreaterThanOrEqual(1);
    expect(typeof h.version).toBe("string");
    expect((h.version as string).length).toBeGreaterThan(0);
    expect(Array.isArray(h.problems)).toBe(true);
    expect(h.problems).toEqual([]);
    expect(typeof h.block).toBe("number");
    expect(typeof h.stream_seq).toBe("number");

    const ready = await get(port, "/readyz");
    expect(ready.status).toBe(200);

    const missing = await get(port, "/nope");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toMatch(/application\/json/);
    const envelope = missing.body as { error: { code: string; message: string; details: unknown } };
    expect(Object.keys(envelope)).toEqual(["error"]);
    expect(envelope.error.code).toBe("NOT_FOUND");
    expect(typeof envelope.error.message).toBe("string");
    expect(envelope.error.message.length).toBeGreaterThan(0);
    expect(envelope.error.details).toBeTypeOf("object");
    expect(envelope.error.details).not.toBeNull();
    expect(JSON.stringify(envelope)).not.toMatch(/\/work\/|\.ts\b|at .+:\d+/);

    const before = Date.now();
    const time = await get(port, "/v1/time");
    const after = Date.now();
    expect(time.status).toBe(200);
    const serverTime = (time.body as { server_time_ms: number }).server_time_ms;
    expect(Number.isInteger(serverTime)).toBe(true);
    expect(serverTime).toBeGreaterThanOrEqual(before - 1_000);
    expect(serverTime).toBeLessThanOrEqual(after + 1_000);

    const seq = h.seq as number;
    const hotkey = hotkeyOf(proc.stderr);
    expect(hotkey).toBeDefined();

    // SIGTERM: drain, snapshot, exit 0 well within 10 s.
    const stopped = await stop(proc, "SIGTERM");
    expect(stopped, proc.stderr).toMatchObject({ code: 0, signal: null });
    expect(stopped.ms).toBeLessThan(10_000);
    expect(proc.stderr).toMatch(new RegExp(`stopped at seq ${seq}\\b`));
    expect(proc.stderr).not.toMatch(STACK_LINE);
    expect(snapshotFiles(dir)).toContain(`snapshot-${String(seq).padStart(12, "0")}.json`);

    // Without --key the node made its own key, readable by the owner only.
    const keyFile = join(dir, "node-key");
    expect(existsSync(keyFile)).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const secret = readFileSync(keyFile, "utf8").trim();
    expect(proc.stderr).not.toContain(secret);
    expect(proc.stdout).not.toContain(secret);

    const verified = await run(["verify", "--data", dir]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(new RegExp(`^verified .*last seq ${seq}\\b`, "m"));

    const full = await run(["verify", "--data", dir, "--full"]);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(new RegExp(`^verified .*from genesis.*last seq ${seq}\\b`, "m"));

    // Restart on the same directory: same head (genesis is not applied twice), same node key.
    const again = await serveReady(ctx, dir);
    const health2 = await get(again.port, "/healthz");
    expect(health2.status).toBe(200);
    expect((health2.body as { seq: number; status: string }).seq).toBe(seq);
    expect((health2.body as { seq: number; status: string }).status).toBe("ok");
    await waitForStderr(again.proc, new RegExp(`ready at seq ${seq}\\b`), 5_000);
    expect(hotkeyOf(again.proc.stderr)).toBe(hotkey);
    expect(readFileSync(keyFile, "utf8").trim()).toBe(secret);

    const stopped2 = await stop(again.proc, "SIGINT");
    expect(stopped2, again.proc.stderr).toMatchObject({ code: 0, signal: null });
    expect(stopped2.ms).toBeLessThan(10_000);
  });

  test("a port already in use is refused with a clear message, not a stack trace", async () => {
    const dir = tempDir();
    const busy = await holdPort();
    try {
      const result = await run(["serve", "--no-demo", "--data", dir, "--port", String(busy.port)], { killOn: /ready at seq/ });
      expect(result.code, result.stderr).not.toBe(0);
      expect(result.code).not.toBeNull();
      expect(result.stderr).toMatch(new RegExp(`${busy.port}`));
      expect(result.stderr).toMatch(/in use|EADDRINUSE/i);
      expect(result.stderr).not.toMatch(STACK_LINE);
    } finally {
      await new Promise<void>((resolve) => busy.server.close(() => resolve()));
    }
  });
});

describe.concurrent("propnet serve: flags are checked before anything starts", () => {
  const refusals: { args: string[]; message: RegExp }[] = [
    { args: ["--bogus"], message: /--bogus/ },
    { args: ["--port", "99999"], message: /--port.*99999|99999.*--port/ },
    { args: ["--block-time", "-5"], message: /--block-time.*-5|-5.*--block-time/ },
    { args: ["--store", "mysql"], message: /--store.*mysql|mysql.*--store/ },
    { args: ["--rate-limit", "maybe"], message: /--rate-limit.*maybe|maybe.*--rate-limit/ },
    { args: ["--root", "notanaddress"], message: /--root.*notanaddress.*SS58|SS58.*notanaddress/ },
    { args: ["--payout-period", "2w"], message: /--payout-period.*2w.*month, 1d, 1h, 10m, 1m/ },
  ];

  for (const { args, message } of refusals) {
    test(`serve ${args.join(" ")} is refused`, async () => {
      const dir = tempDir();
      // Whatever happens, the child could only ever bind loopback; killed the moment it listens.
      const result = await run(["serve", "--no-demo", "--data", dir, "--port", String(await freePort()), ...args], {
        killOn: /listening on/,
      });
      expect(result.code, result.stderr).not.toBe(0);
      expect(result.code).not.toBeNull();
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(STACK_LINE);
      expect(result.stderr).not.toMatch(/listening on/);
    });
  }

  test("serve --host 0.0.0.0 with the development root and oracle is refused", async () => {
    const dir = tempDir();
    // Keep the port busy on loopback: if the refusal were missing, binding 0.0.0.0 would fail
    // rather than expose the node, and the child is killed the moment it claims to listen.
    const busy = await holdPort();
    try {
      const result = await run(["serve", "--no-demo", "--data", dir, "--host", "0.0.0.0", "--port", String(busy.port)], {
        killOn: /listening on/,
      });
      expect(result.code, result.stderr).not.toBe(0);
      expect(result.code).not.toBeNull();
      expect(result.stderr).toMatch(/0\.0\.0\.0/);
      expect(result.stderr).toMatch(/development key/);
      expect(result.stderr).not.toMatch(STACK_LINE);
      expect(result.stderr).not.toMatch(/listening on/);
    } finally {
      await new Promise<void>((resolve) => busy.server.close(() => resolve()));
    }
  });

  test("verify on a directory with no log fails with a clear message", async () => {
    const dir = tempDir();
    const result = await run(["verify", "--data", dir]);
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toMatch(/no event log/);
    expect(result.stderr).toContain(join(dir, "events.sqlite"));
    expect(result.stderr).not.toMatch(STACK_LINE);
    expect(result.stdout).not.toMatch(/verified/);
  });
});

describe("propnet serve: the devnet genesis", () => {
  test("a fresh node has Alice (the subnet owner) as uid 0 and its own hotkey as a staked validator on uid 1; --payout-period 1m is accepted", async (ctx) => {
    await cryptoWaitReady();
    const alice = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri("//Alice").address;
    const { proc, port } = await serveReady(ctx, tempDir(), ["--payout-period", "1m"]);
    await waitForStderr(proc, /ready at seq/, 5_000);
    const hotkey = hotkeyOf(proc.stderr);
    expect(hotkey).toBeDefined();
    const subnet = await get(port, "/v1/chain/subnets/1");
    expect(subnet.status).toBe(200);
    const { neurons } = subnet.body as { neurons: Array<{ uid: number; hotkey: string; coldkey: string; stake_alpha_rao: string }> };
    expect(neurons).toMatchObject([
      { uid: 0, hotkey: alice, coldkey: alice },
      { uid: 1, hotkey, coldkey: hotkey },
    ]);
    expect(neurons).toHaveLength(2);
    // 1,000 TAO into the 1,000 TAO / 1,000 alpha pool buys just under 500 alpha (constant product, less the swap fee).
    const stake = BigInt((neurons[1] as { stake_alpha_rao: string }).stake_alpha_rao);
    expect(stake).toBeGreaterThan(499_000_000_000n);
    expect(stake).toBeLessThan(500_000_000_000n);
    const invariants = await get(port, "/v1/chain/invariants");
    expect(invariants.status).toBe(200);
    expect((invariants.body as { invariants: Array<{ ok: boolean }> }).invariants.filter((r) => !r.ok)).toEqual([]);
    const stopped = await stop(proc);
    expect(stopped, proc.stderr).toMatchObject({ code: 0, signal: null });
  });
});

describe("propnet serve --key", () => {
  const seed = `0x${"4b".repeat(32)}`;

  test("a key file readable by group or others is refused, naming 0600", async () => {
    const keys = tempDir("propnet-key-");
    const keyFile = join(keys, "validator.key");
    writeFileSync(keyFile, `${seed}\n`);
    chmodSync(keyFile, 0o644);
    const result = await run(["serve", "--no-demo", "--data", tempDir(), "--port", String(await freePort()), "--key", keyFile], {
      killOn: /listening on/,
    });
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toContain(keyFile);
    expect(result.stderr).toMatch(/0600/);
    expect(result.stderr).not.toContain(seed);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  test("a 0600 key file holding a secret URI is used as the node key", async (ctx) => {
    await cryptoWaitReady();
    const expected = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri(seed).address;
    const keys = tempDir("propnet-key-");
    const keyFile = join(keys, "validator.key");
    writeFileSync(keyFile, `${seed}\n`, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    const dir = tempDir();
    const { proc } = await serveReady(ctx, dir, ["--key", keyFile]);
    await waitForStderr(proc, /ready at seq/, 5_000);
    expect(hotkeyOf(proc.stderr)).toBe(expected);
    expect(proc.stderr).not.toContain(seed);
    expect(proc.stdout).not.toContain(seed);
    // The given key is used: no node-key of its own is made.
    expect(existsSync(join(dir, "node-key"))).toBe(false);
    const stopped = await stop(proc);
    expect(stopped, proc.stderr).toMatchObject({ code: 0, signal: null });
  });
});

describe("a tampered log is refused", () => {
  /** A data directory after a clean start and SIGTERM: events.sqlite plus a snapshot at its head. */
  let clean = "";

  beforeAll(async () => {
    clean = tempDir("propnet-clean-");
    const port = await freePort();
    const proc = start(null, ["serve", "--no-demo", "--data", clean, "--port", String(port)]);
    try {
      await waitReady(proc, port);
      const stopped = await stop(proc);
      expect(stopped.code, proc.stderr).toBe(0);
    } finally {
      kill(proc.child);
    }
    expect(snapshotFiles(clean).length).toBeGreaterThan(0);
  });

  /** Two copies of the clean directory, changed the same way (one for serve, one for verify). */
  function tampered(change: (db: Database.Database, seq: number) => void, options: { dropSnapshots?: boolean } = {}) {
    const seq = lastSeq(clean);
    const dirs = [tempDir("propnet-tampered-"), tempDir("propnet-tampered-")];
    for (const dir of dirs) {
      cpSync(clean, dir, { recursive: true });
      if (options.dropSnapshots) rmSync(join(dir, "snapshots"), { recursive: true, force: true });
      const db = new Database(join(dir, "events.sqlite"));
      try {
        change(db, seq);
      } finally {
        db.close();
      }
    }
    return { seq, serveDir: dirs[0] as string, verifyDir: dirs[1] as string };
  }

  /** Changes exactly one character of the last event's payload (a digit, so it stays JSON). */
  function alterLastPayload(db: Database.Database, seq: number): void {
    const row = db.prepare("SELECT payload FROM events WHERE seq = ?").get(seq) as { payload: string };
    const i = row.payload.search(/\d/);
    expect(i).toBeGreaterThanOrEqual(0);
    const digit = row.payload[i] === "1" ? "2" : "1";
    const payload = row.payload.slice(0, i) + digit + row.payload.slice(i + 1);
    expect(payload).not.toBe(row.payload);
    expect(payload.length).toBe(row.payload.length);
    expect(db.prepare("UPDATE events SET payload = ? WHERE seq = ?").run(payload, seq).changes).toBe(1);
  }

  function deleteLastRow(db: Database.Database): void {
    expect(db.prepare("DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)").run().changes).toBe(1);
  }

  function serveOn(dir: string): Promise<Ran> {
    return freePort().then((port) => run(["serve", "--no-demo", "--data", dir, "--port", String(port)], { killOn: /ready at seq/ }));
  }

  function verifyFull(dir: string): Promise<Ran> {
    return run(["verify", "--data", dir, "--full"]);
  }

  function expectServeRefused(result: Ran, seq: number): void {
    expect(result.stderr, "serve started on a tampered log").not.toMatch(/ready at seq/);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(new RegExp(`\\bseq ${seq}\\b`));
    expect(result.stderr).toMatch(/verify --data/);
    expect(result.stderr).not.toMatch(STACK_LINE);
  }

  function expectVerifyFailed(result: Ran, seq: number): void {
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`verify failed at seq ${seq}\\b`));
    expect(result.stdout).not.toMatch(/^verified/m);
    expect(result.stderr).not.toMatch(STACK_LINE);
  }

  test.concurrent("one changed byte in the last event's payload: serve exits 3 and verify --full exits 1, naming its seq", async () => {
    const { seq, serveDir, verifyDir } = tampered(alterLastPayload);
    const [served, verified] = await Promise.all([serveOn(serveDir), verifyFull(verifyDir)]);
    expectVerifyFailed(verified, seq);
    expectServeRefused(served, seq);
  });

  test.concurrent("one changed byte in the last event's payload, no snapshots: serve exits 3 naming its seq", async () => {
    const { seq, serveDir } = tampered(alterLastPayload, { dropSnapshots: true });
    expectServeRefused(await serveOn(serveDir), seq);
  });

  test.concurrent("the last event deleted: serve exits 3 and verify --full exits 1, naming the missing seq", async () => {
    const { seq, serveDir, verifyDir } = tampered(deleteLastRow);
    const [served, verified] = await Promise.all([serveOn(serveDir), verifyFull(verifyDir)]);
    expectVerifyFailed(verified, seq);
    expectServeRefused(served, seq);
  });
});
