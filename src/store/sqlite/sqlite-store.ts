import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { commitError } from "../storage-full.ts";
import type { AppendReceipt, CheckpointRow, LogHead, Store } from "../store.ts";
import { GENESIS_HASH, LogIntegrityError, type StoredEvent } from "../stored-event.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  block INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  signer TEXT,
  signature TEXT,
  hash TEXT NOT NULL,
  prev_hash TEXT NOT NULL
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

// prev_hash is stored (one row format with PostgreSQL, whose fenced insert relies on it); the
// chain check still recomputes every link, so a stored prev_hash is checked, never trusted.
const COLUMNS = "seq, block, ts, type, payload, signer, signature, hash, prev_hash";
export const INSERT_EVENT_SQL = `INSERT INTO events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
/** A log written before prev_hash was stored: each row's prev_hash is its predecessor's hash. */
const DERIVED_PREV_HASH = `coalesce((SELECT p.hash FROM events p WHERE p.seq = events.seq - 1), '${GENESIS_HASH}')`;
/** Replay after a crash may close a checkpoint again: the same row, so replacing it is idempotent. */
export const INSERT_CHECKPOINT_SQL = "INSERT OR REPLACE INTO perf_checkpoints (trader, ts_ms, data) VALUES (?, ?, ?)";
export const SET_HEAD_SQL =
  "INSERT INTO head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";

type RawRow = [number, number, number, string, string, string | null, string | null, string, string];

function toEvent(r: RawRow): StoredEvent {
  return { seq: r[0], block: r[1], ts: r[2], type: r[3], payload: r[4], signer: r[5], signature: r[6], hash: r[7], prevHash: r[8] };
}

/** Whether the events table has the prev_hash column (false for a log written by older code). */
function hasPrevHashColumn(db: Database.Database): boolean {
  const columns = db.prepare("SELECT name FROM pragma_table_info('events')").pluck().all() as string[];
  return columns.length === 0 || columns.includes("prev_hash");
}

/**
 * Brings a log written before prev_hash was stored to the current format in one transaction: the
 * column is added and every row gets its predecessor's hash (the zero hash for seq 1), so the
 * stored bytes every hash covers are untouched. A crash midway leaves the old format, and the
 * next open migrates again.
 */
function migratePrevHash(db: Database.Database): void {
  if (hasPrevHashColumn(db)) return;
  db.transaction(() => {
    // SQLite adds a NOT NULL column only with a default; every row is then set, so none keeps it.
    db.exec("ALTER TABLE events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT ''");
    db.exec(`UPDATE events SET prev_hash = ${DERIVED_PREV_HASH}`);
  }).immediate();
}

function readOnlyAppend(): never {
  throw new TypeError("this log was opened read-only: it takes no appends");
}

/**
 * The embedded default: better-sqlite3 in WAL mode with synchronous=FULL, so a committed
 * transaction survives power loss. One connection, one writer (the node's).
 */
export class SqliteStore implements Store {
  readonly backend = "sqlite" as const;
  /** False only for an old-format log opened read-only (it could not be migrated). */
  readonly hasPrevHash: boolean;
  readonly #db: Database.Database;
  readonly #selectPage: Database.Statement;
  readonly #selectLast: Database.Statement;
  readonly #selectAt: Database.Statement;
  readonly #selectPayloads: Database.Statement;
  readonly #appendTx: (rows: readonly StoredEvent[], checkpoints: readonly CheckpointRow[]) => void;
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
      migratePrevHash(db);
      db.exec(SCHEMA);
    }
    // A read-only connection cannot migrate an old log: its reads derive prev_hash instead.
    this.hasPrevHash = hasPrevHashColumn(db);
    const columns = this.hasPrevHash ? COLUMNS : COLUMNS.replace("prev_hash", `${DERIVED_PREV_HASH} AS prev_hash`);
    // Raw arrays cost half of better-sqlite3's row objects; replay reads millions of these.
    this.#selectPage = db.prepare(`SELECT ${columns} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`).raw(true);
    this.#selectLast = db.prepare(`SELECT ${columns} FROM events ORDER BY seq DESC LIMIT 1`).raw(true);
    this.#selectAt = db.prepare(`SELECT ${columns} FROM events WHERE seq = ?`).raw(true);
    this.#selectPayloads = db.prepare("SELECT seq, type, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?").raw(true);
    this.#selectCheckpoints = db.prepare("SELECT trader, ts_ms, data FROM perf_checkpoints WHERE trader = ? AND ts_ms > ? ORDER BY ts_ms LIMIT ?");
    this.#appendTx = db.readonly ? readOnlyAppend : this.#prepareAppend(db);
  }

  /** The append transaction (a read-only connection has none: an old log there has no prev_hash to insert into). */
  #prepareAppend(db: Database.Database): (rows: readonly StoredEvent[], checkpoints: readonly CheckpointRow[]) => void {
    const insert = db.prepare(INSERT_EVENT_SQL);
    const setHead = db.prepare(SET_HEAD_SQL);
    const insertCheckpoint = db.prepare(INSERT_CHECKPOINT_SQL);
    return db.transaction((rows: readonly StoredEvent[], checkpoints: readonly CheckpointRow[]) => {
      for (const e of rows) {
        insert.run(e.seq, e.block, e.ts, e.type, e.payload, e.signer, e.signature, e.hash, e.prevHash);
      }
      for (const c of checkpoints) insertCheckpoint.run(c.trader, c.ts_ms, c.data);
      const last = rows[rows.length - 1] as StoredEvent;
      setHead.run(last.seq, last.hash);
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

  /** On the calling thread (tools that read a file offline, such as truncate). */
  recordedHeadSync(): LogHead {
    const row = this.#db.prepare("SELECT seq, hash FROM head WHERE id = 1").get() as LogHead | undefined;
    return row ?? { seq: 0, hash: GENESIS_HASH };
  }

  recordedHead(): Promise<LogHead> {
    return Promise.resolve(this.recordedHeadSync());
  }

  lastEvent(): Promise<StoredEvent | null> {
    const r = this.#selectLast.get() as RawRow | undefined;
    return Promise.resolve(r ? toEvent(r) : null);
  }

  eventAt(seq: number): Promise<StoredEvent | null> {
    const r = this.#selectAt.get(seq) as RawRow | undefined;
    return Promise.resolve(r ? toEvent(r) : null);
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

  readCheckpoints(trader: string, after: number, limit: number): Promise<CheckpointRow[]> {
    return Promise.resolve(this.#selectCheckpoints.all(trader, after, limit) as CheckpointRow[]);
  }

  /** On the calling thread (tools that read a file offline, such as truncate). */
  readSync(after: number, limit: number): StoredEvent[] {
    const raw = this.#selectPage.all(after, limit) as RawRow[];
    const rows: StoredEvent[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) rows[i] = toEvent(raw[i] as RawRow);
    return rows;
  }

  read(after: number, limit: number): Promise<StoredEvent[]> {
    return Promise.resolve(this.readSync(after, limit));
  }

  readPayloads(after: number, limit: number): Promise<Array<[number, string, string]>> {
    return Promise.resolve(this.#selectPayloads.all(after, limit) as Array<[number, string, string]>);
  }

  /**
   * Checks the chain from `from` through seq `until` on another thread with its own read-only
   * connection; resolves with the head reached, or rejects with LogIntegrityError.
   */
  checkChain(from: LogHead, until: number, onProgress?: (seq: number) => void): Promise<LogHead> {
    const worker = new Worker(new URL("./sqlite-chain-worker.mjs", import.meta.url), {
      workerData: { path: this.#db.name, after: from.seq, prevHash: from.hash, until, storedPrevHash: this.hasPrevHash },
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
