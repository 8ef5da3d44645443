import type { Extrinsic } from "../core/chain/block.ts";
import { head } from "../core/chain/chain-state.ts";
import type { Effect } from "../core/chain/effects.ts";
import { DomainError } from "../core/errors/errors.ts";
import type { PropnetNode } from "./node.ts";

export interface Inclusion {
  includedInBlock: number;
  /** What this extrinsic did, in order; a refused extrinsic has one `failed` effect. */
  effects: Effect[];
}

interface Waiting {
  extrinsic: Extrinsic;
  resolve: (inclusion: Inclusion) => void;
  reject: (error: unknown) => void;
}

/**
 * Drives blocks from the node clock: one every `blockTimeMs`, or with 0 one as soon as extrinsics
 * are waiting. A caller's promise resolves after the block holding its extrinsic is committed.
 */
export class BlockProducer {
  #waiting: Waiting[] = [];
  #timer: NodeJS.Timeout | null = null;
  #producing = false;
  #stopped = false;
  #blocks = 0;

  constructor(
    readonly node: PropnetNode,
    readonly blockTimeMs: number,
  ) {}

  get blocksProduced(): number {
    return this.#blocks;
  }

  start(): void {
    if (this.blockTimeMs > 0) this.#timer = setInterval(() => void this.produce(), this.blockTimeMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    while (this.#producing) await new Promise((r) => setTimeout(r, 5));
    for (const w of this.#waiting.splice(0)) w.reject(new DomainError("UNAVAILABLE", "the node is shutting down"));
  }

  /** Queues an extrinsic for the next block. */
  include(extrinsic: Extrinsic): Promise<Inclusion> {
    if (this.#stopped) return Promise.reject(new DomainError("UNAVAILABLE", "the node is shutting down"));
    return new Promise<Inclusion>((resolve, reject) => {
      this.#waiting.push({ extrinsic, resolve, reject });
      if (this.blockTimeMs === 0) setImmediate(() => void this.produce());
    });
  }

  /** Produces one block now with whatever extrinsics are waiting. */
  async produce(): Promise<number | null> {
    if (this.#producing || this.#stopped) return null;
    if (this.blockTimeMs === 0 && this.#waiting.length === 0) return null;
    this.#producing = true;
    const batch = this.#waiting.splice(0);
    try {
      const outcome = await this.node.submit({
        command: { kind: "block", ts: this.node.clock.now(), extrinsics: batch.map((w) => w.extrinsic) },
      });
      if (!outcome.ok) throw outcome.error;
      this.#blocks++;
      const payload = JSON.parse(outcome.events[0]?.payload ?? "{}") as { n: number; effects: Effect[] };
      batch.forEach((w, index) => w.resolve({ includedInBlock: payload.n, effects: payload.effects.filter((e) => e.x === index) }));
      return payload.n;
    } catch (error) {
      for (const w of batch) w.reject(error);
      return null;
    } finally {
      this.#producing = false;
      if (this.blockTimeMs === 0 && this.#waiting.length > 0) setImmediate(() => void this.produce());
    }
  }

  /** The chain's head as committed. */
  head(): Promise<ReturnType<typeof head>> {
    return this.node.read((state) => head(state.chain));
  }
}
