import type { Extrinsic } from "../core/chain/block.ts";
import { head, isEpochBlock } from "../core/chain/chain-state.ts";
import type { Effect } from "../core/chain/effects.ts";
import { DomainError } from "../core/errors/errors.ts";
import { attributePending } from "./attribute-pending.ts";
import type { PropnetNode } from "./node.ts";

export interface Inclusion {
  includedInBlock: number;
  /**
   * What this extrinsic did, in order, as its block recorded them; a refused extrinsic has one
   * `failed` effect, and one that came from a signed request ends with its `request` effect.
   */
  effects: Effect[];
}

interface Waiting {
  extrinsic: Extrinsic;
  resolve: (inclusion: Inclusion) => void;
  reject: (error: unknown) => void;
}

/** Empty blocks owed before they are logged as one range. */
export const MAX_OWED_BLOCKS = 300;

/**
 * Drives blocks from the node clock: one every `blockTimeMs`, or with 0 one as soon as extrinsics
 * are waiting. A caller's promise resolves after the block holding its extrinsic is committed.
 *
 * An empty block (no extrinsics, no epoch due) is owed rather than logged: its time is kept, and
 * owed blocks are logged together as one range when an extrinsic arrives, before an epoch block,
 * when MAX_OWED_BLOCKS are owed, before a chain read (`settle`), and at stop. Nobody was told of
 * an owed block, so a crash before it is logged loses nothing anyone saw.
 */
export class BlockProducer {
  #waiting: Waiting[] = [];
  #owed: number[] = [];
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
    if (this.blockTimeMs > 0) this.#timer = setInterval(() => void this.#tick(), this.blockTimeMs);
  }

  /** Extrinsics waiting for their block. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Blocks owed and not yet logged. */
  get owed(): number {
    return this.#owed.length;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    while (this.#producing) await new Promise((r) => setTimeout(r, 5));
    await this.settle();
    this.#stopped = true;
    for (const w of this.#waiting.splice(0)) w.reject(new DomainError("UNAVAILABLE", "the node is shutting down"));
  }

  /**
   * Queues an extrinsic for the next block. `now` produces that block at once rather than at the
   * next tick: for root actions that API.md answers without waiting for a block time.
   */
  include(extrinsic: Extrinsic, options: { now?: boolean } = {}): Promise<Inclusion> {
    if (this.#stopped) return Promise.reject(new DomainError("UNAVAILABLE", "the node is shutting down"));
    if (!this.node.writable) return Promise.reject(new DomainError("UNAVAILABLE", this.node.writer.refusal));
    return new Promise<Inclusion>((resolve, reject) => {
      this.#waiting.push({ extrinsic, resolve, reject });
      if (this.blockTimeMs === 0 || options.now) setImmediate(() => void this.#produceWhenFree());
    });
  }

  async #produceWhenFree(): Promise<void> {
    while (this.#producing && !this.#stopped) await new Promise((r) => setTimeout(r, 1));
    if (this.#waiting.length > 0) await this.produce();
  }

  /** Logs the owed empty blocks now, so that reads see the chain up to the clock. */
  async settle(): Promise<void> {
    while (this.#producing) await new Promise((r) => setTimeout(r, 1));
    // A node that stopped writing logs no more blocks; nobody was told of the owed ones.
    if (!this.node.writable) this.#owed.length = 0;
    if (this.#owed.length === 0 || this.#stopped) return;
    this.#producing = true;
    try {
      await this.#flushOwed();
    } finally {
      this.#producing = false;
    }
  }

  async #flushOwed(): Promise<void> {
    // In ranges of at most MAX_OWED_BLOCKS: blocks owed through a long refusal (a full disk) are many.
    while (this.#owed.length > 0) await this.#flushRange(this.#owed.splice(0, MAX_OWED_BLOCKS));
  }

  async #flushRange(ts: number[]): Promise<void> {
    let outcome: Awaited<ReturnType<typeof this.node.submit>>;
    try {
      outcome = await this.node.submit({ command: { kind: "block_range", ts } });
    } catch (error) {
      // Refused before it ran (a full disk, a rebuild): the blocks are still owed, in order.
      this.#owed.unshift(...ts);
      throw error;
    }
    if (outcome.ok) {
      this.#blocks += ts.length;
      return;
    }
    if (outcome.error.code === "STORAGE_FULL" || outcome.error.code === "UNAVAILABLE") {
      this.#owed.unshift(...ts);
      throw outcome.error;
    }
    // A block in the range was not routine (a violation, say): log each with its effects.
    for (const t of ts) {
      const single = await this.node.submit({ command: { kind: "block", ts: t, extrinsics: [] } });
      if (!single.ok) throw single.error;
      this.#blocks++;
    }
  }

  /** A block time passed: owe an empty block, or produce a real one. */
  async #tick(): Promise<void> {
    if (this.#producing || this.#stopped) return;
    if (!this.node.writable) {
      // Nothing will be produced again: answer whoever waits instead of leaving them hanging.
      for (const w of this.#waiting.splice(0)) w.reject(new DomainError("UNAVAILABLE", this.node.writer.refusal));
      this.#owed.length = 0;
      return;
    }
    // A timer's task: a refusal here (the node stopping writes) must not become an unhandled rejection.
    await this.#tickWork().catch(() => undefined);
  }

  async #tickWork(): Promise<void> {
    await this.#sweepChallenges();
    await this.attributePending();
    if (this.#waiting.length === 0 && !(await this.#epochDueNext())) {
      this.#owed.push(this.node.clock.now());
      if (this.#owed.length >= MAX_OWED_BLOCKS) await this.settle();
      return;
    }
    await this.produce();
  }

  async #epochDueNext(): Promise<boolean> {
    return this.node.read((state) => {
      const next = head(state.chain).block + this.#owed.length + 1;
      return state.chain.subnets.sortedKeys().some((u) => {
        const s = state.chain.subnets.get(u);
        return s !== undefined && isEpochBlock(next, u, s.tempo);
      });
    });
  }

  /** Produces one block now with whatever extrinsics are waiting (after any owed blocks). */
  async produce(): Promise<number | null> {
    if (this.#producing || this.#stopped) return null;
    if (this.blockTimeMs === 0 && this.#waiting.length === 0) return null;
    this.#producing = true;
    const batch = this.#waiting.splice(0);
    try {
      await this.#flushOwed();
      const ts = this.node.clock.now();
      // A request's Idempotency-Key is held 24 hours from its block's time (command time).
      const extrinsics = batch.map(({ extrinsic: x }) => (x.request ? { ...x, request: { ...x.request, ts } } : x));
      const outcome = await this.node.submit({ command: { kind: "block", ts, extrinsics } });
      if (!outcome.ok) throw outcome.error;
      this.#blocks++;
      await this.#sweepChallenges();
      await this.attributePending();
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

  /**
   * Every block time, challenges that ran out of time are failed, so a 90-day time-out does not
   * wait for a price to arrive. Refused, and so not logged, when none has.
   */
  async #sweepChallenges(): Promise<void> {
    await this.node.submit({ command: { kind: "sweep_challenges", ts: this.node.clock.now() } }).catch(() => undefined);
  }

  /** Shares the alpha the last epoch paid to entities among their subaccounts. */
  attributePending(): Promise<void> {
    return attributePending(this.node);
  }

  /** The chain's head as committed. */
  head(): Promise<ReturnType<typeof head>> {
    return this.node.read((state) => head(state.chain));
  }
}
