import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { PropnetClient } from "../src/client/propnet-client.ts";
import type { Command } from "../src/core/machine/commands.ts";
import { logPath, PropnetNode } from "../src/node/node.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.ts";
import { cpuDelta, entityUri, LoadGenerator, log, processCpu, ROOT_DIR, round, startServer, summarize } from "./http-bench.ts";
import { chainGenesis, COLLATERAL_RAO, createSubaccount, entityHotkeys, genesisEndowments, neuronBlock, registerEntity } from "./subaccount-core.ts";

/** The Python manager we learn from, on this machine, for 10 entities x 500 subaccounts (issue 4). */
const PYTHON_MANAGER_S = 34.4;

/**
 * Subaccount creation three ways:
 *  a. core + durable store: 10 entities x 500 through PropnetNode (SQLite, fsync per group commit),
 *     against the Python manager's fixed 34.4 s;
 *  b. RSS and heap per fresh subaccount: 100 x 500 in core only, in a child run with --expose-gc;
 *  c. signed HTTP: 100 x 500 against a real `propnet serve` process, from a load generator in its
 *     own process; baseline GET /v1/time requests/s in the same run.
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  await cryptoWaitReady();
  // Other work on the machine skews every figure here: say how busy it was.
  const loadavg = round(os.loadavg()[0] as number);
  const coreEntities = Number(args["core-entities"] ?? 10);
  const a = await coreDurable(coreEntities, Number(args["per-entity"] ?? 500), args.clients);
  // The same again in a fresh node and directory, this process's code now warm (as in a server that
  // has been up a while); the cold figure above is the one to hold against the floor.
  const warm = await coreDurable(coreEntities, Number(args["per-entity"] ?? 500), args.clients);
  a.core_total_s_warm = warm.core_total_s;
  a.core_group_commits_warm = warm.core_group_commits;
  const b = await rssPerSubaccount(Number(args["rss-entities"] ?? 100), Number(args["per-entity"] ?? 500));
  const c = await overHttp(Number(args["http-entities"] ?? 100), Number(args["per-entity"] ?? 500), Number(args.concurrency ?? 64), args.profile);
  return { loadavg_1m_at_start: loadavg, ...a, ...b, ...c };
}

// ---- a. core and the durable store -----------------------------------------------------------------

async function coreDurable(entities: number, perEntity: number, clientsArg: string | undefined): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "propnet-bench-subaccounts-"));
  try {
    const commitMs: number[] = [];
    const node = await PropnetNode.open({
      dataDir: dir,
      genesis: genesisEndowments,
      chainGenesis,
      snapshotEvery: 1e12,
      onCommit: (stats) => {
        commitMs.push(stats.commitMs);
      },
    });
    const submit = async (command: Command) => {
      const outcome = await node.submit({ command, signer: "request" in command ? (command.request?.signer ?? null) : null });
      if (!outcome.ok) throw outcome.error;
      return outcome;
    };
    const hotkeys = entityHotkeys(entities);
    const block = await submit(neuronBlock(hotkeys, node.clock.now()));
    if (block.events[0]?.payload.includes('"failed"')) throw new Error("a setup extrinsic failed");
    await Promise.all(hotkeys.map((h) => submit(registerEntity(h, node.clock.now()))));
    const bytesBefore = SqliteStore.sizeOnDisk(logPath(dir));
    commitMs.length = 0;

    // Timed: every creation submitted, each acknowledged only once its group commit is fsynced.
    const total = entities * perEntity;
    const clients = Math.min(total, Number(clientsArg ?? total));
    const t = performance.now();
    let next = 0;
    const client = async () => {
      while (next < total) {
        const k = next++;
        await submit(createSubaccount(hotkeys[k % entities] as string, node.clock.now()));
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
    const seconds = (performance.now() - t) / 1000;

    const created = await node.read((state) => state.entities.subaccounts.size);
    const reserved = await node.read((state) => hotkeys.every((h) => state.entities.entities.get(h)?.reservedRao === 4n * 1_000_000_000n * BigInt(perEntity)));
    if (created !== total || !reserved) throw new Error(`expected ${total} subaccounts reserving 4 TAO each, found ${created}`);
    await node.close({ snapshot: false });
    const bytes = SqliteStore.sizeOnDisk(logPath(dir)) - bytesBefore;
    return {
      core_subaccounts: total,
      core_clients: clients,
      core_total_s: round(seconds, 4),
      core_creations_per_s: Math.round(total / seconds),
      core_group_commits: commitMs.length,
      core_commit_ms_p50: summarize(commitMs).p50_ms,
      core_commit_ms_max: summarize(commitMs).max_ms,
      core_log_bytes_written: bytes,
      python_manager_s: PYTHON_MANAGER_S,
      ratio_vs_python: Math.round(PYTHON_MANAGER_S / seconds),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- b. memory per subaccount ----------------------------------------------------------------------

async function rssPerSubaccount(entities: number, perEntity: number): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--expose-gc", "--import", "tsx", join(ROOT_DIR, "bench", "subaccount-rss.ts"), String(entities), String(perEntity)],
    { cwd: ROOT_DIR, maxBuffer: 1 << 20 },
  );
  const r = JSON.parse(stdout.trim().split("\n").pop() as string) as Record<string, number>;
  return {
    rss_subaccounts: r.subaccounts,
    rss_bytes_per_subaccount: r.rss_bytes_per_subaccount,
    heap_used_bytes_per_subaccount: r.heap_used_bytes_per_subaccount,
    rss_mb_before_after: [r.rss_before_mb, r.rss_after_mb],
    core_only_creations_per_s: r.core_creations_per_s,
  };
}

// ---- c. signed HTTP ------------------------------------------------------------------------------

async function overHttp(entities: number, perEntity: number, concurrency: number, profileDir?: string): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), "propnet-bench-subaccounts-http-"));
  // `--profile DIR`: the server runs with --cpu-prof, its profile written to DIR when it stops.
  const nodeArgs = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const server = await startServer({ dataDir: dir, blockTime: 0, nodeArgs });
  const generator = new LoadGenerator();
  try {
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const alice = new PropnetClient({ baseUrl: server.url, signer: keyring.addFromUri("//Alice") });
    const pairs = Array.from({ length: entities }, (_, i) => keyring.addFromUri(entityUri(i)));
    // Setup (not timed): every entity hotkey a neuron with 5,000 TAO collateral, then registered.
    const setupStart = performance.now();
    // Registrations first: collateral may be deposited only for a hotkey its coldkey registered.
    const registrations = await Promise.all(pairs.map((p) => alice.chainExtrinsic("subtensor.burned_register", { netuid: 1, hotkey: p.address })));
    const deposits = await Promise.all(pairs.map((p) => alice.chainExtrinsic("collateral.deposit", { hotkey: p.address, amount_rao: COLLATERAL_RAO.toString() })));
    const extrinsics = [...registrations, ...deposits];
    const failedExtrinsic = extrinsics.find((r) => !r.ok);
    if (failedExtrinsic) throw new Error(`setup extrinsic failed: ${JSON.stringify(failedExtrinsic.body)}`);
    const registered = await Promise.all(pairs.map((p) => new PropnetClient({ baseUrl: server.url, signer: p }).registerEntity()));
    const refused = registered.find((r) => !r.ok);
    if (refused) throw new Error(`entity registration refused: ${JSON.stringify(refused.body)}`);
    log(`http setup: ${entities} entities in ${round((performance.now() - setupStart) / 1000)} s`);

    // Baseline: the same server and generator, GET /v1/time (no signature, no write).
    const baseline = await generator.run({ kind: "time", url: server.url, concurrency, seconds: 3 });
    log(`baseline GET /v1/time: ${baseline.per_s}/s`);

    const cpuBefore = processCpu(server.pid);
    const created = await generator.run({ kind: "subaccounts", url: server.url, concurrency, entities, perEntity });
    const serverCpu = cpuDelta(processCpu(server.pid), cpuBefore);
    log(`http creations: ${created.per_s}/s, errors ${JSON.stringify(created.errors)}`);

    const check = await new PropnetClient({ baseUrl: server.url, signer: pairs[entities - 1] }).getEntity(pairs[entities - 1]?.address as string);
    const lastActive = check.ok ? check.body.entity.active_subaccounts : -1;
    return {
      http_subaccounts: entities * perEntity,
      http_created: created.ok,
      http_errors: created.errors,
      http_concurrency: concurrency,
      http_total_s: round(created.seconds, 2),
      http_creations_per_s: created.per_s,
      http_latency_ms_p50: created.latency.p50_ms,
      http_latency_ms_p99: created.latency.p99_ms,
      http_server_cpu_s: { main_thread: round(serverCpu.main), other_threads: round(serverCpu.other) },
      http_generator_cpu_s: round(created.cpu_s),
      http_last_entity_active: lastActive,
      baseline_get_time_per_s: baseline.per_s,
      baseline_get_time_latency_ms_p99: baseline.latency.p99_ms,
      ratio_creations_vs_get_time: round(created.per_s / baseline.per_s, 3),
    };
  } finally {
    await generator.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
