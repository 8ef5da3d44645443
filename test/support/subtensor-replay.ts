import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ApiPromise } from "@polkadot/api";
import type { ProviderInterface, ProviderInterfaceCallback, ProviderInterfaceEmitCb, ProviderInterfaceEmitted } from "@polkadot/rpc-provider/types";
import type { Codec } from "@polkadot/types/types";
import { compactFromU8a, hexToU8a, u8aConcat, u8aToHex } from "@polkadot/util";
import { SUBTENSOR_SIGNED_EXTENSIONS } from "../../src/subtensor/subtensor-connection.ts";

/**
 * A replay of recorded Bittensor mainnet JSON-RPC answers (test/fixtures/subtensor/), so that
 * `ApiPromise` runs with no node. Answers come from one seed of recorded-rpc.json; `state_call` is
 * answered by method and data, storage by key, both ignoring the block hash (the fixtures were
 * recorded at one block per seed). Tests may script further answers: blocks (number -> hash ->
 * header) and sequences of storage values, for reads that move with the chain.
 */

const FIXTURES = fileURLToPath(new URL("../fixtures/subtensor/", import.meta.url));

/** Bittensor mainnet (finney) genesis hash. */
export const SUBTENSOR_GENESIS_HASH = "0x2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03";

const SYSTEM_PROPERTIES = { ss58Format: 42, tokenDecimals: 9, tokenSymbol: "TAO" };

type RecordedAnswer = { result?: unknown; error?: { code: number; message: string } };
type RecordedSeed = Record<string, Record<string, RecordedAnswer>>;
type Recorded = Record<string, RecordedSeed>;

let recordedCache: Recorded | null = null;
let metadataCache: `0x${string}` | null = null;

/** seed -> method -> JSON-encoded params -> answer, as recorded by the Bittensor SDK's tests. */
export function recordedRpc(): Recorded {
  recordedCache ??= JSON.parse(readFileSync(`${FIXTURES}recorded-rpc.json`, "utf8")) as Recorded;
  return recordedCache;
}

/** Metadata v15 of the recording: the `Metadata_metadata_at_version(15)` answer without its Option byte and length. */
export function recordedMetadataV15(): `0x${string}` {
  if (metadataCache) return metadataCache;
  const answer = hexToU8a(readFileSync(`${FIXTURES}metadata-at-version-15.hex`, "utf8").trim());
  if (answer[0] !== 1) throw new Error("metadata-at-version-15.hex: expected Some(OpaqueMetadata)");
  const [offset, length] = compactFromU8a(answer.subarray(1));
  const start = 1 + offset;
  metadataCache = u8aToHex(answer.subarray(start, start + length.toNumber()));
  return metadataCache;
}

function stripHex(data: unknown): string {
  return typeof data === "string" ? data.replace(/^0x/i, "").toLowerCase() : String(data);
}

function stateCallKey(method: unknown, data: unknown): string {
  return `${String(method)}:${stripHex(data)}`;
}

/** A block a test adds to the replay: `chain_getBlockHash(number)` and `chain_getHeader(hash)` answer it. */
export interface ScriptedBlock {
  number: number;
  hash: string;
  parentHash?: string;
}

export class ReplayProvider implements ProviderInterface {
  readonly hasSubscriptions = false;
  readonly isClonable = false;
  #connected = true;
  readonly #seed: RecordedSeed;
  /** method -> params as JSON.stringify writes them (the recording's Python JSON has spaces) -> answer. */
  readonly #exact = new Map<string, Map<string, RecordedAnswer>>();
  readonly #stateCalls = new Map<string, unknown>();
  readonly #storage = new Map<string, unknown>();
  readonly #storageScripts = new Map<string, unknown[]>();
  readonly #hashesByNumber = new Map<number, string>();
  readonly #headers = new Map<string, Record<string, unknown>>();
  #headHash: string | null = null;
  #prunedBefore = 0;
  /** Every request, in order: tests assert what was (and was not) asked of the chain. */
  readonly requests: { method: string; params: unknown[] }[] = [];

