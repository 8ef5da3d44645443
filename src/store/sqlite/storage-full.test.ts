/**
 * What the store does when the disk is full, on a real full disk (a small tmpfs; we run as root)
 * and with SQLite's own page limit: a failed commit is rolled back and rejects with
 * StorageFullError; the commit thread commits nothing after a failed batch (no gap in the log); a
 * snapshot that hits ENOSPC leaves no file behind.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mountTmpfs, unmountTmpfs } from "../../../test/storage/serve-process.ts";
import { encodeHead, headFilePath, HeadFile, readHeadFile } from "../head-file.ts";
import { SNAPSHOT_FORMAT, writeSnapshot } from "../snapshot-files.ts";
import { SqliteStore } from "./sqlite-store.ts";
import { commitError, isIoError, isStorageFull, StorageFullError } from "../storage-full.ts";
import { GENESIS_HASH, hashEvent, type StoredEvent } from "../stored-event.ts";
import { ThreadedSqliteStore } from "./threaded-sqlite-store.ts";

const MOUNT = join(tmpdir(), `propnet-store-full-${process.pid}`);
let mountProblem: string | null = null;
const dirs: string[] = [];

beforeAll(() => {
  mountProblem = mountTmpfs(MOUNT, 4);
});
afterAll(() => {
  if (mountProblem === null) unmountTmpfs(MOUNT);
});
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function rows(from: number, n: number, prevHash: string, size = 200): StoredEvent[] {
  const out: StoredEvent[] = [];
  let prev = prevHash;
  for (let seq = from; seq < from + n; seq++) {
    const e = { seq, block: 0, ts: seq, type: "Test@1", payload: JSON.stringify({ seq, pad: "x".repeat(size) }), signer: null, signature: null, prevHash: prev };
    const row = { ...e, hash: hashEvent(e) };
    out.push(row);
    prev = row.hash;
  }
  return out;
}

function fillDisk(path: string): void {
  const fd = openSync(path, "a");
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) {
      const s = statfsSync(MOUNT);
      const room = s.bavail * s.bsize;
      if (room <= 0) break;
      try {
        writeSync(fd, chunk, 0, Math.min(chunk.length, room));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOSPC") break;
        throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
}

describe("what counts as storage full", () => {
  it("SQLITE_FULL, ENOSPC, EDQUOT, StorageFullError and their messages; not other I/O errors", () => {
    expect(isStorageFull(Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" }))).toBe(true);
    expect(isStorageFull(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }))).toBe(true);
    expect(isStorageFull(Object.assign(new Error("quota"), { code: "EDQUOT" }))).toBe(true);
    expect(isStorageFull(new StorageFullError("x"))).toBe(true);
    expect(isStorageFull(new Error("commit failed: database or disk is full"))).toBe(true);
    expect(isStorageFull(Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_WRITE" }))).toBe(false);
    expect(isIoError(Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_WRITE" }))).toBe(true);
    expect(isStorageFull(null)).toBe(false);
    expect(commitError("database or disk is full", "SQLITE_FULL")).toBeInstanceOf(StorageFullError);
    expect(commitError("UNIQUE constraint failed: events.seq", "SQLITE_CONSTRAINT_PRIMARYKEY")).toMatchObject({ code: "SQLITE_CONSTRAINT_PRIMARYKEY" });
  });
});

describe("a full database (SQLite's page limit)", () => {
  it("append rejects with StorageFullError and the log is exactly as before; more room, and it goes on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-page-limit-"));
    dirs.push(dir);
    const db = new Database(join(dir, "events.sqlite"));
    const store = new SqliteStore(db);
    const first = rows(1, 10, GENESIS_HASH);
    await store.append(first);
    const pages = db.pragma("page_count", { simple: true }) as number;
    db.pragma(`max_page_count = ${pages + 2}`);
    const big = rows(11, 200, (first[9] as StoredEvent).hash, 2_000);
    await expect(store.append(big)).rejects.toBeInstanceOf(StorageFullError);
    expect(await store.recordedHead()).toEqual({ seq: 10, hash: (first[9] as StoredEvent).hash });
    expect((await store.lastEvent())?.seq).toBe(10);
    db.pragma("max_page_count = 1000000");
    await store.append(big);
    expect((await store.recordedHead()).seq).toBe(210);
    store.closeSync();
  });
});

describe("the commit thread after a failed batch", () => {
  it("commits nothing more (the batches behind it would leave a gap); a new store writes on from the head", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-commit-fail-"));
    dirs.push(dir);
    const path = join(dir, "events.sqlite");
    const store = await ThreadedSqliteStore.open(path);
    const a = rows(1, 5, GENESIS_HASH);
    await store.append(a);
    // A batch that fails (seq 3 exists), and a sound one right behind it continuing its seqs.
    const bad = rows(3, 4, GENESIS_HASH);
    const behind = rows(7, 3, (bad[3] as StoredEvent).hash);
    const results = await Promise.allSettled([store.append(bad), store.append(behind)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    await expect(store.append(rows(6, 1, (a[4] as StoredEvent).hash))).rejects.toThrow(/commit failed/);
    await store.close();
    const reopened = await ThreadedSqliteStore.open(path);
    expect(await reopened.recordedHead()).toEqual({ seq: 5, hash: (a[4] as StoredEvent).hash });
    expect((await reopened.lastEvent())?.seq).toBe(5);
    await reopened.append(rows(6, 2, (a[4] as StoredEvent).hash));
    await expect(reopened.checkChain({ seq: 0, hash: GENESIS_HASH }, 7)).resolves.toMatchObject({ seq: 7 });
    await reopened.close();
  });
});

describe("on a full disk (tmpfs)", () => {
  it("a commit rejects with StorageFullError, nothing behind it lands; space freed, a new store appends from the head", async (ctx) => {
    if (mountProblem !== null) ctx.skip(`${mountProblem}; the page-limit and injected tests cover it`);
    const dir = join(MOUNT, "log");
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "events.sqlite");
    const store = await ThreadedSqliteStore.open(path);
    const a = rows(1, 20, GENESIS_HASH);
    await store.append(a);
    const filler = join(MOUNT, "filler");
    fillDisk(filler);
    let head = a[19] as StoredEvent;
    let failure: unknown = null;
    const acked: number[] = [];
    // Commits may still fit in pages SQLite already holds: keep going until one does not.
    for (let seq = 21; failure === null && seq < 5_000; seq += 50) {
      const batch = rows(seq, 50, head.hash, 2_000);
      const behind = rows(seq + 50, 5, (batch[49] as StoredEvent).hash);
      const [first, second] = await Promise.allSettled([store.append(batch), store.append(behind)]);
      if (first.status === "rejected") {
        failure = first.reason;
        expect(second.status).toBe("rejected");
      } else {
        expect(second.status).toBe("fulfilled");
        acked.push(seq + 54);
        head = behind[4] as StoredEvent;
        seq += 5;
      }
    }
    expect(failure).toBeInstanceOf(StorageFullError);
    await store.close();
    rmSync(filler);
    const reopened = await ThreadedSqliteStore.open(path);
    expect(await reopened.recordedHead()).toEqual({ seq: head.seq, hash: head.hash });
    await reopened.append(rows(head.seq + 1, 3, head.hash));
    await expect(reopened.checkChain({ seq: 0, hash: GENESIS_HASH }, head.seq + 3)).resolves.toMatchObject({ seq: head.seq + 3 });
    await reopened.close();
    rmSync(dir, { recursive: true });
  });

  it("a snapshot that hits ENOSPC rejects and leaves no file behind, not even its temp file", async (ctx) => {
    if (mountProblem !== null) ctx.skip(mountProblem);
    const dir = join(MOUNT, "snapshots");
    const filler = join(MOUNT, "filler");
    fillDisk(filler);
    const snapshot = { format: SNAPSHOT_FORMAT, code_version: "test", seq: 7, head_hash: GENESIS_HASH, state_hash: GENESIS_HASH, created_ms: 0, state: { big: "y".repeat(512 * 1024) } as never };
    mkdirSync(dir, { recursive: true });
    await expect(writeSnapshot(dir, snapshot)).rejects.toMatchObject({ code: "ENOSPC" });
    expect(readdirSync(dir)).toEqual([]);
    rmSync(filler);
    await writeSnapshot(dir, snapshot);
    expect(readdirSync(dir)).toEqual(["snapshot-000000000007.json"]);
    rmSync(dir, { recursive: true });
  });
});

describe("the head file", () => {
  it("one fixed-length record overwritten in place; read back; damage reported", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-head-file-"));
    dirs.push(dir);
    expect(readHeadFile(dir)).toBeNull();
    const file = HeadFile.open(dir);
    file.record({ seq: 123_456, hash: "a".repeat(64) });
    expect(readHeadFile(dir)).toEqual({ head: { seq: 123_456, hash: "a".repeat(64) } });
    file.record({ seq: 7, hash: "b".repeat(64) });
    expect(readHeadFile(dir)).toEqual({ head: { seq: 7, hash: "b".repeat(64) } });
    expect(encodeHead({ seq: 1, hash: "c".repeat(64) }).length).toBe(encodeHead({ seq: 9_999_999_999, hash: "c".repeat(64) }).length);
    await file.close();
    const fd = openSync(headFilePath(dir), "r+");
    writeSync(fd, "X", 20);
    closeSync(fd);
    expect(readHeadFile(dir)).toMatchObject({ problem: expect.stringMatching(/is damaged/) });
  });
});
