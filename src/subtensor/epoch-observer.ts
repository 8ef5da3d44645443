import type { ChainHead, EpochReader } from "./epoch-reader.ts";
import type { EpochGap, EpochObservationWithOwner, ObservedEpochWithOwner } from "./observed-epoch.ts";
import { errorMessage, isStateUnavailable, SubtensorError } from "./subtensor-error.ts";

export interface EpochObserverOptions {
  netuid: number;
  /** The node the validator follows (a pruning node is enough while it keeps up). */
  reader: EpochReader;
  /** An archive node, to fill epochs the node missed while it was down or disconnected. */
  archive?: EpochReader;
  /** The last epoch block already recorded (from the log): observation continues after it. */
  after?: number | null;
  /** At most this many missed epochs are walked back and filled; beyond it, a gap. */
  maxBackfill?: number;
}

export interface ObserverLoop {
  stop(): Promise<void>;
}

/**
 * Watches a subnet's `LastMechansimStepBlock` (sic) at the finalized head. Each new value is one
 * epoch, observed exactly once; a repeated value is nothing new. When the value has moved past
 * epochs the observer never saw (the previous epoch block, read in the state just before the new
 * one, is not the last it recorded), it walks them back and reads them from the node, or from the
 * archive node when the node has pruned them; what neither can read is reported as a gap, never
 * invented.
 */
export class EpochObserver {
  readonly netuid: number;
  readonly #reader: EpochReader;
  readonly #archive: EpochReader | undefined;
  readonly #maxBackfill: number;
  #last: number | null;
  #checked: ChainHead | null = null;

  constructor(options: EpochObserverOptions) {
    this.netuid = options.netuid;
    this.#reader = options.reader;
    this.#archive = options.archive;
    this.#last = options.after ?? null;
    this.#maxBackfill = options.maxBackfill ?? 1_000;
  }

  /** The last epoch block observed (or reported within a gap). */
  get lastEpochBlock(): number | null {
    return this.#last;
  }

  /** The finalized head at the last successful poll: everything up to it has been looked at. */
  get checkedHead(): ChainHead | null {
    return this.#checked;
  }

  /**
   * One look at the chain: the observations since the last poll, oldest first. Throws on a
   * transient failure (connection, timeout), having recorded nothing: the next poll retries.
   */
  async poll(): Promise<EpochObservationWithOwner[]> {
    const head = await this.#reader.finalizedHead();
    const current = await this.#reader.lastStepBlock(this.netuid, head.number);
    const last = this.#last;
    if (current === 0 || current === last) {
      this.#checked = head;
      return [];
    }
    if (last !== null && current < last) {
      throw new SubtensorError("UNEXPECTED_CHAIN_DATA", `LastMechansimStepBlock(${this.netuid}) went back from ${last} to ${current}`);
    }
    // With nothing recorded yet, the current epoch is the first one observed.
    const { blocks, unknown } = last === null ? { blocks: [current], unknown: null } : await this.#epochsSince(last, current);
    const observations = await this.#read(last ?? current - 1, blocks, unknown);
    this.#last = current;
    this.#checked = head;
    return observations;
  }

