/**
 * The SQLite log's row format: prev_hash is stored (one format with PostgreSQL), and a data
 * directory written before that (no prev_hash column) is migrated at open, in one transaction,
 * without changing a byte any hash covers: the golden log, written into the old schema, verifies
 * and replays to its recorded state hash before and after the migration.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { stateHash } from "../../core/machine/state.ts";
import { logPath, snapshotDir } from "../../node/node.ts";
import { recover } from "../../node/recover.ts";
import { verifyLog } from "../../node/verify.ts";
import { CODE_VERSION } from "../../version.ts";
import { openStore } from "../open-store.ts";
import { GENESIS_HASH, LogIntegrityError, type StoredEvent } from "../stored-event.ts";
import { SqliteStore } from "./sqlite-store.ts";

const GOLDEN = join(import.meta.dirname, "../../../fixtures/golden");
const root = mkdtempSync(join(tmpdir(), "propnet-sqlite-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type GoldenRow = Omit<StoredEvent, "prevHash">;
const rows = readFileSync(join(GOLDEN, "events.jsonl"), "utf8")
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line) as GoldenRow);
const expected = JSON.parse(readFileSync(join(GOLDEN, "expected.json"), "utf8")) as { last_seq: number; head_hash: string; state_hash: string };

/** The schema as the code before prev_hash wrote it, verbatim. */
const OLD_SCHEMA = `
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

/** A data directory holding the golden log in the old format, as a node of the earlier code left it. */
function oldDataDir(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const db = new Database(logPath(dir));
  db.pragma("journal_mode = WAL");
  db.exec(OLD_SCHEMA);
  const insert = db.prepare("INSERT INTO events (seq, block, ts, type, payload, signer, signature, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  db.transaction(() => {
    for (const r of rows) insert.run(r.seq, r.block, r.ts, r.type, r.payload, r.signer, r.signature, r.hash);
    const last = rows[rows.length - 1] as GoldenRow;
    db.prepare("INSERT INTO head (id, seq, hash) VALUES (1, ?, ?)").run(last.seq, last.hash);
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return dir;
}

const columnsOf = (path: string): string[] => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT name FROM pragma_table_info('events')").pluck().all() as string[];
  } finally {
    db.close();
  }
};

describe("a log written before prev_hash was stored", () => {
  it("verifies read-only as it is, then opens migrated, with every prev_hash the hash before it and the same state", async () => {
    const dir = oldDataDir("migrate");
    const path = logPath(dir);
    expect(columnsOf(path)).not.toContain("prev_hash");

    // verify never writes: it reads the old format unmigrated.
    const before = await verifyLog(dir, { full: true });
    expect(before).toMatchObject({ lastSeq: expected.last_seq, stateHash: expected.state_hash });
    expect(columnsOf(path)).not.toContain("prev_hash");

    // The node's own open migrates, then recovers the same state.
    const store = await openStore({ backend: "sqlite", path });
    try {
      expect(columnsOf(path)).toContain("prev_hash");
      const recovered = await recover(store, snapshotDir(dir), { strict: false, codeVersion: CODE_VERSION });
      expect(recovered.head).toEqual({ seq: expected.last_seq, hash: expected.head_hash });
      expect(stateHash(recovered.state)).toBe(expected.state_hash);
      const stored = await store.read(0, rows.length + 1);
      expect(stored).toHaveLength(rows.length);
      let prev = GENESIS_HASH;
      for (const r of stored) {
        expect(r.prevHash, `prev_hash of seq ${r.seq}`).toBe(prev);
        prev = r.hash;
      }
    } finally {
      await store.close();
    }

    // The stored column is what is read now: it holds the chain, no default left behind.
    const db = new Database(path, { readonly: true });
    const empty = db.prepare("SELECT count(*) FROM events WHERE prev_hash = ''").pluck().get();
    const first = db.prepare("SELECT prev_hash FROM events WHERE seq = 1").pluck().get();
    db.close();
    expect(empty).toBe(0);
    expect(first).toBe(GENESIS_HASH);

    const after = await verifyLog(dir, { full: true });
    expect(after).toMatchObject({ lastSeq: expected.last_seq, stateHash: expected.state_hash });

    // Opening again finds nothing to migrate and changes nothing.
    const again = SqliteStore.open(path);
    expect(await again.recordedHead()).toEqual({ seq: expected.last_seq, hash: expected.head_hash });
    again.closeSync();
  });

  it("a fresh log stores each row's prev_hash as appended", async () => {
    const path = join(root, "fresh.sqlite");
    const store = SqliteStore.open(path);
    const chained: StoredEvent[] = [];
    let prev = GENESIS_HASH;
    for (const r of rows.slice(0, 20)) {
      chained.push({ ...r, prevHash: prev });
      prev = r.hash;
    }
    await store.append(chained);
    expect((await store.eventAt(20))?.prevHash).toBe((rows[18] as GoldenRow).hash);
    expect((await store.lastEvent())?.prevHash).toBe((rows[18] as GoldenRow).hash);
    expect(await store.read(0, 100)).toEqual(chained);
    await store.close();
  });
});

describe("a stored prev_hash that is not the chain's", () => {
  it("is refused by the chain check and by verify, naming the row (it lies outside the hash preimage)", async () => {
    const dir = oldDataDir("tamper");
    const path = logPath(dir);
    SqliteStore.open(path).closeSync(); // migrate
    const db = new Database(path);
    db.prepare("UPDATE events SET prev_hash = ? WHERE seq = 7").run("f".repeat(64));
    db.close();

    const store = SqliteStore.open(path);
    try {
      const error = await store.checkChain({ seq: 0, hash: GENESIS_HASH }, expected.last_seq).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LogIntegrityError);
      expect(error).toMatchObject({ seq: 7 });
    } finally {
      store.closeSync();
    }
    await expect(verifyLog(dir, { full: true })).rejects.toMatchObject({ name: "LogIntegrityError", seq: 7 });
  });
});
