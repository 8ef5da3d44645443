import { AssertionFailure } from "../errors/errors.ts";
import { alpha, TAO } from "../ledger/asset.ts";
import type { Ledger } from "../ledger/ledger.ts";
import { recordIdempotencyKey } from "../machine/idempotency.ts";
import { recordViolations, resolveViolations } from "../invariants/violation-records.ts";
import type { State } from "../machine/state.ts";
import { account, type ChainState, head, key, type SubnetInfo } from "./chain-state.ts";
import { createSharePool, distribute, type SharePool, stake, unstake } from "./share-pool.ts";

/**
 * What a block did, recorded in its event. A block handler decides these with the business rules
 * (emission math, swaps, Yuma); `applyEffect` is the only code that writes chain state, and it runs
 * the same way when the block executes and when the log replays: replay never re-runs a rule.
 * Amounts are decimal strings of rao.
 */
/**
 * Rao as recorded: a bigint while a block executes, a decimal string once read back from the log
 * (the event's JSON). Appliers take either through BigInt().
 */
export type Rao = bigint | string;

export type Effect = EffectBody & {
  /** The index of the extrinsic that caused it, for effects of extrinsics. */
  x?: number;
};

type EffectBody =
  | { k: "subnet"; netuid: number; tempo: number; owner_hotkey: string; owner_coldkey: string; pool_tao: Rao; pool_alpha: Rao }
  | {
      k: "coinbase";
      netuid: number;
      tao_in: Rao;
      alpha_in: Rao;
      excess: Rao;
      bought: Rao;
      alpha_out: Rao;
      owner_cut: Rao;
      server: Rao;
      validator: Rao;
      /** The subnet's flow EMA after this block (rao · 2^64): set, never recomputed, on apply. Absent in logs from before flow shares. */
      flow_ema?: Rao;
    }
  | { k: "paused_recycle"; netuid: number; tao: Rao; flow_ema?: Rao }
  | {
      k: "epoch";
      netuid: number;
      drained_server: Rao;
      drained_validator: Rao;
      owner_cut: Rao;
      /** Drained pending emission nobody could be paid (no incentive, dividends or stake): recycled. Absent = 0. */
      recycled?: Rao;
      /** Why Yuma did not run (e.g. more neurons than it takes): nothing drained, the pending emission kept. */
      skipped?: string;
      /** [uid, incentive rao, validator take rao, rao shared with nominators] for each uid paid */
      pays: Array<[number, Rao, Rao, Rao]>;
      /** sparse quantized bonds: i, j, q, i, j, q, ... */
      bonds: number[];
      incentive: number[];
      dividends: number[];
    }
  | { k: "transfer"; from: string; to: string; amount: Rao }
  | { k: "register"; netuid: number; uid: number; hotkey: string; coldkey: string; burn: Rao; replaced: string | null }
  | { k: "stake_added"; netuid: number; hotkey: string; coldkey: string; tao: Rao; alpha: Rao }
  | { k: "stake_removed"; netuid: number; hotkey: string; coldkey: string; alpha: Rao; tao: Rao }
  | { k: "weights"; netuid: number; uid: number; uids: number[]; values: number[] }
  | { k: "collateral_deposit"; hotkey: string; coldkey: string; amount: Rao }
  | { k: "collateral_withdraw"; hotkey: string; coldkey: string; amount: Rao }
  | { k: "violation"; scope: string; invariant: string; expected: string; actual: string }
  | { k: "paused"; netuid: number }
  | { k: "resumed"; netuid: number; forced: boolean }
  | { k: "parameter"; name: string; value: number | string }
  | { k: "failed"; index: number; call: string; code: string; message: string }
  /** The signed request an extrinsic came from: its uuid, and its Idempotency-Key (absent on a refused repeat). */
  | { k: "request"; signer: string; uuid: string; ts: number; key?: string; fingerprint?: string }
  | { k: "head"; block: number; ts: number; emission: Rao };

