import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from "node:fs";
import Database from "better-sqlite3";
import { readSnapshots, type SnapshotFile } from "../snapshot-files.ts";
import { SqliteStore } from "./sqlite-store.ts";
import type { LogHead } from "../store.ts";
import { GENESIS_HASH, LogIntegrityError } from "../stored-event.ts";

/** Written into every backup file, beside the copied tables. */
export const BACKUP_FORMAT = 1;

export interface BackupInfo {
  format: number;
  code_version: string;
  created: string;
  /** The data directory it was taken from. */
  source: string;
  head: LogHead;
  /** The seq of the snapshot it carries, or null. */
  snapshot_seq: number | null;
}

/** Why a backup cannot be restored. */
export class BackupRefused extends Error {
  override readonly name = "BackupRefused";
  readonly code = "BACKUP_REFUSED";
}

function fsyncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A consistent copy of a node's log, taken while the node runs: SQLite's online backup API copies
 * every page in one step, i.e. inside one read transaction, so the copy is the log exactly as
 * committed at one moment (a running writer neither blocks it nor restarts it). The newest sound
 * snapshot at or before the copied head goes in too (table `propnet_backup_snapshot`), so that a
 * restored node starts from it instead of replaying everything; `propnet_backup` says what the file
 * holds. The result is one self-contained SQLite file (rollback journal, no -wal beside it),
 * written to a temp name, fsynced and renamed, so `out` never holds half a backup.
 */
export async function backupLog(options: { logPath: string; snapshotDir: string; out: string; codeVersion: string; source: string }): Promise<BackupInfo> {
  if (existsSync(options.out)) throw new BackupRefused(`${options.out} already exists; refusing to overwrite it`);
  // Snapshots are read first: any of them is then at or before the head the copy will hold.
  const snapshots = readSnapshots(options.snapshotDir, options.codeVersion).flatMap((r) => ("snapshot" in r ? [r.snapshot] : []));
  const temp = `${options.out}.partial-${process.pid}`;
  rmSync(temp, { force: true });
  const source = new Database(options.logPath, { readonly: true, fileMustExist: true });
  try {
    // One step with every page: one read transaction, never restarted by the node's commits.
    await source.backup(temp, { progress: () => 0x7fffffff });
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  } finally {
    source.close();
  }
  let info: BackupInfo;
  const copy = new Database(temp);
  try {
    const store = new SqliteStore(copy);
    const head = await store.recordedHead();
    let snapshot: SnapshotFile | null = null;
    for (const s of snapshots) {
      if (s.seq <= head.seq && (await store.eventAt(s.seq))?.hash === s.head_hash) {
        snapshot = s;
        break;
      }
    }
    info = {
      format: BACKUP_FORMAT,
      code_version: options.codeVersion,
      created: new Date().toISOString(),
      source: options.source,
      head,
      snapshot_seq: snapshot?.seq ?? null,
    };
    copy.exec(`
      CREATE TABLE propnet_backup (info TEXT NOT NULL) STRICT;
      CREATE TABLE propnet_backup_snapshot (seq INTEGER NOT NULL, body TEXT NOT NULL) STRICT;
    `);
    copy.prepare("INSERT INTO propnet_backup (info) VALUES (?)").run(JSON.stringify(info));
    if (snapshot) copy.prepare("INSERT INTO propnet_backup_snapshot (seq, body) VALUES (?, ?)").run(snapshot.seq, JSON.stringify(snapshot));
    // One self-contained file: no -wal beside it.
    copy.pragma("journal_mode = DELETE");
    copy.close();
    fsyncFile(temp);
    renameSync(temp, options.out);
  } catch (error) {
    if (copy.open) copy.close();
    rmSync(temp, { force: true });
    throw error;
  }
  return info;
}

export interface OpenedBackup {
  info: BackupInfo | null;
  snapshot: SnapshotFile | null;
  head: LogHead;
}

