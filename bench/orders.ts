import { mkdtempSync, rmSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { sr25519Sign, sr25519Verify } from "@polkadot/wasm-crypto";
import { epistulaMessage, sha256hex } from "../src/epistula/epistula.ts";
import { PropnetClient } from "../src/client/propnet-client.ts";
import {
  BENCH_PAIRS,
  BENCH_PRICES,
  cpuDelta,
  entityUri,
  type JobResult,
  LoadGenerator,
  log,
  processCpu,
  type ProcessCpu,
  round,
  startServer,
  wasmReady,
  wasmSigner,
} from "./http-bench.ts";

const COLLATERAL_RAO = (5_000n * 1_000_000_000n).toString();

/** Raw WASM sr25519 verifications per second on this thread, of an Epistula-sized message. */
function verifyRate(seconds: number): number {
  const signer = wasmSigner("//Alice//verify-baseline");
  const message = Buffer.from(epistulaMessage(sha256hex("{}"), crypto.randomUUID(), Date.now()), "utf8");
  const signature = sr25519Sign(signer.publicKey, signer.secretKey, message);
  for (let i = 0; i < 200; i++) sr25519Verify(signature, message, signer.publicKey); // warm-up
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) if (!sr25519Verify(signature, message, signer.publicKey)) throw new Error("verify failed");
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

/** The Prometheus sums and counts the figures below use, summed over their labels where filtered. */
async function metrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^(propnet_commit_batch_commands|propnet_commit_seconds|propnet_http_request_seconds)_(sum|count)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) continue;
    if (m[1] === "propnet_http_request_seconds" && !(m[3] ?? "").includes('route="/v1/orders"')) continue;
    const key = `${m[1]}_${m[2]}`;
    out[key] = (out[key] ?? 0) + Number(m[4]);
  }
  return out;
}

/** From /metrics deltas: commands per group commit, handoff-to-durable ms, server-side ms per order. */
function writerFigures(before: Record<string, number>, after: Record<string, number>) {
  const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  const commits = d("propnet_commit_seconds_count");
  const requests = d("propnet_http_request_seconds_count");
  return {
    group_commits: commits,
    commands_per_commit: round(d("propnet_commit_batch_commands_sum") / Math.max(1, commits), 1),
    commit_handoff_ms_avg: round((d("propnet_commit_seconds_sum") * 1000) / Math.max(1, commits)),
    server_request_ms_avg: round((d("propnet_http_request_seconds_sum") * 1000) / Math.max(1, requests)),
  };
}

function cpuFigures(server: ProcessCpu, generator: number, result: JobResult) {
  const wall = result.seconds;
  return {
    server_main_thread_cpu_s: round(server.main),
    server_other_threads_cpu_s: round(server.other),
    server_cores_used: round((server.main + server.other) / wall),
    server_main_thread_ms_per_order: round((server.main * 1000) / Math.max(1, result.ok), 3),
    generator_cpu_s: round(generator),
    generator_cores_used: round(generator / wall),
    generator_ms_per_order: round((generator * 1000) / Math.max(1, result.ok), 3),
  };
}

