import Database from "better-sqlite3";
import { type State, stateHash } from "../core/machine/state.ts";
import { INSERT_EVENT_SQL, SqliteStore } from "../store/sqlite/sqlite-store.ts";
import type { AppendReceipt, CheckpointRow, LogHead, Store } from "../store/store.ts";
import { checkLink, LogIntegrityError, type StoredEvent } from "../store/stored-event.ts";
import { openStore } from "../store/open-store.ts";
import type { SeededRandom } from "./seeded-random.ts";

/** The faults a commit can meet. */
export const COMMIT_FAULTS = ["crash_before_commit", "crash_during_commit", "crash_after_commit", "failed_commit", "enospc_log"] as const;
export type CommitFault = (typeof COMMIT_FAULTS)[number];

/** The process died here: nothing after this moment is written or answered. */
export class SimulatedCrash extends Error {
  override readonly name = "SimulatedCrash";
  constructor(readonly fault: string) {
    super(`simulated crash (${fault})`);
  }
}

/** What SQLite reports when a commit fails: `SQLITE_FULL` (no space left) or `SQLITE_IOERR`. */
export class SimulatedStorageError extends Error {
  override readonly name = "SqliteError";
  constructor(
    readonly code: "SQLITE_FULL" | "SQLITE_IOERR",
    message: string,
  ) {
    super(message);
  }
}

/** The disk a seed's stores share, across restarts. */
export interface SimDisk {
  /** Free bytes, as the node's storage guard probes them; at 0 every commit fails with SQLITE_FULL. */
  freeBytes: number;
}

/** A batch the store acknowledged (its append resolved), with the state hash the node had right after it. */
export interface AckedBatch {
  seq: number;
  /** null for batches appended before the simulator could see the node's state (during open). */
  hash: string | null;
}

export interface FaultyStoreOptions {
  path: string;
  /** The production store with its commit thread (real timing), rather than the in-thread one with simulated latency. */
  threaded: boolean;
  /** Commit latency (in event-loop turns) and which in-flight batches land at a crash. */
  random: SeededRandom;
  disk: SimDisk;
  /** The node's state, once the node is open: hashed at every append (it is then exactly the batch's end). */
  state: () => State | null;
  /** A fault fired: the simulator restarts the node. */
  onCrash: (fault: string) => void;
  /** A planted bug, for the simulator's own tests: acknowledge a batch before it is durable. */
  ackBeforeDurable?: boolean;
}

interface Entry {
  rows: readonly StoredEvent[];
  checkpoints: readonly CheckpointRow[];
  hash: string | null;
  fault: CommitFault | null;
  /** After a crash: this batch still reaches the disk (it was being committed), unacknowledged. */
  lands: boolean;
  settled: boolean;
  resolve: (receipt: AppendReceipt) => void;
  reject: (error: unknown) => void;
}

/**
 * The real SQLite store behind the Store interface, with faults injected at commits. Batches
 * commit in order, each after a seeded number of event-loop turns (so the writer overlaps
 * execution with commits as it does with the commit thread), and resolve only once durable. An
 * armed fault fires at the n-th append after arming. After a crash nothing more is written or
 * acknowledged and every batch in flight is refused, so an abandoned node can never write again.
 */
export class FaultyStore implements Store {
  readonly backend = "sqlite" as const;
  readonly #inner: Store;
  readonly #options: FaultyStoreOptions;
  #queue: Entry[] = [];
  /** The batch being committed now (out of the queue). */
  #current: Entry | null = null;
  #pumping: Promise<void> | null = null;
  #failure: Error | null = null;
  #armed: { fault: CommitFault; at: number } | null = null;
  #appends = 0;
  #acked: AckedBatch | null = null;
  /** Rows of the batch a crash cut during its commit: written in a transaction that never commits. */
  #torn: readonly StoredEvent[] | null = null;
  #shutdown: Promise<void> | null = null;
  /** Faults that fired here, in order. */
  readonly fired: CommitFault[] = [];

