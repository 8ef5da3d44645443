import { Worker } from "node:worker_threads";
import { INSERT_EVENT_SQL, SET_HEAD_SQL, SqliteStore } from "./sqlite-store.ts";
import type { LogHead, Store } from "./store.ts";
import type { StoredEvent } from "./stored-event.ts";

type Reply = { type: "ready" | "closed" } | { type: "committed"; id: number } | { type: "failed"; id: number; message: string };

/**
 * SQLite with commits on their own thread: reads run here on one connection; appends are posted
 * to the commit thread, which holds the write connection and fsyncs, and resolve in order once
 * durable. The writer can execute the next batch while this one commits.
 */
export class ThreadedSqliteStore implements Store {
  readonly backend = "sqlite" as const;
  readonly #reader: SqliteStore;
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #failure: Error | null = null;
  #closed: Promise<void> | null = null;
  /** The last append: batches resolve in order, so waiting for it waits for all. */
  #last: Promise<void> = Promise.resolve();

  private constructor(reader: SqliteStore, worker: Worker) {
    this.#reader = reader;
    this.#worker = worker;
    worker.on("message", (reply: Reply) => {
      if (reply.type === "committed") this.#settle(reply.id, null);
      else if (reply.type === "failed") this.#fail(new Error(`commit failed: ${reply.message}`));
    });
    worker.on("error", (error) => this.#fail(error));
    worker.on("exit", (code) => {
      if (this.#pending.size > 0) this.#fail(new Error(`commit thread exited (${code}) with batches in flight`));
    });
  }

  /** Opens the log (refusing a truncated file) and starts the commit thread. */
  static async open(path: string): Promise<ThreadedSqliteStore> {
    const reader = SqliteStore.open(path);
    const worker = new Worker(new URL("./sqlite-commit-worker.mjs", import.meta.url), {
      workerData: { path, insertSql: INSERT_EVENT_SQL, setHeadSql: SET_HEAD_SQL },
    });
    await new Promise<void>((resolve, reject) => {
      worker.once("message", (m: Reply) => (m.type === "ready" ? resolve() : reject(new Error("commit thread failed to start"))));
      worker.once("error", reject);
    });
    return new ThreadedSqliteStore(reader, worker);
  }

  recordedHead(): LogHead {
    return this.#reader.recordedHead();
  }

  lastEvent(): StoredEvent | null {
    return this.#reader.lastEvent();
  }

  eventAt(seq: number): StoredEvent | null {
    return this.#reader.eventAt(seq);
  }

  read(after: number, limit: number): StoredEvent[] {
    return this.#reader.read(after, limit);
  }

  readPayloads(after: number, limit: number): Array<[number, string, string]> {
    return this.#reader.readPayloads(after, limit);
  }

  checkChain(from: LogHead, until: number, onProgress?: (seq: number) => void): Promise<LogHead> {
    return this.#reader.checkChain(from, until, onProgress);
  }

  append(rows: readonly StoredEvent[]): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (rows.length === 0) return Promise.resolve();
    const id = this.#nextId++;
    const tuples = rows.map((e) => [e.seq, e.block, e.ts, e.type, e.payload, e.signer, e.signature, e.hash]);
    this.#last = new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ type: "append", id, rows: tuples });
    });
    return this.#last;
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
      await this.#worker.terminate();
      this.#reader.closeSync();
    })();
    return this.#closed;
  }

  #settle(id: number, error: Error | null): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (error) p.reject(error);
    else p.resolve();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const [id] of [...this.#pending]) this.#settle(id, this.#failure);
  }
}
