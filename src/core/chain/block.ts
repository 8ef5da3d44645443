import { AssertionFailure, DomainError, ValidationError } from "../errors/errors.ts";
import { alpha, TAO } from "../ledger/asset.ts";
import type { EventDraft } from "../machine/event.ts";
import type { State } from "../machine/state.ts";
import { checkChainInvariants, type ChainViolation } from "../invariants/chain-invariants.ts";
import { account, head, isEpochBlock, key, params } from "./chain-state.ts";
import { applyEffect, type Effect, VALIDATOR_TAKE } from "./effects.ts";
import { blockEmission, injection, splitByWeight, splitParticipantAlpha, U16_MAX } from "./emission.ts";
import { swapAlphaForTao, swapTaoForAlpha } from "./pool.ts";
import { createSharePool, unstake, valueOf } from "./share-pool.ts";
import { splitByLargestRemainder, yumaEpoch } from "./yuma.ts";

/** One devnet extrinsic, signed by `signer` (checked at the edge). Args are validated here too. */
export interface Extrinsic {
  call: string;
  signer: string;
  args: Record<string, unknown>;
}

export interface BlockCommand {
  kind: "block";
  ts: number;
  extrinsics: Extrinsic[];
}

/** Test-only seams for fault injection: called inside the block, before onFinalize. */
export interface BlockHooks {
  beforeFinalize?: (state: State) => void;
  /** Replaying a recorded range: a violation was already recorded when it happened, never throw. */
  replaying?: boolean;
}

/** Empty blocks (no extrinsics, no epoch) logged as one event: their times, in order. */
export interface BlockRangeCommand {
  kind: "block_range";
  ts: number[];
}

/**
 * Produces a run of empty blocks as one command and one event. The event records only the
 * blocks' times: applying it derives each block again with this same code (integer emission
 * math only, no extrinsics, no epoch), which execute proves equal to what happened.
 */
export function produceBlockRange(state: State, command: BlockRangeCommand, hooks: BlockHooks = {}): EventDraft {
  if (command.ts.length === 0) throw new ValidationError("a block range needs at least one block");
  const from = head(state.chain).block + 1;
  // An epoch's payouts come from Yuma (floats): they must be recorded, so epochs are never in a range.
  for (let n = from; n < from + command.ts.length; n++) {
    for (const netuid of state.chain.subnets.sortedKeys()) {
      const s = state.chain.subnets.get(netuid);
      if (s && isEpochBlock(n, netuid, s.tempo)) throw new ValidationError(`block ${n} runs an epoch on subnet ${netuid}: it cannot be in a range`);
    }
  }
  for (const ts of command.ts) {
    const event = produceBlock(state, { kind: "block", ts, extrinsics: [] }, hooks);
    // Only routine blocks may be re-derived on replay. A block that found a violation saw state
    // the log may not reproduce (corruption behind the ledger's back), so it must be logged with
    // its effects: refuse, and the producer logs these blocks one by one.
    const effects = event.payload.effects as unknown as Effect[];
    const unusual = effects.find((e) => e.k !== "coinbase" && e.k !== "paused_recycle" && e.k !== "head");
    if (unusual) throw new DomainError("VALIDATION_FAILED", `block ${head(state.chain).block} has a ${unusual.k} effect: it cannot be in a range`);
  }
  return { type: "BlocksProduced", version: 1, payload: { from, ts: command.ts } };
}

const PRICE_SCALE = 1_000_000_000n;

/**
 * A block is one command: onInitialize (emission, injection, pending emission, epochs), the
 * block's extrinsics in order (a failing extrinsic is undone alone and recorded), and onFinalize
 * (every invariant, every subnet, paused ones included). Each step decides its effects with the
 * rules and applies them at once, so later steps see earlier ones; the event records the effects.
 */
