import { applyEffect } from "../src/core/chain/effects.ts";
import { alpha } from "../src/core/ledger/asset.ts";
import { RECOUNT_BUCKETS } from "../src/core/ledger/ledger.ts";
import { bucketsPerBlock, checkBlockInvariants, fullRecount, stateInvariants } from "../src/core/invariants/chain-invariants.ts";
import { account } from "../src/core/chain/chain-state.ts";
import { execute } from "../src/core/machine/execute.ts";
import { createState } from "../src/core/machine/state.ts";
import { prng } from "../src/core/random/prng.ts";

const TAO_RAO = 1_000_000_000n;

/**
 * The per-block recount (DESIGN.md §3.1, §3.6) at 128 subnets x 4,096 staked hotkeys = 524,288
 * stake pools and as many stake accounts: what one block's onFinalize check costs (O(1)
 * identities plus one recount bucket) against the O(1) identities alone (the baseline, same run),
 * how many blocks a full pass takes, the full O(N) recount that unpause and verify run, and how
 * many blocks it takes to find a cell written behind the ledger's back (random cells).
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const subnets = Number(args.subnets ?? 128);
  const hotkeys = Number(args.hotkeys ?? 4_096);
  const state = createState({ strict: false });
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
  const atBlock = (block: number) => state.chain.head.set("head", { block, timestampMs: 0, emission: 0n });

  const runs = Number(args.runs ?? 1_000);
  for (let i = 0; i < 200; i++) stateInvariants(state); // warm-up
  let t = performance.now();
  for (let i = 0; i < runs; i++) if (stateInvariants(state).length > 0) throw new Error("identities fail");
  const identitiesMs = (performance.now() - t) / runs;
  const perBlock: number[] = [];
  for (let i = 0; i < runs; i++) {
    atBlock(i);
    t = performance.now();
    if (checkBlockInvariants(state, totals).length > 0) throw new Error("invariants fire");
    perBlock.push(performance.now() - t);
  }
  perBlock.sort((a, b) => a - b);
  const mean = perBlock.reduce((a, b) => a + b, 0) / perBlock.length;

  t = performance.now();
  if (fullRecount(state, null).length > 0) throw new Error("full recount fails");
  const fullMs = performance.now() - t;

  // Detection: corrupt a random stake account by +1 rao, run blocks until its bucket is recounted.
  const rand = prng(7);
  const trials = Number(args.trials ?? 20);
  let worst = 0;
  let sum = 0;
  for (let trial = 0; trial < trials; trial++) {
    const netuid = 1 + Math.floor(rand() * subnets);
    const handle = state.ledger.account(alpha(netuid), account.stake(`hot-${Math.floor(rand() * hotkeys)}`));
    const was = state.ledger.balance(handle);
    state.ledger.corruptForTest(handle, was + 1n);
    const start = Math.floor(rand() * 1_000_000);
    let blocks = 0;
    for (;;) {
      atBlock(start + blocks);
      blocks++;
      if (checkBlockInvariants(state, totals).length > 0) break;
      if (blocks > RECOUNT_BUCKETS / bucketsPerBlock(state)) throw new Error("corruption not found within a full pass");
    }
    state.ledger.corruptForTest(handle, was);
    worst = Math.max(worst, blocks);
    sum += blocks;
  }

  return {
    stake_pools: subnets * hotkeys,
    ledger_accounts: state.ledger.accountCount,
    recount_buckets: RECOUNT_BUCKETS,
    buckets_per_block: bucketsPerBlock(state),
    blocks_per_full_pass: Math.ceil(RECOUNT_BUCKETS / bucketsPerBlock(state)),
    block_check_ms_mean: Number(mean.toFixed(3)),
    block_check_ms_p99: Number((perBlock[Math.floor(perBlock.length * 0.99)] as number).toFixed(3)),
    baseline_o1_identities_ms: Number(identitiesMs.toFixed(3)),
    ratio_block_check_vs_identities: Number((mean / identitiesMs).toFixed(1)),
    full_recount_ms: Math.round(fullMs),
    detection_blocks_mean: Number((sum / trials).toFixed(1)),
    detection_blocks_worst: worst,
  };
}
