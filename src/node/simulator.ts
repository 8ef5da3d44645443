import { type Extrinsic, produceBlock } from "../core/chain/block.ts";
import { account } from "../core/chain/chain-state.ts";
import type { Effect } from "../core/chain/effects.ts";
import { alpha, TAO } from "../core/ledger/asset.ts";
import { execute } from "../core/machine/execute.ts";
import { createState, type State, stateHash } from "../core/machine/state.ts";
import { prng } from "../core/random/prng.ts";

export interface SimulationOptions {
  blocks: number;
  subnets: number;
  neurons: number;
  seed: number;
  tempo?: number;
  /** Validators per subnet (the first uids, staked and setting weights). */
  validators?: number;
  blockTimeMs?: number;
  onBlock?: (block: number) => void;
  /** Called with each subnet's CSV row per block (without the newline). */
  onRow?: (netuid: number, row: string) => void;
}

export interface SimulationSummary {
  blocks: number;
  subnets: number;
  neurons: number;
  seconds: number;
  blocksPerSecond: number;
  epochs: number;
  msPerEpoch: number;
  totalIssuanceRao: bigint;
  violations: number;
  stateHash: string;
}

export const CSV_HEADER = "block,price,tao_in,alpha_in,alpha_out,pending,emission_miners,emission_validators";


const TAO_RAO = 1_000_000_000n;

/** Price as a decimal with 9 places, computed in integers so the CSV is identical on any machine. */
function price(tao: bigint, alphaReserve: bigint): string {
  if (alphaReserve === 0n) return "0";
  const scaled = (tao * TAO_RAO) / alphaReserve;
  return `${scaled / TAO_RAO}.${(scaled % TAO_RAO).toString().padStart(9, "0")}`;
}

/**
 * Runs the devnet chain with nothing persisted per block: each block executes directly in one
 * ledger scope (nothing is undone, re-applied or logged), with seeded registrations, stake and
 * weights. Strict mode:
 * any invariant violation throws.
 */
export function simulate(options: SimulationOptions): SimulationSummary {
  const random = prng(options.seed);
  const state: State = createState({ strict: true });
  const coldkeys = Array.from({ length: 16 }, (_, i) => `sim-cold-${i}`);
  const netuids = Array.from({ length: options.subnets }, (_, i) => i + 1);
  const validators = Math.min(options.validators ?? 16, options.neurons);
  const genesis = execute(state, {
    kind: "genesis",
    endowments: coldkeys.map((owner) => ({ owner, amount_rao: 100_000n * TAO_RAO })),
    chain: {
      root: "sim-root",
      tempo: options.tempo,
      subnets: netuids.map((netuid) => ({ netuid, ownerHotkey: `sim-owner-${netuid}`, ownerColdkey: coldkeys[0] as string })),
    },
  });
  if (genesis.error) throw genesis.error;

  const hotkey = (netuid: number, uid: number) => `sim-hot-${netuid}-${uid}`;
  const coldkeyOf = (uid: number) => coldkeys[uid % coldkeys.length] as string;
  // Registrations first: up to 64 per block, so a 256-neuron subnet fills in a few blocks.
  const registrations: Extrinsic[] = [];
  for (let uid = 0; uid < options.neurons; uid++) {
    for (const netuid of netuids) {
      registrations.push({ call: "subtensor.burned_register", signer: coldkeyOf(uid), args: { netuid, hotkey: hotkey(netuid, uid) } });
    }
  }

  let epochs = 0;
  let epochMs = 0;
  const started = performance.now();
  const blockTime = options.blockTimeMs ?? 12_000;
  for (let b = 1; b <= options.blocks; b++) {
    const extrinsics = registrations.splice(0, 64);
    if (registrations.length === 0 && random() < 0.25) {
      const netuid = netuids[Math.floor(random() * netuids.length)] as number;
      const uid = Math.floor(random() * validators);
      if (random() < 0.5) {
        extrinsics.push({
          call: "subtensor.add_stake",
          signer: coldkeyOf(uid),
          args: { netuid, hotkey: hotkey(netuid, uid), amount_rao: `${1 + Math.floor(random() * 20)}000000000` },
        });
      } else {
        const uids: number[] = [];
        const weights: number[] = [];
        for (let j = validators; j < options.neurons; j += 1 + Math.floor(random() * 8)) {
          uids.push(j);
          weights.push(1 + Math.floor(random() * 65_534));
        }
        extrinsics.push({ call: "subtensor.set_weights", signer: hotkey(netuid, uid), args: { netuid, uids, weights } });
      }
    }
    // Journaled (a failing extrinsic rolls back to its savepoint) and kept: no undo, no apply, no log.
    state.ledger.beginScope("block", { journal: true });
    state.journal.begin();
    const t = performance.now();
    const event = produceBlock(state, { kind: "block", ts: b * blockTime, extrinsics });
    state.ledger.endScope();
    state.ledger.keep();
    state.journal.keep();
    const effects = event.payload.effects as unknown as Effect[];
    const blockEpochs = effects.filter((e) => e.k === "epoch").length;
    if (blockEpochs > 0) {
      epochs += blockEpochs;
      epochMs += performance.now() - t;
    }
    if (options.onRow) {
      for (const netuid of netuids) {
        const cb = effects.find((e) => e.k === "coinbase" && e.netuid === netuid);
        const ep = effects.find((e) => e.k === "epoch" && e.netuid === netuid);
        const a = alpha(netuid);
        const { ledger } = state;
        const pending =
          ledger.balanceOf(a, account.pendingServer(netuid)) +
          ledger.balanceOf(a, account.pendingValidator(netuid)) +
          ledger.balanceOf(a, account.pendingOwnerCut(netuid));
        let miners = 0n;
        let vals = 0n;
        if (ep && ep.k === "epoch") {
          for (const [, inc, take, shared] of ep.pays) {
            miners += BigInt(inc);
            vals += BigInt(take) + BigInt(shared);
          }
        }
        const c = cb && cb.k === "coinbase" ? cb : null;
        options.onRow(
          netuid,
          [
            b,
            price(ledger.balanceOf(TAO, account.subnetTao(netuid)), ledger.balanceOf(a, account.alphaIn(netuid))),
            c?.tao_in ?? "0",
            c?.alpha_in ?? "0",
            c?.alpha_out ?? "0",
            pending,
            miners,
            vals,
          ].join(","),
        );
      }
    }
    options.onBlock?.(b);
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    blocks: options.blocks,
    subnets: options.subnets,
    neurons: options.neurons,
    seconds,
    blocksPerSecond: options.blocks / seconds,
    epochs,
    msPerEpoch: epochs > 0 ? epochMs / epochs : 0,
    totalIssuanceRao: state.ledger.totals(TAO).issuance,
    violations: state.violations.length,
    stateHash: stateHash(state),
  };
}