export function produceBlock(state: State, command: BlockCommand, hooks: BlockHooks = {}): EventDraft {
  const { ledger, chain } = state;
  const h = head(chain);
  const n = h.block + 1;
  if (command.ts < h.timestampMs) throw new ValidationError(`block ${n} time ${command.ts} is before block ${h.block}`);
  const effects: Effect[] = [];
  const emit = (e: Effect) => {
    applyEffect(state, e);
    effects.push(e);
  };

  // ---- onInitialize: emission -----------------------------------------------------------------
  const mintedTaoBefore = ledger.totals(TAO).minted;
  const emission = blockEmission(ledger.totals(TAO).issuance);
  const netuids = chain.subnets.sortedKeys();
  const mintedAlphaBefore = new Map(netuids.map((u) => [u, ledger.totals(alpha(u)).minted]));
  const alphaMinted = new Map<number, bigint>();
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
    alphaMinted.set(netuid, inj.alphaIn + inj.alphaOut);
  });
  // The split floors to zero when every price is zero: recycle it so minted == emission holds.
  const unsplit = emission - parts.reduce((x, y) => x + y, 0n);
  if (unsplit > 0n && netuids.length > 0) {
    emit({ k: "paused_recycle", netuid: netuids[0] as number, tao: unsplit });
    injected += unsplit;
  }

  // ---- onInitialize: epochs -------------------------------------------------------------------
  for (const netuid of netuids) {
    const s = chain.subnets.get(netuid);
    if (s && isEpochBlock(n, netuid, s.tempo)) {
      const epoch = decideEpoch(state, netuid);
      if (epoch) emit(epoch);
    }
  }

  // ---- extrinsics -----------------------------------------------------------------------------
  command.extrinsics.forEach((x, index) => {
    const ledgerPoint = ledger.savepoint();
    const chainPoint = chain.journal.savepoint();
    const mark = effects.length;
    try {
      for (const e of decideExtrinsic(state, x)) emit({ ...e, x: index });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      ledger.rollbackTo(ledgerPoint);
      chain.journal.rollbackTo(chainPoint);
      effects.length = mark;
      emit({ k: "failed", index, call: x.call, code: error.code, message: error.message, x: index });
    }
  });

  hooks.beforeFinalize?.(state);

  // ---- onFinalize: invariants over every subnet, paused ones included -------------------------
  const violations = checkChainInvariants(state, {
    emission,
    mintedTao: ledger.totals(TAO).minted - mintedTaoBefore,
    injected,
    mintedAlpha: new Map(netuids.map((u) => [u, ledger.totals(alpha(u)).minted - (mintedAlphaBefore.get(u) ?? 0n)])),
    expectedAlpha: alphaMinted,
  });
  if (violations.length > 0 && ledger.strict && !hooks.replaying) {
    const v = violations[0] as ChainViolation;
    throw new AssertionFailure(`block ${n}: invariant ${v.invariant} in ${v.scope}: expected ${v.expected}, actual ${v.actual}`);
  }
  const toPause = new Set<number>();
  for (const v of violations) {
    emit({ k: "violation", scope: v.scope, invariant: v.invariant, expected: v.expected.toString(), actual: v.actual.toString() });
    for (const u of v.netuid === null ? netuids : [v.netuid]) toPause.add(u);
  }
  for (const netuid of [...toPause].sort((a, b) => a - b)) {
    if (!chain.subnets.get(netuid)?.paused) emit({ k: "paused", netuid });
  }

  emit({ k: "head", block: n, ts: command.ts, emission: emission });
  return {
    type: "BlockProduced",
    version: 1,
    payload: { n, ts: command.ts, effects: effects as unknown as EventDraft["payload"][string] },
    bigints: true,
  };
}

// ---- the epoch ----------------------------------------------------------------------------------

