import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { commitError } from "./storage-full.ts";
import type { AppendReceipt, CheckpointRow, LogHead, Store } from "./store.ts";
import { GENESIS_HASH, LogIntegrityError, type StoredEvent } from "./stored-event.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  block INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  signer TEXT,
  signature TEXT,
  hash TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS perf_checkpoints (
  trader TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (trader, ts_ms)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
) STRICT;
`;

// prev_hash is not stored: it always equals the previous row's hash, which replay recomputes.
const COLUMNS = "seq, block, ts, type, payload, signer, signature, hash";
export const INSERT_EVENT_SQL = `INSERT INTO events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;
/** Replay after a crash may close a checkpoint again: the same row, so replacing it is idempotent. */
export const INSERT_CHECKPOINT_SQL = "INSERT OR REPLACE INTO perf_checkpoints (trader, ts_ms, data) VALUES (?, ?, ?)";
export const SET_HEAD_SQL =
  "INSERT INTO head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";

type Row = Omit<StoredEvent, "prevHash">;
type RawRow = [number, number, number, string, string, string | null, string | null, string];

/**
 * The embedded default: better-sqlite3 in WAL mode with synchronous=FULL, so a committed
 * transaction survives power loss. One connection, one writer (the node's).
 */
export class SqliteStore implements Store {
  readonly backend = "sqlite" as const;
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #setHead: Database.Statement;
  readonly #selectPage: Database.Statement;
  readonly #selectHash: Database.Statement;
  readonly #selectPayloads: Database.Statement;
  readonly #appendTx: (rows: readonly StoredEvent[], checkpoints: readonly CheckpointRow[]) => void;
  readonly #insertCheckpoint: Database.Statement;
  readonly #selectCheckpoints: Database.Statement;

