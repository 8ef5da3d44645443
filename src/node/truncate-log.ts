import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { DataDirLock } from "../store/data-dir-lock.ts";
import { encodeHead, headFilePath, readHeadFile } from "../store/head-file.ts";
import { readSnapshots } from "../store/snapshot-files.ts";
import { SqliteStore } from "../store/sqlite/sqlite-store.ts";
import type { LogHead } from "../store/store.ts";
import { checkLink, GENESIS_HASH, type StoredEvent } from "../store/stored-event.ts";
import { CODE_VERSION } from "../version.ts";
import { logPath, snapshotDir } from "./node.ts";

/** How far a damaged log can be trusted: events 1..lastSoundSeq are readable and chained. */
export interface SoundPrefix {
  lastSoundSeq: number;
  /** Why the next seq is not sound, or null when the whole readable log chains to its recorded head. */
  problem: string | null;
}

const PAGE = 1_000;

/**
 * Reads a log from seq 1 for as long as every row is readable and chains by hash to the one
 * before it (a truncated or damaged file reads up to its first bad page). Read-only: safe beside
 * anything. Says nothing about invariants: verify replays what is kept.
 */
export function findSoundPrefix(path: string): SoundPrefix {
  return withReadableLog(path, soundPrefixOf);
}

/**
 * Runs `read` on the log, or, when the file is shorter than its header says (cut short on disk),
 * on a copy padded with zero pages to its full size: SQLite refuses a short file outright, but
 * reads a padded one up to the first missing page. The copy sits beside the log and is removed.
 */
function withReadableLog<T>(path: string, read: (path: string) => T): T {
  const fullSize = declaredSize(path);
  if (fullSize === null || statSync(path).size >= fullSize) return read(path);
  const padded = `${path}.padded-${process.pid}`;
  copyFileSync(path, padded);
  try {
    truncateSync(padded, fullSize);
    return read(padded);
  } finally {
    for (const p of [padded, `${padded}-wal`, `${padded}-shm`]) rmSync(p, { force: true });
  }
}

