import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { PayoutPeriod } from "../core/debt/payout-period.ts";
import type { ChainGenesis } from "../core/chain/chain-state.ts";
import { ApplyFailed, DomainError } from "../core/errors/errors.ts";
import type { Command, Endowment, Handlers } from "../core/machine/commands.ts";
import { exportState, hashSnapshot, type State } from "../core/machine/state.ts";
import type { NodeIdentity } from "../core/sync/sync-state.ts";
import { SNAPSHOT_FORMAT, writeSnapshot } from "../store/snapshot-files.ts";
import { HeadFile, headFilePath, readHeadFile } from "../store/head-file.ts";
import type { CheckpointRow, LogHead, Store } from "../store/store.ts";
import { GENESIS_HASH, LogIntegrityError, type StoredEvent } from "../store/stored-event.ts";
import { openStore } from "../store/open-store.ts";
import { CODE_VERSION } from "../version.ts";
import { NodeClock } from "./clock.ts";
import { EventLog } from "./event-log.ts";
import { NodeMetrics } from "./metrics.ts";
import { type Acknowledged, recover } from "./recover.ts";
import { DEFAULT_MIN_FREE_BYTES, freeBytes, StorageGuard } from "./storage-guard.ts";
import { type CommitStats, type Outcome, type Submission, Writer } from "./writer.ts";

export interface NodeOptions {
  dataDir: string;
  strict?: boolean;
  /** Take a snapshot after this many events... */
  snapshotEvery?: number;
  /** ...or this long after the last one, whichever comes first (if anything changed). */
  snapshotIntervalMs?: number;
  /** Applied as the first command of an empty log. */
  genesis?: Endowment[];
  /** The devnet chain's genesis, applied with `genesis`. */
  chainGenesis?: ChainGenesis;
  /** Follow this real subnet instead of a devnet (`serve --chain subtensor`): recorded first in an empty log, checked against a used one. */
  follow?: { netuid: number; genesisHash: string };
  /** Who this node is for peer sync (its hotkey and `--mothership`): whether it issues entity facts. */
  identity?: NodeIdentity;
  /** The payout period debts and weights use (`--payout-period`); default a calendar month (UTC). */
  /** Recorded in the log when it differs from the log's (debt ledgers roll by it; replay follows the log). */
  payoutPeriod?: PayoutPeriod;
  handlers?: Handlers;
  /** Opens the event log at logPath (default: openStore with the embedded SQLite backend); a simulator wraps it to inject faults. */
  openStore?: (path: string) => Promise<Store>;
  clock?: NodeClock;
  /**
   * Free space kept on the data directory's filesystem (`--min-free-mb`): below it writes are
   * refused with 503 STORAGE_FULL before they execute. Default 64 MiB.
   */
  minFreeBytes?: number;
  /** Free bytes on the filesystem holding a directory (default: statfs); a simulator injects its own. */
  freeBytes?: (dir: string) => number;
  say?: (message: string) => void;
  onProgress?: (seq: number) => void;
  /**
   * A failed commit: the state may hold effects that never became durable. Default: report and
   * exit non-zero; restart recovers from snapshot + log. A commit that failed for lack of space is
   * not fatal: its callers get 503 STORAGE_FULL and the node rebuilds its state from snapshot + log
   * in-process (see PropnetNode.rebuilt).
   */
  onFatal?: (error: unknown) => void;
  /**
   * A command failed to execute. Nothing it did was kept, so the node stays up read-only (writes
   * refused, the fault named in `problems`) until restart; this tells the caller it happened.
   */
  onFault?: (problem: string, error: unknown) => void;
  onCommit?: (stats: CommitStats) => void;
  /**
   * Open as a cluster reader (issue #11, several processes on PostgreSQL): nothing is written at
   * open (genesis, followed chain, payout period) and every submission is refused with UNAVAILABLE
   * until `promote`; the state moves by `replicated` as another process's commits are applied.
   */
  replica?: boolean;
}

/** Something `/healthz` reports: a `degraded` one changes its status, the others only add a line. */
export interface NodeCondition {
  problem: string;
  degraded: boolean;
  /** A stable code (API.md) when there is one, e.g. CLOCK_JUMP or STORAGE_FULL. */
  code?: string;
}

/** The data directory holds a log of another chain (or a devnet log) than the one asked to follow. */
export class FollowRefused extends Error {}

export function logPath(dataDir: string): string {
  return join(dataDir, "events.sqlite");
}