function decideEpoch(state: State, netuid: number): Effect | null {
  const { ledger, chain } = state;
  const s = chain.subnets.get(netuid);
  if (!s) return null;
  const a = alpha(netuid);
  const n = s.neuronCount;
  const pendingServer = ledger.balanceOf(a, account.pendingServer(netuid));
  const pendingValidator = ledger.balanceOf(a, account.pendingValidator(netuid));
  const ownerCut = ledger.balanceOf(a, account.pendingOwnerCut(netuid));
  const stake = new Float64Array(n);
  const weights = new Float64Array(n * n);
  const bondsIn = new Float64Array(n * n);
  for (let uid = 0; uid < n; uid++) {
    const neuron = chain.neurons.get(key.neuron(netuid, uid));
    if (!neuron) continue;
    stake[uid] = Number(chain.pools.get(key.hotkey(netuid, neuron.hotkey))?.value ?? 0n);
    const w = chain.weights.get(key.neuron(netuid, uid));
    if (w) w.uids.forEach((j, i) => j < n && (weights[uid * n + j] = w.values[i] as number));
  }
  const stored = chain.bonds.get(netuid);
  if (stored && stored.length === n * n) for (let i = 0; i < n * n; i++) bondsIn[i] = stored[i] as number;
  const out = n > 0 ? yumaEpoch({ n, stake, weights, bonds: bondsIn }) : null;

  const sum = (v: Float64Array | null) => (v ? v.reduce((x, y) => x + y, 0) : 0);
  const incentiveSum = sum(out?.incentive ?? null);
  // Dividends pay validators; with none, fall back to stake; with no stake, keep the pending.
  let dividendShares: Float64Array | null = out && sum(out.dividends) > 0 ? out.dividends : null;
  if (!dividendShares && sum(stake) > 0) dividendShares = stake;
  const serverTotal = incentiveSum > 0 ? pendingServer : 0n;
  const validatorTotal = dividendShares ? pendingValidator + (incentiveSum > 0 ? 0n : pendingServer) : 0n;
  const incentivePay = out && incentiveSum > 0 ? splitByLargestRemainder(serverTotal, out.incentive) : new Array<bigint>(n).fill(0n);
  const dividendPay = dividendShares ? splitByLargestRemainder(validatorTotal, dividendShares) : new Array<bigint>(n).fill(0n);
  const pays: Array<[number, bigint, bigint, bigint]> = [];
  for (let uid = 0; uid < n; uid++) {
    const inc = incentivePay[uid] as bigint;
    const div = dividendPay[uid] as bigint;
    if (inc === 0n && div === 0n) continue;
    const take = (div * VALIDATOR_TAKE) / U16_MAX;
    pays.push([uid, inc, take, (div - take)]);
  }
  const bonds: number[] = [];
  if (out) {
    // Stored as Subtensor stores them: each column max-upscaled to u16. Only validators' rows can
    // hold bonds (Yuma clears the others), so only those rows are visited, in row order.
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (out.validatorPermit[i] === 1) rows.push(i);
    const max = new Float64Array(n);
    for (const i of rows) {
      for (let j = 0; j < n; j++) {
        const b = out.bonds[i * n + j] as number;
        if (b > (max[j] as number)) max[j] = b;
      }
    }
    for (const i of rows) {
      for (let j = 0; j < n; j++) {
        const m = max[j] as number;
        if (m === 0) continue;
        const q = Math.floor(((out.bonds[i * n + j] as number) / m) * 65_535 + 0.5);
        if (q > 0) bonds.push(i, j, q);
      }
    }
  }
  return {
    k: "epoch",
    netuid,
    drained_server: incentiveSum > 0 || dividendShares ? pendingServer : 0n,
    drained_validator: dividendShares ? pendingValidator : 0n,
    owner_cut: ownerCut,
    pays,
    bonds,
    incentive: out ? Array.from(out.incentive) : [],
    dividends: out ? Array.from(out.dividends) : [],
  };
}

// ---- extrinsics ---------------------------------------------------------------------------------

/** A key: non-empty, and never one of the ledger's internal account names (they contain ':'). */
function str(args: Record<string, unknown>, name: string): string {
  const v = args[name];
  if (typeof v !== "string" || v.length === 0 || v.length > 64 || /[:/\s]/.test(v)) {
    throw new ValidationError(`${name} must be an address`, { field: name });
  }
  return v;
}

function int(args: Record<string, unknown>, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = args[name];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ValidationError(`${name} must be an integer from ${min} to ${max}`, { field: name });
  }
  return v;
}

function rao(args: Record<string, unknown>, name: string): bigint {
  const v = args[name];
  if (typeof v !== "string" || !/^(0|[1-9][0-9]{0,18})$/.test(v)) {
    throw new ValidationError(`${name} must be a string of integer rao`, { field: name });
  }
  const amount = BigInt(v);
  if (amount <= 0n) throw new ValidationError(`${name} must be positive`, { field: name });
  return amount;
}

function needBalance(state: State, owner: string, amount: bigint): void {
  const have = state.ledger.balanceOf(TAO, owner);
  if (have < amount) {
    throw new DomainError("INSUFFICIENT_BALANCE", `${owner} has ${have} rao, needs ${amount}`, {
      needed_rao: amount.toString(),
      available_rao: have.toString(),
    });
  }
}

