import { ValidationError } from "../errors/errors.ts";
import { RECOUNT_BUCKETS } from "../ledger/ledger.ts";
import { Journal, JournaledMap } from "../machine/journal.ts";
import { TOTAL_SUPPLY } from "./emission.ts";
import { swapTaoForAlpha } from "./pool.ts";
import type { SharePool } from "./share-pool.ts";
import { MAX_NEURONS } from "./yuma.ts";

/**
 * The devnet chain's state outside the ledger: Subtensor's storage items as journaled maps of
 * immutable records. Value itself (balances, pools, stake, pending emission) lives in the ledger
 * under the account names below; the counters here (AlphaOut, Σ TotalHotkeyAlpha) are what
 * Subtensor keeps, and the invariants compare them with the ledger.
 */
export interface ChainParams {
  /** Root's hotkey: may unpause and set parameters. */
  root: string;
  defaultTempo: number;
  maxNeurons: number;
  /** Burned by subtensor.burned_register. */
  registrationBurnRao: bigint;
  minStakeRao: bigint;
  /** Recount buckets (ledger accounts and stake pools) recounted per block, round-robin. */
  recountPerBlock: number;
  /** Blocks after its last weights (or its registration) that a neuron's stake still votes in Yuma. */
  activityCutoff: number;
}

export const DEFAULT_CHAIN_PARAMS: Omit<ChainParams, "root"> = {
  defaultTempo: 360,
  maxNeurons: 256,
  registrationBurnRao: 1_000_000_000n,
  minStakeRao: 2_000_000n,
  recountPerBlock: 8,
  // Upstream's minimum (5000 by default): the devnet's validator is the only one setting weights,
  // and the owner's and miners' growing stake must stop voting within a tempo or so.
  activityCutoff: 360,
};

/**
 * What root.set_parameter accepts: integers in [min, max] (the rao amounts as bigints). Tempos are
 * u16 as upstream, but not 0 (upstream's "never": pending emission would grow without an epoch);
 * maxNeurons stops where Yuma does (MAX_NEURONS) and starts at 1 (0 would make a new uid -1);
 * recountPerBlock is at most every bucket; amounts at most the total supply.
 */
export const PARAMETER_BOUNDS = {
  tempo: { min: 1, max: 65_535 },
  defaultTempo: { min: 1, max: 65_535 },
  maxNeurons: { min: 1, max: MAX_NEURONS },
  recountPerBlock: { min: 1, max: RECOUNT_BUCKETS },
  activityCutoff: { min: 360, max: 65_535 },
  registrationBurnRao: { min: 0n, max: TOTAL_SUPPLY },
  minStakeRao: { min: 0n, max: TOTAL_SUPPLY },
} as const;

export type ParameterName = keyof typeof PARAMETER_BOUNDS;

export interface ChainHead {
  block: number;
  timestampMs: number;
  /** The TAO block emission of the last block. */
  emission: bigint;
}

export interface SubnetInfo {
  netuid: number;
  tempo: number;
  ownerHotkey: string;
  ownerColdkey: string;
  /** SubnetAlphaOut: alpha issued and not in the pool. */
  alphaOut: bigint;
  /** Σ TotalHotkeyAlpha over every hotkey with stake here, registered or not. */
  stakedAlpha: bigint;
  neuronCount: number;
  blocksSinceLastStep: number;
  paused: boolean;
  /** SubnetTaoFlow: TAO staked in minus TAO unstaked out since the last coinbase, in rao (genesis: the pool's TAO). */
  taoFlow: bigint;
  /** SubnetEmaTaoFlow: the EMA of the per-block net flow, rao · 2^64 (emission.ts `nextFlowEma`); its positive part is the subnet's TAO share. */
  taoFlowEma: bigint;
}

export interface NeuronInfo {
  uid: number;
  hotkey: string;
  coldkey: string;
  registeredAt: number;
}

export interface EpochStats {
  block: number;
  /** Per uid: incentive and dividends (proportions) and emission paid (rao). */
  incentive: number[];
  dividends: number[];
  emission: bigint[];
}