  constructor(readonly seedName = "metagraph") {
    const seed = recordedRpc()[seedName];
    if (!seed) throw new Error(`no recorded seed "${seedName}"`);
    this.#seed = seed;
    for (const [method, answers] of Object.entries(seed)) {
      this.#exact.set(method, new Map(Object.entries(answers).map(([params, answer]) => [JSON.stringify(JSON.parse(params)), answer])));
    }
    for (const [params, answer] of Object.entries(seed.state_call ?? {})) {
      const [method, data] = JSON.parse(params) as unknown[];
      this.#stateCalls.set(stateCallKey(method, data), answer.result);
    }
    for (const method of ["state_getStorage", "state_getStorageAt"]) {
      for (const [params, answer] of Object.entries(seed[method] ?? {})) {
        const [key] = JSON.parse(params) as unknown[];
        this.#storage.set(stripHex(key), answer.result);
      }
    }
    for (const [params, answer] of Object.entries(seed.chain_getBlockHash ?? {})) {
      const [n] = JSON.parse(params) as unknown[];
      if (typeof n === "number" && typeof answer.result === "string") this.#hashesByNumber.set(n, answer.result);
    }
    for (const [params, answer] of Object.entries(seed.chain_getHeader ?? {})) {
      const [hash] = JSON.parse(params) as unknown[];
      if (typeof hash === "string") this.#headers.set(hash.toLowerCase(), answer.result as Record<string, unknown>);
    }
    const head = Object.values(seed.chain_getHead ?? {})[0]?.result;
    if (typeof head === "string") this.#headHash = head.toLowerCase();
  }

  get isConnected(): boolean {
    return this.#connected;
  }

  /** Adds a block: its number answers `chain_getBlockHash`, its hash `chain_getHeader` (a recorded header with this number). */
  addBlock(block: ScriptedBlock): void {
    const template = this.#headers.values().next().value ?? { digest: { logs: [] }, extrinsicsRoot: `0x${"00".repeat(32)}`, stateRoot: `0x${"00".repeat(32)}` };
    const parentHash = block.parentHash ?? `0x${(block.number - 1).toString(16).padStart(64, "1")}`;
    this.#hashesByNumber.set(block.number, block.hash);
    this.#headers.set(block.hash.toLowerCase(), { ...template, number: `0x${block.number.toString(16)}`, parentHash });
  }

  /**
   * Behaves like a pruning node: state reads (storage, runtime calls) at a block below `block`
   * fail as Substrate fails them ("State already discarded"). Only blocks this replay knows by
   * number (recorded headers, `addBlock`) are judged; headers and hashes stay available.
   */
  pruneStateBefore(block: number): void {
    this.#prunedBefore = block;
  }

