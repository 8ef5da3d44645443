import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { EventLog } from "../node/event-log.ts";
import { SqliteStore } from "../store/sqlite/sqlite-store.ts";
import { GENESIS_HASH, LogIntegrityError, type StoredEvent } from "../store/stored-event.ts";
import { type CommitFault, FaultyStore, SimulatedCrash, type SimDisk } from "./faulty-store.ts";
import { SeededRandom } from "./seeded-random.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), "propnet-faulty-store-"));
  dirs.push(dir);
  const path = join(dir, "events.sqlite");
  const crashes: string[] = [];
  const disk: SimDisk = { freeBytes: 1e9 };
  const store = await FaultyStore.open({ path, threaded: false, random: new SeededRandom(7), disk, state: () => null, onCrash: (f) => crashes.push(f) });
  const log = new EventLog(store, { seq: 0, hash: GENESIS_HASH });
  const batch = (n: number): StoredEvent[] =>
    Array.from({ length: n }, (_, i) => log.seal({ type: "Probe", version: 1, payload: { i } }, { block: 0, ts: 1_000 + i }));
  /** What a later process finds in the file. */
  const onDisk = async () => {
    const s = SqliteStore.open(path);
    try {
      return (await s.lastEvent())?.seq ?? 0;
    } finally {
      s.closeSync();
    }
  };
  return { path, store, batch, crashes, disk, onDisk };
}

describe("the faulty store: commits that fail, and crashes around them", () => {
  it("acknowledges a batch only once it is durable, and records the last one acknowledged", async () => {
    const { store, batch, onDisk } = await setup();
    await store.append(batch(3));
    await store.append(batch(2));
    expect(store.acked?.seq).toBe(5);
    await store.shutdown();
    expect(await onDisk()).toBe(5);
  });

  it.each<[CommitFault, number]>([
    // Durable, never answered.
    ["crash_after_commit", 5],
    // Never reached the store; a transaction cut halfway leaves nothing either.
    ["crash_before_commit", 3],
    ["crash_during_commit", 3],
  ])("%s: the batch is refused and the log holds %i events", async (fault, expected) => {
    const { store, batch, crashes, onDisk } = await setup();
    await store.append(batch(3));
    store.arm(fault, 1);
    await expect(store.append(batch(2))).rejects.toBeInstanceOf(SimulatedCrash);
    expect(crashes).toEqual([fault]);
    expect(store.acked?.seq).toBe(3);
    // Dead: nothing more is written or answered.
    await expect(store.append(batch(1))).rejects.toBeInstanceOf(SimulatedCrash);
    await store.shutdown();
    expect(await onDisk()).toBe(expected);
  });

  it("fires at the n-th append after arming", async () => {
    const { store, batch, onDisk } = await setup();
    store.arm("crash_after_commit", 3);
    await store.append(batch(1));
    await store.append(batch(1));
    await expect(store.append(batch(1))).rejects.toBeInstanceOf(SimulatedCrash);
    await store.shutdown();
    expect(await onDisk()).toBe(3);
  });

  it("a failed commit rejects with SQLite's code and writes nothing; a full disk fails every commit", async () => {
    const { store, batch, disk, onDisk } = await setup();
    store.arm("failed_commit", 1);
    await expect(store.append(batch(2))).rejects.toMatchObject({ code: "SQLITE_IOERR" });
    await store.shutdown();
    expect(await onDisk()).toBe(0);

    const other = await setup();
    other.store.arm("enospc_log", 1);
    await expect(other.store.append(other.batch(2))).rejects.toMatchObject({ code: "SQLITE_FULL" });
    expect(other.disk.freeBytes).toBe(0);
    expect(disk.freeBytes).toBe(1e9);
  });

  it("an abandoned store refuses every append", async () => {
    const { store, batch, onDisk } = await setup();
    await store.append(batch(1));
    store.abandon();
    await expect(store.append(batch(1))).rejects.toBeInstanceOf(SimulatedCrash);
    await store.shutdown();
    expect(await onDisk()).toBe(1);
  });

  it("checks the hash chain in-thread and names the first altered seq", async () => {
    const { store, batch, path } = await setup();
    await store.append(batch(4));
    expect((await store.checkChain({ seq: 0, hash: GENESIS_HASH }, 4)).seq).toBe(4);
    const db = new Database(path);
    db.prepare("UPDATE events SET payload = ? WHERE seq = 3").run('{"i":99}');
    db.close();
    const broken = await store.checkChain({ seq: 0, hash: GENESIS_HASH }, 4).catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(LogIntegrityError);
    expect((broken as LogIntegrityError).seq).toBe(3);
    await store.shutdown();
  });
});
