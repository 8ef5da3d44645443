import { DomainError } from "../core/errors/errors.ts";
import { type Command, HANDLERS, type Handlers } from "../core/machine/commands.ts";
import { execute } from "../core/machine/execute.ts";
import type { State } from "../core/machine/state.ts";
import type { StoredEvent } from "../store/stored-event.ts";
import type { NodeClock } from "./clock.ts";
import type { EventLog } from "./event-log.ts";

export interface Submission {
  command: Command;
  signer?: string | null;
  signature?: string | null;
}

/** What a submitted command came to, once the transaction holding its events committed. */
export type Outcome = { ok: true; seq: number; events: StoredEvent[] } | { ok: false; error: DomainError; events: StoredEvent[] };

export interface CommitStats {
  commands: number;
  events: number;
  /** Time spent in the store's transaction (including fsync). */
  commitMs: number;
  /** From the oldest command's arrival to its acknowledgement. */
  latencyMs: number;
}

export interface WriterOptions {
  clock: NodeClock;
  /** The block the next event belongs to. */
  block: () => number;
  /** Most commands per transaction. */
  maxBatch?: number;
  /** Stop executing new commands in one turn after this long (DESIGN.md §2 rule 8). */
  budgetMs?: number;
  handlers?: Handlers;
  /** A failed commit or a broken assertion: the in-memory state can no longer be trusted. */
  onFatal: (error: unknown) => void;
  onCommit?: (stats: CommitStats) => void;
}

interface Pending {
  submission: Submission;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
  at: number;
}

/**
 * The single writer. Commands queue up while a transaction commits; the next turn executes the
 * whole queue (up to the budget), appends every event in one transaction (one fsync), and only
 * then resolves the callers: durable before acknowledged. Execution and commit happen in the same
 * synchronous turn, so no read can observe state whose events are not yet committed.
 */
export class Writer {
  #queue: Pending[] = [];
  #next = 0;
  #scheduled = false;
  #closed = false;
  #failed: unknown = null;
  #idle: Array<() => void> = [];
  readonly #maxBatch: number;
  readonly #budgetMs: number;
  readonly #handlers: Handlers;

  constructor(
    readonly state: State,
    readonly log: EventLog,
    readonly options: WriterOptions,
  ) {
    this.#maxBatch = options.maxBatch ?? 8192;
    this.#budgetMs = options.budgetMs ?? 8;
    this.#handlers = options.handlers ?? HANDLERS;
  }

  get writable(): boolean {
    return this.#failed === null;
  }

  get queueDepth(): number {
    return this.#queue.length - this.#next;
  }

  submit(submission: Submission): Promise<Outcome> {
    if (this.#failed !== null || this.#closed) {
      return Promise.reject(
        new DomainError("UNAVAILABLE", this.#closed ? "the node is shutting down" : "the store is not writable"),
      );
    }
    return new Promise<Outcome>((resolve, reject) => {
      this.#queue.push({ submission, resolve, reject, at: performance.now() });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Resolves once every command submitted so far is committed and acknowledged. */
  drain(): Promise<void> {
    if (this.queueDepth === 0 && !this.#scheduled) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Refuses new commands; those already queued still run. */
  close(): void {
    this.#closed = true;
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#failed !== null) return;
    const started = performance.now();
    const rows: StoredEvent[] = [];
    const done: Array<[Pending, Outcome]> = [];
    const { clock, block } = this.options;
    try {
      while (this.#next < this.#queue.length && done.length < this.#maxBatch) {
        const p = this.#queue[this.#next++] as Pending;
        const { command, signer, signature } = p.submission;
        const result = execute(this.state, command, this.#handlers);
        const seal = { block: block(), ts: clock.now(), signer: signer ?? null, signature: signature ?? null };
        const sealed = result.events.map((draft) => this.log.seal(draft, seal));
        for (const row of sealed) rows.push(row);
        done.push([
          p,
          result.error
            ? { ok: false, error: result.error, events: sealed }
            : { ok: true, seq: (sealed[sealed.length - 1] as StoredEvent).seq, events: sealed },
        ]);
        if (performance.now() - started > this.#budgetMs) break;
      }
      const commitStart = performance.now();
      this.log.append(rows);
      const now = performance.now();
      this.options.onCommit?.({
        commands: done.length,
        events: rows.length,
        commitMs: now - commitStart,
        latencyMs: done.length > 0 ? now - (done[0] as [Pending, Outcome])[0].at : 0,
      });
    } catch (error) {
      this.#fail(error, done);
      return;
    }
    for (const [p, outcome] of done) p.resolve(outcome);
    if (this.#next > 4096 && this.#next * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#next);
      this.#next = 0;
    }
    if (this.#next < this.#queue.length) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    } else {
      this.#queue.length = 0;
      this.#next = 0;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  #fail(error: unknown, inFlight: Array<[Pending, Outcome]>): void {
    this.#failed = error;
    const unavailable = new DomainError("UNAVAILABLE", "the store is not writable");
    for (const [p] of inFlight) p.reject(unavailable);
    for (let i = this.#next; i < this.#queue.length; i++) (this.#queue[i] as Pending).reject(unavailable);
    this.#queue.length = 0;
    this.#next = 0;
    for (const resolve of this.#idle.splice(0)) resolve();
    this.options.onFatal(error);
  }
}
