import { DomainError, type ErrorCode } from "../core/errors/errors.ts";
import { type Command, HANDLERS, type Handlers } from "../core/machine/commands.ts";
import type { EventDraft } from "../core/machine/event.ts";
import { type ExecuteResult, execute } from "../core/machine/execute.ts";
import type { State } from "../core/machine/state.ts";
import { encodeCheckpointRow } from "../core/debt/checkpoint-row.ts";
import { isStorageFull } from "../store/storage-full.ts";
import type { CheckpointRow } from "../store/store.ts";
import type { StoredEvent } from "../store/stored-event.ts";
import type { NodeClock } from "./clock.ts";
import type { EventLog } from "./event-log.ts";

export interface Submission {
  command: Command;
  signer?: string | null;
  signature?: string | null;
  /**
   * Builds the answer from the state exactly as this command left it (in the writer's turn), so a
   * response needs no read barrier; it is handed out only once the command is durable.
   */
  view?: (state: State, events: readonly EventDraft[]) => unknown;
}

/** What a submitted command came to, once the transaction holding its events committed. */
export type Outcome =
  | { ok: true; seq: number; events: StoredEvent[]; view?: unknown }
  | { ok: false; error: DomainError; events: StoredEvent[] };

export interface CommitStats {
  commands: number;
  events: number;
  /** The transaction itself (inserts, commit, fsync). */
  commitMs: number;
  /** From handing the batch to the store to its durable acknowledgement (includes queueing). */
  handoffMs: number;
  /** From the oldest command's arrival to its acknowledgement. */
  latencyMs: number;
}

export interface WriterOptions {
  clock: NodeClock;
  /** The block the next event belongs to. */
  block: () => number;
  /** Most commands per batch. */
  maxBatch?: number;
  /** Stop executing new commands in one turn after this long (DESIGN.md §2 rule 8). */
  budgetMs?: number;
  /** Batches handed to the store and not yet durable; 2 lets execution overlap the commit. */
  maxInFlight?: number;
  handlers?: Handlers;
  /** A failed commit: the state may hold effects that never became durable, so it can no longer be trusted. */
  onFatal: (error: unknown) => void;
  /**
   * Asked before executing anything (at submit and at the start of each turn): an error refuses
   * every waiting command before it changes the state (a disk short of space: STORAGE_FULL).
   */
  admit?: () => DomainError | null;
  /** Whether a failed commit failed for lack of space (default: the store's isStorageFull). */
  isStorageFull?: (error: unknown) => boolean;
  /**
   * A commit failed for lack of space: as onFatal (its callers got 503 STORAGE_FULL, the state holds
   * effects that were never made durable, this writer is done), but the caller may rebuild the
   * state from the log in-process rather than exit. Default: onFatal.
   */
  onStorageFull?: (error: unknown) => void;
  /**
   * Executing a command threw (an exception in apply, a broken assertion). execute undid all it
   * did, so the state is still exactly the committed state: the writer has stopped for good (as
   * `halt`), reads go on, and only a restart writes again.
   */
  onFault?: (error: unknown, command: Command) => void;
  onCommit?: (stats: CommitStats, rows: readonly StoredEvent[], refused: number) => void;
}

interface Pending {
  submission: Submission;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
  at: number;
}

/**
 * The single writer. Each turn executes the queued commands (up to the budget) against the state,
 * seals their events and hands them to the store as one batch: one transaction, one fsync, on the
 * store's own thread. Callers are resolved only when their batch is durable.
 *
 * While a batch commits, the state already holds its effects; so reads go through `read`, which
 * runs them only when nothing is in flight (holding the writer back briefly if it must). Reads
 * therefore see committed state only, including everything a write caused.
 */
export class Writer {
  #queue: Pending[] = [];
  #next = 0;
  #scheduled = false;
  #closed = false;
  #failed: unknown = null;
  /** Why submissions are refused once writing stopped, and with which code. */
  #refusal = "the store is not writable";
  #refusalCode: ErrorCode = "UNAVAILABLE";
  /** Why reads are refused after a failed commit. */
  #readRefusal = "the store is not writable";
  /** A commit failed: the state may hold effects that never became durable, so nothing reads it. */
  #untrusted = false;
  #inFlight = 0;
  #readers: Array<(error?: unknown) => void> = [];
  #idle: Array<() => void> = [];
  readonly #maxBatch: number;
  readonly #budgetMs: number;
  readonly #maxInFlight: number;
  readonly #handlers: Handlers;