export function snapshotDir(dataDir: string): string {
  return join(dataDir, "snapshots");
}

function exitOnFatal(error: unknown): void {
  process.stderr.write(
    `propnet: fatal: ${(error as Error)?.message ?? String(error)}; exiting so that restart recovers from snapshot and log\n`,
  );
  process.exit(70);
}

/** Snapshots that failed to write are tried again after this long. */
const SNAPSHOT_RETRY_MS = 30_000;

/** One validator node: its store, its recovered state and its single writer. */
export class PropnetNode {
  readonly clock: NodeClock;
  readonly metrics = new NodeMetrics();
  // Replaced together when the node rebuilds its state after a commit failed for lack of space.
  #state: State;
  #store: Store;
  #log: EventLog;
  #writer: Writer;
  #snapshotting: Promise<string | null> | null = null;
  #lastSnapshotSeq: number;
  /** Monotonic ms (performance.now): a wall clock that jumps must not force or hold back a snapshot. */
  #lastSnapshotAt: number;
  #snapshotRetryAt = 0;
  #snapshotProblem: string | null = null;
  #closed = false;
  #problems: string[] = [];
  readonly #conditions = new Map<string, () => NodeCondition | null>();
  readonly #storage: StorageGuard;
  readonly #headFile: HeadFile;
  readonly #timer: NodeJS.Timeout;
  #rebuilding: Promise<void> | null = null;
  /** Why writes stopped for good, if they did: a writer made by a rebuild starts stopped too. */
  #halted: { reason: unknown; refusal: string | undefined } | null = null;
  #rebuilds = 0;
  readonly #commitListeners: Array<(rows: readonly StoredEvent[]) => void> = [];
  /** A cluster reader refuses every submission (its writes go to the writer process). */
  #replica: boolean;
  /** The head of the last committed batch (or the last replicated row): what a write's answer names. */
  #committed: LogHead;
  /** Settles when the background check of the log before the snapshot is done. */
  audit: Promise<void> = Promise.resolve();

