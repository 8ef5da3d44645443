import { randomBytes, timingSafeEqual } from "node:crypto";
import pg from "pg";
import { EPISTULA_FUTURE_MS, EPISTULA_PAST_MS, type EpistulaVerifier } from "../../epistula/epistula.ts";
import { openStore } from "../../store/open-store.ts";
import type { Store } from "../../store/store.ts";
import type { StoredEvent } from "../../store/stored-event.ts";
import type { NodeCondition, PropnetNode } from "../node.ts";
import { ConsistentHeadStore } from "./consistent-head-store.ts";
import { ReplicaTail } from "./replica-tail.ts";
import { commitChannel, currentWriter, WriterLock } from "../../store/postgres/writer-lock.ts";

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

/** A reconnect after a lost connection is tried this often. */
const RECONNECT_MS = 1_000;
/** A reader that took the lock and is not writing after this long gives it up (exits; its supervisor restarts it). */
const PROMOTION_LIMIT_MS = 10_000;

/** What the HTTP layer (src/api/forward-writes.ts) needs of the cluster to forward a reader's writes. */
export interface ForwardingOptions {
  /** This process's role now. */
  role(): "writer" | "reader";
  /** The writer's base URL and token (cached); a null address when none holds the lock right now. */
  writer(): Promise<{ address: string | null; token: string | null }>;
  /** The cached address failed: read it again next time. */
  forgetWriter(): void;
  /** Resolves true once this process's replica reached `seq`, false after `timeoutMs`. */
  waitFor(seq: number, timeoutMs: number): Promise<boolean>;
  /** The seq of the last committed row (writer): named in every write's answer. */
  committedSeq(): number | null;
  /**
   * Node time when this process took over as the writer (null: it started as the writer, and the
   * verifier's start-up guard covers it). Writes signed before it are refused for a moment.
   */
  promotedAt?: () => number | null;
  now?: () => number;
  /** Whether a forwarded request's token is this writer's own (another process of this validator sent it). */
  isForwardedByPeer(token: string): boolean;
  epistula: EpistulaVerifier;
  /** How long a forwarded write may take (an extrinsic waits for its block). Default 30 s. */
  timeoutMs?: number;
  /** How long a reader waits for its replica to reach the written seq before answering anyway. Default 5 s. */
  catchUpMs?: number;
}

/**
 * One process of a validator running as several on one PostgreSQL log (DESIGN.md §5, issue #11).
 * It is the writer while it holds the advisory lock, else a reader: it tails the log into its
 * replica (woken by the writer's NOTIFY, polling as the fallback), tries for the lock every few
 * hundred ms, and on taking it catches up to the end of the log and becomes the writer.
 */
export class ClusterMember {
  readonly #options: ClusterOptions;
  #lock: WriterLock;
  /** LISTENs for the writer's commits; replaced when it fails (the tail polls meanwhile). */
  #listener: pg.Client | null = null;
  /** Reads who writes (a pool: it reconnects by itself). */
  readonly #pool: pg.Pool;
  #role: "writer" | "reader";
  #node: PropnetNode | null = null;
  #tail: ReplicaTail | null = null;
  #lockTimer: NodeJS.Timeout | null = null;
  #promoting: Promise<void> | null = null;
  #reconnecting: Promise<void> | null = null;
  #stopped = false;
  #writer: { address: string | null; token: string | null; at: number } | null = null;
  /** What this process, as the writer, publishes for readers to send with forwarded writes. */
  readonly #token = randomBytes(24).toString("hex");
  #notifying = false;
  #notifyAgain = false;
  #onPromoted: (() => Promise<void>) | null = null;
  #epistula: EpistulaVerifier | null = null;
  #problem: string | null = null;
  /** Node time when this process became the writer by taking over (null: it started as the writer). */
  #promotedAt: number | null = null;

  private constructor(options: ClusterOptions, lock: WriterLock, role: "writer" | "reader") {
    this.#options = options;
    this.#lock = lock;
    this.#role = role;
    this.#pool = new pg.Pool({ connectionString: options.url, max: 2 });
    this.#pool.on("error", () => {});
    this.#watchLock(lock);
  }

  /**
   * Connects. A process opens as a reader, and takes the lock only once its replica is open and
   * tailing (so a process still replaying never holds up a failover); only on an empty log does it
   * try the lock at once, to write the genesis.
   */
  static async connect(options: ClusterOptions): Promise<ClusterMember> {
    const lock = await WriterLock.connect(options.url, options.schema);
    try {
      const held = (await lock.logIsEmpty()) && (await lock.tryAcquire());
      const member = new ClusterMember(options, lock, held ? "writer" : "reader");
      await member.#listen();
      return member;
    } catch (error) {
      await lock.close();
      throw error;
    }
  }

  get role(): "writer" | "reader" {
    return this.#role;
  }

  #watchLock(lock: WriterLock): void {
    lock.onLost((error) => {
      if (this.#role === "writer") this.#options.onLockLost(error);
    });
  }