export interface ChainState {
  journal: Journal;
  params: JournaledMap<"params", ChainParams>;
  head: JournaledMap<"head", ChainHead>;
  subnets: JournaledMap<number, SubnetInfo>;
  /** `${netuid}/${uid}` */
  neurons: JournaledMap<string, NeuronInfo>;
  /** `${netuid}/${hotkey}` -> uid */
  uids: JournaledMap<string, number>;
  /** hotkey -> the coldkey that owns it */
  owners: JournaledMap<string, string>;
  /** `${netuid}/${hotkey}` -> the hotkey's stake pool; its value is TotalHotkeyAlpha */
  pools: JournaledMap<string, SharePool>;
  /** `${netuid}/${uid}` -> weights that uid set, and the block it set them (Subtensor's LastUpdate) */
  weights: JournaledMap<string, WeightsRecord>;
  /** netuid -> bonds, n*n row-major, column max-upscaled to u16 as Subtensor stores them */
  bonds: JournaledMap<number, Uint16Array>;
  stats: JournaledMap<number, EpochStats>;
  /** hotkey -> collateral ever deposited and withdrawn (the entity invariant compares them with the ledger) */
  collateral: JournaledMap<string, CollateralFlows>;
}

export interface WeightsRecord {
  uids: number[];
  values: number[];
  /** The block they were set in: the epoch ignores a weight on a uid whose neuron registered at or after it. */
  block: number;
}

export interface CollateralFlows {
  deposited: bigint;
  withdrawn: bigint;
}

export function createChainState(journal: Journal): ChainState {
  return {
    journal,
    params: new JournaledMap(journal),
    head: new JournaledMap(journal),
    subnets: new JournaledMap(journal),
    neurons: new JournaledMap(journal),
    uids: new JournaledMap(journal),
    owners: new JournaledMap(journal),
    pools: new JournaledMap(journal),
    weights: new JournaledMap(journal),
    bonds: new JournaledMap(journal),
    stats: new JournaledMap(journal),
    collateral: new JournaledMap(journal),
  };
}

/**
 * Remembers each name once: ledger lookups then reuse one string, whose hash V8 has cached,
 * instead of building and hashing a new one per lookup (hot in every block).
 */
function named<K extends string | number>(make: (k: K) => string): (k: K) => string {
  const cache = new Map<K, string>();
  return (k) => {
    let name = cache.get(k);
    if (name === undefined) cache.set(k, (name = make(k)));
    return name;
  };
}

/** Ledger account owners; SS58 addresses never contain ':' so these cannot collide with keys. */
export const account = {
  subnetTao: named((netuid: number) => `subnet:${netuid}:tao`),
  alphaIn: named((netuid: number) => `subnet:${netuid}:alpha_in`),
  pendingServer: named((netuid: number) => `subnet:${netuid}:pending_server`),
  pendingValidator: named((netuid: number) => `subnet:${netuid}:pending_validator`),
  pendingOwnerCut: named((netuid: number) => `subnet:${netuid}:pending_owner_cut`),
  /** Alpha staked through a hotkey (TotalHotkeyAlpha), asset ALPHA(netuid). */
  stake: named((hotkey: string) => `stake:${hotkey}`),
  collateral: named((hotkey: string) => `collateral:${hotkey}`),
};

/** Map keys, memoized like account names (epochs look up every neuron of a subnet). */
const neuronKeys = new Map<number, string[]>();
const hotkeyKeys = new Map<number, Map<string, string>>();

export const key = {
  neuron: (netuid: number, uid: number): string => {
    let list = neuronKeys.get(netuid);
    if (!list) neuronKeys.set(netuid, (list = []));
    return (list[uid] ??= `${netuid}/${uid}`);
  },
  hotkey: (netuid: number, hotkey: string): string => {
    let map = hotkeyKeys.get(netuid);
    if (!map) hotkeyKeys.set(netuid, (map = new Map()));
    let k = map.get(hotkey);
    if (k === undefined) map.set(hotkey, (k = `${netuid}/${hotkey}`));
    return k;
  },
};

export function params(chain: ChainState): ChainParams {
  const p = chain.params.get("params");
  if (!p) throw new Error("chain parameters are not set (no genesis)");
  return p;
}

export function head(chain: ChainState): ChainHead {
  return chain.head.get("head") ?? { block: 0, timestampMs: 0, emission: 0n };
}

/** The epoch runs when (block + netuid + 1) % (tempo + 1) == 0 (Subtensor @dec25). */
export function isEpochBlock(block: number, netuid: number, tempo: number): boolean {
  return tempo > 0 && (block + netuid + 1) % (tempo + 1) === 0;
}

// ---- canonical encoding (snapshots and the state hash) ------------------------------------------

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