function existingSubnet(state: State, netuid: number) {
  const s = state.chain.subnets.get(netuid);
  if (!s) throw new DomainError("NOT_FOUND", `subnet ${netuid} does not exist`, { netuid });
  return s;
}

export function decideExtrinsic(state: State, x: Extrinsic): Effect[] {
  const { ledger, chain } = state;
  const p = params(chain);
  const args = x.args ?? {};
  switch (x.call) {
    case "balances.transfer": {
      const dest = str(args, "dest");
      const amount = rao(args, "amount_rao");
      needBalance(state, x.signer, amount);
      return [{ k: "transfer", from: x.signer, to: dest, amount: amount.toString() }];
    }
    case "subtensor.burned_register": {
      const netuid = int(args, "netuid", 0, 65_535);
      const hotkey = str(args, "hotkey");
      const s = existingSubnet(state, netuid);
      if (chain.uids.has(key.hotkey(netuid, hotkey))) throw new DomainError("VALIDATION_FAILED", `${hotkey} is already registered on subnet ${netuid}`);
      const owner = chain.owners.get(hotkey);
      if (owner !== undefined && owner !== x.signer) throw new DomainError("FORBIDDEN", `${hotkey} belongs to another coldkey`);
      needBalance(state, x.signer, p.registrationBurnRao);
      let uid = s.neuronCount;
      let replaced: string | null = null;
      if (s.neuronCount >= p.maxNeurons) {
        // Full: replace the neuron with the least stake (ties: lowest uid), as pruning would.
        let least = -1;
        let leastStake = 0n;
        for (let u = 0; u < s.neuronCount; u++) {
          const nh = chain.neurons.get(key.neuron(netuid, u))?.hotkey as string;
          const v = chain.pools.get(key.hotkey(netuid, nh))?.value ?? 0n;
          if (least < 0 || v < leastStake) [least, leastStake] = [u, v];
        }
        uid = least;
        replaced = chain.neurons.get(key.neuron(netuid, least))?.hotkey ?? null;
      }
      return [{ k: "register", netuid, uid, hotkey, coldkey: x.signer, burn: p.registrationBurnRao, replaced }];
    }
    case "subtensor.add_stake": {
      const netuid = int(args, "netuid", 0, 65_535);
      const hotkey = str(args, "hotkey");
      const amount = rao(args, "amount_rao");
      existingSubnet(state, netuid);
      if (!chain.owners.has(hotkey)) throw new DomainError("NOT_FOUND", `hotkey ${hotkey} does not exist on the chain`);
      if (amount < p.minStakeRao) throw new ValidationError(`stake must be at least ${p.minStakeRao} rao`);
      needBalance(state, x.signer, amount);
      const reserves = { tao: ledger.balanceOf(TAO, account.subnetTao(netuid)), alpha: ledger.balanceOf(alpha(netuid), account.alphaIn(netuid)) };
      const { alphaOut } = swapTaoForAlpha(reserves, amount);
      if (alphaOut === 0n) throw new ValidationError("the stake is too small to buy any alpha");
      return [{ k: "stake_added", netuid, hotkey, coldkey: x.signer, tao: amount.toString(), alpha: alphaOut }];
    }
    case "subtensor.remove_stake": {
      const netuid = int(args, "netuid", 0, 65_535);
      const hotkey = str(args, "hotkey");
      const amount = rao(args, "amount_alpha");
      existingSubnet(state, netuid);
      const pool = chain.pools.get(key.hotkey(netuid, hotkey)) ?? createSharePool();
      const held = valueOf(pool, x.signer);
      if (held < amount) throw new DomainError("INSUFFICIENT_BALANCE", `${x.signer} holds ${held} alpha through ${hotkey}, needs ${amount}`);
      const trial = { value: pool.value, shares: pool.shares, holders: new Map(pool.holders) };
      const removed = unstake(trial, x.signer, amount);
      const reserves = { tao: ledger.balanceOf(TAO, account.subnetTao(netuid)), alpha: ledger.balanceOf(alpha(netuid), account.alphaIn(netuid)) };
      const { taoOut } = swapAlphaForTao(reserves, removed);
      return [{ k: "stake_removed", netuid, hotkey, coldkey: x.signer, alpha: removed, tao: taoOut }];
    }
    case "subtensor.set_weights": {
      const netuid = int(args, "netuid", 0, 65_535);
      const s = existingSubnet(state, netuid);
      const uid = chain.uids.get(key.hotkey(netuid, x.signer));
      if (uid === undefined) throw new DomainError("NOT_A_NEURON", `${x.signer} is not a neuron on subnet ${netuid}`);
      const uids = args.uids;
      const values = args.weights;
      if (!Array.isArray(uids) || !Array.isArray(values) || uids.length !== values.length || uids.length > s.neuronCount) {
        throw new ValidationError("uids and weights must be arrays of equal length, at most one per neuron");
      }
      const seen = new Set<number>();
      uids.forEach((u, i) => {
        const w = values[i];
        if (!Number.isInteger(u) || u < 0 || u >= s.neuronCount || seen.has(u)) throw new ValidationError(`uid ${String(u)} is not a distinct neuron uid`);
        if (!Number.isInteger(w) || w < 0 || w > 65_535) throw new ValidationError(`weight ${String(w)} is not a u16`);
        seen.add(u);
      });
      return [{ k: "weights", netuid, uid, uids: uids as number[], values: values as number[] }];
    }
    case "collateral.deposit": {
      const hotkey = str(args, "hotkey");
      const amount = rao(args, "amount_rao");
      const owner = chain.owners.get(hotkey);
      if (owner !== undefined && owner !== x.signer) throw new DomainError("FORBIDDEN", `${hotkey} belongs to another coldkey`);
      needBalance(state, x.signer, amount);
      return [{ k: "collateral_deposit", hotkey, coldkey: x.signer, amount: amount.toString() }];
    }
    case "collateral.withdraw": {
      const hotkey = str(args, "hotkey");
      const amount = rao(args, "amount_rao");
      if (chain.owners.get(hotkey) !== x.signer) throw new DomainError("FORBIDDEN", `only the coldkey that owns ${hotkey} may withdraw its collateral`);
      const held = ledger.balanceOf(TAO, account.collateral(hotkey));
      if (held < amount) throw new DomainError("INSUFFICIENT_COLLATERAL", `${hotkey} has ${held} rao of collateral, needs ${amount}`);
      return [{ k: "collateral_withdraw", hotkey, coldkey: x.signer, amount: amount.toString() }];
    }
    case "root.unpause_subnet_emission": {
      if (x.signer !== p.root) throw new DomainError("FORBIDDEN", "only root may unpause");
      const netuid = int(args, "netuid", 0, 65_535);
      const force = args.force === true;
      const s = existingSubnet(state, netuid);
      if (!s.paused) return [];
      const failing = checkChainInvariants(state, null, { fullRecount: netuid }).filter((v) => v.netuid === netuid || v.netuid === null);
      if (failing.length > 0 && !force) {
        const v = failing[0] as ChainViolation;
        throw new DomainError("INVARIANT_STILL_FAILING", `subnet ${netuid} still fails ${v.invariant}: expected ${v.expected}, actual ${v.actual}`, {
          invariant: v.invariant,
          expected: v.expected.toString(),
          actual: v.actual.toString(),
        });
      }
      return [{ k: "resumed", netuid, forced: failing.length > 0 }];
    }
    case "root.set_parameter": {
      if (x.signer !== p.root) throw new DomainError("FORBIDDEN", "only root may set parameters");
      const name = str(args, "name");
      const value = args.value;
      const numeric = new Set(["tempo", "maxNeurons", "recountPerBlock", "defaultTempo"]);
      const amounts = new Set(["registrationBurnRao", "minStakeRao"]);
      if (numeric.has(name) && typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 65_535) {
        return [{ k: "parameter", name, value }];
      }
      if (amounts.has(name) && typeof value === "string" && /^(0|[1-9][0-9]{0,18})$/.test(value)) return [{ k: "parameter", name, value }];
      throw new ValidationError(`unknown parameter or bad value: ${name}`, { name });
    }
    default:
      throw new ValidationError(`unknown call ${x.call}`, { call: x.call });
  }
}
