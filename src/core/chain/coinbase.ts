import { alpha, TAO } from "../ledger/asset.ts";
import type { State } from "../machine/state.ts";
import { account } from "./chain-state.ts";
import type { Effect } from "./effects.ts";
import { blockEmission, flowShareWeights, injection, nextFlowEma, splitByWeight, splitParticipantAlpha } from "./emission.ts";
import { swapTaoForAlpha } from "./pool.ts";

/** What the coinbase put in, for onFinalize to compare with what the ledger says was minted. */
export interface CoinbaseTotals {
  /** The block's TAO emission by the schedule (the head shows it), whether or not any subnet had a share. */
  blockEmission: bigint;
  /** What the shares assigned and so what must be minted: the block emission, or 0 when no subnet has a positive share. */
  emission: bigint;
  /** TAO injected into pools, spent buying excess alpha, or recycled for paused subnets. */
  injected: bigint;
  /** Per active subnet: alpha_in + alpha_out minted. */
  expectedAlpha: Map<number, bigint>;
}

/**
 * onInitialize's emission (Subtensor `run_coinbase`): the block emission is split across subnets
 * by the EMA of their net TAO flow, each part injected into its pool (TAO and alpha in), alpha out
 * minted to the pending accounts; a paused subnet's part is minted and recycled.
 */
export function runCoinbase(state: State, emit: (e: Effect) => void): CoinbaseTotals {
  const { ledger, chain } = state;
  const emission = blockEmission(ledger.totals(TAO).issuance);
  const netuids = chain.subnets.sortedKeys();
  const expectedAlpha = new Map<number, bigint>();
  // Shares by the EMA of net TAO flow (`get_shares_flow`), paused subnets included: every subnet's
  // EMA takes in the block's flow. Stake moves the split only through the EMA, so a stake (or a
  // stake and unstake) cannot buy a block's emission as it could with a split by spot price.
  // The new EMA is recorded in the effect, so applying it never re-runs this rule.
  const emas = netuids.map((u) => {
    const s = chain.subnets.get(u);
    return s ? nextFlowEma(s.taoFlowEma, s.taoFlow) : 0n;
  });
  // With no positive share every part is 0: nothing is minted, as upstream.
  const parts = splitByWeight(emission, flowShareWeights(emas));
  let injected = 0n;
  netuids.forEach((netuid, i) => {
    const part = parts[i] as bigint;
    const flowEma = emas[i] as bigint;
    const s = chain.subnets.get(netuid);
    if (!s) return;
    if (s.paused) {
      emit({ k: "paused_recycle", netuid, tao: part, flow_ema: flowEma });
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
      flow_ema: flowEma,
    });
    injected += inj.taoIn + inj.excessTao;
    expectedAlpha.set(netuid, inj.alphaIn + inj.alphaOut);
  });
  return { blockEmission: emission, emission: parts.reduce((x, y) => x + y, 0n), injected, expectedAlpha };
}
