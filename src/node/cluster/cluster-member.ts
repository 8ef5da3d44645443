import pg from "pg";
import { EPISTULA_FUTURE_MS, EPISTULA_PAST_MS, type EpistulaVerifier } from "../../api/epistula.ts";
import { openStore } from "../../store/open-store.ts";
import type { Store } from "../../store/store.ts";
import type { StoredEvent } from "../../store/stored-event.ts";
import type { NodeCondition, PropnetNode } from "../node.ts";
import { ConsistentHeadStore } from "./consistent-head-store.ts";
import type { ForwardingOptions } from "./forward-writes.ts";
import { ReplicaTail } from "./replica-tail.ts";
import { commitChannel, currentWriter, WriterLock } from "./writer-lock.ts";

export interface ClusterOptions {
  url: string;
  schema: string;
  /** This process's HTTP base URL, published while it writes. */
  address: string;
  /** How often a reader tries to take the writer's lock. */
  lockPollMs?: number;
  /** How often a reader reads the log without a notification. */
  tailPollMs?: number;
  say: (message: string) => void;
  /** The writer's lock was lost under it (the connection failed): it must stop writing now. */
  onLockLost: (error: Error) => void;
}

/** The Epistula uuids a committed row used: its command's, and each extrinsic's in a block. */
export function requestUuidsOf(payload: string): string[] {
  if (!payload.includes('"request"')) return [];
  const parsed = JSON.parse(payload) as { request?: { uuid?: unknown }; effects?: Array<{ k?: unknown; uuid?: unknown }> };
  const found: string[] = [];
  if (typeof parsed.request?.uuid === "string") found.push(parsed.request.uuid);
  for (const e of Array.isArray(parsed.effects) ? parsed.effects : []) if (e.k === "request" && typeof e.uuid === "string") found.push(e.uuid);
  return found;
}

/**
 * One process of a validator running as several on one PostgreSQL log (DESIGN.md §5, issue #11).
 * It is the writer while it holds the advisory lock, else a reader: it tails the log into its
 * replica (woken by the writer's NOTIFY, polling as the fallback), tries for the lock every few
 * hundred ms, and on taking it catches up to the end of the log and becomes the writer.
 */
export class ClusterMember {
  readonly #options: ClusterOptions;
  readonly #lock: WriterLock;
  /** Reads the writer's address and LISTENs; separate from the lock so a slow read never delays it. */
  readonly #listener: pg.Client;
  #role: "writer" | "reader";
  #node: PropnetNode | null = null;
  #tail: ReplicaTail | null = null;
  #lockTimer: NodeJS.Timeout | null = null;
  #promoting: Promise<void> | null = null;
  #stopped = false;
  #writerAddress: { address: string | null; at: number } | null = null;
  #notifying = false;
  #notifyAgain = false;
  #onPromoted: (() => Promise<void>) | null = null;
  #epistula: EpistulaVerifier | null = null;
  #problem: string | null = null;

