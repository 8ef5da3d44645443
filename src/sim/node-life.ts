import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { ChainGenesis } from "../core/chain/chain-state.ts";
import type { PayoutPeriod } from "../core/debt/payout-period.ts";
import type { Endowment, Handlers } from "../core/machine/commands.ts";
import { BlockProducer } from "../node/block-producer.ts";
import { NodeClock } from "../node/clock.ts";
import { PropnetNode } from "../node/node.ts";
import { devnetWeights, type WeightRound, WeightSetter } from "../node/weight-setter.ts";
import { headFilePath } from "../store/head-file.ts";
import { type AckedBatch, FaultyStore, type SimDisk } from "./faulty-store.ts";
import type { SeededRandom } from "./seeded-random.ts";
import type { VirtualClock } from "./virtual-clock.ts";

export interface LifeOptions {
  dataDir: string;
  clock: VirtualClock;
  /** Commit latency and landing decisions of this life's stores. */
  random: SeededRandom;
  disk: SimDisk;
  threaded: boolean;
  genesis: Endowment[];
  chainGenesis: ChainGenesis;
  payoutPeriod: PayoutPeriod;
  /** The node's validator hotkey (registered and staked at genesis). */
  validator: string;
  /** A fault fired in a store: a crash ends the life. */
  onCrash: (fault: string) => void;
  ackBeforeDurable?: boolean;
  handlers?: Handlers;
}

/** Writes are refused below this much free space (the node's --min-free-mb). */
export const SIM_MIN_FREE_BYTES = 64 * 1024 * 1024;

/**
 * One simulated process: the real node (writer, recovery, snapshots, storage guard, head file) on
 * faulty stores, its block producer (driven by the simulator, never by a timer) and its validator's
 * weight setter. Its clock reads the virtual wall and monotonic clocks. A life ends by a crash
 * (abandoned: nothing more reaches the disk) or a clean stop.
 */
export class NodeLife {
  #snapshots = new Set<Promise<unknown>>();
  #disturbedAt: number;
  #dead = false;

  private constructor(
    readonly options: LifeOptions,
    readonly node: PropnetNode,
    /** Every store the node opened (a rebuild after a full disk opens another), oldest first. */
    readonly stores: FaultyStore[],
    readonly producer: BlockProducer,
    readonly weights: WeightSetter,
    /** Errors the node reported as fatal (a failed commit: production exits here). */
    readonly fatal: unknown[],
    /** Execution faults (an exception in apply, an invariant in strict mode): always a failure of the run. */
    readonly faults: string[],
    /** What the node said (snapshots ignored, storage full, clock jumps). */
    readonly said: string[],
  ) {
    this.#disturbedAt = stores.length;
  }

  /** The store the node writes to now. */
  get store(): FaultyStore {
    return this.stores[this.stores.length - 1] as FaultyStore;
  }

  /** The last batch any of this life's stores acknowledged. */
  get acked(): AckedBatch | null {
    for (let i = this.stores.length - 1; i >= 0; i--) {
      const a = (this.stores[i] as FaultyStore).acked;
      if (a) return a;
    }
    return null;
  }

  /** A commit failed or a crash fired since the last `calm`: what is in flight gets no answer. */
  get disturbed(): boolean {
    return this.stores.slice(this.#disturbedAt - 1).some((s) => s.failure !== null);
  }

  /** The disturbance was dealt with (the node rebuilt its state on a fresh store). */
  calm(): void {
    this.#disturbedAt = this.stores.length;
  }

  static async open(options: LifeOptions): Promise<NodeLife> {
    options.clock.reboot();
    const stores: FaultyStore[] = [];
    let opened: PropnetNode | null = null;
    let life: NodeLife | null = null;
    const fatal: unknown[] = [];
    const faults: string[] = [];
    const said: string[] = [];
    const node = await PropnetNode.open({
      dataDir: options.dataDir,
      strict: true,
      genesis: options.genesis,
      chainGenesis: options.chainGenesis,
      payoutPeriod: options.payoutPeriod,
      handlers: options.handlers,
      // Snapshots are taken by the simulator (the same call the node makes every N events), so it knows which are in flight.
      snapshotEvery: Number.MAX_SAFE_INTEGER,
      snapshotIntervalMs: Number.MAX_SAFE_INTEGER,
      clock: new NodeClock(() => options.clock.wall(), { monotonic: () => options.clock.monotonic() }),
      minFreeBytes: SIM_MIN_FREE_BYTES,
      freeBytes: () => options.disk.freeBytes,
      openStore: async (path) => {
        const store = await FaultyStore.open({
          path,
          threaded: options.threaded,
          random: options.random,
          disk: options.disk,
          state: () => opened?.state ?? null,
          onCrash: options.onCrash,
          ackBeforeDurable: options.ackBeforeDurable,
        });
        stores.push(store);
        // A store opened by a dead process (a rebuild that outlived the crash) writes nothing.
        if (life !== null && life.#dead) store.abandon();
        return store;
      },
      say: (message) => said.push(message),
      onFatal: (error) => fatal.push(error),
      onFault: (problem) => faults.push(problem),
    });
    opened = node;
    // No timer: blocks come when the simulator asks (the blocks the producer owes are its block_range commands).
    const producer = new BlockProducer(node, 1);
    const weights = new WeightSetter(node, devnetWeights(producer), options.validator, 12_000);
    life = new NodeLife(options, node, stores, producer, weights, fatal, faults, said);
    return life;
  }

  /** The node takes a snapshot now, as it does every N events: concurrently with whatever is in flight. */
  snapshot(): Promise<string | null> {
    const tracked = this.node.snapshot().catch((error: unknown) => {
      this.said.push(`snapshot failed: ${(error as Error).message}`);
      return null;
    });
    this.#snapshots.add(tracked);
    void tracked.finally(() => this.#snapshots.delete(tracked));
    return tracked;
  }

  /** Snapshots in flight have finished (written or failed). */
  async settleSnapshots(): Promise<void> {
    while (this.#snapshots.size > 0) await Promise.allSettled([...this.#snapshots]);
  }

  /**
   * The validator scores and sets weights now (WeightSetter.setNow): its set_weights extrinsic
   * waits for a block, which the simulator produces as soon as it is queued.
   */
  async setWeights(): Promise<WeightRound> {
    let settled = false;
    const round = this.weights.setNow().finally(() => {
      settled = true;
    });
    while (!settled) {
      if (this.producer.waiting > 0) await this.producer.produce();
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return round;
  }

  /**
   * The process dies (or died): nothing reaches the disk from now on. Its stores refuse every
   * append; batches that were being committed reach their end; snapshots being written finish;
   * the files are left as a dead process leaves them. Only then is the node object closed, to
   * stop its timers and free its files (its store is dead, no snapshot is taken, and the head file
   * is put back byte for byte as the death left it).
   */
  async abandon(): Promise<void> {
    this.#dead = true;
    for (const s of this.stores) s.abandon();
    await this.settleSnapshots();
    for (const s of this.stores) await s.shutdown();
    const head = headFilePath(this.options.dataDir);
    const left = existsSync(head) ? readFileSync(head) : null;
    await this.node.close({ snapshot: false }).catch(() => undefined);
    if (left !== null && !readFileSync(head).equals(left)) writeFileSync(head, left);
  }

  /** A clean stop (SIGTERM): drain, final snapshot, close. */
  async close(): Promise<void> {
    await this.settleSnapshots();
    await this.node.close();
  }
}
