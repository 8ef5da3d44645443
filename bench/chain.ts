import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyEffect } from "../src/core/chain/effects.ts";
import { alpha, TAO } from "../src/core/ledger/asset.ts";
import { execute } from "../src/core/machine/execute.ts";
import { createState } from "../src/core/machine/state.ts";
import { checkBlockInvariants, fullRecount } from "../src/core/invariants/chain-invariants.ts";
import { RECOUNT_BUCKETS } from "../src/core/ledger/ledger.ts";
import { isEpochBlock } from "../src/core/chain/chain-state.ts";
import { MAX_OWED_BLOCKS } from "../src/node/block-producer.ts";
import { logPath, PropnetNode } from "../src/node/node.ts";
import { simulate } from "../src/node/simulator.ts";
import { SqliteStore } from "../src/store/sqlite-store.ts";

const TAO_RAO = 1_000_000_000n;

/**
 * The devnet chain: simulate speed (8 subnets x 256 neurons, tempo 360, epochs included) against
 * the same run without epochs; invariant checking per block against a full recount at 128 subnets
 * x 4,096 staked hotkeys; bytes of log per day at 12 s blocks with one subnet.
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const blocks = Number(args.blocks ?? 10_000);
  simulate({ blocks: 1_000, subnets: 8, neurons: 256, seed: 2, tempo: 360 }); // JIT warm-up
  const withEpochs = simulate({ blocks, subnets: 8, neurons: 256, seed: 1, tempo: 360 });
  const noEpochs = simulate({ blocks, subnets: 8, neurons: 256, seed: 1, tempo: 1_000_000 });

  // 128 subnets, 4,096 hotkeys each staked on every subnet: 524,288 stake pools.
  const subnets = Number(args.subnets ?? 128);
  const hotkeys = Number(args.hotkeys ?? 4_096);
  const state = createState({ strict: true });
  const r = execute(state, {
    kind: "genesis",
    endowments: [{ owner: "staker", amount_rao: 1_000_000n * TAO_RAO }],
    chain: { root: "root", subnets: Array.from({ length: subnets }, (_, i) => ({ netuid: i + 1, ownerHotkey: `owner-${i + 1}`, ownerColdkey: "staker" })) },
  });
  if (r.error) throw r.error;
  state.ledger.beginScope("setup");
  for (let netuid = 1; netuid <= subnets; netuid++) {
    for (let h = 0; h < hotkeys; h++) {
      applyEffect(state, { k: "stake_added", netuid, hotkey: `hot-${h}`, coldkey: "staker", tao: "1000", alpha: "900" });
    }
  }
  state.ledger.endScope();
  const totals = { emission: 0n, mintedTao: 0n, injected: 0n, mintedAlpha: new Map<number, bigint>(), expectedAlpha: new Map<number, bigint>() };
  const o1Runs = 200;
  let t = performance.now();
  // Each run recounts the next bucket (the head does not move here, so pick it by hand): a block's
  // whole onFinalize check, O(1) identities plus 1/RECOUNT_BUCKETS of the accounts and pools.
  for (let i = 0; i < o1Runs; i++) {
    state.chain.head.set("head", { block: i, timestampMs: 0, emission: 0n });
    if (checkBlockInvariants(state, totals).length > 0) throw new Error("invariants fire");
  }
  const o1Ms = (performance.now() - t) / o1Runs;
  t = performance.now();
  if (fullRecount(state, null).length > 0) throw new Error("full recount fails");
  const fullMs = performance.now() - t;
  const taoIssuance = state.ledger.totals(TAO).issuance;
  const alphaIssuance = state.ledger.totals(alpha(1)).issuance;

  // A day of 12 s blocks (7,200) with one subnet, through the real node and log.
  const dir = mkdtempSync(join(tmpdir(), "propnet-bench-chain-"));
  let bytesPerDay: number;
  let blocksPerSecondLogged: number;
  try {
    const node = await PropnetNode.open({
      dataDir: dir,
      snapshotEvery: 1e12,
      genesis: [{ owner: "alice", amount_rao: TAO_RAO }],
      chainGenesis: { root: "root", subnets: [{ netuid: 1, ownerHotkey: "owner", ownerColdkey: "alice" }] },
    });
    const before = SqliteStore.sizeOnDisk(logPath(dir));
    t = performance.now();
    // As the block producer logs them: empty blocks owed and logged as ranges of up to
    // MAX_OWED_BLOCKS, an epoch block on its own with its recorded payouts.
    const submit = async (command: Parameters<typeof node.submit>[0]["command"]) => {
      const outcome = await node.submit({ command });
      if (!outcome.ok) throw outcome.error;
    };
    let owed: number[] = [];
    for (let b = 1; b <= 7_200; b++) {
      if (isEpochBlock(b, 1, 360)) {
        if (owed.length > 0) await submit({ kind: "block_range", ts: owed });
        owed = [];
        await submit({ kind: "block", ts: b * 12_000, extrinsics: [] });
      } else {
        owed.push(b * 12_000);
        if (owed.length >= MAX_OWED_BLOCKS) {
          await submit({ kind: "block_range", ts: owed });
          owed = [];
        }
      }
    }
    if (owed.length > 0) await submit({ kind: "block_range", ts: owed });
    blocksPerSecondLogged = 7_200 / ((performance.now() - t) / 1000);
    await node.close({ snapshot: false });
    bytesPerDay = SqliteStore.sizeOnDisk(logPath(dir)) - before;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  return {
    simulate_blocks: blocks,
    simulate_blocks_per_s: Math.round(withEpochs.blocksPerSecond),
    simulate_ms_per_epoch: Number(withEpochs.msPerEpoch.toFixed(2)),
    epochs: withEpochs.epochs,
    baseline_no_epochs_blocks_per_s: Math.round(noEpochs.blocksPerSecond),
    ratio_with_vs_without_epochs: Number((withEpochs.blocksPerSecond / noEpochs.blocksPerSecond).toFixed(2)),
    invariant_subnets: subnets,
    invariant_stake_pools: subnets * hotkeys,
    invariant_block_check_ms: Number(o1Ms.toFixed(3)),
    recount_buckets: RECOUNT_BUCKETS,
    blocks_per_full_recount_pass: RECOUNT_BUCKETS,
    invariant_full_recount_ms: Math.round(fullMs),
    ratio_full_recount_vs_block_check: Math.round(fullMs / o1Ms),
    log_bytes_per_day_12s_blocks: bytesPerDay,
    logged_blocks_per_s: Math.round(blocksPerSecondLogged),
    check: `${taoIssuance > 0n && alphaIssuance > 0n}`,
  };
}
