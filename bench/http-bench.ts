// Shared by the HTTP benchmarks (bench/orders.ts, bench/subaccounts.ts) and their load generator
// (bench/load-generator.ts): a real `propnet serve` child process, a lean keep-alive HTTP client,
// Epistula signing, per-thread CPU time from /proc, percentiles.
import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { DEV_PHRASE } from "@polkadot/keyring";
import { u8aToHex } from "@polkadot/util";
import { encodeAddress, keyExtractPath, keyFromPath, mnemonicToMiniSecret, sr25519PairFromSeed } from "@polkadot/util-crypto";
import { sr25519Sign, waitReady } from "@polkadot/wasm-crypto";
import { EPISTULA_VERSION, epistulaMessage, sha256hex } from "../src/epistula/epistula.ts";
import { freePort } from "../test/support/processes.ts";

export const ROOT_DIR = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT_DIR, "bin", "propnet.js");

/** Crypto pairs of API.md: leverage 0.01..0.5 per order and |net| <= 0.5. */
export const BENCH_PAIRS = ["BTCUSD", "ETHUSD", "SOLUSD", "XRPUSD"] as const;
export const BENCH_PRICES: Record<string, number> = { BTCUSD: 100_000, ETHUSD: 3_500, SOLUSD: 150, XRPUSD: 2.5 };

/** The dev URI of benchmark entity `i` (derived from //Alice, as the brief suggests). */
export function entityUri(i: number): string {
  return `//Alice//entity-${i}`;
}

// ---- signing with WASM --------------------------------------------------------------------------

/**
 * A dev key (`//Alice//...`) that signs with @polkadot/wasm-crypto's sr25519Sign. The keyring's
 * `pair.sign` (and so `epistulaHeaders` of src/client) is @scure/sr25519 in pure JS in
 * @polkadot/util-crypto 14, several times slower; the load generator must not pay for that.
 */
export interface WasmSigner {
  address: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

let devRoot: { publicKey: Uint8Array; secretKey: Uint8Array } | null = null;

export async function wasmReady(): Promise<void> {
  await waitReady();
}

export function wasmSigner(uri: string): WasmSigner {
  devRoot ??= sr25519PairFromSeed(mnemonicToMiniSecret(DEV_PHRASE));
  const { path } = keyExtractPath(uri);
  const pair = keyFromPath(devRoot, path, "sr25519");
  return { address: encodeAddress(pair.publicKey, 42), publicKey: pair.publicKey, secretKey: pair.secretKey };
}

/** Epistula v2 headers for `rawBody`, signed now with a fresh uuid (as src/client's epistulaHeaders). */
export function signedHeaders(signer: WasmSigner, rawBody: string, now: number = Date.now()): Record<string, string> {
  const uuid = randomUUID();
  const timestamp = String(Math.floor(now));
  const message = Buffer.from(epistulaMessage(sha256hex(rawBody), uuid, timestamp), "utf8");
  return {
    "Epistula-Version": EPISTULA_VERSION,
    "Epistula-Timestamp": timestamp,
    "Epistula-Uuid": uuid,
    "Epistula-Signed-By": signer.address,
    "Epistula-Request-Signature": u8aToHex(sr25519Sign(signer.publicKey, signer.secretKey, message)),
  };
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

export function round(x: number, digits = 2): number {
  return Number(x.toFixed(digits));
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}


// ---- CPU time from /proc ------------------------------------------------------------------------

let clockTicks: number | null = null;
function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime in seconds of one /proc stat line (the comm field may hold spaces). */
function statCpuSeconds(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields from 3 (state) on: utime is field 14, stime field 15.
  return (Number(rest[11]) + Number(rest[12])) / ticksPerSecond();
}

export interface ProcessCpu {
  /** The process's main thread (JavaScript, HTTP, the writer). */
  main: number;
  /** Every other thread: the SQLite commit and checkpoint threads, GC helpers, libuv's pool. */
  other: number;
}

/** CPU seconds used so far by a process, main thread and the others apart (Linux /proc). */
export function processCpu(pid: number): ProcessCpu {
  let main = 0;
  let other = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue; // the thread ended meanwhile
    }
    if (Number(tid) === pid) main += statCpuSeconds(stat);
    else other += statCpuSeconds(stat);
  }
  return { main, other };
}

export function cpuDelta(after: ProcessCpu, before: ProcessCpu): ProcessCpu {
  return { main: after.main - before.main, other: after.other - before.other };
}

// ---- HTTP ----------------------------------------------------------------------------------------

export interface HttpAnswer {
  status: number;
  text: string;
}