  constructor(
    readonly state: State,
    readonly log: EventLog,
    readonly options: WriterOptions,
  ) {
    // ~1,000 commands commit in about 5 ms here: big enough to amortise the fsync, small enough
    // to keep commit latency under 10 ms.
    this.#maxBatch = options.maxBatch ?? 1024;
    this.#budgetMs = options.budgetMs ?? 8;
    this.#maxInFlight = options.maxInFlight ?? 2;
    this.#handlers = options.handlers ?? HANDLERS;
    // Checkpoints closed by live commands are stored with their events (replay makes none).
    state.trading.closedCheckpoints = [];
  }

  get writable(): boolean {
    return this.#failed === null;
  }

  /** False once a commit failed (the process is about to exit); a halt leaves the state readable. */
  get readable(): boolean {
    return !this.#untrusted;
  }

  get queueDepth(): number {
    return this.#queue.length - this.#next;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Why writes are refused, once they are. */
  get refusal(): string {
    return this.#refusal;
  }

  submit(submission: Submission): Promise<Outcome> {
    if (this.#failed !== null || this.#closed) {
      return Promise.reject(
        this.#failed !== null ? new DomainError(this.#refusalCode, this.#refusal) : new DomainError("UNAVAILABLE", "the node is shutting down"),
      );
    }
    const refused = this.options.admit?.();
    if (refused) return Promise.reject(refused);
    return new Promise<Outcome>((resolve, reject) => {
      this.#queue.push({ submission, resolve, reject, at: performance.now() });
      this.#schedule();
    });
  }

  /** Runs `fn` against committed state: at once if nothing is in flight, else after the commit lands. */
  read<T>(fn: (state: State) => T): Promise<T> {
    // After a failed commit the state holds effects that may never be durable: refuse, never hang.
    if (this.#untrusted) {
      return Promise.reject(new DomainError("UNAVAILABLE", this.#readRefusal));
    }
    if (this.#inFlight === 0) return Promise.resolve(fn(this.state));
    return new Promise<T>((resolve, reject) => {
      this.#readers.push((failure?: unknown) => {
        if (failure !== undefined) return reject(failure);
        try {
          resolve(fn(this.state));
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** Resolves once every command submitted so far is durable and acknowledged. */
  drain(): Promise<void> {
    // After a failed commit nothing more lands: there is nothing to wait for.
    if ((this.queueDepth === 0 && this.#inFlight === 0) || this.#untrusted) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Stops writing for good without exiting (the log was found altered, a command failed to
   * execute): queued and later commands are refused with UNAVAILABLE and `refusal`; batches
   * already handed to the store still land; reads go on.
   */
  halt(reason: unknown, refusal = "the store is not writable", code: ErrorCode = "UNAVAILABLE"): void {
    if (this.#failed !== null) return;
    this.#failed = reason;
    this.#refusal = refusal;
    this.#refusalCode = code;
    const unavailable = new DomainError(code, refusal);
    for (let i = this.#next; i < this.#queue.length; i++) (this.#queue[i] as Pending).reject(unavailable);
    this.#queue.length = 0;
    this.#next = 0;
    if (this.#inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Refuses new commands; those already queued still run. */
  close(): void {
    this.#closed = true;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#turn();
    });
  }

  #turn(): void {
    if (this.#failed !== null || this.#next >= this.#queue.length) return;
    // Waiting readers need a moment with nothing in flight: let the commits land first.
    if (this.#inFlight >= this.#maxInFlight || (this.#readers.length > 0 && this.#inFlight > 0)) return;
    const refused = this.options.admit?.();
    if (refused) {
      // Nothing executed: the state stays exactly the committed state.
      for (let i = this.#next; i < this.#queue.length; i++) (this.#queue[i] as Pending).reject(refused);
      this.#queue.length = 0;
      this.#next = 0;
      this.#settled();
      return;
    }
    const started = performance.now();
    const rows: StoredEvent[] = [];
    const checkpoints: CheckpointRow[] = [];
    const closed = this.state.trading.closedCheckpoints ?? [];
    const done: Array<[Pending, Outcome]> = [];
    const { clock, block } = this.options;
    let fault: { pending: Pending; error: unknown } | null = null;
    try {
      while (this.#next < this.#queue.length && done.length < this.#maxBatch) {
        const p = this.#queue[this.#next++] as Pending;
        const { command, signer, signature } = p.submission;
        let result: ExecuteResult;
        try {
          result = execute(this.state, command, this.#handlers);
        } catch (error) {
          // execute undid all this command did (checkpoints it closed included): the state is what
          // the commands before it left.
          closed.length = 0;
          fault = { pending: p, error };
          break;
        }
        for (const c of closed) checkpoints.push({ trader: c.trader, ts_ms: c.checkpoint.ts_ms, data: encodeCheckpointRow(c.checkpoint, c.debt) });
        closed.length = 0;
        const seal = { block: block(), ts: clock.now(), signer: signer ?? null, signature: signature ?? null };
        const sealed = result.events.map((draft) => this.log.seal(draft, seal));
        for (const row of sealed) rows.push(row);
        done.push([
          p,
          result.error
            ? { ok: false, error: result.error, events: sealed }
            : {
                ok: true,
                seq: (sealed[sealed.length - 1] as StoredEvent).seq,
                events: sealed,
                view: viewOf(p.submission, this.state, result.events),
              },
        ]);
        if (performance.now() - started > this.#budgetMs) break;
      }
    } catch (error) {
      // Past execute (sealing): the state holds effects that no event records.
      this.#fail(error, done);
      return;
    }
    this.#compactQueue();
    if (done.length === 0) {
      if (fault) this.#fault(fault.pending, fault.error);
      this.#settled();
      return;
    }
    this.#inFlight++;
    const handedOver = performance.now();
    this.log.append(rows, checkpoints).then(
      (receipt) => {
        this.#inFlight--;
        const now = performance.now();
        this.options.onCommit?.(
          {
            commands: done.length,
            events: rows.length,
            commitMs: receipt.transactionMs,
            handoffMs: now - handedOver,
            latencyMs: done.length > 0 ? now - (done[0] as [Pending, Outcome])[0].at : 0,
          },
          rows,
          done.filter(([, o]) => !o.ok).length,
        );
        for (const [p, outcome] of done) p.resolve(outcome);
        this.#settled();
      },
      (error: unknown) => this.#fail(error, done),
    );
    // After the hand-over, so that the commands before the fault still commit and drain waits for them.
    if (fault) this.#fault(fault.pending, fault.error);
    else if (this.#next < this.#queue.length) this.#schedule();
  }

  /** After a commit: serve readers if nothing is in flight, wake drainers, keep writing. */
  #settled(): void {
    if (this.#inFlight === 0) for (const reader of this.#readers.splice(0)) reader();
    if (this.#next < this.#queue.length) this.#schedule();
    else if (this.#inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  #compactQueue(): void {
    if (this.#next === this.#queue.length) {
      this.#queue.length = 0;
      this.#next = 0;
    } else if (this.#next > 4096 && this.#next * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#next);
      this.#next = 0;
    }
  }

  /**
   * A command failed to execute (DESIGN.md §2 rule 2). Nothing it did was kept, so unlike a failed
   * commit the state can still be read: its caller and every later one are refused, the commands
   * executed before it in this turn still commit, and writing stops until restart.
   */
  #fault(p: Pending, error: unknown): void {
    const refusal = "writes are stopped until the node restarts: a command failed to execute (see /healthz)";
    p.reject(new DomainError("UNAVAILABLE", refusal));
    this.halt(error, refusal);
    this.options.onFault?.(error, p.submission.command);
  }

  /**
   * A batch failed to commit (or sealing failed after execution): its callers and every later one
   * are refused, never acknowledged; readers are refused too, since the state holds effects that
   * may never be durable. The node then exits and restart recovers from the log, or, when the disk
   * was full, rebuilds its state from the log in-process (onStorageFull). This holds even after a
   * halt: a batch already in flight can still fail.
   */
  #fail(error: unknown, batch: Array<[Pending, Outcome]>): void {
    const full = (this.options.isStorageFull ?? isStorageFull)(error);
    const refusal = full
      ? new DomainError("STORAGE_FULL", "the disk holding the event log is full: this write was not recorded; retry once space is freed")
      : new DomainError("UNAVAILABLE", "the store is not writable");
    for (const [p] of batch) p.reject(refusal);
    if (this.#untrusted) return;
    this.#untrusted = true;
    if (full) this.#readRefusal = "the node is rebuilding its state after a write failed for lack of disk space: retry in a moment";
    this.halt(error, refusal.message, refusal.code);
    const unavailable = new DomainError("UNAVAILABLE", this.#readRefusal);
    for (const reader of this.#readers.splice(0)) reader(unavailable);
    for (const resolve of this.#idle.splice(0)) resolve();
    if (full) (this.options.onStorageFull ?? this.options.onFatal)(error);
    else this.options.onFatal(error);
  }
}

/** A view that fails is the answer's problem, not the state's: the command stands, the caller gets the error. */
function viewOf(submission: Submission, state: State, events: readonly EventDraft[]): unknown {
  try {
    return submission.view?.(state, events);
  } catch (error) {
    return new ViewFailed(error);
  }
}

export class ViewFailed {
  constructor(readonly cause: unknown) {}
}
