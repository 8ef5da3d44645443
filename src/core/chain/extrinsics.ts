import { DomainError, ValidationError } from "../errors/errors.ts";
import { alpha, TAO } from "../ledger/asset.ts";
import { heldIdempotencyKey } from "../machine/idempotency.ts";
import type { State } from "../machine/state.ts";
import { type ChainViolation, fullRecount } from "../invariants/chain-invariants.ts";
import { account, head, key, PARAMETER_BOUNDS, type ParameterName, params } from "./chain-state.ts";
import type { Effect } from "./effects.ts";
import { swapAlphaForTao, swapTaoForAlpha } from "./pool.ts";
import { createSharePool, unstake, valueOf } from "./share-pool.ts";

/** One devnet extrinsic, signed by `signer` (checked at the edge). Args are validated here too. */
export interface Extrinsic {
  call: string;
  signer: string;
  args: Record<string, unknown>;
  /** The signed request it came from (its signer is `signer`); recorded in its block, so it survives a restart. */
  request?: ExtrinsicRequest;
}

export interface ExtrinsicRequest {
  /** The Epistula uuid: committed with the block, so a replay stays refused after a restart. */
  uuid: string;
  /** Idempotency-Key and the fingerprint of the request it came with. */
  idempotency?: { key: string; fingerprint: string };
  /** The block's time, stamped by the producer: the key is held 24 hours from it (command time). */
  ts?: number;
}

/**
 * Runs a block's extrinsics in order. Each decides its effects and applies them at once; one that
 * a rule refuses is undone alone (savepoints) and recorded as a `failed` effect.
 */
export function runExtrinsics(state: State, extrinsics: readonly Extrinsic[], emit: (e: Effect) => void, effects: Effect[]): void {
  const { ledger, chain } = state;
  extrinsics.forEach((x, index) => {
    const ledgerPoint = ledger.savepoint();
    const chainPoint = chain.journal.savepoint();
    const mark = effects.length;
    const req = x.request;
    // Never before the chain's head, whatever the producer stamped: keys expire by chain time.
    const ts = Math.max(req?.ts ?? 0, head(chain).timestampMs);
    // An Idempotency-Key still held (a concurrent repeat, even in this same block) runs nothing.
    const repeated = req?.idempotency !== undefined && heldIdempotencyKey(state, x.signer, req.idempotency.key, ts) !== undefined;
    try {
      if (repeated) throw new DomainError("IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was already used");
      for (const e of decideExtrinsic(state, x)) emit({ ...e, x: index });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      ledger.rollbackTo(ledgerPoint);
      chain.journal.rollbackTo(chainPoint);
      effects.length = mark;
      emit({ k: "failed", index, call: x.call, code: error.code, message: error.message, x: index });
    }
    // After its outcome, refusals included (a repeat answers with the refusal); a repeat keeps the first record.
    if (req) {
      const key = req.idempotency && !repeated ? { key: req.idempotency.key, fingerprint: req.idempotency.fingerprint } : {};
      emit({ k: "request", signer: x.signer, uuid: req.uuid, ts, ...key, x: index });
    }
  });
}


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
      // Only for a hotkey the signer registered: funding must never be a way to claim one.
      const owner = chain.owners.get(hotkey);
      if (owner === undefined) {
        throw new DomainError("NOT_A_NEURON", `${hotkey} is not registered: register it (subtensor.burned_register) before depositing collateral for it`, {
          hotkey,
        });
      }
      if (owner !== x.signer) throw new DomainError("FORBIDDEN", `${hotkey} belongs to another coldkey: only its owner may deposit collateral for it`, { hotkey });
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
      const failing = fullRecount(state, netuid);
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
      if (!Object.hasOwn(PARAMETER_BOUNDS, name)) throw new ValidationError(`unknown parameter ${name}`, { name });
      const { min, max } = PARAMETER_BOUNDS[name as ParameterName];
      if (typeof min === "number") {
        if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= (max as number)) return [{ k: "parameter", name, value }];
      } else if (typeof value === "string" && /^(0|[1-9][0-9]{0,18})$/.test(value) && BigInt(value) >= min && BigInt(value) <= (max as bigint)) {
        return [{ k: "parameter", name, value }];
      }
      throw new ValidationError(`${name} must be ${typeof min === "number" ? "an integer" : "a string of integer rao"} from ${min} to ${max}`, {
        name,
        min: min.toString(),
        max: max.toString(),
      });
    }
    default:
      throw new ValidationError(`unknown call ${x.call}`, { call: x.call });
  }
}