/**
 * A keep-alive HTTP/1.1 client on node:http (cheaper per request than fetch): at most
 * `maxSockets` connections, requests beyond that queue in the agent.
 */
export class HttpClient {
  readonly agent: Agent;
  readonly host: string;
  readonly port: number;

  constructor(baseUrl: string, maxSockets: number) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const h: Record<string, string | number> = { ...headers };
      if (body !== undefined) {
        h["content-type"] = "application/json";
        h["content-length"] = Buffer.byteLength(body);
      }
      const req = httpRequest({ agent: this.agent, host: this.host, port: this.port, method, path, headers: h }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The error code of an answer, or `HTTP_<status>`. */
export function errorCode(answer: HttpAnswer): string {
  try {
    const code = (JSON.parse(answer.text) as { error?: { code?: string } }).error?.code;
    if (typeof code === "string") return code;
  } catch {
    // not JSON
  }
  return `HTTP_${answer.status}`;
}

// ---- the server process --------------------------------------------------------------------------

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM (drain, snapshot, exit); SIGKILL after 20 s. */
  stop(): Promise<void>;
}

/**
 * `node bin/propnet.js serve --no-demo --rate-limit off --block-time <ms> --data <dir> --port <free>`,
 * the server itself as the child (so its pid is the server's), ready once /readyz answers 200.
 */
export async function startServer(options: { dataDir: string; blockTime: number; nodeArgs?: string[] }): Promise<ServerProcess> {
  const port = await freePort();
  const args = [
    ...(options.nodeArgs ?? []),
    BIN,
    "serve",
    "--no-demo",
    "--rate-limit",
    "off",
    "--block-time",
    String(options.blockTime),
    "--data",
    options.dataDir,
    "--port",
    String(port),
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT_DIR, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (s: string) => {
    stderr += s;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`propnet serve exited: ${stderr}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`propnet serve not ready within 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    pid: child.pid as number,
    url,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- the load generator process ------------------------------------------------------------------

export interface LatencySummary {
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
}

export function summarize(latencies: number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  return {
    p50_ms: round(percentile(sorted, 0.5)),
    p90_ms: round(percentile(sorted, 0.9)),
    p99_ms: round(percentile(sorted, 0.99)),
    max_ms: round(percentile(sorted, 1)),
  };
}

/** What the load generator reports for one job. */
export interface JobResult {
  ok: number;
  errors: Record<string, number>;
  seconds: number;
  per_s: number;
  latency: LatencySummary;
  /** Open loop: from the request's scheduled time (includes any wait in the generator). */
  latency_from_schedule?: LatencySummary;
  /** The generator's own CPU seconds (user + system) during the job. */
  cpu_s: number;
  max_in_flight?: number;
}

export type Job =
  | { kind: "time"; url: string; concurrency: number; seconds: number }
  | { kind: "subaccounts"; url: string; concurrency: number; entities: number; perEntity: number; firstEntity?: number }
  | {
      kind: "orders";
      url: string;
      mode: "closed" | "open";
      concurrency: number;
      seconds: number;
      /** Open loop only: orders per second. */
      rate?: number;
      entities: number;
      subaccountsPerEntity: number;
      /** Spread the orders over these processes (one validator on PostgreSQL), each trader on one; default [url]. */
      urls?: string[];
    };

/** The load generator in its own process (`node --import tsx bench/load-generator.ts`). */
export class LoadGenerator {
  readonly child: ChildProcess;
  #waiting: ((result: JobResult) => void) | null = null;
  #failed: ((error: Error) => void) | null = null;
  #ready: Promise<void>;

  constructor(nodeArgs: string[] = []) {
    this.child = fork(join(ROOT_DIR, "bench", "load-generator.ts"), [], {
      cwd: ROOT_DIR,
      execArgv: ["--import", "tsx", ...nodeArgs],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.#ready = new Promise((resolve, reject) => {
      this.child.once("error", reject);
      this.child.on("message", (m: { type: string; result?: JobResult; error?: string }) => {
        if (m.type === "ready") resolve();
        else if (m.type === "result") this.#waiting?.(m.result as JobResult);
        else if (m.type === "error") this.#failed?.(new Error(`load generator: ${m.error}`));
      });
      this.child.once("exit", (code) => {
        const error = new Error(`load generator exited with ${code}`);
        reject(error);
        this.#failed?.(error);
      });
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  async run(job: Job): Promise<JobResult> {
    await this.#ready;
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#failed = reject;
      this.child.send({ type: "run", job });
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.send({ type: "exit" });
    await exited;
  }
}
