/**
 * openStore picks the backend from configuration alone: the embedded SQLite file, or PostgreSQL
 * at 127.0.0.1:5432 (database `test`, trust auth) in a schema of this run's own, dropped after.
 * Both answer the same Store interface, every read a Promise.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "./open-store.ts";
import type { Store, StoreConfig } from "./store.ts";
import { GENESIS_HASH, hashEvent, type StoredEvent } from "./stored-event.ts";

const PG_URL = "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = `open_store_${process.pid}_${Date.now()}`;
const dir = mkdtempSync(join(tmpdir(), "propnet-open-store-"));

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  } finally {
    await client.end();
  }
});

function chain(count: number): StoredEvent[] {
  const rows: StoredEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq++) {
    const row = { seq, block: seq, ts: 1_767_225_600_000 + seq, type: "Noted@1", payload: `{"n":${seq}}`, signer: null, signature: null, prevHash };
    const hash = hashEvent(row);
    rows.push({ ...row, hash });
    prevHash = hash;
  }
  return rows;
}

const configs: Array<[string, StoreConfig]> = [
  ["sqlite", { backend: "sqlite", path: join(dir, "events.sqlite") }],
  ["postgres", { backend: "postgres", url: PG_URL, schema: SCHEMA }],
];

describe.each(configs)("openStore (%s)", (backend, config) => {
  it("opens the backend asked for; reads resolve with what was appended, prev_hash included", async () => {
    const store: Store = await openStore(config);
    try {
      expect(store.backend).toBe(backend);
      const empty = store.recordedHead();
      expect(empty).toBeInstanceOf(Promise);
      expect(await empty).toEqual({ seq: 0, hash: GENESIS_HASH });
      expect(await store.lastEvent()).toBeNull();
      const rows = chain(5);
      await store.append(rows, [{ trader: "t", ts_ms: 43_200_000, data: "[1]" }]);
      expect(await store.recordedHead()).toEqual({ seq: 5, hash: (rows[4] as StoredEvent).hash });
      expect(await store.read(0, 10)).toEqual(rows);
      expect(await store.eventAt(3)).toEqual(rows[2]);
      expect((await store.lastEvent())?.prevHash).toBe((rows[3] as StoredEvent).hash);
      expect(await store.readPayloads(3, 10)).toEqual([
        [4, "Noted@1", '{"n":4}'],
        [5, "Noted@1", '{"n":5}'],
      ]);
      expect(await store.readCheckpoints("t", 0, 10)).toEqual([{ trader: "t", ts_ms: 43_200_000, data: "[1]" }]);
      expect(await store.checkChain({ seq: 0, hash: GENESIS_HASH }, 5)).toEqual({ seq: 5, hash: (rows[4] as StoredEvent).hash });
    } finally {
      await store.close();
    }
  });
});
