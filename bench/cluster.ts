import { mkdtempSync, rmSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { PropnetClient } from "../src/client/propnet-client.ts";
import { devSigners } from "../test/support/http.ts";
import { awaitWriter, ClusterProcess, makeCluster } from "../test/cluster/cluster-processes.ts";
import { freePort } from "../test/support/processes.ts";
import { BENCH_PAIRS, BENCH_PRICES, entityUri, type JobResult, LoadGenerator, log, percentile, round, wasmReady } from "./http-bench.ts";

const COLLATERAL_RAO = (5_000n * 1_000_000_000n).toString();

/**
 * Several processes of one validator on PostgreSQL (issue #11), as real `propnet serve` processes:
 * signed orders/s through one process alone and through three (a third straight to the writer,
 * two thirds forwarded by the readers), closed loop from one load generator; then the writer
 * SIGKILLed `kills` times: failover time until another process says it is the writer, and until a
 * signed write sent to a surviving process is acknowledged. All processes, PostgreSQL and the load
 * generator share this machine's cores. Baseline: the same orders through one process on SQLite.
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const entities = Number(args.entities ?? 10);
  const perEntity = Number(args["per-entity"] ?? 50);
  const concurrency = Number(args.concurrency ?? 64);
  const seconds = Number(args.seconds ?? 10);
  const kills = Number(args.kills ?? 20);
  const loadavg = round(os.loadavg()[0] as number);
  await cryptoWaitReady();
  await wasmReady();
  const cluster = await makeCluster(3, ["--block-time", String(args["block-time"] ?? 12_000)]);
  const [p0, p1, p2] = cluster.processes as [ClusterProcess, ClusterProcess, ClusterProcess];
  const generator = new LoadGenerator();
  /** Entities with collateral, prices, and `perEntity` subaccounts each, through the process at `base`. */
  const setup = async (base: string, gen: LoadGenerator) => {
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const alice = new PropnetClient({ baseUrl: base, signer: keyring.addFromUri("//Alice") });
    const pairs = Array.from({ length: entities }, (_, i) => keyring.addFromUri(entityUri(i)));
    for (const r of await Promise.all(pairs.map((p) => alice.chainExtrinsic("subtensor.burned_register", { netuid: 1, hotkey: p.address })))) if (!r.ok) throw new Error(JSON.stringify(r.body));
    for (const r of await Promise.all(pairs.map((p) => alice.chainExtrinsic("collateral.deposit", { hotkey: p.address, amount_rao: COLLATERAL_RAO })))) if (!r.ok) throw new Error(JSON.stringify(r.body));
    for (const r of await Promise.all(pairs.map((p) => new PropnetClient({ baseUrl: base, signer: p }).registerEntity()))) if (!r.ok) throw new Error(JSON.stringify(r.body));
    const prices = await alice.postPrices(BENCH_PAIRS.map((pair) => ({ trade_pair: pair, price: BENCH_PRICES[pair] as number, ts_ms: Date.now() })));
    if (!prices.ok) throw new Error(JSON.stringify(prices.body));
    const subs = await gen.run({ kind: "subaccounts", url: base, concurrency, entities, perEntity });
    if (subs.ok !== entities * perEntity) throw new Error(`subaccounts: ${JSON.stringify(subs.errors)}`);
  };
  try {
    // ---- baseline: the same orders through one process on the embedded SQLite store ----
    let sqlite: JobResult | null = null;
    if (args.sqlite !== "off") {
      const dir = mkdtempSync(join(tmpdir(), "propnet-bench-cluster-sqlite-"));
      const s = new ClusterProcess("sqlite", dir, await freePort(), ["--no-demo", "--rate-limit", "off", "--log-level", "warn", "--key", "//Alice", "--block-time", String(args["block-time"] ?? 12_000)]);
      const own = new LoadGenerator();
      try {
        s.start();
        await s.ready();
        await setup(s.base, own);
        const orders = { kind: "orders" as const, url: s.base, entities, subaccountsPerEntity: perEntity, mode: "closed" as const, concurrency };
        await own.run({ ...orders, seconds: 2 });
        sqlite = await own.run({ ...orders, seconds });
        log(`one process on SQLite: ${sqlite.per_s} orders/s, errors ${JSON.stringify(sqlite.errors)}`);
      } finally {
        await own.close();
        await s.kill();
        rmSync(dir, { recursive: true, force: true });
      }
    }

    p0.start();
    await p0.ready();
    await awaitWriter([p0], 10_000);
    // ---- setup through the writer alone (not timed) ----
    await setup(p0.base, generator);
    const orders = { kind: "orders" as const, url: p0.base, entities, subaccountsPerEntity: perEntity, mode: "closed" as const, concurrency };
    // ---- one process ----
    await generator.run({ ...orders, seconds: 2 });
    const one = await generator.run({ ...orders, seconds });
    log(`one process: ${one.per_s} orders/s, errors ${JSON.stringify(one.errors)}`);
    // ---- three processes ----
    p1.start();
    p2.start();
    await Promise.all([p1.ready(), p2.ready()]);
    const urls = [p0.base, p1.base, p2.base];
    await generator.run({ ...orders, urls, seconds: 2 });
    const three = await generator.run({ ...orders, urls, seconds });
    log(`three processes: ${three.per_s} orders/s, errors ${JSON.stringify(three.errors)}`);
    await generator.close();

    // ---- failover ----
    const { Alice } = await devSigners(["Alice"] as const);
    const roleMs: number[] = [];
    const writeMs: number[] = [];
    const ps = cluster.processes;
    for (let round = 1; round <= kills; round++) {
      let { writer } = await awaitWriter(ps, 15_000);
      const deadline = Date.now() + 60_000;
      while (ps.filter((p) => p !== writer && p.readyNow).length === 0) {
        if (Date.now() > deadline) throw new Error(`round ${round}: no ready reader`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 800)));
      ({ writer } = await awaitWriter(ps, 15_000));
      const others = ps.filter((p) => p !== writer);
      await writer.kill();
      const killedAt = performance.now();
      const acknowledged = (async () => {
        for (let i = 0; ; i++) {
          // Any process up (one restarted by the last round may be ready by now, and even be the writer).
          const up = others.filter((p) => p.readyNow);
          const via = up[i % Math.max(1, up.length)] as ClusterProcess;
          const body = { prices: [{ trade_pair: "BTCUSD", price: 100_000 + round, ts_ms: Date.now() }] };
          const a = await via.api.post("/v1/prices", Alice, body).catch(() => null);
          if (a && a.status < 300) return performance.now() - killedAt;
          if (performance.now() - killedAt > 30_000) throw new Error(`round ${round}: no write acknowledged in 30 s (last ${a?.status} ${a?.text})`);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const { ms } = await awaitWriter(others, 30_000);
      roleMs.push(ms);
      writeMs.push(await acknowledged);
      writer.start();
      log(`kill ${round}: ${writer.name} killed; writer again after ${Math.round(ms)} ms, a write acknowledged after ${Math.round(writeMs[writeMs.length - 1] as number)} ms`);
    }
    const q = (xs: number[], p: number) => Math.round(percentile(Float64Array.from(xs).sort(), p));
    const figures = (r: JobResult) => ({ per_s: r.per_s, ok: r.ok, errors: r.errors, latency_ms_p50: r.latency.p50_ms, latency_ms_p99: r.latency.p99_ms });
    return {
      loadavg_1m_at_start: loadavg,
      cores: os.availableParallelism(),
      traders: entities * perEntity,
      closed_concurrency: concurrency,
      orders_one_process_sqlite: sqlite ? figures(sqlite) : null,
      orders_one_process: figures(one),
      orders_three_processes: figures(three),
      three_vs_one: round(three.per_s / Math.max(1, one.per_s), 2),
      kills,
      failover_role_ms_p50: q(roleMs, 0.5),
      failover_role_ms_p99: q(roleMs, 0.99),
      failover_write_ms_p50: q(writeMs, 0.5),
      failover_write_ms_p99: q(writeMs, 0.99),
      failover_write_ms_max: Math.round(Math.max(...writeMs)),
    };
  } finally {
    await generator.close();
    await cluster.close();
  }
}