  /** LISTEN on a connection of its own; on failure, reconnects later (the tail polls meanwhile). */
  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#options.url });
    const lost = (why: string) => {
      if (this.#listener !== client) return;
      this.#listener = null;
      this.#problem = `cluster: the LISTEN connection failed (${why}); the replica polls the log until it is back`;
      void client.end().catch(() => {});
      if (!this.#stopped) setTimeout(() => void this.#listen().catch(() => {}), RECONNECT_MS).unref();
    };
    client.on("error", (error) => lost(error.message));
    client.on("end", () => lost("connection ended"));
    client.on("notification", () => this.#tail?.wake());
    try {
      await client.connect();
      await client.query(`LISTEN ${commitChannel(this.#options.schema)}`);
    } catch (error) {
      await client.end().catch(() => {});
      // At start a database that cannot be reached refuses the start; later the tail polls meanwhile.
      if (this.#node === null) throw error;
      this.#problem ??= `cluster: cannot LISTEN (${(error as Error).message}); the replica polls the log`;
      if (!this.#stopped) setTimeout(() => void this.#listen().catch(() => {}), RECONNECT_MS).unref();
      return;
    }
    if (this.#stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.#listener = client;
    this.#problem = null;
    // Commits may have landed while it was away.
    this.#tail?.wake();
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
      await this.#lock.publish(this.#options.address, this.#token, node.clock.now());
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
    if (this.#stopped || this.#promoting || this.#reconnecting || this.#role === "writer" || this.#tail?.broken) return;
    let held: boolean;
    try {
      held = await this.#lock.tryAcquire();
    } catch (error) {
      // The lock's connection broke while this process was a reader: it held nothing; reconnect.
      this.#problem = `cluster: the writer lock's connection failed (${(error as Error).message}); reconnecting`;
      this.#reconnecting = this.#reconnectLock().finally(() => {
        this.#reconnecting = null;
      });
      return;
    }
    if (!held || this.#stopped) return;
    this.#promoting = this.#promote().finally(() => {
      this.#promoting = null;
    });
  }

  async #reconnectLock(): Promise<void> {
    const old = this.#lock;
    await old.close();
    while (!this.#stopped) {
      try {
        const lock = await WriterLock.connect(this.#options.url, this.#options.schema);
        if (this.#stopped) {
          await lock.close();
          return;
        }
        this.#lock = lock;
        this.#watchLock(lock);
        this.#problem = null;
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
      }
    }
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
    this.#options.say(`took the writer lock at seq ${node.committedHead.seq}: catching up with the log`);
    // Holding the lock without writing holds every other process back: past this long, give it up.
    const watchdog = setTimeout(() => this.#options.onLockLost(new Error(`becoming the writer took longer than ${PROMOTION_LIMIT_MS / 1000} s`)), PROMOTION_LIMIT_MS);
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
      this.#promotedAt = node.clock.now();
      this.#role = "writer";
      this.#tail = null;
      this.#writer = null;
      await this.#lock.publish(this.#options.address, this.#token, node.clock.now());
      this.#options.say(`took the writer lock: writing from seq ${head.seq} (caught up in ${Math.round(performance.now() - started)} ms)`);
      await this.#onPromoted?.();
      this.committed();
    } catch (error) {
      this.#options.onLockLost(new Error(`becoming the writer failed: ${(error as Error).message}`));
    } finally {
      clearTimeout(watchdog);
    }
  }

  /** Who writes, for forwarded writes: cached for a moment (null address: no writer right now). */
  async #currentWriter(): Promise<{ address: string | null; token: string | null }> {
    const cached = this.#writer;
    if (cached && performance.now() - cached.at < (cached.address ? 2_000 : 100)) return cached;
    const record = await currentWriter(this.#pool, this.#options.schema);
    // Never our own address: a reader that forwards to itself would loop.
    const mine = record === null || record.address === this.#options.address;
    this.#writer = { address: mine ? null : record.address, token: mine ? null : record.token, at: performance.now() };
    return this.#writer;
  }

  /** What the HTTP layer needs to forward writes (installForwarding). */
  forwarding(epistula: EpistulaVerifier): ForwardingOptions {
    const token = Buffer.from(this.#token);
    return {
      role: () => this.#role,
      writer: () => this.#currentWriter(),
      forgetWriter: () => {
        this.#writer = null;
      },
      waitFor: (seq, timeoutMs) => this.#tail?.waitFor(seq, timeoutMs) ?? Promise.resolve(true),
      committedSeq: () => this.#node?.committedHead.seq ?? null,
      promotedAt: () => this.#promotedAt,
      now: () => this.#node?.clock.now() ?? Date.now(),
      isForwardedByPeer: (sent) => this.#role === "writer" && sent.length === token.length && timingSafeEqual(Buffer.from(sent), token),
      epistula,
    };
  }

  /** Stops trying for the lock and tailing (a stopping process must not become the writer). */
  async stopFollowing(): Promise<void> {
    this.#stopped = true;
    if (this.#lockTimer) clearInterval(this.#lockTimer);
    await this.#promoting;
    await this.#reconnecting;
    await this.#tail?.stop();
  }

  /** Ends its connections; a writer's lock goes with its session, and another process takes over. */
  async close(): Promise<void> {
    await this.stopFollowing();
    const listener = this.#listener;
    this.#listener = null;
    await Promise.allSettled([this.#lock.close(), listener?.end(), this.#pool.end()]);
  }
}
