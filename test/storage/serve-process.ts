// A real `propnet serve` process for the storage-fault tests (lock, lost WAL, disk full, backup):
// spawned as `node bin/propnet.js serve` (the pid is the server itself), with its stderr kept.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmdirSync } from "node:fs";
import Database from "better-sqlite3";
import { expect } from "vitest";
import { api, type Api, type Answer, devSigners, type Signer } from "../support/http.ts";
import { ROOT, spawnCli } from "../support/processes.ts";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const READY_TIMEOUT_MS = 30_000;

export function serveEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", PROPNET_SIGNATURE_THREADS: "1" };
  delete env.PROPNET_HOST;
  delete env.PROPNET_PORT;
  return env;
}

/** One `propnet serve --no-demo --block-time 0` on `dataDir` and `port`. */
export class ServeProcess {
  readonly run: ReturnType<typeof spawnCli>;
  readonly exited: Promise<Exit>;
  readonly api: Api;

  constructor(
    readonly dataDir: string,
    readonly port: number,
    extra: string[] = [],
  ) {
    const args = ["serve", "--no-demo", "--block-time", "0", "--rate-limit", "off", "--data", dataDir, "--port", String(port), ...extra];
    this.run = spawnCli(args, ROOT, serveEnv());
    this.exited = new Promise((resolve) => this.run.child.once("exit", (code, signal) => resolve({ code, signal })));
    this.api = api(() => this.base);
  }

  get pid(): number {
    return this.run.child.pid as number;
  }

  get stderr(): string {
    return this.run.stderr();
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Until it has replayed its log and serves requests ("ready at seq N" on stderr). */
  async ready(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!/ready at seq \d+/.test(this.stderr)) {
      if (this.run.child.exitCode !== null || this.run.child.signalCode !== null) throw new Error(`server exited before ready:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`server not ready in ${READY_TIMEOUT_MS} ms:\n${this.stderr}`);
      await new Promise((ok) => setTimeout(ok, 20));
    }
  }

  async kill(): Promise<void> {
    this.run.child.kill("SIGKILL");
    const exit = await this.exited;
    expect(exit.signal, `server did not die of our SIGKILL:\n${this.stderr}`).toBe("SIGKILL");
  }

  /** SIGTERM: drains, snapshots, exits 0. */
  async stop(): Promise<void> {
    this.run.child.kill("SIGTERM");
    const exit = await this.exited;
    expect(exit.code, this.stderr).toBe(0);
  }

  healthz(): Promise<Answer> {
    return this.api.get("/healthz");
  }
}

let signers: { Alice: Signer } | null = null;

/** Alice signs (root and oracle of the devnet node). */
export async function alice(): Promise<Signer> {
  signers ??= await devSigners(["Alice"] as const);
  return signers.Alice;
}

let lastTs = 0;

/** One price post by the oracle: a distinct, increasing ts_ms (and a price within 20 % of the last). */
export async function postPrice(server: ServeProcess): Promise<{ answer: Answer; ts: number }> {
  const ts = Math.max(Date.now() - 500, lastTs + 1);
  lastTs = ts;
  const answer = await server.api.post("/v1/prices", await alice(), { prices: [{ trade_pair: "BTCUSD", price: 60_000 + (ts % 50), ts_ms: ts }] });
  return { answer, ts };
}

/** The ts_ms of every price event in a stopped node's log (read-only). */
export function loggedPriceTimes(logFile: string): Set<number> {
  const db = new Database(logFile, { readonly: true, fileMustExist: true });
  try {
    const found = new Set<number>();
    for (const payload of db.prepare("SELECT payload FROM events").pluck().all() as string[]) {
      // A PricesPosted event records each accepted price as [trade_pair, price, ts_ms].
      for (const m of payload.matchAll(/\["BTCUSD",[\d.]+,(\d+)\]/g)) found.add(Number(m[1]));
    }
    return found;
  } finally {
    db.close();
  }
}

/** A small tmpfs at `dir` (we run as root here); null with the reason when it cannot be mounted. */
export function mountTmpfs(dir: string, sizeMb: number): string | null {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", dir], { stdio: "pipe" });
    return null;
  } catch (error) {
    return `cannot mount a tmpfs at ${dir}: ${String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim()}`;
  }
}

export function unmountTmpfs(dir: string): void {
  try {
    execFileSync("umount", [dir], { stdio: "pipe" });
  } catch {
    execFileSync("umount", ["-l", dir], { stdio: "pipe" });
  }
  rmdirSync(dir);
}