  #checkState(at: unknown): void {
    if (typeof at !== "string") return;
    const number = this.#headers.get(at.toLowerCase())?.number;
    if (typeof number === "string" && Number(number) < this.#prunedBefore) {
      throw new Error(`4003: Client error: Api called for an unknown Block: State already discarded for BlockId::Hash(${at})`);
    }
  }

  /** Makes `hash` the chain head (`chain_getHead`, `chain_getHeader()` and `chain_getBlockHash()`). */
  setHead(hash: string): void {
    this.#headHash = hash.toLowerCase();
  }

  /** Answers storage `key` with `value` (SCALE hex, or null for an empty entry), whatever the block. */
  setStorage(key: string, value: string | null): void {
    this.#storage.set(stripHex(key), value);
  }

  /**
   * Answers successive reads of storage `key` with `values` in order; the last one repeats. For
   * reads that change as the chain moves (the epoch marker), whatever the block asked about. An
   * Error answers as the node's refusal (e.g. "State already discarded" for a pruned block).
   */
  scriptStorage(key: string, values: (string | null | Error)[]): void {
    if (values.length === 0) throw new Error("scriptStorage needs at least one value");
    this.#storageScripts.set(stripHex(key), [...values]);
  }

  /** Answers `state_call(method, data)` with `result` (SCALE hex), whatever the block. */
  setStateCall(method: string, data: string, result: string): void {
    this.#stateCalls.set(stateCallKey(method, data), result);
  }

  clone(): ProviderInterface {
    throw new Error("ReplayProvider cannot be cloned");
  }

  async connect(): Promise<void> {
    this.#connected = true;
  }

  async disconnect(): Promise<void> {
    this.#connected = false;
  }

  on(type: ProviderInterfaceEmitted, sub: ProviderInterfaceEmitCb): () => void {
    if (type === "connected" && this.#connected) queueMicrotask(() => sub());
    return () => undefined;
  }

  async send<T = unknown>(method: string, params: unknown[]): Promise<T> {
    this.requests.push({ method, params });
    return this.#answer(method, params) as T;
  }

  async subscribe(_type: string, method: string, _params: unknown[], _cb: ProviderInterfaceCallback): Promise<number | string> {
    throw new Error(`ReplayProvider has no subscriptions (${method})`);
  }

  async unsubscribe(): Promise<boolean> {
    return false;
  }

  #recorded(method: string, params: unknown[]): RecordedAnswer | undefined {
    return this.#exact.get(method)?.get(JSON.stringify(params));
  }

  #anySeed(method: string): unknown {
    const own = Object.values(this.#seed[method] ?? {})[0];
    if (own) return own.result;
    for (const seed of Object.values(recordedRpc())) {
      const answer = Object.values(seed[method] ?? {})[0];
      if (answer) return answer.result;
    }
    return undefined;
  }

  #header(hash: string): unknown {
    const header = this.#headers.get(hash.toLowerCase());
    if (!header) throw new Error(`replay: no header recorded for ${hash}`);
    return header;
  }

  #answer(method: string, params: unknown[]): unknown {
    if (!this.#connected) throw new Error("replay provider is disconnected");
    switch (method) {
      case "chain_getBlockHash": {
        const [n] = params;
        if (n === undefined || n === null) return this.#head();
        if (Number(n) === 0) return SUBTENSOR_GENESIS_HASH;
        const hash = this.#hashesByNumber.get(Number(n));
        if (!hash) throw new Error(`replay: no block hash recorded for block ${String(n)}`);
        return hash;
      }
      case "chain_getHead":
      case "chain_getFinalizedHead":
        return this.#head();
      case "chain_getHeader": {
        const [hash] = params;
        return this.#header(typeof hash === "string" ? hash : this.#head());
      }
      case "state_getRuntimeVersion":
        return this.#anySeed("state_getRuntimeVersion");
      case "system_chain":
        return this.#anySeed("system_chain") ?? "Bittensor";
      case "system_properties":
        return SYSTEM_PROPERTIES;
      case "rpc_methods":
        return this.#anySeed("rpc_methods") ?? { methods: [] };
      case "state_call": {
        const [callMethod, data, at] = params;
        this.#checkState(at);
        const key = stateCallKey(callMethod, data);
        if (!this.#stateCalls.has(key)) throw new Error(`replay: no state_call recorded for ${String(callMethod)}(${String(data)})`);
        return this.#stateCalls.get(key);
      }
      case "state_getStorage":
      case "state_getStorageAt":
        this.#checkState(params[1]);
        return this.#storageValue(params[0]);
      case "state_queryStorageAt": {
        // polkadot-js reads storage this way when the provider has no subscriptions
        const keys = params[0] as string[];
        const recorded = this.#recorded(method, params);
        if (recorded) return recorded.result;
        return [{ block: this.#head(), changes: keys.map((key) => [key, this.#storageValue(key)]) }];
      }
      default: {
        const recorded = this.#recorded(method, params);
        if (recorded?.error) throw new Error(`${recorded.error.code}: ${recorded.error.message}`);
        if (recorded) return recorded.result;
        throw new Error(`replay: no recorded answer for ${method}(${JSON.stringify(params)})`);
      }
    }
  }

  #storageValue(rawKey: unknown): unknown {
    const key = stripHex(rawKey);
    const script = this.#storageScripts.get(key);
    if (script) {
      const value = script.length > 1 ? script.shift() : script[0];
      if (value instanceof Error) throw value;
      return value;
    }
    if (!this.#storage.has(key)) throw new Error(`replay: no storage recorded for 0x${key}`);
    return this.#storage.get(key);
  }

  #head(): string {
    if (!this.#headHash) throw new Error("replay: no chain head recorded");
    return this.#headHash;
  }
}

/** The runtime version the seed recorded, for the metadata key `${genesis}-${specVersion}`. */
function specVersionOf(seed: string): number {
  const recorded = recordedRpc()[seed]?.state_getRuntimeVersion;
  const version = recorded ? (Object.values(recorded)[0]?.result as { specVersion?: number } | undefined) : undefined;
  return version?.specVersion ?? 0;
}

/**
 * An `ApiPromise` over the recorded answers of `seed`, with the recorded metadata v15: no node.
 * Pass a provider to script it first; by default a fresh one for `seed`.
 */
export async function openReplayApi(seed = "metagraph", provider: ReplayProvider = new ReplayProvider(seed)): Promise<ApiPromise> {
  const metadata = { [`${SUBTENSOR_GENESIS_HASH}-${specVersionOf(provider.seedName)}`]: recordedMetadataV15() };
  return ApiPromise.create({ provider, metadata, noInitWarn: true, signedExtensions: SUBTENSOR_SIGNED_EXTENSIONS });
}

/** An event to put in a scripted `System.Events`: pallet and event by their metadata names, args in order. */
export interface ScriptedEvent {
  pallet: string;
  event: string;
  args: unknown[];
}

/**
 * `System.Events` as the chain stores it, for a test to script: each event encoded from the
 * metadata's own declaration (pallet index, event index, argument types), in the initialization phase.
 */
export function encodeEventRecords(api: ApiPromise, events: ScriptedEvent[]): string {
  const pallets = api.runtimeMetadata.asLatest.pallets;
  const records = events.map(({ pallet, event, args }) => {
    const p = pallets.find((x) => x.name.eq(pallet));
    const section = p ? (api.events as Record<string, Record<string, { meta: { index: Codec; args: Codec[] } }>>)[p.name.toString().charAt(0).toLowerCase() + p.name.toString().slice(1)] : undefined;
    const e = section?.[event];
    if (!p || !e) throw new Error(`the metadata has no event ${pallet}.${event}`);
    const fields = api.createType(`(${e.meta.args.map(String).join(",")})`, args).toU8a();
    return { phase: { Initialization: null }, event: api.createType("Event", u8aConcat([p.index.toNumber(), Number(e.meta.index.toString())], fields)), topics: [] };
  });
  const eventsType = api.registry.lookup.getTypeDef((api.query.system?.events?.creator.meta.type as unknown as { asPlain: number }).asPlain).type;
  return api.createType(eventsType, records).toHex();
}

export type ConnectOutcome = "refuse" | "hang" | "accept" | "throw";

/**
 * A provider whose connection attempts go as a test plans them: refused, hanging, accepted, or
 * failing at once (then accepted once the plan runs out). Once connected it answers from a
 * replay (the recorded mainnet data, scripted as the test likes), with subscriptions as a
 * WebSocket provider has them.
 */
export class PlannedProvider implements ProviderInterface {
  readonly hasSubscriptions = true;
  readonly isClonable = false;
  readonly attemptsAt: number[] = [];
  #connected = false;
  #pending = false;
  readonly #listeners = new Map<ProviderInterfaceEmitted, Set<ProviderInterfaceEmitCb>>();
  constructor(
    readonly plan: ConnectOutcome[],
    readonly replay: ReplayProvider = new ReplayProvider("metagraph"),
  ) {}

  get isConnected(): boolean {
    return this.#connected;
  }

  clone(): ProviderInterface {
    throw new Error("not clonable");
  }

  async connect(): Promise<void> {
    this.attemptsAt.push(Date.now());
    const outcome = this.plan.shift() ?? "accept";
    if (outcome === "throw") throw new Error("WebSocket is already connected");
    this.#pending = true;
    if (outcome === "refuse") {
      queueMicrotask(() => {
        this.#pending = false;
        // what the ws library hands over: an event, not an Error
        this.#emit("error", { message: "connect ECONNREFUSED 127.0.0.1:9944" });
        this.#emit("disconnected");
      });
    } else if (outcome === "accept") {
      queueMicrotask(() => {
        this.#pending = false;
        this.#connected = true;
        this.#emit("connected");
      });
    }
  }

  async disconnect(): Promise<void> {
    if (!this.#connected && !this.#pending) return;
    this.#connected = false;
    this.#pending = false;
    queueMicrotask(() => this.#emit("disconnected"));
  }

  /** The node goes away. */
  drop(): void {
    this.#connected = false;
    this.#emit("disconnected");
  }

  on(type: ProviderInterfaceEmitted, sub: ProviderInterfaceEmitCb): () => void {
    const set = this.#listeners.get(type) ?? new Set();
    set.add(sub);
    this.#listeners.set(type, set);
    return () => set.delete(sub);
  }

  async send<T>(method: string, params: unknown[]): Promise<T> {
    if (!this.#connected) throw new Error("WebSocket is not connected");
    if (method === "system_health") return { peers: 8, isSyncing: false, shouldHavePeers: true } as T;
    return this.replay.send<T>(method, params);
  }

  async subscribe(_type: string, _method: string, _params: unknown[], _cb: ProviderInterfaceCallback): Promise<number> {
    return 1; // no runtime upgrade ever arrives
  }

  async unsubscribe(): Promise<boolean> {
    return true;
  }

  #emit(type: ProviderInterfaceEmitted, value?: unknown): void {
    for (const cb of this.#listeners.get(type) ?? []) cb(value);
  }
}