/**
 * Signed, durable orders over HTTP: a real `propnet serve --block-time 12000` process, a load
 * generator in its own process signing each order just in time with WASM sr25519. Closed loop for
 * throughput against the raw WASM verify rate of this machine (measured before and after, same
 * run); then an open loop at a fixed rate (1,000/s) for latency while a block is produced, and one
 * at half the closed-loop throughput (latency when the server keeps up); the CPU split between
 * server (main thread and the rest) and generator for each.
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const entities = Number(args.entities ?? 20);
  const perEntity = Number(args["per-entity"] ?? 100);
  const concurrency = Number(args.concurrency ?? 64);
  const closedSeconds = Number(args["closed-seconds"] ?? 10);
  const openRate = Number(args.rate ?? 1_000);
  // 13 s: one 12 s block tick certainly falls inside the open loop.
  const openSeconds = Number(args["open-seconds"] ?? 13);
  const blockTime = Number(args["block-time"] ?? 12_000);
  const loadavg = round(os.loadavg()[0] as number);
  await cryptoWaitReady();
  await wasmReady();

  const verifyBefore = verifyRate(2);
  log(`raw WASM sr25519 verify: ${Math.round(verifyBefore)}/s`);

  const dir = mkdtempSync(join(tmpdir(), "propnet-bench-orders-"));
  // `--profile DIR`: server and generator run with --cpu-prof; profiles land in DIR and DIR/generator.
  const nodeArgs = args.profile ? ["--cpu-prof", `--cpu-prof-dir=${args.profile}`] : [];
  const server = await startServer({ dataDir: dir, blockTime, nodeArgs });
  const generator = new LoadGenerator(args.profile ? ["--cpu-prof", `--cpu-prof-dir=${join(args.profile, "generator")}`] : []);
  try {
    // ---- setup (not timed) ----
    const setupStart = performance.now();
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const alicePair = keyring.addFromUri("//Alice");
    const alice = new PropnetClient({ baseUrl: server.url, signer: alicePair });
    const pairs = Array.from({ length: entities }, (_, i) => keyring.addFromUri(entityUri(i)));
    // Registrations first: collateral may be deposited only for a hotkey its coldkey registered.
    const registrations = await Promise.all(pairs.map((p) => alice.chainExtrinsic("subtensor.burned_register", { netuid: 1, hotkey: p.address })));
    const deposits = await Promise.all(pairs.map((p) => alice.chainExtrinsic("collateral.deposit", { hotkey: p.address, amount_rao: COLLATERAL_RAO })));
    const extrinsics = [...registrations, ...deposits];
    const failed = extrinsics.find((r) => !r.ok);
    if (failed) throw new Error(`setup extrinsic failed: ${JSON.stringify(failed.body)}`);
    const registered = await Promise.all(pairs.map((p) => new PropnetClient({ baseUrl: server.url, signer: p }).registerEntity()));
    const refused = registered.find((r) => !r.ok);
    if (refused) throw new Error(`entity registration refused: ${JSON.stringify(refused.body)}`);
    const prices = await alice.postPrices(BENCH_PAIRS.map((pair) => ({ trade_pair: pair, price: BENCH_PRICES[pair] as number, ts_ms: Date.now() })));
    if (!prices.ok || prices.body.accepted !== BENCH_PAIRS.length) throw new Error(`prices refused: ${JSON.stringify(prices.body)}`);
    const subs = await generator.run({ kind: "subaccounts", url: server.url, concurrency, entities, perEntity });
    if (subs.ok !== entities * perEntity) throw new Error(`subaccounts: ${JSON.stringify(subs.errors)}`);
    log(`setup: ${entities} entities x ${perEntity} subaccounts in ${round((performance.now() - setupStart) / 1000)} s`);

    const orders = { kind: "orders" as const, url: server.url, entities, subaccountsPerEntity: perEntity };
    await generator.run({ ...orders, mode: "closed", concurrency, seconds: 2 }); // JIT warm-up, both sides

    // ---- closed loop: the most the server takes ----
    let scraped = await metrics(server.url);
    let cpu = processCpu(server.pid);
    const closed = await generator.run({ ...orders, mode: "closed", concurrency, seconds: closedSeconds });
    const closedServerCpu = cpuDelta(processCpu(server.pid), cpu);
    const closedWriter = writerFigures(scraped, await metrics(server.url));
    log(`closed loop: ${closed.per_s} orders/s, errors ${JSON.stringify(closed.errors)}`);

    // ---- open loop at a fixed rate, while a block with an extrinsic is produced ----
    const headBefore = await alice.chainHead();
    scraped = await metrics(server.url);
    cpu = processCpu(server.pid);
    // A transfer waits for the next block tick, so that block is produced (and logged) mid-run.
    const transfer = alice.chainExtrinsic("balances.transfer", { dest: keyring.addFromUri("//Bob").address, amount_rao: "1" });
    const open = await generator.run({ ...orders, mode: "open", rate: openRate, concurrency: 256, seconds: openSeconds });
    const openServerCpu = cpuDelta(processCpu(server.pid), cpu);
    const openWriter = writerFigures(scraped, await metrics(server.url));
    const included = await transfer;
    const headAfter = await alice.chainHead();
    log(`open loop: ${open.per_s} orders/s, p99 ${open.latency.p99_ms} ms, errors ${JSON.stringify(open.errors)}`);

    // ---- open loop at half the closed-loop throughput: latency when the server keeps up ----
    const halfRate = Math.max(50, Math.round(closed.per_s / 2));
    scraped = await metrics(server.url);
    cpu = processCpu(server.pid);
    const half = await generator.run({ ...orders, mode: "open", rate: halfRate, concurrency: 256, seconds: Number(args["half-seconds"] ?? 6) });
    const halfServerCpu = cpuDelta(processCpu(server.pid), cpu);
    const halfWriter = writerFigures(scraped, await metrics(server.url));
    log(`open loop at ${halfRate}/s: p99 ${half.latency.p99_ms} ms, errors ${JSON.stringify(half.errors)}`);

    await generator.close();
    const verifyAfter = verifyRate(2);
    const verify = (verifyBefore + verifyAfter) / 2;
    const cores = 1;
    return {
      loadavg_1m_at_start: loadavg,
      traders: entities * perEntity,
      raw_wasm_verify_per_s: Math.round(verify),
      raw_wasm_verify_per_s_before_after: [Math.round(verifyBefore), Math.round(verifyAfter)],
      server_cores_assumed: cores,
      closed_concurrency: concurrency,
      orders_per_s: closed.per_s,
      orders: closed.ok,
      order_errors: closed.errors,
      ratio_vs_verify_x_cores: round(closed.per_s / (verify * cores), 3),
      closed_latency_ms_p50: closed.latency.p50_ms,
      closed_latency_ms_p99: closed.latency.p99_ms,
      closed_cpu: cpuFigures(closedServerCpu, closed.cpu_s, closed),
      closed_writer: closedWriter,
      open_rate_per_s: openRate,
      open_seconds: openSeconds,
      open_achieved_per_s: open.per_s,
      open_errors: open.errors,
      open_latency_ms_p50: open.latency.p50_ms,
      open_latency_ms_p99: open.latency.p99_ms,
      open_latency_ms_max: open.latency.max_ms,
      open_latency_from_schedule_ms_p99: open.latency_from_schedule?.p99_ms,
      open_max_in_flight: open.max_in_flight,
      open_cpu: cpuFigures(openServerCpu, open.cpu_s, open),
      open_writer: openWriter,
      half_rate_per_s: halfRate,
      half_achieved_per_s: half.per_s,
      half_errors: half.errors,
      half_latency_ms_p50: half.latency.p50_ms,
      half_latency_ms_p99: half.latency.p99_ms,
      half_latency_ms_max: half.latency.max_ms,
      half_cpu: cpuFigures(halfServerCpu, half.cpu_s, half),
      half_writer: halfWriter,
      blocks_during_open_loop: headAfter.ok && headBefore.ok ? headAfter.body.block - headBefore.body.block : null,
      extrinsic_block_during_open_loop: included.ok ? included.body.included_in_block : null,
    };
  } finally {
    await generator.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
