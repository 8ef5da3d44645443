import { alpha, TAO } from "../ledger/asset.ts";
import type { State } from "../machine/state.ts";
import { account } from "./chain-state.ts";
import type { Effect } from "./effects.ts";
import { blockEmission, injection, splitByWeight, splitParticipantAlpha } from "./emission.ts";
import { swapTaoForAlpha } from "./pool.ts";

/** What the coinbase put in, for onFinalize to compare with what the ledger says was minted. */
export interface CoinbaseTotals {
  /** The block's TAO emission. */
  emission: bigint;
  /** TAO injected into pools, spent buying excess alpha, or recycled for paused subnets. */
  injected: bigint;
  /** Per active subnet: alpha_in + alpha_out minted. */
  expectedAlpha: Map<number, bigint>;
}

const PRICE_SCALE = 1_000_000_000n;

/**
 * onInitialize's emission (Subtensor `run_coinbase`): the block emission is split across subnets,
 * each part injected into its pool (TAO and alpha in), alpha out minted to the pending accounts;
 * a paused subnet's part is minted and recycled.
 */
export function runCoinbase(state: State, emit: (e: Effect) => void): CoinbaseTotals {
  const { ledger, chain } = state;
  const emission = blockEmission(ledger.totals(TAO).issuance);
  const netuids = chain.subnets.sortedKeys();
  const expectedAlpha = new Map<number, bigint>();
  // TAO is split across subnets by pool price (Subtensor's price-EMA shares, without the EMA).
  const prices = netuids.map((u) => {
    const a = ledger.balanceOf(alpha(u), account.alphaIn(u));
    return a === 0n ? 0n : (ledger.balanceOf(TAO, account.subnetTao(u)) * PRICE_SCALE) / a;
  });
  const parts = splitByWeight(emission, prices);
  let injected = 0n;
  netuids.forEach((netuid, i) => {
    const part = parts[i] as bigint;
    const s = chain.subnets.get(netuid);
    if (!s) return;
    if (s.paused) {
      emit({ k: "paused_recycle", netuid, tao: part });
      injected += part;
      return;
    }
    const a = alpha(netuid);
    const taoReserve = ledger.balanceOf(TAO, account.subnetTao(netuid));
    const alphaReserve = ledger.balanceOf(a, account.alphaIn(netuid));
    const alphaEmission = blockEmission(ledger.totals(a).issuance);
    const inj = injection({ taoEmission: part, taoReserve, alphaReserve, alphaEmission, taoBlockEmission: emission });
    const bought =
      inj.excessTao > 0n
        ? swapTaoForAlpha({ tao: taoReserve + inj.taoIn, alpha: alphaReserve + inj.alphaIn }, inj.excessTao, { dropFees: true }).alphaOut
        : 0n;
    const split = splitParticipantAlpha(inj.alphaOut);
    emit({
      k: "coinbase",
      netuid,
      tao_in: inj.taoIn,
      alpha_in: inj.alphaIn,
      excess: inj.excessTao,
      bought: bought,
      alpha_out: inj.alphaOut,
      owner_cut: split.ownerCut,
      server: split.server,
      validator: split.validator,
    });
    injected += inj.taoIn + inj.excessTao;
    expectedAlpha.set(netuid, inj.alphaIn + inj.alphaOut);
  });
  // The split floors to zero when every price is zero: recycle it so minted == emission holds.
  const unsplit = emission - parts.reduce((x, y) => x + y, 0n);
  if (unsplit > 0n && netuids.length > 0) {
    emit({ k: "paused_recycle", netuid: netuids[0] as number, tao: unsplit });
    injected += unsplit;
  }
  return { emission, injected, expectedAlpha };
}