/**
 * Reads a backup file and checks it: the recorded head matches the last row, and the hash chain
 * holds from genesis to that head (every row's bytes hash to its hash). A plain copy of a node's
 * events.sqlite is accepted too (it has no info and no snapshot). Throws BackupRefused.
 */
export async function checkBackup(path: string, onProgress?: (seq: number) => void): Promise<OpenedBackup> {
  if (!existsSync(path)) throw new BackupRefused(`no backup file at ${path}`);
  let store: SqliteStore;
  try {
    store = SqliteStore.openReadOnly(path);
  } catch (error) {
    throw new BackupRefused(`${path} is not a readable SQLite file: ${(error as Error).message}`);
  }
  try {
    const db = store.database;
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]));
    if (!tables.has("events") || !tables.has("head")) throw new BackupRefused(`${path} holds no propnet event log`);
    let info: BackupInfo | null = null;
    let snapshot: SnapshotFile | null = null;
    if (tables.has("propnet_backup")) {
      info = JSON.parse(db.prepare("SELECT info FROM propnet_backup").pluck().get() as string) as BackupInfo;
      if (info.format !== BACKUP_FORMAT) throw new BackupRefused(`${path} is backup format ${info.format}; this code reads format ${BACKUP_FORMAT}`);
      const body = db.prepare("SELECT body FROM propnet_backup_snapshot").pluck().get() as string | undefined;
      if (body !== undefined) snapshot = JSON.parse(body) as SnapshotFile;
    }
    const head = await store.recordedHead();
    const last = await store.lastEvent();
    if ((last?.seq ?? 0) !== head.seq || (last?.hash ?? GENESIS_HASH) !== head.hash) {
      throw new BackupRefused(`${path}: its last event (seq ${last?.seq ?? 0}) is not its recorded head (seq ${head.seq})`);
    }
    if (info && (info.head.seq !== head.seq || info.head.hash !== head.hash)) {
      throw new BackupRefused(`${path}: its log head (seq ${head.seq}) is not the head the backup recorded (seq ${info.head.seq})`);
    }
    try {
      await store.checkChain({ seq: 0, hash: GENESIS_HASH }, head.seq, onProgress);
    } catch (error) {
      if (error instanceof LogIntegrityError) throw new BackupRefused(`${path} does not verify at seq ${error.seq}: ${error.message}`);
      throw error;
    }
    if (snapshot && (await store.eventAt(snapshot.seq))?.hash !== snapshot.head_hash) {
      throw new BackupRefused(`${path}: its snapshot at seq ${snapshot.seq} does not chain into its log`);
    }
    return { info, snapshot, head };
  } finally {
    store.closeSync();
  }
}

/**
 * Writes the log held in a checked backup file as `logPath` (a new file with the node's own
 * schema: events, closed checkpoints and the head, nothing else).
 */
export async function copyBackupLog(backupPath: string, logPath: string): Promise<LogHead> {
  const store = SqliteStore.open(logPath);
  const db = store.database;
  try {
    db.prepare("ATTACH DATABASE ? AS b").run(backupPath);
    db.transaction(() => {
      db.exec(`
        INSERT INTO events (seq, block, ts, type, payload, signer, signature, hash, prev_hash)
          SELECT seq, block, ts, type, payload, signer, signature, hash,
            coalesce((SELECT p.hash FROM b.events p WHERE p.seq = e.seq - 1), '${GENESIS_HASH}')
          FROM b.events e ORDER BY seq;
        INSERT INTO perf_checkpoints (trader, ts_ms, data) SELECT trader, ts_ms, data FROM b.perf_checkpoints;
        INSERT INTO head (id, seq, hash) SELECT id, seq, hash FROM b.head;
      `);
    })();
    db.exec("DETACH DATABASE b");
    // Fold the WAL into the file: the restored log is one self-contained file.
    db.pragma("wal_checkpoint(TRUNCATE)");
    return await store.recordedHead();
  } finally {
    store.closeSync();
  }
}