/** The size SQLite's header declares for the main file, or null when it cannot tell (WAL in use, damaged header). */
function declaredSize(path: string): number | null {
  const wal = `${path}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) return null;
  const header = Buffer.alloc(100);
  const fd = openSync(path, "r");
  try {
    if (readSync(fd, header, 0, 100, 0) < 100 || header.toString("latin1", 0, 16) !== "SQLite format 3\0") return null;
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(24) !== header.readUInt32BE(92)) return null;
  const rawPageSize = header.readUInt16BE(16);
  return (rawPageSize === 1 ? 65_536 : rawPageSize) * header.readUInt32BE(28);
}

function soundPrefixOf(path: string): SoundPrefix {
  let store: SqliteStore;
  try {
    store = SqliteStore.openReadOnly(path);
  } catch (error) {
    return { lastSoundSeq: 0, problem: `the log cannot be opened: ${(error as Error).message}` };
  }
  let seq = 0;
  let prev = GENESIS_HASH;
  const take = (row: StoredEvent): void => {
    checkLink(row, seq + 1, prev);
    seq = row.seq;
    prev = row.hash;
  };
  try {
    for (;;) {
      let page: StoredEvent[];
      try {
        page = store.readSync(seq, PAGE);
      } catch {
        // A damaged page somewhere in this range: row by row, up to the first unreadable one.
        for (;;) {
          const row = readOne(store, seq + 1);
          if (row === "unreadable") return { lastSoundSeq: seq, problem: `event at seq ${seq + 1} is unreadable (the file is damaged or truncated)` };
          if (row === null) break;
          take(row);
        }
        return { lastSoundSeq: seq, problem: `the log ends at seq ${seq}, inside a damaged part of the file` };
      }
      if (page.length === 0) break;
      for (const row of page) take({ ...row, prevHash: prev });
    }
  } catch (error) {
    return { lastSoundSeq: seq, problem: (error as Error).message };
  } finally {
    store.closeSync();
  }
  let recorded: number;
  try {
    const reopened = SqliteStore.openReadOnly(path);
    try {
      recorded = reopened.recordedHeadSync().seq;
    } finally {
      reopened.closeSync();
    }
  } catch (error) {
    return { lastSoundSeq: seq, problem: `the recorded head is unreadable: ${(error as Error).message}` };
  }
  if (recorded > seq) return { lastSoundSeq: seq, problem: `the head was committed at seq ${recorded}; events after seq ${seq} are lost` };
  return { lastSoundSeq: seq, problem: null };
}

function readOne(store: SqliteStore, seq: number): StoredEvent | null | "unreadable" {
  try {
    return store.readSync(seq - 1, 1)[0] ?? null;
  } catch {
    return "unreadable";
  }
}

export class TruncateRefused extends Error {
  override readonly name = "TruncateRefused";
}

export interface TruncateReport {
  kept: number;
  /** Where the old log (and anything that pointed past the kept prefix) was moved. */
  setAside: string;
  movedSnapshots: number;
  movedHeadFile: boolean;
}

/**
 * Keeps events 1..`toSeq` of a node's log and sets the rest aside, never deleting: the old log
 * file (and its -wal/-shm), snapshots taken after `toSeq` and a head file that acknowledges more
 * go into `DIR/truncated-<stamp>/`. The kept prefix is copied row by row with its stored bytes
 * into a new log, so every hash is the one recorded. Takes the data-directory lock (no node may
 * be running). Refuses a `toSeq` beyond the sound prefix.
 */
export function truncateLog(dataDir: string, toSeq: number, stamp: string): TruncateReport {
  const path = logPath(dataDir);
  if (!existsSync(path)) throw new TruncateRefused(`no event log at ${path}`);
  if (!Number.isInteger(toSeq) || toSeq < 0) throw new TruncateRefused(`--truncate-to must be a seq (0, 1, 2, ...), not ${toSeq}`);
  const lock = DataDirLock.acquire(dataDir, { address: "propnet verify --truncate-to" });
  try {
    const sound = findSoundPrefix(path);
    if (toSeq > sound.lastSoundSeq) {
      throw new TruncateRefused(`seq ${toSeq} is past the last sound event (seq ${sound.lastSoundSeq}); truncate to ${sound.lastSoundSeq} or less`);
    }
    const temp = `${path}.truncating`;
    for (const p of [temp, `${temp}-wal`, `${temp}-shm`]) rmSync(p, { force: true });
    const kept = withReadableLog(path, (readable) => copyPrefix(readable, temp, toSeq));

    const aside = join(dataDir, `truncated-${stamp}`);
    mkdirSync(aside, { recursive: false });
    for (const p of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(p)) renameSync(p, join(aside, basename(p)));
    renameSync(temp, path);
    let movedSnapshots = 0;
    for (const read of readSnapshots(snapshotDir(dataDir), CODE_VERSION)) {
      // A snapshot past the kept prefix (or one that cannot be read to tell) would be refused at start.
      if ("snapshot" in read && read.snapshot.seq <= toSeq) continue;
      renameSync(read.path, join(aside, basename(read.path)));
      movedSnapshots++;
    }
    const ack = readHeadFile(dataDir);
    const movedHeadFile = ack !== null && (!("head" in ack) || ack.head.seq > toSeq);
    if (movedHeadFile) renameSync(headFilePath(dataDir), join(aside, basename(headFilePath(dataDir))));
    // The kept head is now the acknowledged one: the next start checks the log against it.
    if (movedHeadFile || ack === null) writeFileSync(headFilePath(dataDir), encodeHead(kept), { mode: 0o600 });
    return { kept: toSeq, setAside: aside, movedSnapshots, movedHeadFile };
  } finally {
    lock.release();
  }
}

/** Events 1..toSeq (their stored bytes) and the perf checkpoints up to the last kept event's time. */
function copyPrefix(from: string, to: string, toSeq: number): LogHead {
  const source = SqliteStore.openReadOnly(from);
  const target = SqliteStore.open(to);
  try {
    let seq = 0;
    let lastTs = Number.NEGATIVE_INFINITY;
    while (seq < toSeq) {
      const page = source.readSync(seq, Math.min(PAGE, toSeq - seq));
      if (page.length === 0) break;
      target.appendSync(page);
      seq = (page[page.length - 1] as StoredEvent).seq;
      lastTs = (page[page.length - 1] as StoredEvent).ts;
    }
    try {
      // Derived data for the charts: copied where readable.
      const rows = source.database.prepare("SELECT trader, ts_ms, data FROM perf_checkpoints WHERE ts_ms <= ?").all(lastTs) as Array<{ trader: string; ts_ms: number; data: string }>;
      const insert = target.database.prepare("INSERT OR REPLACE INTO perf_checkpoints (trader, ts_ms, data) VALUES (?, ?, ?)");
      target.database.transaction(() => {
        for (const r of rows) insert.run(r.trader, r.ts_ms, r.data);
      })();
    } catch {
      // A damaged checkpoint table loses only chart history, never ledger state.
    }
    target.database.pragma("wal_checkpoint(TRUNCATE)");
    return target.recordedHeadSync();
  } finally {
    source.closeSync();
    target.closeSync();
  }
}
