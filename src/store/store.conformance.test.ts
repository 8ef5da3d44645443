// One suite for every Store backend (issue #11): what the node relies on from its log, checked
// against the real thing — SQLite on a temp file, PostgreSQL on 127.0.0.1:5432 (database test,
// trust auth), each run in its own schemas, dropped after. No mocks.
//
// Not here: snapshots are files beside the log (snapshot-files.ts), the same for both backends;
// idempotency keys and replay uuids live in the node's state today, not in the store — they join
// this suite when they become tables shared by several processes.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "./open-store.ts";
import { PostgresStore } from "./postgres/postgres-store.ts";
import { StoreFencedError } from "./postgres/store-fenced-error.ts";
import type { CheckpointRow, LogHead, Store } from "./store.ts";
import { GENESIS_HASH, hashEvent, LogIntegrityError, type StoredEvent } from "./stored-event.ts";

const PG_URL = process.env.PROPNET_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const GENESIS: LogHead = { seq: 0, hash: GENESIS_HASH };

/** One fresh, empty log per test, plus raw access to its tables to damage it as a fault would. */
interface Log {
  open(): Promise<Store>;
  /** PostgreSQL: the schema holding this log. */
  schema?: string;
  setPayload(seq: number, payload: string): Promise<void>;
  /** DELETE FROM events WHERE seq >= from AND seq <= to */
  deleteEvents(from: number, to: number): Promise<void>;
  /** Begins a transaction that writes `rows` past the head, and dies before it commits. */
  crashMidCommit(store: Store, rows: readonly StoredEvent[]): Promise<void>;
}

interface Backend {
  name: "sqlite" | "postgres";
  setup(): Promise<void>;
  fresh(): Promise<Log>;
  teardown(): Promise<void>;
}