/** Every kind of effect, so fixtures and tests can prove they cover them all. */
export const EFFECT_KINDS: ReadonlyArray<Effect["k"]> = [
  "subnet",
  "coinbase",
  "paused_recycle",
  "epoch",
  "transfer",
  "register",
  "stake_added",
  "stake_removed",
  "weights",
  "collateral_deposit",
  "collateral_withdraw",
  "violation",
  "paused",
  "resumed",
  "parameter",
  "failed",
  "request",
  "head",
];

/** The validator's take of its dividends (Subtensor's default delegate take, 11796/65535). */
export const VALIDATOR_TAKE = 11_796n;

function subnet(chain: ChainState, netuid: number): SubnetInfo {
  const s = chain.subnets.get(netuid);
  if (!s) throw new AssertionFailure(`effect names unknown subnet ${netuid}`);
  return s;
}

function updateSubnet(chain: ChainState, netuid: number, change: Partial<SubnetInfo>): void {
  chain.subnets.set(netuid, { ...subnet(chain, netuid), ...change });
}

function clonePool(pool: SharePool | undefined): SharePool {
  if (!pool) return createSharePool();
  return { value: pool.value, shares: pool.shares, holders: new Map(pool.holders) };
}

/**
 * Places a credit of alpha as stake of (hotkey, coldkey) on a subnet and returns its amount; the
 * caller adds it to the subnet's Σ TotalHotkeyAlpha (once per effect, not once per payment).
 */
function stakeCredit(
  ledger: Ledger,
  chain: ChainState,
  netuid: number,
  hotkey: string,
  coldkey: string,
  credit: ReturnType<Ledger["withdraw"]>,
): bigint {
  const amount = credit.amount;
  ledger.deposit(ledger.account(alpha(netuid), account.stake(hotkey)), credit);
  const pool = clonePool(chain.pools.get(key.hotkey(netuid, hotkey)));
  stake(pool, coldkey, amount);
  chain.pools.set(key.hotkey(netuid, hotkey), pool);
  return amount;
}

/** Raises the value of every nominator of a hotkey pro rata (dividends); with no shares yet, stakes to its owner. */
function shareCredit(
  ledger: Ledger,
  chain: ChainState,
  netuid: number,
  hotkey: string,
  fallbackColdkey: string,
  credit: ReturnType<Ledger["withdraw"]>,
): bigint {
  const existing = chain.pools.get(key.hotkey(netuid, hotkey));
  if (!existing || existing.shares === 0n) return stakeCredit(ledger, chain, netuid, hotkey, fallbackColdkey, credit);
  const amount = credit.amount;
  ledger.deposit(ledger.account(alpha(netuid), account.stake(hotkey)), credit);
  const pool = clonePool(existing);
  distribute(pool, amount);
  chain.pools.set(key.hotkey(netuid, hotkey), pool);
  return amount;
}