function encodeValue(v: unknown): Json {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint16Array) return Array.from(v);
  if (v instanceof Map) {
    return [...v.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, encodeValue(x)] as Json);
  }
  if (Array.isArray(v)) return v.map(encodeValue);
  if (v !== null && typeof v === "object") {
    const out: { [k: string]: Json } = {};
    for (const k of Object.keys(v).sort()) out[k] = encodeValue((v as Record<string, unknown>)[k]);
    return out;
  }
  return v as Json;
}

const MAPS = ["params", "head", "subnets", "neurons", "uids", "owners", "pools", "weights", "bonds", "stats", "collateral"] as const;

/** Every map in key order, every object's keys sorted: equal states, equal bytes. */
export function exportChain(chain: ChainState): Json {
  const out: { [k: string]: Json } = {};
  for (const name of MAPS) {
    out[name] = chain[name].sortedEntries().map(([k, v]) => [k, encodeValue(v)] as Json);
  }
  return out;
}

const BIG = new Set(["registrationBurnRao", "minStakeRao", "emission", "alphaOut", "stakedAlpha", "taoFlow", "taoFlowEma", "value", "shares", "deposited", "withdrawn"]);

function decodeValue(name: string, v: Json): unknown {
  switch (name) {
    case "bonds":
      return Uint16Array.from(v as number[]);
    case "pools": {
      const p = v as { value: string; shares: string; holders: Array<[string, string]> };
      return { value: BigInt(p.value), shares: BigInt(p.shares), holders: new Map(p.holders.map(([c, s]) => [c, BigInt(s)])) };
    }
    case "stats": {
      const s = v as { block: number; incentive: number[]; dividends: number[]; emission: string[] };
      return { ...s, emission: s.emission.map((e) => BigInt(e)) };
    }
    default:
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        const o: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) o[k] = BIG.has(k) ? BigInt(x as string) : x;
        return o;
      }
      return v;
  }
}

export function importChain(encoded: Json, journal: Journal): ChainState {
  const chain = createChainState(journal);
  const e = encoded as Record<string, Array<[string | number, Json]>>;
  for (const name of MAPS) {
    const map = chain[name] as JournaledMap<string | number, unknown>;
    for (const [k, v] of e[name] ?? []) map.set(k, decodeValue(name, v));
  }
  return chain;
}

// ---- genesis ------------------------------------------------------------------------------------

export interface SubnetGenesis {
  netuid: number;
  ownerHotkey: string;
  ownerColdkey: string;
  /** The pool's seed: Subtensor seeds SubnetTAO = SubnetAlphaIn = the 1,000 TAO lock. */
  poolTaoRao?: bigint;
  poolAlphaRao?: bigint;
  tempo?: number;
  /**
   * Registers the owner hotkey as uid 0, as subnet registration does upstream (no burn: the lock
   * paid for it). It is the uid that receives the weight debts do not need.
   */
  registerOwner?: boolean;
  /** Registered next (uid 1, 2, ... after the owner) and staked through the pool, in this order. */
  validators?: GenesisValidator[];
}

/** A validator at genesis: its coldkey pays the registration burn and the stake, as burned_register + add_stake. */
export interface GenesisValidator {
  hotkey: string;
  coldkey: string;
  stake_rao: bigint;
}

export interface ChainGenesis {
  root: string;
  tempo?: number;
  subnets: SubnetGenesis[];
}

export const DEFAULT_POOL_RAO = 1_000n * 1_000_000_000n;

/** What each coldkey pays at genesis (registration burns and stake): its endowment must cover it. */
export function genesisCosts(g: ChainGenesis): Map<string, bigint> {
  return genesisEffectCosts(encodeChainGenesis(g).subnets as unknown as Array<{ k: string; coldkey?: string; burn?: unknown; tao?: unknown }>);
}

/** The same, from the genesis effects as recorded (what applying them will take from each coldkey). */
export function genesisEffectCosts(effects: ReadonlyArray<{ k: string; coldkey?: string; burn?: unknown; tao?: unknown }>): Map<string, bigint> {
  const costs = new Map<string, bigint>();
  for (const e of effects) {
    const paid = e.k === "register" ? e.burn : e.k === "stake_added" ? e.tao : undefined;
    if (paid === undefined || e.coldkey === undefined || BigInt(paid as string | bigint) === 0n) continue;
    costs.set(e.coldkey, (costs.get(e.coldkey) ?? 0n) + BigInt(paid as string | bigint));
  }
  return costs;
}

