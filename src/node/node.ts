import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { PayoutPeriod } from "../core/debt/payout-period.ts";
import type { ChainGenesis } from "../core/chain/chain-state.ts";
import { ApplyFailed } from "../core/errors/errors.ts";
import type { Command, Endowment, Handlers } from "../core/machine/commands.ts";
import { exportState, hashSnapshot, type State } from "../core/machine/state.ts";
import { SNAPSHOT_FORMAT, writeSnapshot } from "../store/snapshot-files.ts";
import type { LogHead, Store } from "../store/store.ts";
import { GENESIS_HASH, LogIntegrityError } from "../store/stored-event.ts";
import { ThreadedSqliteStore } from "../store/threaded-sqlite-store.ts";
import { CODE_VERSION } from "../version.ts";
import { NodeClock } from "./clock.ts";
import { EventLog } from "./event-log.ts";
import { NodeMetrics } from "./metrics.ts";
import { recover } from "./recover.ts";
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
  /** The payout period debts and weights use (`--payout-period`); default a calendar month (UTC). */
  /** Recorded in the log when it differs from the log's (debt ledgers roll by it; replay follows the log). */
  payoutPeriod?: PayoutPeriod;
  handlers?: Handlers;
  /** Opens the event log (default: the threaded SQLite store at logPath); a simulator wraps it to inject faults. */
  openStore?: (path: string) => Promise<Store>;
  clock?: NodeClock;
  say?: (message: string) => void;
  onProgress?: (seq: number) => void;
  /**
   * A failed commit: the state may hold effects that never became durable. Default: report and
   * exit non-zero; restart recovers from snapshot + log.
   */
  onFatal?: (error: unknown) => void;
  /**
   * A command failed to execute. Nothing it did was kept, so the node stays up read-only (writes
   * refused, the fault named in `problems`) until restart; this tells the caller it happened.
   */
  onFault?: (problem: string, error: unknown) => void;
  onCommit?: (stats: CommitStats) => void;
}

/** Something `/healthz` reports: a `degraded` one changes its status, the others only add a line. */
export interface NodeCondition {
  problem: string;
  degraded: boolean;
  /** A stable code (API.md) when there is one, e.g. CLOCK_JUMP or STORAGE_FULL. */
  code?: string;
}

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

/** One validator node: its store, its recovered state and its single writer. */
export class PropnetNode {
  readonly clock: NodeClock;
  readonly writer: Writer;
  readonly metrics = new NodeMetrics();
  #snapshotting: Promise<string | null> | null = null;
  #lastSnapshotSeq: number;
  #lastSnapshotAt: number;
  #closed = false;
  #problems: string[] = [];
  readonly #conditions = new Map<string, () => NodeCondition | null>();
  /** Settles when the background check of the log before the snapshot is done. */
  audit: Promise<void> = Promise.resolve();

  private constructor(
    readonly options: NodeOptions,
    readonly state: State,
    readonly store: Store,
    readonly log: EventLog,
    clock: NodeClock,
    snapshotSeq: number,
  ) {
    this.clock = clock;
    this.#lastSnapshotSeq = snapshotSeq;
    this.#lastSnapshotAt = Date.now();
    this.metrics.observeState(() => {
      let active = 0;
      let eliminated = 0;
      for (const key of state.entities.entities.sortedKeys()) {
        const e = state.entities.entities.get(key);
        active += e?.active ?? 0;
        eliminated += e?.eliminated ?? 0;
      }
      return { active, eliminated, held: state.trading.held.size };
    });
    this.writer = new Writer(state, log, {
      clock,
      block: () => 0,
      handlers: options.handlers,
      onFatal: options.onFatal ?? exitOnFatal,
      onFault: (error, command) => this.#executionFault(error, command),
      onCommit: (stats, rows, refused) => {
        this.metrics.committed(stats, rows, refused);
        this.metrics.seq.set(this.log.head.seq);
        this.metrics.queueDepth.set(this.writer.queueDepth);
        options.onCommit?.(stats);
        this.#maybeSnapshot();
      },
    });
  }

  static async open(options: NodeOptions): Promise<PropnetNode> {
    mkdirSync(options.dataDir, { recursive: true });
    const store = await (options.openStore ?? ThreadedSqliteStore.open)(logPath(options.dataDir));
    try {
      const recovered = await recover(store, snapshotDir(options.dataDir), {
        strict: options.strict ?? false,
        codeVersion: CODE_VERSION,
        say: options.say,
        onProgress: options.onProgress,
      });
      const clock = options.clock ?? new NodeClock();
      const last = store.lastEvent();
      if (last) clock.observe(last.ts);
      const node = new PropnetNode(
        options,
        recovered.state,
        store,
        new EventLog(store, recovered.head),
        clock,
        recovered.snapshot?.seq ?? 0,
      );
      if (recovered.snapshot) node.#auditPrefix(recovered.snapshot.seq, recovered.snapshot.head_hash);
      if (recovered.head.seq === 0 && options.genesis && options.genesis.length > 0) {
        const command = { kind: "genesis" as const, endowments: options.genesis, chain: options.chainGenesis };
        const outcome = await node.submit({ command });
        if (!outcome.ok) throw outcome.error;
      }
      if (options.payoutPeriod) {
        const outcome = await node.submit({ command: { kind: "set_payout_period", ts: clock.now(), period: options.payoutPeriod } });
        if (!outcome.ok && outcome.error.details.unchanged !== true) throw outcome.error;
      }
      return node;
    } catch (error) {
      await store.close();
      throw error;
    }
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

  submit(submission: Submission): Promise<Outcome> {
    return this.writer.submit(submission);
  }

  /**
   * The Epistula uuids of requests committed at or after `sinceMs`, with their commit times: write
   * uuids are kept in their command's event (`request`), and an extrinsic's in its block's
   * `request` effect, so a replay stays refused across a restart.
   */
  requestUuidsSince(sinceMs: number): Array<[string, number]> {
    const chunk = 4_096;
    const found: Array<[string, number]> = [];
    let after = this.log.head.seq;
    while (after > 0) {
      after = Math.max(0, after - chunk);
      const rows = this.store.read(after, chunk);
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
    this.#lastSnapshotSeq = file.seq;
    this.#lastSnapshotAt = Date.now();
    return writeSnapshot(snapshotDir(this.options.dataDir), file);
  }

  #maybeSnapshot(): void {
    const every = this.options.snapshotEvery ?? 100_000;
    const interval = this.options.snapshotIntervalMs ?? 10 * 60_000;
    const behind = this.log.head.seq - this.#lastSnapshotSeq;
    if (behind > 0 && (behind >= every || Date.now() - this.#lastSnapshotAt >= interval)) {
      this.snapshot().catch((error: unknown) => this.options.say?.(`snapshot failed: ${(error as Error).message}`));
    }
  }

  /** Drains the writer, writes a final snapshot and closes the store. */
  async close(options: { snapshot?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.writer.close();
    await this.writer.drain();
    if (this.#snapshotting) await this.#snapshotting.catch(() => null);
    await this.audit;
    if (options.snapshot ?? true) await this.snapshot();
    await this.store.close();
  }
}
