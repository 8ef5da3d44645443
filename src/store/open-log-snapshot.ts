import { SqliteStore } from "./sqlite/sqlite-store.ts";
import type { Store, StoreConfig } from "./store.ts";

/** A log opened for reading only, every read seeing it as it was when opened. */
export interface LogSnapshot {
  readonly store: Store;
  /** Ends the read transaction and closes the connection. */
  close(): Promise<void>;
}

/** Why a log cannot be read this way; stable code for callers. */
export class LogSnapshotUnsupported extends Error {
  override readonly name = "LogSnapshotUnsupported";
  readonly code = "LOG_SNAPSHOT_UNSUPPORTED";
}

/**
 * Opens a log read-only beside a node that may be writing it (verify): no schema, no write lock,
 * and one read transaction held until close, so however much the node commits meanwhile the
 * reader sees one consistent log.
 */
export function openLogSnapshot(config: StoreConfig): Promise<LogSnapshot> {
  if (config.backend !== "sqlite") {
    return Promise.reject(new LogSnapshotUnsupported(`a read-only snapshot of a ${config.backend} log is not built yet`));
  }
  const store = SqliteStore.openReadOnly(config.path);
  let release: () => void;
  try {
    release = store.holdReadSnapshot();
  } catch (error) {
    store.closeSync();
    throw error;
  }
  return Promise.resolve({
    store,
    close: () => {
      release();
      return store.close();
    },
  });
}