function sqliteBackend(): Backend {
  let dir = "";
  let n = 0;
  return {
    name: "sqlite",
    async setup() {
      dir = mkdtempSync(join(tmpdir(), "propnet-conformance-"));
    },
    async fresh() {
      const path = join(dir, `log-${n++}.sqlite`);
      const raw = (f: (db: Database.Database) => void) => {
        const db = new Database(path);
        try {
          f(db);
        } finally {
          db.close();
        }
      };
      return {
        open: () => openStore({ backend: "sqlite", path }),
        async setPayload(seq, payload) {
          raw((db) => db.prepare("UPDATE events SET payload = ? WHERE seq = ?").run(payload, seq));
        },
        async deleteEvents(from, to) {
          raw((db) => db.prepare("DELETE FROM events WHERE seq >= ? AND seq <= ?").run(from, to));
        },
        async crashMidCommit(store, rows) {
          await store.close();
          // A real process killed inside its transaction, after SQLite has spilled pages of it to
          // the WAL (the batch is far larger than the page cache) but before the commit frame.
          const script = `
            const Database = require("better-sqlite3");
            const db = new Database(process.argv[1]);
            db.pragma("journal_mode = WAL");
            db.pragma("cache_size = -256");
            const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
            db.exec("BEGIN");
            const ins = db.prepare("INSERT INTO events (seq, block, ts, type, payload, signer, signature, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
            for (const e of rows) ins.run(e.seq, e.block, e.ts, e.type, e.payload, e.signer, e.signature, e.prevHash, e.hash);
            db.prepare("UPDATE head SET seq = ?, hash = ? WHERE id = 1").run(rows.at(-1).seq, rows.at(-1).hash);
            process.kill(process.pid, "SIGKILL");`;
          const r = spawnSync(process.execPath, ["-e", script, path], { input: JSON.stringify(rows), cwd: process.cwd() });
          expect(r.signal, String(r.stderr)).toBe("SIGKILL");
          // The dead transaction really reached the disk (uncommitted WAL frames) before it died.
          expect(statSync(`${path}-wal`).size).toBeGreaterThan(1_000_000);
        },
      };
    },
    async teardown() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresBackend(): Backend {
  const run = `propnet_conformance_${process.pid}_${randomBytes(4).toString("hex")}`;
  const schemas: string[] = [];
  let admin: pg.Client;
  return {
    name: "postgres",
    async setup() {
      admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
    },
    async fresh() {
      const schema = `${run}_${schemas.length}`;
      schemas.push(schema);
      return {
        schema,
        open: () => openStore({ backend: "postgres", url: PG_URL, schema }),
        async setPayload(seq, payload) {
          await admin.query(`UPDATE ${schema}.events SET payload = $1 WHERE seq = $2`, [payload, seq]);
        },
        async deleteEvents(from, to) {
          await admin.query(`DELETE FROM ${schema}.events WHERE seq >= $1 AND seq <= $2`, [from, to]);
        },
        async crashMidCommit(store, rows) {
          // The server process behind the write connection is terminated once the batch's
          // transaction has begun writing (it has an xid), long before its COMMIT.
          const pid = await (store as PostgresStore).writerPid();
          // Settled into a value at once: it rejects while this loop is still polling.
          const pending = store.append(rows).then(
            () => null,
            (e: unknown) => e,
          );
          let terminated = false;
          for (let i = 0; i < 2_000 && !terminated; i++) {
            const r = await admin.query("SELECT backend_xid IS NOT NULL AS writing FROM pg_stat_activity WHERE pid = $1", [pid]);
            if (r.rows[0]?.writing) {
              await admin.query("SELECT pg_terminate_backend($1)", [pid]);
              terminated = true;
            }
          }
          expect(terminated).toBe(true);
          expect(await pending).toBeInstanceOf(Error);
          await store.close();
        },
      };
    },
    async teardown() {
      for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await admin.end();
    },
  };
}

const BACKENDS: Backend[] = [sqliteBackend(), postgresBackend()];

/** `n` rows continuing `from`; payloads carry bytes a re-encoding would change. */
function chain(from: LogHead, n: number, payload = (seq: number) => `{"seq":${seq},"note":"é ✓ \\u0000 \\"q\\" 🦀",  "b":1, "a":2}`): StoredEvent[] {
  const rows: StoredEvent[] = [];
  let prev = from;
  for (let i = 1; i <= n; i++) {
    const seq = prev.seq + 1;
    const signed = seq % 3 === 0;
    const e = {
      seq,
      block: 1_000 + seq,
      ts: 1_767_225_600_000 + seq,
      type: seq % 2 ? "Transferred@1" : "PriceSet@2",
      payload: payload(seq),
      signer: signed ? `5Signer${seq}` : null,
      signature: signed ? `0x${"ab".repeat(32)}` : null,
      prevHash: prev.hash,
    };
    const row = { ...e, hash: hashEvent(e) };
    rows.push(row);
    prev = row;
  }
  return rows;
}

const headOf = (rows: readonly StoredEvent[]): LogHead => {
  const last = rows[rows.length - 1] as StoredEvent;
  return { seq: last.seq, hash: last.hash };
};

async function chainError(p: Promise<unknown>): Promise<LogIntegrityError> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LogIntegrityError);
  return error as LogIntegrityError;
}