  private constructor(inner: Store, options: FaultyStoreOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  static async open(options: FaultyStoreOptions): Promise<FaultyStore> {
    // The unthreaded store is SQLite's in-thread one by name: the simulator tears writes into that file.
    const inner = options.threaded ? await openStore({ backend: "sqlite", path: options.path }) : SqliteStore.open(options.path);
    return new FaultyStore(inner, options);
  }

  /** The last batch acknowledged to the writer: every command it answered ok is at or before this seq. */
  get acked(): AckedBatch | null {
    return this.#acked;
  }

  /** Why appends are refused (a crash or a failed commit), or null. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Fires `fault` at the `nth` append from now (1 = the next). */
  arm(fault: CommitFault, nth: number): void {
    this.#armed = { fault, at: this.#appends + Math.max(1, nth) };
  }

  get armed(): CommitFault | null {
    return this.#armed?.fault ?? null;
  }

  recordedHead(): Promise<LogHead> {
    return this.#inner.recordedHead();
  }

  lastEvent(): Promise<StoredEvent | null> {
    return this.#inner.lastEvent();
  }

  eventAt(seq: number): Promise<StoredEvent | null> {
    return this.#inner.eventAt(seq);
  }

  readCheckpoints(trader: string, after: number, limit: number): Promise<CheckpointRow[]> {
    return this.#inner.readCheckpoints(trader, after, limit);
  }

  read(after: number, limit: number): Promise<StoredEvent[]> {
    return this.#inner.read(after, limit);
  }

  readPayloads(after: number, limit: number): Promise<Array<[number, string, string]>> {
    return this.#inner.readPayloads(after, limit);
  }

  /**
   * The production store checks the chain on a thread of its own; here in-thread (the simulator's
   * logs are small, and a thread costs more to start than the check), with the same verdicts.
   */
  async checkChain(from: LogHead, until: number, onProgress?: (seq: number) => void): Promise<LogHead> {
    if (this.#options.threaded) return this.#inner.checkChain(from, until, onProgress);
    let head = from;
    while (head.seq < until) {
      const page = await this.#inner.read(head.seq, Math.min(2_000, until - head.seq));
      if (page.length === 0) throw new LogIntegrityError(head.seq + 1, `event log is missing seq ${head.seq + 1}`);
      for (const row of page) {
        checkLink(row, head.seq + 1, head.hash);
        head = { seq: row.seq, hash: row.hash };
      }
      onProgress?.(head.seq);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return head;
  }

  append(rows: readonly StoredEvent[], checkpoints: readonly CheckpointRow[] = []): Promise<AppendReceipt> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (rows.length === 0) return Promise.resolve({ transactionMs: 0 });
    const state = this.#options.state();
    let resolve!: (receipt: AppendReceipt) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<AppendReceipt>((ok, no) => {
      resolve = ok;
      reject = no;
    });
    const entry: Entry = { rows, checkpoints, hash: state ? stateHash(state) : null, fault: null, lands: false, settled: false, resolve, reject };
    this.#appends++;
    if (this.#armed && this.#appends >= this.#armed.at) {
      entry.fault = this.#armed.fault;
      this.#armed = null;
    }
    if (entry.fault === "crash_before_commit") {
      // Death before this batch reached the store: of the batches ahead of it, being committed,
      // the one on the disk already lands and a prefix of the rest may (never acknowledged).
      if (this.#current) this.#current.lands = true;
      let landing = true;
      for (const e of this.#queue) {
        landing = landing && this.#options.random.chance(0.5);
        e.lands = landing;
      }
      this.#crash("crash_before_commit");
      reject(this.#failure);
      return promise;
    }
    this.#queue.push(entry);
    // The planted bug: answered at once, written later (lost if the process dies first).
    if (this.#options.ackBeforeDurable) this.#acknowledge(entry, 0);
    this.#pump();
    return promise;
  }

  /**
   * Stops all writing at a quiet moment (a restart the simulator chose): the node object is then
   * abandoned without being closed, and whatever it still tries to append is refused.
   */
  abandon(): void {
    if (!this.#failure) this.#crash("abandoned", false);
  }

  /** Once every batch in flight reached its end (written or dropped), closes the file as a dead process leaves it. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#shutdownOnce();
    return this.#shutdown;
  }

  async #shutdownOnce(): Promise<void> {
    while (this.#pumping) await this.#pumping;
    if (this.#torn) {
      // The cut transaction: part of the batch written, never committed (closing rolls it back, as recovery would).
      const db = new Database(this.#options.path);
      try {
        db.exec("BEGIN IMMEDIATE");
        const insert = db.prepare(INSERT_EVENT_SQL);
        for (const e of this.#torn.slice(0, Math.ceil(this.#torn.length / 2))) {
          insert.run(e.seq, e.block, e.ts, e.type, e.payload, e.signer, e.signature, e.hash, e.prevHash);
        }
      } finally {
        db.close();
      }
      this.#torn = null;
    }
    await this.#inner.close();
  }

  close(): Promise<void> {
    return this.shutdown();
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = (async () => {
      while (this.#queue.length > 0) {
        // Commit latency: a few event-loop turns, in which the writer may execute the next batch.
        if (!this.#failure && !this.#options.threaded) {
          for (let n = this.#options.random.int(0, 2); n > 0; n--) await new Promise<void>((resolve) => setImmediate(resolve));
        }
        this.#current = this.#queue.shift() as Entry;
        try {
          await this.#complete(this.#current);
        } finally {
          this.#current = null;
        }
      }
    })().finally(() => {
      this.#pumping = null;
    });
  }

  async #complete(e: Entry): Promise<void> {
    if (this.#failure) {
      // Dead: only a batch that was being committed at the moment of death reaches the disk.
      if (e.lands) await this.#write(e);
      return;
    }
    if (e.fault === "crash_during_commit") {
      this.#torn = e.rows;
      this.#crash("crash_during_commit");
      return;
    }
    if (e.fault === "failed_commit") return this.#fail(new SimulatedStorageError("SQLITE_IOERR", "disk I/O error"), "failed_commit");
    // The disk fills up under this commit (another process, a burst bigger than the reserve).
    if (e.fault === "enospc_log") this.#options.disk.freeBytes = 0;
    if (this.#options.disk.freeBytes <= 0) {
      return this.#fail(new SimulatedStorageError("SQLITE_FULL", "database or disk is full"), e.fault === "enospc_log" ? "enospc_log" : null);
    }
    let ms: number;
    try {
      ms = await this.#write(e);
    } catch (error) {
      return this.#fail(error as Error, null);
    }
    if (e.fault === "crash_after_commit") {
      this.#crash("crash_after_commit");
      return;
    }
    this.#acknowledge(e, ms);
  }

  async #write(e: Entry): Promise<number> {
    const started = performance.now();
    await this.#inner.append(e.rows, e.checkpoints);
    return performance.now() - started;
  }

  #acknowledge(e: Entry, ms: number): void {
    // Refused meanwhile (the process died while this one was being written): never answered.
    if (e.settled) return;
    e.settled = true;
    const last = e.rows[e.rows.length - 1] as StoredEvent;
    this.#acked = { seq: last.seq, hash: e.hash };
    e.resolve({ transactionMs: ms });
  }

  /** Everything in flight is refused; nothing behind a failure is written. */
  #refuseAll(error: Error): void {
    for (const x of this.#current ? [this.#current, ...this.#queue] : this.#queue) {
      if (!x.settled) {
        x.settled = true;
        x.reject(error);
      }
    }
  }

  /** A failed commit: this batch and all behind it are refused, unwritten, as the threaded store does. */
  #fail(error: Error, fault: CommitFault | null): void {
    if (fault) this.fired.push(fault);
    this.#failure = error;
    for (const x of this.#queue) x.lands = false;
    this.#refuseAll(error);
  }

  #crash(fault: string, announce = true): void {
    if (fault !== "abandoned") this.fired.push(fault as CommitFault);
    this.#failure = new SimulatedCrash(fault);
    this.#refuseAll(this.#failure);
    if (announce) this.#options.onCrash(fault);
  }
}