  /**
   * Takes an open better-sqlite3 database (the client is injected, as kysely's drivers do). A
   * read-only one (verify, backup beside a running node) is used as it is: no pragma, no schema.
   */
  constructor(db: Database.Database) {
    this.#db = db;
    if (!db.readonly) {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.exec(SCHEMA);
    }
    this.#insert = db.prepare(INSERT_EVENT_SQL);
    this.#setHead = db.prepare(SET_HEAD_SQL);
    this.#selectPage = db.prepare(`SELECT ${COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`).raw(true);
    this.#selectHash = db.prepare("SELECT hash FROM events WHERE seq = ?");
    this.#selectPayloads = db.prepare("SELECT seq, type, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?").raw(true);
    this.#insertCheckpoint = db.prepare(INSERT_CHECKPOINT_SQL);
    this.#selectCheckpoints = db.prepare("SELECT trader, ts_ms, data FROM perf_checkpoints WHERE trader = ? AND ts_ms > ? ORDER BY ts_ms LIMIT ?");
    this.#appendTx = db.transaction((rows: readonly StoredEvent[], checkpoints: readonly CheckpointRow[]) => {
      for (const e of rows) {
        this.#insert.run(e.seq, e.block, e.ts, e.type, e.payload, e.signer, e.signature, e.hash);
      }
      for (const c of checkpoints) this.#insertCheckpoint.run(c.trader, c.ts_ms, c.data);
      const last = rows[rows.length - 1] as StoredEvent;
      this.#setHead.run(last.seq, last.hash);
    });
  }

  /** Opens (creating if needed) the log file, refusing one that was cut short. */
  static open(path: string): SqliteStore {
    if (existsSync(path)) checkNotTruncated(path);
    return new SqliteStore(new Database(path));
  }

  /**
   * Opens an existing log for reading only, beside a node that may be writing it: nothing is
   * created, no pragma is set, and no write lock is ever taken.
   */
  static openReadOnly(path: string): SqliteStore {
    return new SqliteStore(new Database(path, { readonly: true, fileMustExist: true }));
  }

  /**
   * Holds one read transaction until the returned function is called: every read in between sees
   * the log as it was at this moment, however much a running node commits meanwhile.
   */
  holdReadSnapshot(): () => void {
    this.#db.exec("BEGIN");
    // A deferred transaction takes its snapshot at the first read.
    this.#db.prepare("SELECT count(*) FROM head").get();
    return () => {
      if (this.#db.inTransaction) this.#db.exec("COMMIT");
    };
  }

  /** The open database: for SQLite's online backup. */
  get database(): Database.Database {
    return this.#db;
  }

  recordedHead(): LogHead {
    const row = this.#db.prepare("SELECT seq, hash FROM head WHERE id = 1").get() as LogHead | undefined;
    return row ?? { seq: 0, hash: GENESIS_HASH };
  }

  lastEvent(): StoredEvent | null {
    const r = this.#db.prepare(`SELECT ${COLUMNS} FROM events ORDER BY seq DESC LIMIT 1`).get() as Row | undefined;
    return r ? this.#withPrev(r) : null;
  }

  eventAt(seq: number): StoredEvent | null {
    const r = this.#db.prepare(`SELECT ${COLUMNS} FROM events WHERE seq = ?`).get(seq) as Row | undefined;
    return r ? this.#withPrev(r) : null;
  }

  #hashAt(seq: number): string {
    if (seq === 0) return GENESIS_HASH;
    const r = this.#selectHash.get(seq) as { hash: string } | undefined;
    return r?.hash ?? GENESIS_HASH;
  }

  #withPrev(r: Row): StoredEvent {
    const e = r as StoredEvent;
    e.prevHash = this.#hashAt(r.seq - 1);
    return e;
  }

  /** Commits on the calling thread (tests, tools, the commit thread itself). */
  appendSync(rows: readonly StoredEvent[], checkpoints: readonly CheckpointRow[] = []): void {
    if (rows.length > 0) this.#appendTx(rows, checkpoints);
  }

  append(rows: readonly StoredEvent[], checkpoints: readonly CheckpointRow[] = []): Promise<AppendReceipt> {
    const started = performance.now();
    try {
      this.appendSync(rows, checkpoints);
    } catch (error) {
      // The transaction was rolled back; a full disk is told apart by SQLite's code.
      const e = error as { message?: string; code?: string };
      return Promise.reject(commitError(e.message ?? String(error), e.code));
    }
    return Promise.resolve({ transactionMs: performance.now() - started });
  }

  readCheckpoints(trader: string, after: number, limit: number): CheckpointRow[] {
    return this.#selectCheckpoints.all(trader, after, limit) as CheckpointRow[];
  }

  read(after: number, limit: number): StoredEvent[] {
    // Raw arrays cost half of better-sqlite3's row objects; replay reads millions of these.
    const raw = this.#selectPage.all(after, limit) as RawRow[];
    const rows: StoredEvent[] = new Array(raw.length);
    let prev = raw.length > 0 ? this.#hashAt((raw[0] as RawRow)[0] - 1) : GENESIS_HASH;
    for (let i = 0; i < raw.length; i++) {
      const r = raw[i] as RawRow;
      rows[i] = {
        seq: r[0],
        block: r[1],
        ts: r[2],
        type: r[3],
        payload: r[4],
        signer: r[5],
        signature: r[6],
        prevHash: prev,
        hash: r[7],
      };
      prev = r[7];
    }
    return rows;
  }

  readPayloads(after: number, limit: number): Array<[number, string, string]> {
    return this.#selectPayloads.all(after, limit) as Array<[number, string, string]>;
  }

  /**
   * Checks the chain from `from` through seq `until` on another thread with its own read-only
   * connection; resolves with the head reached, or rejects with LogIntegrityError.
   */
  checkChain(from: LogHead, until: number, onProgress?: (seq: number) => void): Promise<LogHead> {
    const worker = new Worker(new URL("./sqlite-chain-worker.mjs", import.meta.url), {
      workerData: { path: this.#db.name, after: from.seq, prevHash: from.hash, until },
    });
    return new Promise<LogHead>((resolve, reject) => {
      worker.on("message", (m: { type: string; seq: number; hash?: string; message?: string }) => {
        if (m.type === "progress") onProgress?.(m.seq);
        else if (m.type === "done") resolve({ seq: m.seq, hash: m.hash as string });
        else reject(new LogIntegrityError(m.seq, m.message ?? "event log chain is broken"));
      });
      worker.on("error", (error) => reject(new LogIntegrityError(from.seq + 1, `chain check failed: ${error.message}`)));
      worker.on("exit", () => reject(new LogIntegrityError(from.seq + 1, "chain check stopped early")));
    });
  }

  /** Bytes the log occupies on disk (main file plus WAL). */
  static sizeOnDisk(path: string): number {
    let size = 0;
    for (const p of [path, `${path}-wal`]) if (existsSync(p)) size += statSync(p).size;
    return size;
  }

  closeSync(): void {
    if (this.#db.open) this.#db.close();
  }

  close(): Promise<void> {
    this.closeSync();
    return Promise.resolve();
  }
}

/**
 * SQLite's header records how many pages the main file holds; a file shorter than that was
 * truncated. Only meaningful when no WAL holds newer pages, i.e. after a clean close.
 */
function checkNotTruncated(path: string): void {
  const wal = `${path}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) return;
  const header = Buffer.alloc(100);
  const fd = openSync(path, "r");
  let read: number;
  try {
    read = readSync(fd, header, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (read === 0) return;
  if (read < 100 || header.toString("latin1", 0, 16) !== "SQLite format 3\0") {
    throw new LogIntegrityError(0, `${path} is not an intact SQLite database (header damaged or truncated)`);
  }
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65_536 : rawPageSize;
  const pages = header.readUInt32BE(28);
  const headerValid = header.readUInt32BE(24) === header.readUInt32BE(92);
  const size = statSync(path).size;
  if (headerValid && size < pages * pageSize) {
    throw new LogIntegrityError(0, `${path} was truncated: it holds ${size} bytes, its header says ${pages * pageSize}`);
  }
}
