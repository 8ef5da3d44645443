import pg from "pg";
import { StorageFullError } from "../storage-full.ts";
import type { AppendReceipt, CheckpointRow, LogHead, Store } from "../store.ts";
import { GENESIS_HASH, type StoredEvent } from "../stored-event.ts";
import { checkChainPaged } from "./postgres-chain-check.ts";
import { checkSchemaName, migrate } from "./postgres-schema.ts";
import { StoreFencedError } from "./store-fenced-error.ts";

export interface PostgresStoreConfig {
  /** A libpq connection URL, e.g. postgres://postgres@127.0.0.1:5432/test */
  url: string;
  /** The schema holding the log (created if missing); default "propnet". */
  schema?: string;
}

/** Injected clients, as kysely's PostgresDialect takes a pool: the store ends both on close. */
export interface PostgresClients {
  /** The one write connection: later it also holds the writer's advisory lock. */
  writer: pg.Client;
  /** Reads, the chain check and replay, never queued behind a commit. */
  pool: pg.Pool;
  schema?: string;
}

/** Rows per INSERT ... unnest statement: one round trip each, arrays of bounded size. */
const INSERT_CHUNK = 5_000;
const COLUMNS = "seq, block, ts, type, payload, signer, signature, prev_hash, hash";
type RawRow = [string, string, string, string, string, string | null, string | null, string, string];

interface Queued {
  rows: readonly StoredEvent[];
  checkpoints: readonly CheckpointRow[];
  resolve: (receipt: AppendReceipt) => void;
  reject: (error: Error) => void;
}

function toEvent(r: RawRow): StoredEvent {
  return {
    seq: Number(r[0]),
    block: Number(r[1]),
    ts: Number(r[2]),
    type: r[3],
    payload: r[4],
    signer: r[5],
    signature: r[6],
    prevHash: r[7],
    hash: r[8],
  };
}

/**
 * The PostgreSQL backend (DESIGN.md §5): payloads are text, so hashes cover the stored bytes.
 * Appends go through one dedicated connection with group commit: batches appended while one
 * commits wait and then commit together, one transaction (synchronous_commit on) for all of them.
 * Every row is inserted at the seq and prev_hash this store expects, and the head moves by
 * compare-and-swap, so a second writer collides on the primary key or the head and is fenced.
 */
export class PostgresStore implements Store {
  readonly backend = "postgres" as const;
  readonly #writer: pg.Client;
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #sql: { insertEvents: string; insertCheckpoints: string; casHead: string };
  /** The head after the last committed batch. */
  #committed: LogHead;
  /** The head after the last accepted batch (committed or queued): the next batch continues it. */
  #tail: LogHead;
  #queue: Queued[] = [];
  #committing: Promise<void> | null = null;
  #failure: Error | null = null;
  #closed: Promise<void> | null = null;

  private constructor(writer: pg.Client, pool: pg.Pool, schema: string, head: LogHead) {
    this.#writer = writer;
    this.#pool = pool;
    this.#schema = schema;
    this.#committed = head;
    this.#tail = head;
    const s = schema;
    this.#sql = {
      insertEvents: `INSERT INTO ${s}.events (${COLUMNS}) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[],
        $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])`,
      // Replay after a crash may close a checkpoint again: the same row, so replacing it is idempotent.
      insertCheckpoints: `INSERT INTO ${s}.perf_checkpoints (trader, ts_ms, data) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
        ON CONFLICT (trader, ts_ms) DO UPDATE SET data = excluded.data`,
      casHead: `UPDATE ${s}.head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3 AND hash = $4`,
    };
    // An idle or broken connection emits 'error' outside any query: unhandled, it would kill the
    // process. The write connection's loss stops writing; the pool replaces its clients itself.
    writer.on("error", (error) => this.#fail(new Error(`PostgreSQL write connection lost: ${error.message}`)));
    pool.on("error", () => {});
  }

  /** Connects, creates the schema and tables if missing, and reads the recorded head. */
  static async open(config: PostgresStoreConfig): Promise<PostgresStore> {
    const writer = new pg.Client({ connectionString: config.url });
    const pool = new pg.Pool({ connectionString: config.url, max: 4 });
    try {
      await writer.connect();
      return await PostgresStore.fromClients({ writer, pool, schema: config.schema });
    } catch (error) {
      await Promise.allSettled([writer.end(), pool.end()]);
      throw error;
    }
  }

