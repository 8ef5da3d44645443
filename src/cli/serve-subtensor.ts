import type { KeyringPair } from "@polkadot/keyring/types";
import { Counter, Gauge } from "prom-client";
import type { ChainHealth } from "../api/server.ts";
import { ChainFollower } from "../node/chain-follower.ts";
import { FollowRefused, type PropnetNode } from "../node/node.ts";
import { WeightSetter } from "../node/weight-setter.ts";
import { connectSubtensor, type SubtensorConnection } from "../subtensor/subtensor-connection.ts";
import { subtensorEpochFeed } from "../subtensor/subtensor-epoch-feed.ts";
import { SubtensorWeights } from "../subtensor/subtensor-weights.ts";
import { WeightsRefused } from "../subtensor/weights-refused.ts";

export interface SubtensorOptions {
  url: string;
  archiveUrl?: string;
  netuid: number;
  versionKey?: number;
  /** Opens a connection (tests replay recorded answers; by default a reconnecting WebSocket). */
  connect?: (url: string) => SubtensorConnection;
}

/**
 * A chain URL as shown in /healthz, logs and messages: scheme, host and port only. RPC providers
 * often put an API key in the path, the query or the userinfo, and /healthz is public.
 */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(unparseable URL)";
  }
}

/** Subtensor's nominal block time: how the emission until a payout deadline is projected. */
const BLOCK_TIME_MS = 12_000;

/**
 * `serve --chain subtensor`: the node follows a real subnet instead of producing devnet blocks.
 * The connection starts at once and retries with backoff for as long as the node runs; until it
 * answers, the node serves reads and /healthz says the chain is unreachable. Once connected, the
 * log is bound to that chain's genesis (ChainFollowed), each epoch becomes a fact in the log, the
 * entities' share of it is attributed, and the validator's weights are scored and set there.
 */
export class FollowedSubtensor {
  readonly connection: SubtensorConnection;
  readonly archive: SubtensorConnection | undefined;
  #follower: ChainFollower | null = null;
  #weights: SubtensorWeights | null = null;
  #weightSetter: WeightSetter | null = null;
  #sweep: NodeJS.Timeout | null = null;
  #problem: string | null = null;
  #refused: string | null = null;
  #stopped = false;
  /** Set in start, with the node's registry. */
  #refusals: Counter<"code"> | null = null;

  constructor(
    readonly options: SubtensorOptions,
    readonly say: (message: string) => void,
  ) {
    const connect = options.connect ?? ((url: string) => connectSubtensor(url));
    this.connection = connect(options.url);
    this.archive = options.archiveUrl ? connect(options.archiveUrl) : undefined;
  }

  /** Where the chain is, fit to print (no credentials). */
  get where(): string {
    return displayUrl(this.options.url);
  }