/**
 * The chain part of the genesis event, as recorded: per subnet its `subnet` effect, then the
 * `register` and `stake_added` effects of its genesis neurons, decided here (pool math included)
 * so that replay applies them and never recomputes them. A subnet without neurons encodes as before.
 */
export function encodeChainGenesis(g: ChainGenesis) {
  const p = { ...DEFAULT_CHAIN_PARAMS, root: g.root, defaultTempo: g.tempo ?? DEFAULT_CHAIN_PARAMS.defaultTempo };
  const owners = new Map<string, string>();
  const claim = (hotkey: string, coldkey: string) => {
    const owner = owners.get(hotkey);
    if (owner !== undefined && owner !== coldkey) throw new ValidationError(`genesis: hotkey ${hotkey} is given two coldkeys`, { hotkey });
    owners.set(hotkey, coldkey);
  };
  const subnets: Array<Record<string, string | number | null>> = [];
  for (const s of [...g.subnets].sort((a, b) => a.netuid - b.netuid)) {
    const poolTao = s.poolTaoRao ?? DEFAULT_POOL_RAO;
    const poolAlpha = s.poolAlphaRao ?? DEFAULT_POOL_RAO;
    subnets.push({
      k: "subnet" as const,
      netuid: s.netuid,
      tempo: s.tempo ?? p.defaultTempo,
      owner_hotkey: s.ownerHotkey,
      owner_coldkey: s.ownerColdkey,
      pool_tao: poolTao.toString(),
      pool_alpha: poolAlpha.toString(),
    });
    claim(s.ownerHotkey, s.ownerColdkey);
    const validators = s.validators ?? [];
    const neurons = (s.registerOwner === true ? 1 : 0) + validators.length;
    if (neurons > p.maxNeurons) throw new ValidationError(`genesis: subnet ${s.netuid} has ${neurons} neurons, at most ${p.maxNeurons}`, { netuid: s.netuid });
    const seen = new Set<string>();
    let uid = 0;
    const register = (hotkey: string, coldkey: string, burn: bigint) => {
      if (seen.has(hotkey)) throw new ValidationError(`genesis: ${hotkey} is registered twice on subnet ${s.netuid}`, { hotkey, netuid: s.netuid });
      seen.add(hotkey);
      claim(hotkey, coldkey);
      subnets.push({ k: "register", netuid: s.netuid, uid: uid++, hotkey, coldkey, burn: burn.toString(), replaced: null });
    };
    if (s.registerOwner === true) register(s.ownerHotkey, s.ownerColdkey, 0n);
    let reserves = { tao: poolTao, alpha: poolAlpha };
    for (const v of validators) {
      register(v.hotkey, v.coldkey, p.registrationBurnRao);
      // The same checks and pool math as subtensor.add_stake, on the pool as the previous stakes left it.
      if (v.stake_rao < p.minStakeRao) throw new ValidationError(`genesis: the stake of ${v.hotkey} must be at least ${p.minStakeRao} rao`, { hotkey: v.hotkey });
      const swap = swapTaoForAlpha(reserves, v.stake_rao);
      if (swap.alphaOut === 0n) throw new ValidationError(`genesis: the stake of ${v.hotkey} is too small to buy any alpha`, { hotkey: v.hotkey });
      reserves = swap.reserves;
      subnets.push({ k: "stake_added", netuid: s.netuid, hotkey: v.hotkey, coldkey: v.coldkey, tao: v.stake_rao.toString(), alpha: swap.alphaOut.toString() });
    }
  }
  return {
    params: { ...p, registrationBurnRao: p.registrationBurnRao.toString(), minStakeRao: p.minStakeRao.toString() },
    subnets,
  };
}

export function decodeChainParams(p: Record<string, unknown>): ChainParams {
  return {
    root: String(p.root),
    defaultTempo: Number(p.defaultTempo),
    maxNeurons: Number(p.maxNeurons),
    registrationBurnRao: BigInt(p.registrationBurnRao as string),
    minStakeRao: BigInt(p.minStakeRao as string),
    recountPerBlock: Number(p.recountPerBlock),
    // Logs from before the parameter existed ran with every neuron active.
    activityCutoff: p.activityCutoff === undefined ? Number.MAX_SAFE_INTEGER : Number(p.activityCutoff),
  };
}
