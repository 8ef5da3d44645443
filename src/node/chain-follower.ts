import type { ObserveChainEpoch } from "../core/observed-chain/observed-chain-commands.ts";
import { attributePending } from "./attribute-pending.ts";
import type { PropnetNode } from "./node.ts";

/** One epoch as a real chain reported it (the Subtensor adapter's observation, in the node's words). */
export interface FeedEpoch {
  netuid: number;
  block: number;
  blockHash: string;
  timestampMs: number;
  ownerHotkey: string | null;
  hotkeys: string[];
  alphaPaid: string[];
  source: "IncentiveAlphaEmittedToMiners" | "Emission";
  subnetTaoRao: string;
  subnetAlphaInRao: string;
}

export interface FeedGap {
  netuid: number;
  afterBlock: number;
  beforeBlock: number;
  reason: string;
}

export type FeedObservation = { kind: "epoch"; epoch: FeedEpoch } | { kind: "gap"; gap: FeedGap };

export interface FeedStatus {
  url: string;
  connected: boolean;
  /** The chain's best block as last seen, or null before the first. */
  head: number | null;
  lastError: string | null;
}

/**
 * Where observed epochs come from (src/subtensor implements it over a real node): it delivers, in
 * order, every epoch after `afterBlock` (or a gap where it could not see them) and waits for each
 * delivery before the next.
 */
export interface EpochFeed {
  start(afterBlock: number | null, deliver: (observation: FeedObservation) => Promise<void>): void;
  stop(): Promise<void>;
  status(): FeedStatus;
}

export interface FollowerStatus extends FeedStatus {
  netuid: number;
  lastEpochBlock: number | null;
  /** Blocks between the chain's head and the last epoch recorded. */
  lagBlocks: number | null;
  epochs: number;
  gaps: number;
}

/**
 * Follows a real subnet (`serve --chain subtensor`): each epoch the feed reports becomes a fact in
 * the log (ChainEpochObserved, or ChainEpochGap), then the entities' share of it is attributed, as
 * after a devnet epoch. Nothing here decides anything the log does not record.
 */
export class ChainFollower {
  #lastEpochBlock: number | null = null;
  #epochs = 0;
  #gaps = 0;
  #lastProblem: string | null = null;

  constructor(
    readonly node: PropnetNode,
    readonly feed: EpochFeed,
    readonly netuid: number,
    readonly say: (message: string) => void = () => {},
    /** Called after each epoch is recorded and attributed (the weight setter scores then). */
    readonly onEpoch: (block: number) => void = () => {},
  ) {}

  async start(): Promise<void> {
    const after = await this.node.read((state) => {
      const latest = state.observed.latest.get("e");
      this.#epochs = latest?.epochs ?? 0;
      this.#gaps = state.observed.source.get("s")?.gaps ?? 0;
      return latest?.block ?? null;
    });
    this.#lastEpochBlock = after;
    this.feed.start(after, (observation) => this.#record(observation));
  }

  stop(): Promise<void> {
    return this.feed.stop();
  }

  status(): FollowerStatus {
    const feed = this.feed.status();
    return {
      ...feed,
      netuid: this.netuid,
      lastEpochBlock: this.#lastEpochBlock,
      lagBlocks: feed.head !== null && this.#lastEpochBlock !== null ? Math.max(0, feed.head - this.#lastEpochBlock) : null,
      epochs: this.#epochs,
      gaps: this.#gaps,
    };
  }

  /** What /healthz lists while it holds (advisory: an unreachable chain does not degrade the node's own state). */
  problem(): string | null {
    const s = this.feed.status();
    if (!s.connected) return `chain ${s.url} unreachable${s.lastError ? `: ${s.lastError}` : ""}; retrying with backoff (reads go on)`;
    return this.#lastProblem;
  }

  async #record(observation: FeedObservation): Promise<void> {
    const ts = this.node.clock.now();
    if (observation.kind === "gap") {
      const g = observation.gap;
      const outcome = await this.node.submit({
        command: { kind: "record_chain_gap", ts, netuid: g.netuid, after_block: g.afterBlock, before_block: g.beforeBlock, reason: g.reason },
      });
      if (outcome.ok) {
        this.#gaps++;
        this.say(`epochs between blocks ${g.afterBlock} and ${g.beforeBlock} were not observed (${g.reason}); recorded as a gap`);
      } else this.#note(`gap not recorded: ${outcome.error.message}`);
      return;
    }
    const e = observation.epoch;
    const command: ObserveChainEpoch = {
      kind: "observe_chain_epoch",
      ts,
      netuid: e.netuid,
      block: e.block,
      block_hash: e.blockHash,
      timestamp_ms: e.timestampMs,
      owner_hotkey: e.ownerHotkey,
      hotkeys: e.hotkeys,
      alpha_paid: e.alphaPaid,
      source: e.source,
      subnet_tao_rao: e.subnetTaoRao,
      subnet_alpha_in_rao: e.subnetAlphaInRao,
    };
    const outcome = await this.node.submit({ command });
    if (!outcome.ok) {
      // A repeat after a reconnect is already recorded: nothing to do.
      if (outcome.error.details.unchanged !== true) this.#note(`epoch at block ${e.block} not recorded: ${outcome.error.message}`);
      return;
    }
    this.#lastEpochBlock = e.block;
    this.#epochs++;
    this.#lastProblem = null;
    await attributePending(this.node);
    this.onEpoch(e.block);
  }

  #note(problem: string): void {
    if (problem !== this.#lastProblem) this.say(problem);
    this.#lastProblem = problem;
  }
}
