import { Worker } from "node:worker_threads";
import { INSERT_CHECKPOINT_SQL, INSERT_EVENT_SQL, SET_HEAD_SQL, SqliteStore } from "./sqlite-store.ts";
import type { AppendReceipt, CheckpointRow, LogHead, Store } from "../store.ts";
import { commitError } from "../storage-full.ts";
import type { StoredEvent } from "../stored-event.ts";

function started(worker: Worker, name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    worker.once("message", (m: Reply) => (m.type === "ready" ? resolve() : reject(new Error(`${name} thread failed to start`))));
    worker.once("error", reject);
  });
}

type Reply =
  | { type: "ready" | "closed" }
  | { type: "committed"; id: number; ms: number }
  | { type: "failed"; id: number; message: string; code?: string };

/**
 * SQLite with commits on their own thread: reads run here on one connection; appends are posted
 * to the commit thread, which holds the write connection and fsyncs, and resolve in order once
 * durable. The writer can execute the next batch while this one commits.
 */
export class ThreadedSqliteStore implements Store {
  readonly backend = "sqlite" as const;
  readonly #reader: SqliteStore;
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (ms: number) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #failure: Error | null = null;
  #closed: Promise<void> | null = null;
  /** The last append: batches resolve in order, so waiting for it waits for all. */
  #last: Promise<void> = Promise.resolve();

  readonly #checkpointer: Worker;

  private constructor(reader: SqliteStore, worker: Worker, checkpointer: Worker) {
    this.#reader = reader;
    this.#worker = worker;
    this.#checkpointer = checkpointer;
    worker.on("message", (reply: Reply) => {
      if (reply.type === "committed") this.#settle(reply.id, null, reply.ms);
      else if (reply.type === "failed") this.#fail(commitError(reply.message, reply.code));
    });
    worker.on("error", (error) => this.#fail(error));
    worker.on("exit", (code) => {
      if (this.#pending.size > 0) this.#fail(new Error(`commit thread exited (${code}) with batches in flight`));
    });
    // Checkpoints are an optimisation (the WAL holds every commit): a failed one never stops the node.
    checkpointer.on("error", () => {});
  }

  /** Opens the log (refusing a truncated file) and starts the commit thread. */
  static async open(path: string): Promise<ThreadedSqliteStore> {
    const reader = SqliteStore.open(path);
    const worker = new Worker(new URL("./sqlite-commit-worker.mjs", import.meta.url), {
      workerData: { path, insertSql: INSERT_EVENT_SQL, setHeadSql: SET_HEAD_SQL, insertCheckpointSql: INSERT_CHECKPOINT_SQL },
    });
    const checkpointer = new Worker(new URL("./sqlite-checkpoint-worker.mjs", import.meta.url), {
      workerData: { path, intervalMs: 100 },
    });
    await Promise.all([started(worker, "commit"), started(checkpointer, "checkpoint")]);
    return new ThreadedSqliteStore(reader, worker, checkpointer);
  }

  recordedHead(): Promise<LogHead> {
    return this.#reader.recordedHead();
  }

  lastEvent(): Promise<StoredEvent | null> {
    return this.#reader.lastEvent();
  }

  eventAt(seq: number): Promise<StoredEvent | null> {
    return this.#reader.eventAt(seq);
  }

  read(after: number, limit: number): Promise<StoredEvent[]> {
    return this.#reader.read(after, limit);
  }

  readCheckpoints(trader: string, after: number, limit: number): Promise<CheckpointRow[]> {
    return this.#reader.readCheckpoints(trader, after, limit);
  }

  readPayloads(after: number, limit: number): Promise<Array<[number, string, string]>> {
    return this.#reader.readPayloads(after, limit);
  }

  checkChain(from: LogHead, until: number, onProgress?: (seq: number) => void): Promise<LogHead> {
    return this.#reader.checkChain(from, until, onProgress);
  }

  append(rows: readonly StoredEvent[], checkpoints: readonly CheckpointRow[] = []): Promise<AppendReceipt> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (rows.length === 0) return Promise.resolve({ transactionMs: 0 });
    const id = this.#nextId++;
    // One string per batch: a structured clone of one string costs a quarter of one of many tuples.
    // JSON text escapes every control character, so \u0001 and \u0002 cannot occur in a field.
    let batch = "";
    for (const e of rows) {
      batch += `${e.seq}\u0001${e.block}\u0001${e.ts}\u0001${e.type}\u0001${e.payload}\u0001${e.signer ?? ""}\u0001${e.signature ?? ""}\u0001${e.hash}\u0001${e.prevHash}\u0002`;
    }
    let closed = "";
    for (const c of checkpoints) closed += `${c.trader}\u0001${c.ts_ms}\u0001${c.data}\u0002`;
    const receipt = new Promise<AppendReceipt>((resolve, reject) => {
      this.#pending.set(id, { resolve: (ms) => resolve({ transactionMs: ms }), reject });
      this.#worker.postMessage({ type: "append", id, batch, checkpoints: closed });
    });
    // Only for close() to wait on: a failed batch is the caller's to handle, never an unhandled rejection.
    this.#last = receipt.then(
      () => {},
      () => {},
    );
    return receipt;
  }

  /** Waits for every batch in flight, checkpoints the WAL into the main file, and stops. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#last.catch(() => {});
      if (!this.#failure) {
        await new Promise<void>((resolve) => {
          this.#worker.once("message", () => resolve());
          this.#worker.once("exit", () => resolve());
          this.#worker.postMessage({ type: "close" });
        });
      }
      await new Promise<void>((resolve) => {
        this.#checkpointer.once("message", () => resolve());
        this.#checkpointer.once("exit", () => resolve());
        this.#checkpointer.postMessage({ type: "close" });
      });
      await Promise.all([this.#worker.terminate(), this.#checkpointer.terminate()]);
      this.#reader.closeSync();
    })();
    return this.#closed;
  }

  #settle(id: number, error: Error | null, ms = 0): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (error) p.reject(error);
    else p.resolve(ms);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const [id] of [...this.#pending]) this.#settle(id, this.#failure);
  }
}
