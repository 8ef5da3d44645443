import type { StoredEvent } from "./stored-event.ts";

/**
 * A closed performance checkpoint of one trader (DESIGN.md §5: "closed perf checkpoints live in
 * their own append-only table keyed by (trader, ts)"). Derived from the events it is committed
 * with, so replay would make it again; `data` is its JSON.
 */
export interface CheckpointRow {
  trader: string;
  ts_ms: number;
  data: string;
}

/** What a durable append reports. */
export interface AppendReceipt {
  /** The transaction itself: inserts, commit and fsync, without any wait before it. */
  transactionMs: number;
}

export interface LogHead {
  seq: number;
  hash: string;
}

/**
 * The append-only event log. Adapters (SQLite, PostgreSQL) sit behind this small interface and
 * take an injected client; everything above it is backend-agnostic. Every read returns a Promise
 * (as kysely wraps synchronous better-sqlite3), so a networked backend fits the same shape.
 */
export interface Store {
  readonly backend: "sqlite" | "postgres";
  /** The head recorded with the last committed batch (seq 0 and the zero hash when empty). */
  recordedHead(): Promise<LogHead>;
  /** The last row actually present, or null. */
  lastEvent(): Promise<StoredEvent | null>;
  /** The row at `seq`, or null. */
  eventAt(seq: number): Promise<StoredEvent | null>;
  /**
   * Appends rows in one transaction and records the new head with them. Resolves once durable;
   * batches commit in the order they were appended. Rows must continue the chain.
   */
  append(rows: readonly StoredEvent[], checkpoints?: readonly CheckpointRow[]): Promise<AppendReceipt>;
  /** A trader's closed checkpoints with ts_ms > after, oldest first, at most `limit`. */
  readCheckpoints(trader: string, after: number, limit: number): Promise<CheckpointRow[]>;
  /** Rows with seq > after, ascending, at most `limit`. */
  read(after: number, limit: number): Promise<StoredEvent[]>;
  /** Just (seq, type, payload) of rows with seq > after: what replay applies. */
  readPayloads(after: number, limit: number): Promise<Array<[number, string, string]>>;
  /**
   * Checks the hash chain from `from` through `until` off the calling thread; resolves with the
   * head reached or rejects with LogIntegrityError naming the first bad seq.
   */
  checkChain(from: LogHead, until: number, onProgress?: (seq: number) => void): Promise<LogHead>;
  close(): Promise<void>;
}

/** Which backend holds the log, and where. */
export type StoreConfig = { backend: "sqlite"; path: string } | { backend: "postgres"; url: string; schema?: string };
