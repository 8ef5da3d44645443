import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isEpochBlock } from "../src/core/chain/chain-state.ts";
import { MAX_OWED_BLOCKS } from "../src/node/block-producer.ts";
import { logPath, PropnetNode } from "../src/node/node.ts";
import { simulate } from "../src/node/simulator.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.ts";

const TAO_RAO = 1_000_000_000n;

/**
 * The devnet chain: simulate speed (8 subnets x 256 neurons, tempo 360, epochs included) against
 * the same run without epochs; bytes of log per day at 12 s blocks with one subnet. (The per-block
 * invariant check at 524,288 stake pools is `npm run bench -- recount`.)
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const blocks = Number(args.blocks ?? 10_000);
  simulate({ blocks: 1_000, subnets: 8, neurons: 256, seed: 2, tempo: 360 }); // JIT warm-up
  const withEpochs = simulate({ blocks, subnets: 8, neurons: 256, seed: 1, tempo: 360 });
  const noEpochs = simulate({ blocks, subnets: 8, neurons: 256, seed: 1, tempo: 1_000_000 });

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
    const t = performance.now();
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
    log_bytes_per_day_12s_blocks: bytesPerDay,
    logged_blocks_per_s: Math.round(blocksPerSecondLogged),
  };
}