  /** Takes connected clients (the writer connected, the pool connecting on demand). */
  static async fromClients(clients: PostgresClients): Promise<PostgresStore> {
    const schema = checkSchemaName(clients.schema ?? "propnet");
    const { writer, pool } = clients;
    // Hashes are over the stored bytes: only UTF-8 gives back exactly the string that was hashed.
    const enc = await writer.query<{ server_encoding: string }>("SHOW server_encoding");
    if (enc.rows[0]?.server_encoding !== "UTF8") {
      throw new Error(`PostgreSQL database encoding is ${enc.rows[0]?.server_encoding}, the event log needs UTF8`);
    }
    // Acknowledged means on disk: never trust a server default that may have been turned off.
    await writer.query("SET synchronous_commit = on");
    await migrate(writer, schema);
    const r = await writer.query<{ seq: string; hash: string }>(`SELECT seq, hash FROM ${schema}.head WHERE id = 1`);
    const row = r.rows[0];
    const head = row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
    return new PostgresStore(writer, pool, schema, head);
  }

  /** The write connection's server process id: what an operator (or a test) would terminate. */
  async writerPid(): Promise<number> {
    const r = await this.#writer.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    return (r.rows[0] as { pid: number }).pid;
  }

  async recordedHead(): Promise<LogHead> {
    const r = await this.#pool.query<{ seq: string; hash: string }>(`SELECT seq, hash FROM ${this.#schema}.head WHERE id = 1`);
    const row = r.rows[0];
    return row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  async lastEvent(): Promise<StoredEvent | null> {
    const r = await this.#pool.query<RawRow>({
      text: `SELECT ${COLUMNS} FROM ${this.#schema}.events ORDER BY seq DESC LIMIT 1`,
      rowMode: "array",
    });
    return r.rows[0] ? toEvent(r.rows[0]) : null;
  }

  async eventAt(seq: number): Promise<StoredEvent | null> {
    const r = await this.#pool.query<RawRow>({
      text: `SELECT ${COLUMNS} FROM ${this.#schema}.events WHERE seq = $1`,
      values: [seq],
      rowMode: "array",
    });
    return r.rows[0] ? toEvent(r.rows[0]) : null;
  }

  async read(after: number, limit: number): Promise<StoredEvent[]> {
    const r = await this.#pool.query<RawRow>({
      text: `SELECT ${COLUMNS} FROM ${this.#schema}.events WHERE seq > $1 ORDER BY seq LIMIT $2`,
      values: [after, limit],
      rowMode: "array",
    });
    return r.rows.map(toEvent);
  }

  async readPayloads(after: number, limit: number): Promise<Array<[number, string, string]>> {
    const r = await this.#pool.query<[string, string, string]>({
      text: `SELECT seq, type, payload FROM ${this.#schema}.events WHERE seq > $1 ORDER BY seq LIMIT $2`,
      values: [after, limit],
      rowMode: "array",
    });
    return r.rows.map((row) => [Number(row[0]), row[1], row[2]]);
  }

  async readCheckpoints(trader: string, after: number, limit: number): Promise<CheckpointRow[]> {
    const r = await this.#pool.query<[string, string, string]>({
      text: `SELECT trader, ts_ms, data FROM ${this.#schema}.perf_checkpoints WHERE trader = $1 AND ts_ms > $2 ORDER BY ts_ms LIMIT $3`,
      values: [trader, after, limit],
      rowMode: "array",
    });
    return r.rows.map((row) => ({ trader: row[0], ts_ms: Number(row[1]), data: row[2] }));
  }

  checkChain(from: LogHead, until: number, onProgress?: (seq: number) => void): Promise<LogHead> {
    return checkChainPaged(this.#pool, this.#schema, from, until, onProgress);
  }

  /**
   * Queues the batch; it commits with every other batch queued before the running commit ends,
   * and resolves once that transaction is committed. Rows must continue the chain from the last
   * accepted batch. After a failed commit nothing more is written (the batches behind it continue
   * its seqs): open a new store.
   */
  append(rows: readonly StoredEvent[], checkpoints: readonly CheckpointRow[] = []): Promise<AppendReceipt> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new Error("store is closed"));
    if (rows.length === 0) return Promise.resolve({ transactionMs: 0 });
    let prev = this.#tail;
    for (const e of rows) {
      if (e.seq !== prev.seq + 1 || e.prevHash !== prev.hash) {
        return Promise.reject(new Error(`append: seq ${e.seq} does not continue the chain at seq ${prev.seq}`));
      }
      // PostgreSQL text cannot hold U+0000 (JSON escapes it, so a payload never has one): refuse
      // the batch here, by name, rather than fail the store at commit.
      if (e.payload.includes("\0") || e.type.includes("\0") || e.signer?.includes("\0") || e.signature?.includes("\0")) {
        return Promise.reject(new Error(`append: seq ${e.seq} holds a NUL character, which PostgreSQL text cannot store`));
      }
      prev = e;
    }
    this.#tail = { seq: prev.seq, hash: prev.hash };
    return new Promise<AppendReceipt>((resolve, reject) => {
      this.#queue.push({ rows, checkpoints, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#committing || this.#queue.length === 0 || this.#failure) return;
    const group = this.#queue;
    this.#queue = [];
    this.#committing = this.#commit(group).then(
      (ms) => {
        for (const q of group) q.resolve({ transactionMs: ms });
      },
      (error: Error) => {
        this.#fail(error);
        for (const q of group) q.reject(this.#failure ?? error);
      },
    );
    void this.#committing.then(() => {
      this.#committing = null;
      this.#pump();
    });
  }

  async #commit(group: readonly Queued[]): Promise<number> {
    const started = performance.now();
    const expected = this.#committed;
    const rows: StoredEvent[] = [];
    // One statement cannot upsert a key twice, and two batches of a group may close the same
    // checkpoint (replay re-closes it): the later row wins, as two commits in turn would leave it.
    const checkpointsByKey = new Map<string, CheckpointRow>();
    for (const q of group) {
      for (const e of q.rows) rows.push(e);
      for (const c of q.checkpoints) checkpointsByKey.set(`${c.trader}\u0001${c.ts_ms}`, c);
    }
    const checkpoints = [...checkpointsByKey.values()];
    const last = rows[rows.length - 1] as StoredEvent;
    const w = this.#writer;
    try {
      await w.query("BEGIN");
      // seq = expected and prev_hash = expected: a second writer's rows collide on the primary key.
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) await w.query(this.#sql.insertEvents, columns(rows, i, INSERT_CHUNK));
      if (checkpoints.length > 0) {
        await w.query(this.#sql.insertCheckpoints, [
          checkpoints.map((c) => c.trader),
          checkpoints.map((c) => c.ts_ms),
          checkpoints.map((c) => c.data),
        ]);
      }
      // The head moves only from where this store left it: the compare-and-swap fences a writer
      // whose view of the head is stale even where its seqs happen not to collide.
      const moved = await w.query(this.#sql.casHead, [last.seq, last.hash, expected.seq, expected.hash]);
      if (moved.rowCount !== 1) {
        throw new StoreFencedError(expected.seq + 1, `the log head moved away from seq ${expected.seq}: another writer appended`);
      }
      await w.query("COMMIT");
    } catch (error) {
      await w.query("ROLLBACK").catch(() => {});
      throw commitFailure(error, expected.seq + 1);
    }
    this.#committed = { seq: last.seq, hash: last.hash };
    return performance.now() - started;
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const queued = this.#queue;
    this.#queue = [];
    for (const q of queued) q.reject(this.#failure);
  }

  /** Waits for the batches in flight, then ends both connections. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      while (this.#committing) await this.#committing;
      await Promise.allSettled([this.#writer.end(), this.#pool.end()]);
    })();
    return this.#closed;
  }
}

/** The nine column arrays of rows[from, from + n) for one unnest insert. */
function columns(rows: readonly StoredEvent[], from: number, n: number): unknown[][] {
  const end = Math.min(rows.length, from + n);
  const cols: unknown[][] = [[], [], [], [], [], [], [], [], []];
  for (let i = from; i < end; i++) {
    const e = rows[i] as StoredEvent;
    (cols[0] as unknown[]).push(e.seq);
    (cols[1] as unknown[]).push(e.block);
    (cols[2] as unknown[]).push(e.ts);
    (cols[3] as unknown[]).push(e.type);
    (cols[4] as unknown[]).push(e.payload);
    (cols[5] as unknown[]).push(e.signer);
    (cols[6] as unknown[]).push(e.signature);
    (cols[7] as unknown[]).push(e.prevHash);
    (cols[8] as unknown[]).push(e.hash);
  }
  return cols;
}

/**
 * What a failed commit rejects with: fenced on a unique violation (23505), StorageFullError on
 * disk_full (53100), else the server's error with its SQLSTATE. A connection lost during COMMIT
 * leaves the outcome unknown: the caller reopens and compares the recorded head.
 */
function commitFailure(error: unknown, expectedSeq: number): Error {
  if (error instanceof StoreFencedError) return error;
  const e = error as { message?: string; code?: string };
  const message = e.message ?? String(error);
  if (e.code === "23505") {
    return new StoreFencedError(expectedSeq, `seq ${expectedSeq} was already written by another writer: ${message}`);
  }
  if (e.code === "53100") return new StorageFullError(`commit failed: ${message}`);
  return Object.assign(new Error(`commit failed: ${message}`), { code: e.code });
}
