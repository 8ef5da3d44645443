import type { LogHead } from "../../store/store.ts";
import { checkLink, LogIntegrityError, type StoredEvent } from "../../store/stored-event.ts";
import type { PropnetNode } from "../node.ts";
import { applyStored } from "../replay.ts";

/** Rows read per round trip while catching up. */
const PAGE = 2_000;

export interface ReplicaTailOptions {
  /** Polled this often even without a notification (NOTIFY can be missed across a reconnect). */
  pollMs?: number;
  /** Each applied row, after it was applied (the Epistula uuids it used, for instance). */
  onRow?: (row: StoredEvent) => void;
  /** The replica cannot go on: a row does not chain or does not apply. */
  onBroken?: (error: LogIntegrityError) => void;
  say?: (message: string) => void;
}

/**
 * A reader's replica of the state (issue #11): it reads the rows after its head, checks each one's
 * hash link, and applies them in order to the node's state, a page at a time in one turn (so a read
 * never sees half a page), woken by the writer's NOTIFY (`wake`) or by polling.
 */
export class ReplicaTail {
  readonly #node: PropnetNode;
  readonly #options: ReplicaTailOptions;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  #broken: LogIntegrityError | null = null;
  #lastError: string | null = null;
  readonly #waiters = new Set<{ seq: number; resolve: (reached: boolean) => void }>();

  constructor(node: PropnetNode, options: ReplicaTailOptions = {}) {
    this.#node = node;
    this.#options = options;
  }

  get head(): LogHead {
    return this.#node.committedHead;
  }

  /** Why the replica stopped for good, or null. */
  get broken(): LogIntegrityError | null {
    return this.#broken;
  }

  /** The last read that failed (the database unreachable, say), while it keeps failing. */
  get lastError(): string | null {
    return this.#lastError;
  }

  start(): void {
    this.#stopped = false;
    const pollMs = this.#options.pollMs ?? 250;
    this.#timer ??= setInterval(() => this.wake(), pollMs);
    this.#timer.unref();
    this.wake();
  }

  /**
   * Stops polling and waits for a round under way. Waiters not yet served are answered false, unless
   * `keepWaiters` (a reader becoming the writer serves them with its last catch-up).
   */
  async stop(options: { keepWaiters?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
    if (options.keepWaiters) return;
    for (const w of [...this.#waiters]) w.resolve(false);
  }

  /** Reads on now (or right after the round under way). */
  wake(): void {
    if (this.#broken) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#rounds().finally(() => {
      this.#running = null;
    });
  }

  /** Resolves true once the replica reached `seq`, false after `timeoutMs` (or when stopped). */
  waitFor(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.head.seq >= seq) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const waiter = {
        seq,
        resolve: (reached: boolean) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.#waiters.add(waiter);
      this.wake();
    });
  }

  /**
   * Applies everything committed so far, to the end of the log; rejects if a row is broken or the
   * database cannot be read. Used before a reader becomes the writer.
   */
  async catchUp(): Promise<LogHead> {
    await this.#running;
    while ((await this.#page()) > 0) {
      // Every page is applied in one turn; let requests in between.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (this.#broken) throw this.#broken;
    return this.head;
  }

  async #rounds(): Promise<void> {
    do {
      this.#again = false;
      try {
        while (!this.#stopped && (await this.#page()) > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        this.#lastError = null;
      } catch (error) {
        if (error instanceof LogIntegrityError) return;
        // The database away for a moment: the next poll tries again.
        const message = (error as Error).message;
        if (this.#lastError === null) this.#options.say?.(`replica: cannot read the log (${message}); retrying`);
        this.#lastError = message;
        return;
      }
    } while (this.#again && !this.#stopped);
  }

  /** One page: read, check and apply in one turn. Resolves with the rows applied. */
  async #page(): Promise<number> {
    if (this.#broken) throw this.#broken;
    const from = this.head;
    const rows = await this.#node.store.read(from.seq, PAGE);
    // Another round may have applied these while this read was in flight.
    if (this.head.seq !== from.seq) return 1;
    if (rows.length === 0) return 0;
    let head = from;
    const state = this.#node.state;
    try {
      for (const row of rows) {
        checkLink(row, head.seq + 1, head.hash);
        applyStored(state, row.seq, row.type, row.payload);
        this.#node.clock.observe(row.ts);
        head = { seq: row.seq, hash: row.hash };
        this.#options.onRow?.(row);
      }
    } catch (error) {
      // Rows before the bad one were applied: the replica stays at the last good one, and stops.
      if (head.seq !== from.seq) this.#node.replicated(head);
      const broken = error instanceof LogIntegrityError ? error : new LogIntegrityError(head.seq + 1, `replica: seq ${head.seq + 1} cannot be applied: ${(error as Error).message}`);
      this.#broken = broken;
      this.#options.onBroken?.(broken);
      throw broken;
    }
    this.#node.replicated(head);
    for (const w of this.#waiters) if (head.seq >= w.seq) w.resolve(true);
    return rows.length;
  }
}
