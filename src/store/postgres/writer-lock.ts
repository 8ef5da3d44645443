import pg from "pg";
import { checkSchemaName } from "./postgres-schema.ts";

/** Who writes now: the address the writer process serves HTTP on, published once it holds the lock. */
export interface WriterRecord {
  address: string;
  /**
   * A random token the writer made when it took the lock: readers send it with the writes they
   * forward, so the writer knows them from clients (they were rate limited where they arrived).
   */
  token: string;
  /** The lock connection's server process id: the record counts only while that session holds the lock. */
  backendPid: number;
  sinceMs: number;
}

/** The lock key of a schema's writer: one writer per schema (the log), not one per server. */
export function writerLockName(schema: string): string {
  return `propnet-writer:${checkSchemaName(schema)}`;
}

/** The LISTEN/NOTIFY channel a writer announces its commits on. */
export function commitChannel(schema: string): string {
  return `propnet_commits_${checkSchemaName(schema)}`;
}

/**
 * The table naming the writer's address. Created here, idempotently and under the same advisory
 * transaction lock as the store's migrations, so concurrent starts create it once.
 */
async function ensureTable(client: pg.Client, schema: string): Promise<void> {
  const s = checkSchemaName(schema);
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`propnet-migrate:${s}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.cluster_writer (id integer PRIMARY KEY CHECK (id = 1), address text NOT NULL, token text NOT NULL, backend_pid integer NOT NULL, since_ms bigint NOT NULL)`,
    );
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

/**
 * The single-writer lock of several processes on one PostgreSQL log (DESIGN.md §5, issue #11): a
 * session-level advisory lock held on this dedicated connection. The server releases it when the
 * session ends (the process died, the connection broke), which is how a writer's death is seen.
 * The store's fenced appends protect the log from a writer that lost the lock without knowing.
 */
export class WriterLock {
  readonly #client: pg.Client;
  readonly #schema: string;
  #held = false;
  #lost: Error | null = null;
  readonly #onLost = new Set<(error: Error) => void>();

  private constructor(client: pg.Client, schema: string) {
    this.#client = client;
    this.#schema = schema;
    // An idle connection's failure arrives as an event: unhandled it would kill the process.
    client.on("error", (error) => this.#lose(new Error(`writer lock connection lost: ${error.message}`)));
    client.on("end", () => this.#lose(new Error("writer lock connection ended")));
  }

  static async connect(url: string, schema: string): Promise<WriterLock> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await ensureTable(client, schema);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    return new WriterLock(client, schema);
  }

  get held(): boolean {
    return this.#held && this.#lost === null;
  }

  /** Why the connection is gone, or null while it is up (a lost connection lost the lock with it). */
  get lost(): Error | null {
    return this.#lost;
  }

  /** Called once if the connection fails: a holder has lost the lock. */
  onLost(listener: (error: Error) => void): void {
    this.#onLost.add(listener);
  }

  /** Whether the log holds no event yet (its tables may not even exist): only then may a starting process write at once. */
  async logIsEmpty(): Promise<boolean> {
    const s = this.#schema;
    const table = await this.#client.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [`${s}.head`]);
    if (!table.rows[0]?.t) return true;
    const head = await this.#client.query<{ seq: string }>(`SELECT seq FROM ${s}.head WHERE id = 1`);
    return Number(head.rows[0]?.seq ?? 0) === 0;
  }

  /** Takes the lock if nobody holds it; never waits. */
  async tryAcquire(): Promise<boolean> {
    if (this.#lost) throw this.#lost;
    if (this.#held) return true;
    const r = await this.#client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [writerLockName(this.#schema)]);
    this.#held = r.rows[0]?.ok === true;
    return this.#held;
  }

  /** Publishes the holder's HTTP address (and its forwarding token): readers forward writes there. */
  async publish(address: string, token: string, nowMs: number): Promise<void> {
    if (!this.held) throw new Error("publish: this process does not hold the writer lock");
    await this.#client.query(
      `INSERT INTO ${this.#schema}.cluster_writer (id, address, token, backend_pid, since_ms) VALUES (1, $1, $2, pg_backend_pid(), $3)
       ON CONFLICT (id) DO UPDATE SET address = excluded.address, token = excluded.token, backend_pid = excluded.backend_pid, since_ms = excluded.since_ms`,
      [address, token, nowMs],
    );
  }

  /** Announces a commit up to `seq` to the readers (NOTIFY; they poll as well). */
  async notify(seq: number): Promise<void> {
    await this.#client.query("SELECT pg_notify($1, $2)", [commitChannel(this.#schema), String(seq)]);
  }

  /** The lock's server-side session id (what a test terminates to cut the lock away). */
  async backendPid(): Promise<number> {
    return (await this.#client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid as number;
  }

  /** Ends the session: the lock, if held, goes with it. */
  async close(): Promise<void> {
    this.#onLost.clear();
    this.#held = false;
    await this.#client.end().catch(() => {});
  }

  #lose(error: Error): void {
    if (this.#lost) return;
    this.#lost = error;
    const held = this.#held;
    this.#held = false;
    if (held) for (const listener of this.#onLost) listener(error);
  }
}

/**
 * The writer's record, only while its session still holds the lock: after the writer died its
 * address is not handed out (readers answer 503 until the next writer publishes its own).
 */
export async function currentWriter(client: Pick<pg.Pool | pg.Client, "query">, schema: string): Promise<WriterRecord | null> {
  const s = checkSchemaName(schema);
  const r = await client.query<{ address: string; token: string; backend_pid: number; since_ms: string }>(
    `SELECT w.address, w.token, w.backend_pid, w.since_ms FROM ${s}.cluster_writer w
     WHERE w.id = 1 AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = w.backend_pid)`,
  );
  const row = r.rows[0];
  return row ? { address: row.address, token: row.token, backendPid: row.backend_pid, sinceMs: Number(row.since_ms) } : null;
}