  /** Binds the node to the chain once it answers, then follows it; never rejects (problems go to /healthz). */
  start(node: PropnetNode, key: KeyringPair): void {
    this.#metrics(node);
    node.watch("chain", () => {
      // A log bound to another chain cannot follow this one at all: that degrades the node.
      if (this.#refused) return { problem: this.#refused, degraded: true };
      const problem = this.#problem ?? (this.connection.status().connected ? (this.#follower?.problem() ?? null) : this.#unreachable());
      return problem ? { problem, degraded: false } : null;
    });
    // Challenges time out by node time, not only when a price arrives (the devnet's block producer does this per block).
    this.#sweep = setInterval(() => {
      if (node.writable) void node.submit({ command: { kind: "sweep_challenges", ts: node.clock.now() } }).catch(() => undefined);
    }, BLOCK_TIME_MS);
    void this.#followWithRetries(node, key);
  }

  /**
   * Binding the log (a write) and reading where it stands can fail for a while (a full disk, a
   * rebuild): tried again with backoff until it works; only a log bound to another chain stops it.
   */
  async #followWithRetries(node: PropnetNode, key: KeyringPair): Promise<void> {
    for (let delay = 1_000; !this.#stopped; delay = Math.min(delay * 2, 60_000)) {
      try {
        await this.#follow(node, key);
        this.#problem = null;
        return;
      } catch (error) {
        if (error instanceof FollowRefused) {
          this.#refused = error.message;
          this.say(error.message);
          return;
        }
        const problem = `not following subnet ${this.options.netuid} yet: ${(error as Error).message}; trying again in ${delay / 1_000} s`;
        if (problem !== this.#problem) this.say(problem);
        this.#problem = problem;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async #follow(node: PropnetNode, key: KeyringPair): Promise<void> {
    let api = null;
    while (!api && !this.#stopped) api = await this.connection.ready(60_000).catch(() => null);
    if (!api || this.#stopped) return;
    const genesisHash = api.genesisHash.toHex();
    await node.follow({ netuid: this.options.netuid, genesisHash });
    this.say(`following subnet ${this.options.netuid} of chain ${genesisHash} at ${displayUrl(this.options.url)}`);
    this.#weights = new SubtensorWeights({
      api,
      pair: key,
      versionKey: this.options.versionKey === undefined ? undefined : BigInt(this.options.versionKey),
      // The drand round a commit reveals at is real time: node time, which a wall clock jump does not move.
      now: () => node.clock.now(),
    });
    const setter = new WeightSetter(node, this.#netuidMapped(this.#weights), key.address, BLOCK_TIME_MS, this.say);
    this.#weightSetter = setter;
    const feed = subtensorEpochFeed({ netuid: this.options.netuid, connection: this.connection, archive: this.archive });
    // After each recorded epoch the validator scores and sets its weights (the chain enforces its own rate limit too).
    this.#follower = new ChainFollower(node, feed, this.options.netuid, this.say, () => void setter.setNow());
    if (!this.#stopped) await this.#follower.start();
  }

  /**
   * Core scores "the prop-trading subnet"; on a real chain that is the followed netuid. Each refusal
   * is counted by the chain's code (RateLimitExceeded, HotKeyNotRegisteredInNetwork, ...).
   */
  #netuidMapped(weights: SubtensorWeights) {
    return {
      setWeights: async (_netuid: number, validator: string, uids: number[], values: number[]) => {
        try {
          return await weights.setWeights(this.options.netuid, validator, uids, values);
        } catch (error) {
          this.#refusals?.inc({ code: error instanceof WeightsRefused ? error.code : "UNKNOWN" });
          throw error;
        }
      },
    };
  }

  /** The chain as gauges beside the node's own metrics; counters print 0 before their first event. */
  #metrics(node: PropnetNode): void {
    const registers = [node.metrics.registry];
    const gauge = (name: string, help: string, value: () => number | null) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value() ?? 0);
        },
      });
    gauge("propnet_chain_connected", "1 while the Subtensor node answers", () => (this.connection.status().connected ? 1 : 0));
    gauge("propnet_chain_head_block", "The followed chain's best block as last seen", () => this.connection.status().headBlock);
    gauge("propnet_chain_last_epoch_block", "The last epoch recorded from the followed chain", () => this.#follower?.status().lastEpochBlock ?? null);
    gauge("propnet_chain_epoch_gaps", "Stretches of epochs that could not be observed (recorded as gaps)", () => this.#follower?.status().gaps ?? 0);
    gauge("propnet_weights_last_set_block", "The block holding the last weights this validator set", () => this.#weights?.status.lastSetBlock ?? null);
    this.#refusals = new Counter({ name: "propnet_weights_refused_total", help: "Weight rounds refused, by the chain's code", labelNames: ["code"], registers });
  }

  #unreachable(): string {
    const s = this.connection.status();
    return `chain ${displayUrl(s.url)} unreachable${s.lastError ? `: ${s.lastError}` : ""}; retrying with backoff (reads go on)`;
  }

  /** What /healthz shows of the chain: where it is, how far behind the log is, the last weights set. */
  health(): ChainHealth {
    const c = this.connection.status();
    const f = this.#follower?.status();
    const w = this.#weights?.status;
    return {
      kind: "subtensor",
      url: displayUrl(this.options.url),
      netuid: this.options.netuid,
      connected: c.connected,
      head: c.headBlock,
      last_epoch_block: f?.lastEpochBlock ?? null,
      lag_blocks: c.lagBlocks,
      epochs: f?.epochs ?? 0,
      gaps: f?.gaps ?? 0,
      weights: {
        path: w?.path ?? null,
        last_set_block: w?.lastSetBlock ?? null,
        last_set_at_ms: w?.lastSetAt ?? null,
        last_error: w?.lastError ?? null,
        problem: this.#weightSetter?.problem ?? null,
      },
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#sweep) clearInterval(this.#sweep);
    this.#weightSetter?.stop();
    await this.#follower?.stop();
    await this.connection.close();
    await this.archive?.close();
  }
}