export function applyEffect(state: State, e: Effect): void {
  const { ledger, chain } = state;
  switch (e.k) {
    case "subnet": {
      chain.subnets.set(e.netuid, {
        netuid: e.netuid,
        tempo: e.tempo,
        ownerHotkey: e.owner_hotkey,
        ownerColdkey: e.owner_coldkey,
        alphaOut: 0n,
        stakedAlpha: 0n,
        neuronCount: 0,
        blocksSinceLastStep: 0,
        paused: false,
        // Genesis records the pool's TAO as the subnet's first inflow, so its flow EMA starts positive.
        taoFlow: BigInt(e.pool_tao),
        taoFlowEma: 0n,
      });
      ledger.deposit(ledger.account(TAO, account.subnetTao(e.netuid)), ledger.mint(TAO, BigInt(e.pool_tao)));
      ledger.deposit(ledger.account(alpha(e.netuid), account.alphaIn(e.netuid)), ledger.mint(alpha(e.netuid), BigInt(e.pool_alpha)));
      if (!chain.owners.has(e.owner_hotkey)) chain.owners.set(e.owner_hotkey, e.owner_coldkey);
      return;
    }
    case "coinbase": {
      const a = alpha(e.netuid);
      // TAO: the injection and the excess both end in the pool (the excess buys alpha from it).
      ledger.deposit(ledger.account(TAO, account.subnetTao(e.netuid)), ledger.mint(TAO, BigInt(e.tao_in) + BigInt(e.excess)));
      const alphaIn = ledger.account(a, account.alphaIn(e.netuid));
      ledger.deposit(alphaIn, ledger.mint(a, BigInt(e.alpha_in)));
      // Dec 2025 semantics: the alpha the excess bought is recycled (leaves AlphaIn and issuance).
      if (BigInt(e.bought) !== 0n) ledger.recycle(ledger.withdraw(alphaIn, BigInt(e.bought)));
      const out = ledger.mint(a, BigInt(e.alpha_out));
      const [ownerCut, rest] = out.split(BigInt(e.owner_cut));
      const [server, validator] = rest.split(BigInt(e.server));
      if (validator.amount !== BigInt(e.validator)) throw new AssertionFailure("coinbase split does not add up");
      ledger.deposit(ledger.account(a, account.pendingOwnerCut(e.netuid)), ownerCut);
      ledger.deposit(ledger.account(a, account.pendingServer(e.netuid)), server);
      ledger.deposit(ledger.account(a, account.pendingValidator(e.netuid)), validator);
      const s = subnet(chain, e.netuid);
      updateSubnet(chain, e.netuid, { alphaOut: s.alphaOut + BigInt(e.alpha_out), blocksSinceLastStep: s.blocksSinceLastStep + 1, ...flowEma(s, e.flow_ema) });
      return;
    }
    case "paused_recycle": {
      ledger.recycle(ledger.mint(TAO, BigInt(e.tao)));
      const s = subnet(chain, e.netuid);
      updateSubnet(chain, e.netuid, { blocksSinceLastStep: s.blocksSinceLastStep + 1, ...flowEma(s, e.flow_ema) });
      return;
    }
    case "epoch": {
      // Skipped: Yuma did not run, so nothing is drained and the epoch counter keeps counting.
      if (e.skipped !== undefined) return;
      const a = alpha(e.netuid);
      let paid = ledger.withdraw(ledger.account(a, account.pendingServer(e.netuid)), BigInt(e.drained_server));
      paid = paid.merge(ledger.withdraw(ledger.account(a, account.pendingValidator(e.netuid)), BigInt(e.drained_validator)));
      let staked = 0n;
      for (const [uid, incentive, take, shared] of e.pays) {
        const neuron = chain.neurons.get(key.neuron(e.netuid, uid));
        if (!neuron) throw new AssertionFailure(`epoch pays unknown uid ${uid}`);
        for (const [amount, share] of [[incentive, false], [take, false], [shared, true]] as const) {
          if (BigInt(amount) === 0n) continue;
          const [part, rest] = paid.split(BigInt(amount));
          paid = rest;
          staked += share
            ? shareCredit(ledger, chain, e.netuid, neuron.hotkey, neuron.coldkey, part)
            : stakeCredit(ledger, chain, e.netuid, neuron.hotkey, neuron.coldkey, part);
        }
      }
      // What nobody could be paid leaves issuance and AlphaOut, as recorded.
      const recycled = BigInt(e.recycled ?? 0n);
      if (paid.amount !== recycled) throw new AssertionFailure(`epoch leaves ${paid.amount} unpaid, records ${recycled} recycled`);
      if (recycled > 0n) ledger.recycle(paid);
      else paid.dropZero();
      const s = subnet(chain, e.netuid);
      const cut = ledger.withdraw(ledger.account(a, account.pendingOwnerCut(e.netuid)), BigInt(e.owner_cut));
      if (cut.amount > 0n) staked += stakeCredit(ledger, chain, e.netuid, s.ownerHotkey, s.ownerColdkey, cut);
      else cut.dropZero();
      updateSubnet(chain, e.netuid, { stakedAlpha: s.stakedAlpha + staked, alphaOut: s.alphaOut - recycled });
      const n = s.neuronCount;
      const bonds = new Uint16Array(n * n);
      for (let i = 0; i + 2 < e.bonds.length; i += 3) bonds[(e.bonds[i] as number) * n + (e.bonds[i + 1] as number)] = e.bonds[i + 2] as number;
      chain.bonds.set(e.netuid, bonds);
      const emission = new Array<bigint>(n).fill(0n);
      for (const [uid, incentive, take, shared] of e.pays) emission[uid] = BigInt(incentive) + BigInt(take) + BigInt(shared);
      chain.stats.set(e.netuid, { block: head(chain).block + 1, incentive: e.incentive, dividends: e.dividends, emission });
      updateSubnet(chain, e.netuid, { blocksSinceLastStep: 0 });
      return;
    }
    case "transfer":
      ledger.transfer(ledger.account(TAO, e.from), ledger.account(TAO, e.to), BigInt(e.amount));
      return;
    case "register": {
      ledger.burn(ledger.withdraw(ledger.account(TAO, e.coldkey), BigInt(e.burn)));
      const s = subnet(chain, e.netuid);
      if (e.replaced !== null) {
        chain.uids.delete(key.hotkey(e.netuid, e.replaced));
        chain.weights.delete(key.neuron(e.netuid, e.uid));
        const old = chain.bonds.get(e.netuid);
        if (old) {
          // A new neuron starts with no bonds, held by it or to it.
          const n = s.neuronCount;
          const fresh = Uint16Array.from(old);
          for (let j = 0; j < n; j++) fresh[e.uid * n + j] = 0;
          for (let i = 0; i < n; i++) fresh[i * n + e.uid] = 0;
          chain.bonds.set(e.netuid, fresh);
        }
      } else {
        updateSubnet(chain, e.netuid, { neuronCount: s.neuronCount + 1 });
        const old = chain.bonds.get(e.netuid);
        if (old) {
          const n = s.neuronCount;
          const grown = new Uint16Array((n + 1) * (n + 1));
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) grown[i * (n + 1) + j] = old[i * n + j] as number;
          chain.bonds.set(e.netuid, grown);
        }
      }
      // Registered in this block (the head moves at its end), or at genesis (block 0, before any head):
      // weights set in block 1 already count for a genesis neuron.
      chain.neurons.set(key.neuron(e.netuid, e.uid), { uid: e.uid, hotkey: e.hotkey, coldkey: e.coldkey, registeredAt: chain.head.has("head") ? head(chain).block + 1 : 0 });
      chain.uids.set(key.hotkey(e.netuid, e.hotkey), e.uid);
      if (!chain.owners.has(e.hotkey)) chain.owners.set(e.hotkey, e.coldkey);
      return;
    }
    case "stake_added": {
      const a = alpha(e.netuid);
      ledger.transfer(ledger.account(TAO, e.coldkey), ledger.account(TAO, account.subnetTao(e.netuid)), BigInt(e.tao));
      const bought = ledger.withdraw(ledger.account(a, account.alphaIn(e.netuid)), BigInt(e.alpha));
      const amount = stakeCredit(ledger, chain, e.netuid, e.hotkey, e.coldkey, bought);
      const s = subnet(chain, e.netuid);
      updateSubnet(chain, e.netuid, { alphaOut: s.alphaOut + amount, stakedAlpha: s.stakedAlpha + amount, taoFlow: s.taoFlow + BigInt(e.tao) });
      return;
    }
    case "stake_removed": {
      const a = alpha(e.netuid);
      const pool = clonePool(chain.pools.get(key.hotkey(e.netuid, e.hotkey)));
      const removed = unstake(pool, e.coldkey, BigInt(e.alpha));
      if (removed !== BigInt(e.alpha)) throw new AssertionFailure(`unstake removed ${removed}, recorded ${e.alpha}`);
      chain.pools.set(key.hotkey(e.netuid, e.hotkey), pool);
      ledger.deposit(ledger.account(a, account.alphaIn(e.netuid)), ledger.withdraw(ledger.account(a, account.stake(e.hotkey)), removed));
      const s = subnet(chain, e.netuid);
      updateSubnet(chain, e.netuid, { alphaOut: s.alphaOut - removed, stakedAlpha: s.stakedAlpha - removed, taoFlow: s.taoFlow - BigInt(e.tao) });
      ledger.transfer(ledger.account(TAO, account.subnetTao(e.netuid)), ledger.account(TAO, e.coldkey), BigInt(e.tao));
      return;
    }
    case "weights":
      // Set in this block (the head moves at the block's end): the epoch's registration mask compares it.
      chain.weights.set(key.neuron(e.netuid, e.uid), { uids: e.uids, values: e.values, block: head(chain).block + 1 });
      return;
    case "collateral_deposit":
      ledger.transfer(ledger.account(TAO, e.coldkey), ledger.account(TAO, account.collateral(e.hotkey)), BigInt(e.amount));
      addCollateralFlow(chain, e.hotkey, BigInt(e.amount), 0n);
      return;
    case "collateral_withdraw":
      ledger.transfer(ledger.account(TAO, account.collateral(e.hotkey)), ledger.account(TAO, e.coldkey), BigInt(e.amount));
      addCollateralFlow(chain, e.hotkey, 0n, BigInt(e.amount));
      return;
    case "violation":
      recordViolations(state, [e]);
      return;
    case "failed":
      return;
    case "request":
      // The key answers with this block's record of the extrinsic (API: rebuilt from the log).
      if (e.key !== undefined && e.fingerprint !== undefined) {
        recordIdempotencyKey(state, { signer: e.signer, key: e.key, fingerprint: e.fingerprint, now: e.ts, ref: { block: head(chain).block + 1, index: e.x ?? 0 } });
      }
      return;
    case "paused":
      updateSubnet(chain, e.netuid, { paused: true });
      return;
    case "resumed": {
      updateSubnet(chain, e.netuid, { paused: false });
      // Resolved: this subnet's violations, and issuance-wide ones once no subnet is paused.
      const anyPaused = chain.subnets.sortedKeys().some((u) => chain.subnets.get(u)?.paused);
      resolveViolations(state, (scope) => scope === `subnet:${e.netuid}` || (!anyPaused && scope === "tao"));
      return;
    }
    case "parameter": {
      const p = chain.params.get("params");
      if (!p) throw new AssertionFailure("no chain parameters");
      if (e.name === "tempo") {
        for (const netuid of chain.subnets.sortedKeys()) updateSubnet(chain, netuid, { tempo: Number(e.value) });
      } else {
        chain.params.set("params", { ...p, [e.name]: typeof (p as unknown as Record<string, unknown>)[e.name] === "bigint" ? BigInt(e.value) : e.value });
      }
      return;
    }
    case "head":
      chain.head.set("head", { block: e.block, timestampMs: e.ts, emission: BigInt(e.emission) });
      return;
  }
}

/** A coinbase took the block's net flow into the EMA: the recorded EMA, and the flow starts again. */
function flowEma(s: SubnetInfo, recorded: Rao | undefined): Partial<SubnetInfo> {
  return { taoFlow: 0n, taoFlowEma: recorded === undefined ? s.taoFlowEma : BigInt(recorded) };
}

function addCollateralFlow(chain: ChainState, hotkey: string, deposited: bigint, withdrawn: bigint): void {
  const f = chain.collateral.get(hotkey) ?? { deposited: 0n, withdrawn: 0n };
  chain.collateral.set(hotkey, { deposited: f.deposited + deposited, withdrawn: f.withdrawn + withdrawn });
}
