// Several real `propnet serve` processes on one PostgreSQL log (issue #11), for the cluster test and
// the failover bench: spawned on loopback through bin/propnet.js, each with its own data directory
// and port, all in one schema made for the run and dropped after.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { api, type Api, type Answer } from "../support/http.ts";
import { freePort, ROOT, spawnCli } from "../support/processes.ts";

export const PG_URL = process.env.PROPNET_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const READY_TIMEOUT_MS = 60_000;

export function clusterEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", PROPNET_SIGNATURE_THREADS: "1" };
  for (const k of ["PROPNET_HOST", "PROPNET_PORT", "PROPNET_URL", "PROPNET_KEY", "npm_lifecycle_event"]) delete env[k];
  return env;
}

/** One process of the cluster: restarted on the same data directory and port after a kill. */
export class ClusterProcess {
  run: ReturnType<typeof spawnCli> | null = null;
  readonly api: Api;
  #stderr = "";

  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly port: number,
    readonly args: string[],
  ) {
    this.api = api(() => this.base);
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get alive(): boolean {
    const c = this.run?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Everything it wrote on stderr, across its restarts. */
  get stderr(): string {
    return this.#stderr + (this.run?.stderr() ?? "");
  }

  start(): void {
    if (this.run) this.#stderr += this.run.stderr();
    this.run = spawnCli(["serve", ...this.args, "--data", this.dataDir, "--port", String(this.port)], ROOT, clusterEnv());
  }

  /** Until this run printed "ready at seq N" (its replica or log replayed). */
  async ready(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!/ready at seq \d+/.test(this.run?.stderr() ?? "")) {
      if (!this.alive) throw new Error(`${this.name} exited before ready:\n${this.stderr.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} not ready in ${READY_TIMEOUT_MS} ms:\n${this.stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  get readyNow(): boolean {
    return this.alive && /ready at seq \d+/.test(this.run?.stderr() ?? "");
  }

  async health(): Promise<{ role: string; seq: number; status: string } | null> {
    try {
      const a: Answer = await Promise.race([
        this.api.get("/healthz"),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("healthz timed out")), 2_000).unref()),
      ]);
      return a.status === 200 ? (a.json as { role: string; seq: number; status: string }) : null;
    } catch {
      return null;
    }
  }

  async kill(): Promise<void> {
    const run = this.run;
    if (!run || !this.alive) return;
    run.child.kill("SIGKILL");
    await run.done;
  }

  /** SIGTERM: drains, snapshots, exits; answers the exit code. */
  async stop(): Promise<number | null> {
    const run = this.run;
    if (!run || !this.alive) return null;
    run.child.kill("SIGTERM");
    return (await run.done).code;
  }
}

/** `count` processes on a fresh schema; `close` kills what is left, drops the schema and the directories. */
export async function makeCluster(count: number, extra: string[] = []): Promise<{ schema: string; processes: ClusterProcess[]; close: () => Promise<void> }> {
  const schema = `cluster_${process.pid}_${Date.now()}`;
  const processes: ClusterProcess[] = [];
  for (let i = 0; i < count; i++) {
    const dir = mkdtempSync(join(tmpdir(), `propnet-cluster-${i}-`));
    const args = ["--store", "postgres", "--pg-url", PG_URL, "--pg-schema", schema, "--no-demo", "--rate-limit", "off", "--log-level", "warn", "--key", "//Alice", ...extra];
    processes.push(new ClusterProcess(`p${i}`, dir, await freePort(), args));
  }
  const close = async () => {
    for (const p of processes) await p.kill();
    for (const p of processes) rmSync(p.dataDir, { recursive: true, force: true });
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await admin.end();
    }
  };
  return { schema, processes, close };
}

/** The process that says it is the writer now (asked in turn), or null. */
export async function findWriter(processes: readonly ClusterProcess[]): Promise<ClusterProcess | null> {
  for (const p of processes) {
    if (!p.alive) continue;
    if ((await p.health())?.role === "writer") return p;
  }
  return null;
}

/** Until one of `processes` says it is the writer; answers it and the ms waited (polled every 10 ms). */
export async function awaitWriter(processes: readonly ClusterProcess[], timeoutMs: number): Promise<{ writer: ClusterProcess; ms: number }> {
  const started = performance.now();
  for (;;) {
    const found = await Promise.all(processes.filter((p) => p.alive).map(async (p) => ((await p.health())?.role === "writer" ? p : null)));
    const writer = found.find((p) => p !== null);
    if (writer) return { writer, ms: performance.now() - started };
    if (performance.now() - started > timeoutMs) {
      const states = await Promise.all(processes.map(async (p) => `${p.name} (${p.alive ? "alive" : "dead"}): ${JSON.stringify(await p.health())}\n${p.stderr.slice(-1500)}`));
      throw new Error(`no writer within ${timeoutMs} ms:\n${states.join("\n")}\n${await sessions()}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The server's view, for a failure message: advisory locks and every session of the test database. */
async function sessions(): Promise<string> {
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
    const locks = await admin.query("SELECT pid, objid, granted FROM pg_locks WHERE locktype = 'advisory'");
    const activity = await admin.query("SELECT pid, state, wait_event_type, wait_event, left(query, 120) AS query, now() - state_change AS for FROM pg_stat_activity WHERE datname = current_database()");
    return `advisory locks: ${JSON.stringify(locks.rows)}\nsessions: ${JSON.stringify(activity.rows)}`;
  } catch (error) {
    return `(no session view: ${(error as Error).message})`;
  } finally {
    await admin.end().catch(() => {});
  }
}
