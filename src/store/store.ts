import type { StoredEvent } from "./stored-event.ts";

export interface LogHead {
  seq: number;
  hash: string;
}

/**
 * The append-only event log. Adapters (SQLite, PostgreSQL) sit behind this small interface and
 * take an injected client; everything above it is backend-agnostic.
 */
export interface Store {
  readonly backend: "sqlite" | "postgres";
  /** The head recorded with the last committed batch (seq 0 and the zero hash when empty). */
  recordedHead(): LogHead;
  /** The last row actually present, or null. */
  lastEvent(): StoredEvent | null;
  /** The row at `seq`, or null. */
  eventAt(seq: number): StoredEvent | null;
  /**
   * Appends rows in one transaction and records the new head with them; durable on return.
   * Rows must continue the chain from the recorded head.
   */
  append(rows: readonly StoredEvent[]): void;
  /** Rows with seq > after, ascending, at most `limit`. */
  read(after: number, limit: number): StoredEvent[];
  /** Streams rows with seq > after, ascending, for replay. */
  scan(after: number): IterableIterator<StoredEvent>;
  close(): void;
}