  private constructor(
    readonly options: NodeOptions,
    state: State,
    store: Store,
    log: EventLog,
    clock: NodeClock,
    snapshotSeq: number,
    storage: StorageGuard,
    headFile: HeadFile,
  ) {
    this.clock = clock;
    state.identity = options.identity ?? state.identity;
    this.#state = state;
    this.#store = store;
    this.#log = log;
    this.#storage = storage;
    this.#headFile = headFile;
    this.#lastSnapshotSeq = snapshotSeq;
    this.#lastSnapshotAt = performance.now();
    this.#replica = options.replica ?? false;
    this.#committed = log.head;
    this.metrics.observeState(() => {
      const state = this.#state;
      let active = 0;
      let eliminated = 0;
      for (const key of state.entities.entities.sortedKeys()) {
        const e = state.entities.entities.get(key);
        active += e?.active ?? 0;
        eliminated += e?.eliminated ?? 0;
      }
      return { active, eliminated, held: state.trading.held.size };
    });
    this.#writer = this.#newWriter(state, log);
    // Replayed events close no checkpoints to store (the writer process stores them): a reader collects none.
    if (this.#replica) state.trading.closedCheckpoints = null;
    this.watch("storage", () => this.#storage.condition());
    this.watch("snapshot", () => (this.#snapshotProblem ? { problem: this.#snapshotProblem, degraded: false } : null));
    this.watch("head", () => (this.#headFile.problem ? { problem: this.#headFile.problem, degraded: false } : null));
    // Free space is probed once a second (the writer reads the cached figure), and the head file
    // is fsynced when it changed.
    this.#timer = setInterval(() => {
      this.#storage.refresh();
      void this.#headFile.sync();
    }, 1_000);
    this.#timer.unref();
  }

  #newWriter(state: State, log: EventLog): Writer {
    const options = this.options;
    return new Writer(state, log, {
      clock: this.clock,
      block: () => 0,
      handlers: options.handlers,
      admit: () => (this.#replica ? new DomainError("UNAVAILABLE", "this process is a reader: writes go to the writer process") : this.#storage.refusal()),
      isStorageFull: (error) => this.#storage.explains(error),
      onFatal: options.onFatal ?? exitOnFatal,
      onStorageFull: (error) => this.#rebuild(error),
      onFault: (error, command) => this.#executionFault(error, command),
      onCommit: (stats, rows, refused) => {
        // Durable now, and about to be acknowledged: the head file moves first.
        const last = rows[rows.length - 1];
        if (last) {
          this.#headFile.record({ seq: last.seq, hash: last.hash });
          this.#committed = { seq: last.seq, hash: last.hash };
        }
        this.metrics.committed(stats, rows, refused);
        this.metrics.seq.set(this.log.head.seq);
        this.metrics.queueDepth.set(this.writer.queueDepth);
        options.onCommit?.(stats);
        for (const listener of this.#commitListeners) listener(rows);
        this.#maybeSnapshot();
      },
    });
  }

  static async open(options: NodeOptions): Promise<PropnetNode> {
    mkdirSync(options.dataDir, { recursive: true });
    const acknowledged = PropnetNode.#acknowledged(options);
    const store = await (options.openStore ?? openSqliteLog)(logPath(options.dataDir));
    let node: PropnetNode | null = null;
    try {
      const recovered = await recover(store, snapshotDir(options.dataDir), {
        strict: options.strict ?? false,
        codeVersion: CODE_VERSION,
        say: options.say,
        onProgress: options.onProgress,
        acknowledged,
      });
      const clock = options.clock ?? new NodeClock();
      // Node time resumes from the log: never before its last event, never a wrong wall clock's day past it.
      clock.resume((await store.lastEvent())?.ts ?? null, options.say);
      const storage = new StorageGuard(options.dataDir, options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES, options.freeBytes ?? freeBytes, options.say);
      const headFile = HeadFile.open(options.dataDir);
      headFile.record(recovered.head);
      node = new PropnetNode(
        options,
        recovered.state,
        store,
        new EventLog(store, recovered.head),
        clock,
        recovered.snapshot?.seq ?? 0,
        storage,
        headFile,
      );
      node.watch("clock", () => clock.condition());
      if (recovered.snapshot) node.#auditPrefix(recovered.snapshot.seq, recovered.snapshot.head_hash);
      // A cluster reader writes nothing: the writer process records all of this.
      if (options.replica) return node;
      await node.writeStartFacts();
      return node;
    } catch (error) {
      // Once built, the node owns a timer and the head file as well as the store: close them all.
      if (node) await node.close({ snapshot: false }).catch(() => undefined);
      else await store.close();
      throw error;
    }
  }

  /** What the head file says the node acknowledged last; a damaged one is reported and not relied on. */
  static #acknowledged(options: NodeOptions): Acknowledged | null {
    const read = readHeadFile(options.dataDir);
    if (read === null) return null;
    if ("problem" in read) {
      options.say?.(`${read.problem}; starting without the acknowledged-head check (it is written again now)`);
      return null;
    }
    return { head: read.head, source: headFilePath(options.dataDir) };
  }

  get state(): State {
    return this.#state;
  }

  get store(): Store {
    return this.#store;
  }

  get log(): EventLog {
    return this.#log;
  }

  get writer(): Writer {
    return this.#writer;
  }

  /** How many times the node rebuilt its state in-process after a commit failed for lack of space. */
  get rebuilds(): number {
    return this.#rebuilds;
  }

  /** Settles once a rebuild under way (if any) is done. */
  get rebuilt(): Promise<void> {
    return this.#rebuilding ?? Promise.resolve();
  }

  /** Whether writes are refused now for lack of disk space. */
  get storageFull(): boolean {
    return this.#storage.full;
  }

  /** Probes free space now (the node does so every second by itself). */
  checkStorage(): boolean {
    this.#storage.refresh();
    return this.#storage.full;
  }

  /**
   * A commit failed for lack of space. Its callers were answered 503 STORAGE_FULL and nothing of it
   * is in the log, but the state holds its effects: the node reopens the store and recovers its
   * state from snapshot + log exactly as a restart would, while HTTP stays up (reads answer 503
   * UNAVAILABLE meanwhile). Writes stay refused until space is freed. A failure here is fatal.
   */
  #rebuild(error: unknown): void {
    this.#storage.commitFailed();
    const say = this.options.say;
    say?.(`a commit failed for lack of disk space (${(error as Error)?.message ?? String(error)}): nothing of it was acknowledged; rebuilding the state from snapshot and log`);
    this.#rebuilding = (async () => {
      const started = performance.now();
      const old = this.#store;
      const reopen = this.options.openStore ?? openSqliteLog;
      let store: Store | null = null;
      for (let attempt = 0; store === null; attempt++) {
        try {
          store = await reopen(logPath(this.options.dataDir));
        } catch (openError) {
          if (attempt === 0) say?.(`cannot reopen the event log yet (${(openError as Error).message}); retrying every second`);
          if (this.#closed) throw openError;
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      }
      // Row reads (audit, checkpoints) go to the fresh connection at once.
      this.#store = store;
      await old.close().catch(() => undefined);
      const recovered = await recover(store, snapshotDir(this.options.dataDir), {
        strict: this.options.strict ?? false,
        codeVersion: CODE_VERSION,
        say,
        acknowledged: this.#headFile.head ? { head: this.#headFile.head, source: headFilePath(this.options.dataDir) } : null,
      });
      const log = new EventLog(store, recovered.head);
      recovered.state.identity = this.#state.identity;
      this.#state = recovered.state;
      this.#log = log;
      this.#writer = this.#newWriter(recovered.state, log);
      // Writes stopped for good (an execution fault, an altered log) stay stopped in the new writer.
      if (this.#halted) this.#writer.halt(this.#halted.reason, this.#halted.refusal);
      if (this.#closed) this.#writer.close();
      this.#rebuilds++;
      say?.(`state rebuilt at seq ${recovered.head.seq} in ${Math.round(performance.now() - started)} ms (${recovered.replayed} events replayed); reads go on, writes resume when space is freed`);
    })()
      .catch((rebuildError: unknown) => (this.options.onFatal ?? exitOnFatal)(rebuildError))
      .finally(() => {
        this.#rebuilding = null;
      });
  }

  /**
   * False once writes stopped: for good after an execution fault or an altered log (reads go on,
   * `problems` says why), or because a commit failed (the process is about to exit).
   */
  get writable(): boolean {
    return this.writer.writable;
  }

  /** False once a commit failed: the state may hold effects that never became durable. */
  get readable(): boolean {
    return this.writer.readable;
  }

  /** What is wrong with this node beyond its state (an altered log found after start, an execution fault). */
  get problems(): readonly string[] {
    return this.#problems;
  }

  /**
   * Stops every write for good while the node stays up for reads, and says why in `problems`:
   * for faults a restart may cure but that must not loop (DESIGN.md §2 rule 2 and 4).
   */
  #refuseWrites(problem: string, reason: unknown, refusal?: string): void {
    this.#problems.push(problem);
    this.options.say?.(problem);
    this.#halted ??= { reason, refusal };
    this.writer.halt(reason, refusal);
  }

  /**
   * A command failed to execute (an exception in apply). execute undid all it did, so the state is
   * still the committed state: serving reads from it is safe, writing on from it is not.
   */
  #executionFault(error: unknown, command: Command): void {
    const what = error instanceof ApplyFailed ? error.message : `${command.kind}: ${(error as Error)?.message ?? String(error)}`;
    const problem = `execution fault: ${what}; nothing it did was kept; writes are refused until the node restarts`;
    this.#refuseWrites(problem, error);
    this.options.onFault?.(problem, error);
  }

  /**
   * Restart verified only the tail after the snapshot; the events before it are checked here, off
   * the event loop, after start. An altered event stops all writes: the node stays up for reads
   * and says why, rather than exiting into a restart loop.
   */
  #auditPrefix(seq: number, expectedHash: string): void {
    this.audit = this.store
      .checkChain({ seq: 0, hash: GENESIS_HASH }, seq)
      .then((head) => {
        if (head.hash !== expectedHash)
          throw new LogIntegrityError(seq, `event log before seq ${seq} does not chain to the snapshot`);
      })
      .catch((error: unknown) => {
        const message =
          error instanceof LogIntegrityError ? `event log altered at seq ${error.seq}: ${error.message}` : String(error);
        this.#refuseWrites(`${message}; writes are refused; run propnet verify --full`, error, "writes are refused: the event log was found altered (see /healthz)");
      });
  }

  /**
   * Records that this log follows a real subnet (once, first; a repeat is a no-op): a devnet log,
   * or another subnet's, is refused with FollowRefused.
   */
  async follow(follow: { netuid: number; genesisHash: string }): Promise<void> {
    const outcome = await this.submit({ command: { kind: "follow_chain", ts: this.clock.now(), netuid: follow.netuid, genesis_hash: follow.genesisHash } });
    if (!outcome.ok && outcome.error.details.unchanged !== true) {
      throw new FollowRefused(`this data directory cannot follow subnet ${follow.netuid} of chain ${follow.genesisHash}: ${outcome.error.message}; use another --data directory`);
    }
  }

  /**
   * Registers something outside the state that `/healthz` reports while it holds (the clock, the
   * disk, the chain connection): one source per name, asked on every health check.
   */
  watch(name: string, condition: () => NodeCondition | null): void {
    this.#conditions.set(name, condition);
  }

  /** What the watched sources report now, in the order they were registered. */
  conditions(): NodeCondition[] {
    const out: NodeCondition[] = [];
    for (const condition of this.#conditions.values()) {
      const c = condition();
      if (c) out.push(c);
    }
    return out;
  }

  get head(): LogHead {
    return this.log.head;
  }

  /** Called after every durable commit (peer sync pushes new facts at once). */
  onCommitted(listener: (rows: readonly StoredEvent[]) => void): void {
    this.#commitListeners.push(listener);
  }

  /** The head of the last committed (or, on a reader, replicated) row: never ahead of the durable log. */
  get committedHead(): LogHead {
    return this.#committed;
  }

  /** "reader" while this process replicates another's writes (issue #11), else "writer". */
  get role(): "writer" | "reader" {
    return this.#replica ? "reader" : "writer";
  }

  /**
   * A cluster reader applied rows another process committed to `state`, through `head` (issue
   * #11): the log, the head file and the metrics move with it, and snapshots are taken as a
   * writer's would be.
   */
  replicated(head: LogHead): void {
    this.#log = new EventLog(this.#store, head);
    this.#committed = head;
    this.#headFile.record(head);
    this.metrics.seq.set(head.seq);
    this.#maybeSnapshot();
  }

  /**
   * A cluster reader took the writer's lock and caught up with the log (issue #11): from here it
   * writes through `store`, opened after the lock was taken so it continues the log's head; the
   * store it read through is closed. The state is the replica, exactly as committed.
   */
  async promote(store: Store): Promise<void> {
    if (!this.#replica) return;
    const old = this.#store;
    this.#store = store;
    this.#log = new EventLog(store, this.#log.head);
    this.#replica = false;
    this.#writer = this.#newWriter(this.#state, this.#log);
    if (this.#halted) this.#writer.halt(this.#halted.reason, this.#halted.refusal);
    if (this.#closed) this.#writer.close();
    // In the background: nothing reads through it any more, and its pool must not hold up the takeover.
    void old.close().catch(() => undefined);
    await this.writeStartFacts();
  }

  /**
   * What a writer records when it starts (or takes over from another process): the genesis on an
   * empty log, the followed chain, the payout period when it differs from the log's.
   */
  async writeStartFacts(): Promise<void> {
    const options = this.options;
    const clock = this.clock;
    if (this.head.seq === 0 && options.genesis && options.genesis.length > 0) {
      const command = { kind: "genesis" as const, endowments: options.genesis, chain: options.chainGenesis };
      const outcome = await this.submit({ command });
      if (!outcome.ok) throw outcome.error;
    }
    if (options.follow) await this.follow(options.follow);
    if (options.payoutPeriod) {
      const outcome = await this
        .submit({ command: { kind: "set_payout_period", ts: clock.now(), period: options.payoutPeriod } })
        .catch((error: unknown) => {
          // A node on a full disk still starts and serves reads; the log's period stays in effect.
          if (error instanceof DomainError && error.code === "STORAGE_FULL") {
            options.say?.(`payout period ${JSON.stringify(options.payoutPeriod)} not recorded: ${error.message}`);
            return null;
          }
          throw error;
        });
      if (outcome && !outcome.ok && outcome.error.details.unchanged !== true) throw outcome.error;
    }
  }

  submit(submission: Submission): Promise<Outcome> {
    return this.writer.submit(submission);
  }

  /**
   * The Epistula uuids of requests committed at or after `sinceMs`, with their commit times: write
   * uuids are kept in their command's event (`request`), and an extrinsic's in its block's
   * `request` effect, so a replay stays refused across a restart.
   */
  async requestUuidsSince(sinceMs: number): Promise<Array<[string, number]>> {
    const chunk = 4_096;
    const found: Array<[string, number]> = [];
    let after = this.log.head.seq;
    while (after > 0) {
      after = Math.max(0, after - chunk);
      const rows = await this.store.read(after, chunk);
      for (const row of rows) {
        if (row.ts < sinceMs || !row.payload.includes('"request"')) continue;
        const parsed = JSON.parse(row.payload) as { request?: { uuid?: unknown }; effects?: Array<{ k?: unknown; uuid?: unknown }> };
        if (typeof parsed.request?.uuid === "string") found.push([parsed.request.uuid, row.ts]);
        for (const e of Array.isArray(parsed.effects) ? parsed.effects : []) {
          if (e.k === "request" && typeof e.uuid === "string") found.push([e.uuid, row.ts]);
        }
      }
      if ((rows[0]?.ts ?? 0) < sinceMs) break;
    }
    return found;
  }

  /**
   * A trader's closed perf checkpoints with ts_ms > after, oldest first, at most `limit`: committed
   * rows only, from whichever store the node writes now (a rebuild after a full disk swaps it).
   */
  readCheckpoints(trader: string, after: number, limit: number): Promise<CheckpointRow[]> {
    return this.#store.readCheckpoints(trader, after, limit);
  }

  /** Runs `fn` against committed state only (see Writer.read). */
  read<T>(fn: (state: State, head: LogHead) => T): Promise<T> {
    return this.writer.read((state) => fn(state, this.log.head));
  }

  /**
   * Writes a snapshot of the committed state now. The state is encoded in this turn (so it is
   * exactly the state at `head`), then written and fsynced asynchronously.
   */
  snapshot(): Promise<string | null> {
    this.#snapshotting ??= this.#writeSnapshot().finally(() => {
      this.#snapshotting = null;
    });
    return this.#snapshotting;
  }

  async #writeSnapshot(): Promise<string | null> {
    // Encoded in one turn through the read barrier: exactly the committed state at `head`.
    const file = await this.read((state, head) => {
      if (head.seq === 0 || head.seq === this.#lastSnapshotSeq) return null;
      const encoded = exportState(state);
      return {
        format: SNAPSHOT_FORMAT,
        code_version: CODE_VERSION,
        seq: head.seq,
        head_hash: head.hash,
        state_hash: hashSnapshot(encoded),
        created_ms: this.clock.now(),
        state: encoded,
      };
    });
    if (!file) return null;
    try {
      const path = await writeSnapshot(snapshotDir(this.options.dataDir), file);
      this.#lastSnapshotSeq = file.seq;
      this.#lastSnapshotAt = performance.now();
      this.#snapshotProblem = null;
      this.metrics.snapshotWritten(file.seq);
      // The head file reaches the disk with every snapshot at least.
      await this.#headFile.sync();
      return path;
    } catch (error) {
      // No torn file is left behind (writeSnapshot removes its temp file); the node goes on and
      // tries again later: a snapshot only shortens the next restart.
      this.#snapshotRetryAt = performance.now() + SNAPSHOT_RETRY_MS;
      this.#snapshotProblem = `snapshot at seq ${file.seq} could not be written (${(error as Error).message}); the node goes on and retries in ${SNAPSHOT_RETRY_MS / 1000} s`;
      throw error;
    }
  }

  #maybeSnapshot(): void {
    const every = this.options.snapshotEvery ?? 100_000;
    const interval = this.options.snapshotIntervalMs ?? 10 * 60_000;
    const behind = this.log.head.seq - this.#lastSnapshotSeq;
    // No snapshot while space is short: it would take what the log needs.
    if (this.#storage.full || performance.now() < this.#snapshotRetryAt) return;
    if (behind > 0 && (behind >= every || performance.now() - this.#lastSnapshotAt >= interval)) {
      this.snapshot().catch((error: unknown) => this.options.say?.(`snapshot failed: ${(error as Error).message}`));
    }
  }

  /** Drains the writer, writes a final snapshot and closes the store. */
  async close(options: { snapshot?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.writer.close();
    await this.rebuilt;
    this.writer.close();
    await this.writer.drain();
    if (this.#snapshotting) await this.#snapshotting.catch(() => null);
    await this.audit;
    // A node that cannot write (a failed commit, a full disk) still stops cleanly.
    if ((options.snapshot ?? true) && this.writer.readable) {
      await this.snapshot().catch((error: unknown) => this.options.say?.(`final snapshot failed: ${(error as Error).message}`));
    }
    await this.store.close();
    await this.#headFile.close();
  }
}

/** The default log: the embedded SQLite file in the data directory. */
function openSqliteLog(path: string): Promise<Store> {
  return openStore({ backend: "sqlite", path });
}