for (const backend of BACKENDS) {
  describe(`Store conformance: ${backend.name}`, () => {
    beforeAll(() => backend.setup());
    afterAll(() => backend.teardown());

    it("appends, records the head with the batch, and reads every column back as written", async () => {
      const log = await backend.fresh();
      const store = await log.open();
      expect(store.backend).toBe(backend.name);
      expect(await store.recordedHead()).toEqual(GENESIS);
      expect(await store.lastEvent()).toBeNull();
      const rows = chain(GENESIS, 10);
      await store.append(rows.slice(0, 4));
      await store.append(rows.slice(4));
      expect(await store.recordedHead()).toEqual(headOf(rows));
      expect(await store.lastEvent()).toEqual(rows[9]);
      expect(await store.eventAt(3)).toEqual(rows[2]);
      expect(await store.eventAt(11)).toBeNull();
      expect(await store.read(0, 100)).toEqual(rows);
      await store.close();
      // Durable: a new store on the same log sees it all and continues it.
      const again = await log.open();
      expect(await again.recordedHead()).toEqual(headOf(rows));
      const more = chain(headOf(rows), 3);
      await again.append(more);
      expect(await again.read(9, 100)).toEqual([rows[9], ...more]);
      await again.close();
    });

    it("hashes the stored bytes: payloads come back byte for byte (never re-encoded) and chain", async () => {
      const log = await backend.fresh();
      const store = await log.open();
      // Key order, spacing, escapes and astral characters that a JSON column would normalise.
      const odd = ['{"b":1,  "a":2}', '{ "x" : [1,2 , 3] }', '{"s":"\\ud83e\\udd80 🦀 \\n \\\\"}', '{"n":1.0e3}'];
      const rows = chain(GENESIS, odd.length, (seq) => odd[seq - 1] as string);
      await store.append(rows);
      const back = await store.read(0, 10);
      expect(back.map((r) => r.payload)).toEqual(odd);
      for (const r of back) expect(hashEvent(r)).toBe(r.hash);
      expect(await store.checkChain(GENESIS, odd.length)).toEqual(headOf(rows));
      await store.close();
    });

    it("group commit: many appends in flight at once all land, in the order they were made", async () => {
      const log = await backend.fresh();
      const store = await log.open();
      const batches: StoredEvent[][] = [];
      let head = GENESIS;
      for (let i = 0; i < 200; i++) {
        const b = chain(head, 1 + (i % 7));
        batches.push(b);
        head = headOf(b);
      }
      const receipts = await Promise.all(batches.map((b) => store.append(b)));
      for (const r of receipts) expect(r.transactionMs).toBeGreaterThanOrEqual(0);
      const all = batches.flat();
      expect(await store.read(0, 10_000)).toEqual(all);
      expect(await store.recordedHead()).toEqual(head);
      expect(await store.checkChain(GENESIS, head.seq)).toEqual(head);
      await store.close();
    });

    it("replay: read and readPayloads page through the log without gaps or repeats", async () => {
      const log = await backend.fresh();
      const store = await log.open();
      const rows = chain(GENESIS, 100);
      await store.append(rows);
      const paged: StoredEvent[] = [];
      for (let after = 0; ; ) {
        const page = await store.read(after, 7);
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(7);
        paged.push(...page);
        after = (page[page.length - 1] as StoredEvent).seq;
      }
      expect(paged).toEqual(rows);
      const payloads: Array<[number, string, string]> = [];
      for (let after = 0; ; ) {
        const page = await store.readPayloads(after, 9);
        if (page.length === 0) break;
        payloads.push(...page);
        after = (page[page.length - 1] as [number, string, string])[0];
      }
      expect(payloads).toEqual(rows.map((r) => [r.seq, r.type, r.payload]));
      expect(await store.read(60, 5)).toEqual(rows.slice(60, 65));
      expect(await store.read(100, 5)).toEqual([]);
      await store.close();
    });

    it("checkChain reports progress and checks a range from a verified anchor", async () => {
      const log = await backend.fresh();
      const store = await log.open();
      const rows = chain(GENESIS, 5_000);
      await store.append(rows);
      const seen: number[] = [];
      expect(await store.checkChain(GENESIS, 5_000, (s) => seen.push(s))).toEqual(headOf(rows));
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.at(-1)).toBe(5_000);
      const anchor = headOf(rows.slice(0, 4_000));
      expect(await store.checkChain(anchor, 4_500)).toEqual(headOf(rows.slice(0, 4_500)));
      // An anchor whose hash is not the stored one breaks the chain at the next row.
      expect((await chainError(store.checkChain({ seq: 4_000, hash: GENESIS_HASH }, 5_000))).seq).toBe(4_001);
      await store.close();
    });

    it("tamper: one flipped byte in a payload is caught by checkChain, naming its seq", async () => {
      const log = await backend.fresh();
      let store = await log.open();
      const rows = chain(GENESIS, 100);
      await store.append(rows);
      await store.close();
      const original = (rows[36] as StoredEvent).payload;
      const flipped = original.replace('"seq":37', '"seq":38');
      expect(flipped).not.toBe(original);
      await log.setPayload(37, flipped);
      store = await log.open();
      expect(await store.checkChain(GENESIS, 36)).toEqual(headOf(rows.slice(0, 36)));
      const e = await chainError(store.checkChain(GENESIS, 100));
      expect(e.seq).toBe(37);
      expect(e.message).toMatch(/seq 37/);
      await store.close();
    });

    it("deletion: a row removed from the middle is caught, naming the missing seq", async () => {
      const log = await backend.fresh();
      let store = await log.open();
      const rows = chain(GENESIS, 100);
      await store.append(rows);
      await store.close();
      await log.deleteEvents(50, 50);
      store = await log.open();
      const e = await chainError(store.checkChain(GENESIS, 100));
      expect(e.seq).toBe(50);
      expect(e.message).toMatch(/missing seq 50/);
      await store.close();
    });

    it("truncation: the last rows deleted leave the recorded head beyond the last event", async () => {
      const log = await backend.fresh();
      let store = await log.open();
      const rows = chain(GENESIS, 100);
      await store.append(rows);
      await store.close();
      await log.deleteEvents(91, 100);
      store = await log.open();
      expect(await store.recordedHead()).toEqual(headOf(rows));
      expect((await store.lastEvent())?.seq).toBe(90);
      const e = await chainError(store.checkChain(GENESIS, 100));
      expect(e.seq).toBe(91);
      await store.close();
    });

    it("checkpoints: committed with their events, read per trader in pages, re-closing is idempotent", async () => {
      const log = await backend.fresh();
      const store = await log.open();
      const day = 43_200_000;
      const cps = (trader: string, n: number): CheckpointRow[] =>
        Array.from({ length: n }, (_, i) => ({ trader, ts_ms: 1_767_225_600_000 + i * day, data: `{"trader":"${trader}","i":${i}}` }));
      const a = cps("5Alice", 25);
      const b = cps("5Bob", 3);
      const rows = chain(GENESIS, 4);
      await store.append(rows.slice(0, 2), [...a.slice(0, 20), ...b]);
      await store.append(rows.slice(2), a.slice(20));
      // Replay after a crash closes a checkpoint again: the same row, no error, no duplicate.
      const more = chain(headOf(rows), 1);
      await store.append(more, [a[24] as CheckpointRow]);
      // The same checkpoint closed by two batches in flight at once (they may commit together):
      // the later one is what stays.
      // (The first append commits alone; the two behind it queue, and PostgreSQL groups them.)
      const again = chain(headOf(more), 3);
      const first = { ...(b[2] as CheckpointRow), data: '{"v":"first"}' };
      const later = { ...(b[2] as CheckpointRow), data: '{"v":"later"}' };
      await Promise.all([
        store.append(again.slice(0, 1)),
        store.append(again.slice(1, 2), [first]),
        store.append(again.slice(2), [later]),
      ]);
      b[2] = later;
      const paged: CheckpointRow[] = [];
      for (let after = 0; ; ) {
        const page = await store.readCheckpoints("5Alice", after, 6);
        if (page.length === 0) break;
        paged.push(...page);
        after = (page[page.length - 1] as CheckpointRow).ts_ms;
      }
      expect(paged).toEqual(a);
      expect(await store.readCheckpoints("5Bob", 0, 100)).toEqual(b);
      expect(await store.readCheckpoints("5Bob", (b[0] as CheckpointRow).ts_ms, 1)).toEqual([b[1]]);
      expect(await store.readCheckpoints("5Nobody", 0, 100)).toEqual([]);
      await store.close();
    });

    it("a crash mid-commit leaves nothing of the batch, and the log reopens at the previous head", async () => {
      const log = await backend.fresh();
      const store = await log.open();
      const rows = chain(GENESIS, 20);
      await store.append(rows);
      // Large enough to be well inside its transaction when the process or connection dies.
      const doomed = chain(headOf(rows), 40_000, (seq) => `{"seq":${seq},"pad":"${"p".repeat(200)}"}`);
      await log.crashMidCommit(store, doomed);
      const again = await log.open();
      expect(await again.recordedHead()).toEqual(headOf(rows));
      expect(await again.lastEvent()).toEqual(rows[19]);
      expect(await again.read(20, 10)).toEqual([]);
      expect(await again.checkChain(GENESIS, 20)).toEqual(headOf(rows));
      // And it carries on from there.
      const next = chain(headOf(rows), 5);
      await again.append(next);
      expect(await again.recordedHead()).toEqual(headOf(next));
      await again.close();
    });

    if (backend.name === "postgres") {
      it("group commit: batches queued behind a commit share one transaction", async () => {
        const log = await backend.fresh();
        const store = await log.open();
        const batches: StoredEvent[][] = [];
        let head = GENESIS;
        for (let i = 0; i < 300; i++) {
          const b = chain(head, 3);
          batches.push(b);
          head = headOf(b);
        }
        await Promise.all(batches.map((b) => store.append(b)));
        await store.close();
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        try {
          const r = await c.query<{ n: string }>(`SELECT count(DISTINCT xmin::text) AS n FROM ${log.schema}.events`);
          // One transaction per group, not per batch: 300 appends made while the first committed.
          expect(Number(r.rows[0]?.n)).toBeLessThan(10);
        } finally {
          await c.end();
        }
      });

      it("the fence: two writers append at the same expected seq; exactly one wins, the other stops", async () => {
        const log = await backend.fresh();
        const a = (await log.open()) as PostgresStore;
        const b = (await log.open()) as PostgresStore;
        const base = chain(GENESIS, 10);
        const forkA = chain(headOf(base), 500, (seq) => `{"writer":"a","seq":${seq}}`);
        const forkB = chain(headOf(base), 500, (seq) => `{"writer":"b","seq":${seq}}`);
        // Both think they are the writer and both saw the head at 0.
        const results = await Promise.allSettled([a.append([...base, ...forkA]), b.append([...base, ...forkB])]);
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        const fenced = lost[0]?.reason as StoreFencedError;
        expect(fenced).toBeInstanceOf(StoreFencedError);
        expect(fenced.code).toBe("STORE_FENCED");
        expect(fenced.expectedSeq).toBe(1);
        const [winner, loser] = results[0]?.status === "fulfilled" ? [a, b] : [b, a];
        const winnerRows = winner === a ? forkA : forkB;
        // Only the winner's rows, once each; the loser writes no more, even at a fresh seq.
        expect(await loser.read(0, 10_000)).toEqual([...base, ...winnerRows]);
        await expect(loser.append(chain(headOf(winnerRows), 1))).rejects.toBeInstanceOf(StoreFencedError);
        await winner.append(chain(headOf(winnerRows), 2));
        expect((await winner.recordedHead()).seq).toBe(512);
        await Promise.all([a.close(), b.close()]);
      });

      it("the fence holds by the head too: a writer with a stale head is fenced where its seqs do not collide", async () => {
        const log = await backend.fresh();
        const stale = (await log.open()) as PostgresStore;
        const writer = await log.open();
        const rows = chain(GENESIS, 10);
        await writer.append(rows);
        await writer.close();
        // Its rows are gone (say, restored from an old backup) but the head still records 10.
        await log.deleteEvents(1, 10);
        await expect(stale.append(chain(GENESIS, 3))).rejects.toBeInstanceOf(StoreFencedError);
        expect(await stale.lastEvent()).toBeNull();
        await stale.close();
      });

      it("a write connection lost while idle stops writing (never crashes the process); a new store carries on", async () => {
        const log = await backend.fresh();
        const store = (await log.open()) as PostgresStore;
        const rows = chain(GENESIS, 3);
        await store.append(rows);
        const pid = await store.writerPid();
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query("SELECT pg_terminate_backend($1)", [pid]);
        await c.end();
        const next = chain(headOf(rows), 2);
        // The loss is noticed when the socket closes or at the next commit, whichever comes first.
        const refused = await store.append(next).then(
          () => null,
          (e: unknown) => e,
        );
        expect(refused).toBeInstanceOf(Error);
        await store.close();
        const again = await log.open();
        expect(await again.recordedHead()).toEqual(headOf(rows));
        await again.append(next);
        expect(await again.recordedHead()).toEqual(headOf(next));
        await again.close();
      });

      it("refuses rows that do not continue the chain or hold a NUL, without writing them", async () => {
        const log = await backend.fresh();
        const store = await log.open();
        const rows = chain(GENESIS, 3);
        await expect(store.append(rows.slice(1))).rejects.toThrow(/does not continue the chain/);
        const nul = chain(GENESIS, 1, () => '{"s":"a\u0000b"}');
        expect((nul[0] as StoredEvent).payload).toContain("\u0000");
        await expect(store.append(nul)).rejects.toThrow(/NUL character/);
        await store.append(rows);
        expect(await store.recordedHead()).toEqual(headOf(rows));
        await store.close();
      });
    }
  });
}