  /**
   * The epoch blocks after `last` up to `current`, found by reading LastMechansimStepBlock just
   * before each one. `unknown` says why the walk stopped short of `last` (state pruned and no
   * archive, or too many epochs): what lies before the first block returned is then a gap.
   */
  async #epochsSince(last: number, current: number): Promise<{ blocks: number[]; unknown: string | null }> {
    const blocks = [current];
    let block = current;
    while (blocks.length <= this.#maxBackfill) {
      let previous: number;
      try {
        previous = await this.#withArchive((reader) => reader.lastStepBlock(this.netuid, block - 1));
      } catch (error) {
        if (!isStateUnavailable(error)) throw error;
        return { blocks, unknown: `could not tell whether epochs fell between blocks ${last} and ${block}: ${this.#unavailable()}` };
      }
      if (previous <= last) return { blocks, unknown: null };
      blocks.unshift(previous);
      block = previous;
    }
    blocks.shift();
    return { blocks, unknown: `more than ${this.#maxBackfill} epochs were missed; the oldest were not filled` };
  }

  /**
   * Reads each epoch; a run it cannot read (and what `unknown` says lies before the first) becomes
   * one gap, between the epochs around it.
   */
  async #read(after: number, blocks: number[], unknown: string | null): Promise<EpochObservationWithOwner[]> {
    const out: EpochObservationWithOwner[] = [];
    let lastGood = after;
    let missing = unknown;
    for (const block of blocks) {
      let epoch: ObservedEpochWithOwner;
      try {
        epoch = await this.#withArchive((reader) => reader.epochAt(this.netuid, block));
      } catch (error) {
        if (!isStateUnavailable(error)) throw error;
        missing ??= `the state of epoch block ${block} is gone: ${this.#unavailable()}`;
        continue;
      }
      if (missing) out.push({ kind: "gap", gap: this.#gap(lastGood, block, missing) });
      missing = null;
      out.push({ kind: "epoch", epoch });
      lastGood = block;
    }
    const newest = blocks[blocks.length - 1];
    if (missing && newest !== undefined) out.push({ kind: "gap", gap: this.#gap(lastGood, newest + 1, missing) });
    return out;
  }

  /** The node first; the archive node when the node has pruned that state. */
  async #withArchive<T>(read: (reader: EpochReader) => Promise<T>): Promise<T> {
    try {
      return await read(this.#reader);
    } catch (error) {
      if (!this.#archive || !isStateUnavailable(error)) throw error;
      return read(this.#archive);
    }
  }

  #unavailable(): string {
    return this.#archive ? "neither the node nor the archive node holds it" : "the node has pruned it and no archive endpoint is configured";
  }

  #gap(afterBlock: number, beforeBlock: number, reason: string): EpochGap {
    return { netuid: this.netuid, afterBlock, beforeBlock, reason };
  }

  /**
   * Polls every `intervalMs` (one poll at a time) and hands each observation, in order, to
   * `onObservation`, waiting for each (record it durably there). Failures go to `onError`, never
   * to the event loop; an observation whose hand-off failed is observed and handed over again at
   * the next poll, and none after it is handed over before it.
   */
  start(options: {
    intervalMs: number;
    onObservation: (observation: EpochObservationWithOwner) => Promise<void> | void;
    onChecked?: (head: ChainHead) => void;
    onError?: (error: unknown) => void;
  }): ObserverLoop {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let running: Promise<void> = Promise.resolve();
    const report = (error: unknown) => {
      try {
        options.onError?.(error);
      } catch {
        // a failing error handler must not stop the loop
      }
    };
    const tick = async () => {
      let delivered = this.#last;
      const checkedBefore = this.#checked;
      try {
        const observations = await this.poll();
        try {
          for (const observation of observations) {
            if (stopped) throw new Error("stopped");
            await options.onObservation(observation);
            // an epoch block is done; after a gap, its upper bound is the next block to look at
            delivered = observation.kind === "epoch" ? observation.epoch.block : observation.gap.beforeBlock - 1;
          }
        } catch (error) {
          // not handed over: observe from the last one that was, next time
          this.#last = delivered;
          this.#checked = checkedBefore;
          throw error;
        }
        if (this.#checked) options.onChecked?.(this.#checked);
      } catch (error) {
        if (!stopped) report(new Error(`epoch observer, subnet ${this.netuid}: ${errorMessage(error)}`, { cause: error }));
      }
    };
    const schedule = () => {
      if (stopped) return;
      timer = setTimeout(() => {
        running = tick().finally(schedule);
      }, options.intervalMs);
    };
    running = tick().finally(schedule);
    return {
      async stop() {
        stopped = true;
        if (timer) clearTimeout(timer);
        await running;
      },
    };
  }
}