  private constructor(options: ClusterOptions, lock: WriterLock, listener: pg.Client, role: "writer" | "reader") {
    this.#options = options;
    this.#lock = lock;
    this.#listener = listener;
    this.#role = role;
    listener.on("error", (error) => {
      this.#problem = `cluster: the LISTEN connection failed (${error.message}); the replica polls the log`;
    });
    listener.on("notification", () => this.#tail?.wake());
    lock.onLost((error) => {
      if (this.#role === "writer") options.onLockLost(error);
    });
  }

  /** Connects and tries the lock once: the answer says whether the node opens as writer or reader. */
  static async connect(options: ClusterOptions): Promise<ClusterMember> {
    const lock = await WriterLock.connect(options.url, options.schema);
    const listener = new pg.Client({ connectionString: options.url });
    try {
      await listener.connect();
      await listener.query(`LISTEN ${commitChannel(options.schema)}`);
      const held = await lock.tryAcquire();
      return new ClusterMember(options, lock, listener, held ? "writer" : "reader");
    } catch (error) {
      await Promise.allSettled([lock.close(), listener.end()]);
      throw error;
    }
  }

  get role(): "writer" | "reader" {
    return this.#role;
  }

  /** A store on the log (the same PostgreSQL schema for every process). */
  openStore = (): Promise<Store> => openStore({ backend: "postgres", url: this.#options.url, schema: this.#options.schema });

  /** The store the node opens with: a reader's sees one head at a time while the writer appends. */
  openNodeStore = async (): Promise<Store> => {
    const store = await this.openStore();
    return this.#role === "reader" ? new ConsistentHeadStore(store) : store;
  };

  /** After each commit (writer): readers are told there is more to read. Coalesced: one NOTIFY in flight. */
  committed = (): void => {
    if (this.#role !== "writer") return;
    if (this.#notifying) {
      this.#notifyAgain = true;
      return;
    }
    this.#notifying = true;
    void (async () => {
      do {
        this.#notifyAgain = false;
        await this.#lock.notify(this.#node?.committedHead.seq ?? 0).catch(() => {});
      } while (this.#notifyAgain && this.#role === "writer");
      this.#notifying = false;
    })();
  };

  /** What `/healthz` adds while something is wrong with this process's part in the cluster. */
  condition(): NodeCondition | null {
    const broken = this.#tail?.broken;
    if (broken) return { problem: `replica stopped: ${broken.message}; restart this process`, degraded: true };
    const lagging = this.#tail?.lastError;
    if (lagging) return { problem: `replica cannot read the log: ${lagging}`, degraded: false };
    return this.#problem ? { problem: this.#problem, degraded: false } : null;
  }

  /**
   * Starts this process's part once its node is open: the writer publishes its address; a reader
   * tails the log into the node's state and tries for the lock, calling `onPromoted` (start the
   * block producer and the rest) once it writes.
   */
  async start(node: PropnetNode, epistula: EpistulaVerifier, onPromoted: () => Promise<void>): Promise<void> {
    this.#node = node;
    this.#epistula = epistula;
    this.#onPromoted = onPromoted;
    node.watch("cluster", () => this.condition());
    if (this.#role === "writer") {
      await this.#lock.publish(this.#options.address, node.clock.now());
      return;
    }
    this.#tail = new ReplicaTail(node, {
      pollMs: this.#options.tailPollMs,
      onRow: (row) => this.#rememberUuids(row),
      say: this.#options.say,
      onBroken: (error) => this.#options.say(`replica stopped at seq ${error.seq}: ${error.message}; this process serves what it has and will not become the writer`),
    });
    this.#tail.start();
    const pollMs = this.#options.lockPollMs ?? 250;
    this.#lockTimer = setInterval(() => void this.#tryLock(), pollMs);
    this.#lockTimer.unref();
  }

  /** The uuids of committed writes stay used on every process (a replay sent to a reader is refused). */
  #rememberUuids(row: StoredEvent): void {
    const epistula = this.#epistula;
    if (!epistula || !this.#node) return;
    // Only the window Epistula accepts matters: older timestamps are refused anyway.
    if (row.ts < this.#node.clock.now() - EPISTULA_PAST_MS - EPISTULA_FUTURE_MS) return;
    for (const uuid of requestUuidsOf(row.payload)) epistula.remember(uuid, row.ts + EPISTULA_FUTURE_MS);
  }

  async #tryLock(): Promise<void> {
    if (this.#stopped || this.#promoting || this.#role === "writer" || this.#tail?.broken) return;
    let held: boolean;
    try {
      held = await this.#lock.tryAcquire();
    } catch (error) {
      // The lock's connection broke: a reader simply cannot become the writer until restarted.
      this.#problem = `cluster: the writer lock's connection failed (${(error as Error).message}); this process stays a reader until restarted`;
      if (this.#lockTimer) clearInterval(this.#lockTimer);
      return;
    }
    if (!held || this.#stopped) return;
    this.#promoting = this.#promote().finally(() => {
      this.#promoting = null;
    });
  }

  /**
   * Holding the lock: catch the replica up to the end of the log, open a store that continues the
   * log's head, and write from there. A failure here leaves the process unable to tell what it
   * holds, so it is fatal (the supervisor restarts it, as a reader).
   */
  async #promote(): Promise<void> {
    const node = this.#node as PropnetNode;
    const tail = this.#tail as ReplicaTail;
    const started = performance.now();
    try {
      // No round of the tail may run once this process writes (it would apply our own rows twice).
      await tail.stop({ keepWaiters: true });
      const store = await this.openStore();
      const head = await store.recordedHead();
      let reached = await tail.catchUp();
      // Rows may land after the store read the head only from a writer that lost the lock; its
      // appends and ours are fenced against each other, so the log never forks.
      if (reached.seq !== head.seq || reached.hash !== head.hash) {
        reached = await tail.catchUp();
        if (reached.seq !== head.seq || reached.hash !== head.hash) {
          await store.close();
          throw new Error(`the replica reached seq ${reached.seq} but the log's head is seq ${head.seq}`);
        }
      }
      if (this.#lockTimer) clearInterval(this.#lockTimer);
      await node.promote(store);
      this.#role = "writer";
      this.#tail = null;
      this.#writerAddress = null;
      await this.#lock.publish(this.#options.address, node.clock.now());
      this.#options.say(`took the writer lock: writing from seq ${head.seq} (caught up in ${Math.round(performance.now() - started)} ms)`);
      await this.#onPromoted?.();
      this.committed();
    } catch (error) {
      this.#options.onLockLost(new Error(`becoming the writer failed: ${(error as Error).message}`));
    }
  }

  /** The writer's base URL for forwarded writes, cached for a moment (null: no writer now). */
  async writerAddress(): Promise<string | null> {
    const cached = this.#writerAddress;
    if (cached && performance.now() - cached.at < (cached.address ? 2_000 : 100)) return cached.address;
    const record = await currentWriter(this.#listener, this.#options.schema);
    // Never our own address: a reader that forwards to itself would loop.
    const address = record && record.address !== this.#options.address ? record.address : null;
    this.#writerAddress = { address, at: performance.now() };
    return address;
  }

  /** What the HTTP layer needs to forward writes (installForwarding). */
  forwarding(epistula: EpistulaVerifier): ForwardingOptions {
    return {
      role: () => this.#role,
      writerAddress: () => this.writerAddress(),
      forgetWriter: () => {
        this.#writerAddress = null;
      },
      waitFor: (seq, timeoutMs) => this.#tail?.waitFor(seq, timeoutMs) ?? Promise.resolve(true),
      committedSeq: () => this.#node?.committedHead.seq ?? null,
      epistula,
    };
  }

  /** Stops trying for the lock and tailing (a stopping process must not become the writer). */
  async stopFollowing(): Promise<void> {
    this.#stopped = true;
    if (this.#lockTimer) clearInterval(this.#lockTimer);
    await this.#promoting;
    await this.#tail?.stop();
  }

  /** Ends both connections; a writer's lock goes with its session, and another process takes over. */
  async close(): Promise<void> {
    await this.stopFollowing();
    await Promise.allSettled([this.#lock.close(), this.#listener.end()]);
  }
}
