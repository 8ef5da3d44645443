import type { Client, PoolClient } from "pg";
import { GENESIS_HASH } from "../stored-event.ts";

/** A schema name we interpolate into SQL: plain lowercase identifiers only, never quoted input. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}: use [a-z_][a-z0-9_]*`);
  return schema;
}

/**
 * The migrations, in order; the schema records how many ran. The layout matches the SQLite
 * backend's: payload is text (the hash covers the stored bytes, so never jsonb), prev_hash is
 * stored (the fenced insert relies on it), bigint for seq/block/ts.
 */
const MIGRATIONS: ReadonlyArray<(s: string) => string> = [
  (s) => `
CREATE TABLE ${s}.events (
  seq bigint PRIMARY KEY,
  block bigint NOT NULL,
  ts bigint NOT NULL,
  type text NOT NULL,
  payload text NOT NULL,
  signer text,
  signature text,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE TABLE ${s}.perf_checkpoints (
  trader text NOT NULL,
  ts_ms bigint NOT NULL,
  data text NOT NULL,
  PRIMARY KEY (trader, ts_ms)
);
CREATE TABLE ${s}.head (
  id integer PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL,
  hash text NOT NULL
);
INSERT INTO ${s}.head (id, seq, hash) VALUES (1, 0, '${GENESIS_HASH}');`,
];

/**
 * Creates the schema and brings its tables up to date, in one transaction under an advisory
 * transaction lock, so processes opening the same database at once migrate it once.
 */
export async function migrate(client: Pick<Client | PoolClient, "query">, schema: string): Promise<void> {
  const s = checkSchemaName(schema);
  await client.query("BEGIN");
  try {
    // hashtext of the schema name: one lock per schema, not one for the whole server.
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`propnet-migrate:${s}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)`);
    const r = await client.query<{ version: number }>(`SELECT version FROM ${s}.schema_version WHERE id = 1`);
    const current = r.rows[0]?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(`schema ${s} is at version ${current}, newer than this propnet knows (${MIGRATIONS.length})`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) await client.query((MIGRATIONS[v] as (s: string) => string)(s));
    await client.query(
      `INSERT INTO ${s}.schema_version (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = excluded.version`,
      [MIGRATIONS.length],
    );
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}
