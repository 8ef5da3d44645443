import { head, key } from "../core/chain/chain-state.ts";
import { PROP_NETUID } from "../core/entities/entity-commands.ts";
import type { BlockProducer } from "./block-producer.ts";
import type { PropnetNode } from "./node.ts";

/**
 * Where the validator sets its weights (DESIGN.md §2 rule 7): the devnet's block producer here; a
 * Subtensor adapter submits `set_weights` (or a timelocked commit) behind the same call.
 */
export interface WeightsChain {
  /** Sets `uids`/`weights` for `validator` on `netuid`; resolves with the block that holds them, or refuses with why. */
  setWeights(netuid: number, validator: string, uids: number[], weights: number[]): Promise<{ block: number }>;
}

/** The devnet: a `subtensor.set_weights` extrinsic in the next block. */
export function devnetWeights(producer: BlockProducer): WeightsChain {
  return {
    async setWeights(netuid, validator, uids, weights) {
      const inclusion = await producer.include({ call: "subtensor.set_weights", signer: validator, args: { netuid, uids, weights } });
      const failed = inclusion.effects.find((e) => e.k === "failed");
      if (failed && failed.k === "failed") throw new Error(`set_weights refused: ${failed.code}: ${failed.message}`);
      return { block: inclusion.includedInBlock };
    },
  };
}

/** A refused round (the chain's rate limit, say) is tried again after this long, not every second. */
export const RETRY_AFTER_FAILURE_MS = 60_000;

/** What one round of weight setting did. */
export type WeightRound =
  | { set: true; block: number; uids: number[]; weights: number[] }
  | { set: false; why: string };

/**
 * The node's validator (DESIGN.md §3.5): once per tempo of the prop-trading subnet it scores every
 * uid from the committed state (a `score_weights` command, recorded as WeightsScored, so GET
 * /v1/weights shows the figures behind the vector) and sets those weights on chain with
 * `subtensor.set_weights`, signed by its hotkey. On the devnet the validator is registered and
 * staked at genesis, so its weights are the consensus the next epoch pays by.
 */
export class WeightSetter {
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #lastProblem: string | null = null;
  /** After a failed round, no other before this (monotonic ms: a wall clock set back must not delay it): each round logs its scores. */
  #retryAfterMs = 0;

  constructor(
    readonly node: PropnetNode,
    readonly chain: WeightsChain,
    readonly validator: string,
    /** The chain's nominal block time: how the emission until the payout deadline is projected. */
    readonly blockTimeMs: number,
    readonly say: (message: string) => void = () => {},
  ) {}

  /** Checks every `everyMs` whether a tempo has passed since the validator last set weights. */
  start(everyMs = 1_000): void {
    // A read refused while the store rebuilds (a full disk) is tried again at the next tick, never an unhandled rejection.
    this.#timer = setInterval(() => void this.maybeSet().catch(() => undefined), everyMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Why weights could not be set last time (for /healthz), or null. */
  get problem(): string | null {
    return this.#lastProblem;
  }

  /** Sets weights once a tempo has passed since the validator last did (or since genesis). */
  async maybeSet(): Promise<WeightRound | null> {
    if (this.#running || !this.node.writable || performance.now() < this.#retryAfterMs) return null;
    const due = await this.node.read((state) => {
      const uid = state.chain.uids.get(key.hotkey(PROP_NETUID, this.validator));
      const subnet = state.chain.subnets.get(PROP_NETUID);
      if (uid === undefined || !subnet) {
        this.#failed(`weights not set: the node's hotkey ${this.validator} holds no uid on subnet ${PROP_NETUID}; register and stake it to validate`);
        return false;
      }
      // Never set: the first tempo of blocks passes first (a fresh node scores nothing anyway).
      const last = state.chain.weights.get(key.neuron(PROP_NETUID, uid))?.block ?? 0;
      return head(state.chain).block - last >= subnet.tempo;
    });
    return due ? this.setNow() : null;
  }

  /** Scores and sets weights now. */
  async setNow(): Promise<WeightRound> {
    if (this.#running) return { set: false, why: "a round is already running" };
    this.#running = true;
    try {
      // Each entity's debt is summed by a command of its own (O(its subaccounts)), so that the
      // scoring command itself stays O(uids) on the writer.
      const entities = await this.node.read((state) => [...state.entities.entities.sortedKeys()]);
      for (const entity of entities) {
        const assessed = await this.node.submit({ command: { kind: "assess_entity", ts: this.node.clock.now(), entity } });
        if (!assessed.ok) return this.#failed(`entity ${entity} not assessed: ${assessed.error.message}`);
      }
      const scored = await this.node.submit({
        command: { kind: "score_weights", ts: this.node.clock.now(), validator: this.validator, block_time_ms: this.blockTimeMs },
      });
      if (!scored.ok) return this.#failed(`weights not scored: ${scored.error.message}`);
      const { uids, weights } = JSON.parse(scored.events[0]?.payload ?? "{}") as { uids: number[]; weights: number[] };
      const { block } = await this.chain.setWeights(PROP_NETUID, this.validator, uids, weights);
      this.#lastProblem = null;
      return { set: true, block, uids, weights };
    } catch (error) {
      return this.#failed(`weights not set: ${(error as Error).message}`);
    } finally {
      this.#running = false;
    }
  }

  #failed(why: string): WeightRound {
    if (why !== this.#lastProblem) this.say(why);
    this.#lastProblem = why;
    this.#retryAfterMs = performance.now() + RETRY_AFTER_FAILURE_MS;
    return { set: false, why };
  }
}
