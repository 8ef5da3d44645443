import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";

/** Who holds a data directory, as the holder wrote it beside the lock. */
export interface LockHolder {
  pid: number;
  /** The address it serves on. */
  address: string;
  started: string;
}

/** Another process holds the data directory. Stable code DATA_DIR_LOCKED. */
export class DataDirectoryLocked extends Error {
  override readonly name = "DataDirectoryLocked";
  readonly code = "DATA_DIR_LOCKED";
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder | null,
  ) {
    const who = holder ? `propnet node pid ${holder.pid} serving on ${holder.address} (since ${holder.started})` : "another process";
    super(`data directory ${dataDir} is in use by ${who}; stop it first, or give this node another --data directory`);
  }
}

export function lockPath(dataDir: string): string {
  return join(dataDir, "lock");
}

function holderPath(dataDir: string): string {
  return join(dataDir, "lock.json");
}

/**
 * The data directory is held for the node's whole life, so that a second node on it is refused
 * before it touches the log. The lock is an OS lock: a small SQLite file (`DIR/lock`) kept in an
 * exclusive transaction on a connection of its own; the OS releases it when the process dies,
 * kill -9 included, so a stale lock never blocks a restart. `DIR/lock.json` says who holds it (pid
 * and address) for the refusal message; it is only read when the lock is taken, so a stale one
 * misleads nobody. Readers (verify, backup) take no lock: they read the log read-only.
 */
export class DataDirLock {
  #db: Database.Database | null;

  private constructor(
    readonly dataDir: string,
    db: Database.Database,
  ) {
    this.#db = db;
  }

  /** Takes the lock or throws DataDirectoryLocked naming the holder. Never waits. */
  static acquire(dataDir: string, holder: { address: string }): DataDirLock {
    const db = new Database(lockPath(dataDir), { timeout: 0 });
    try {
      db.exec("BEGIN EXCLUSIVE");
    } catch (error) {
      db.close();
      if ((error as { code?: string }).code === "SQLITE_BUSY" || (error as { code?: string }).code === "SQLITE_LOCKED") {
        throw new DataDirectoryLocked(dataDir, DataDirLock.holder(dataDir));
      }
      throw error;
    }
    const record: LockHolder = { pid: process.pid, address: holder.address, started: new Date().toISOString() };
    const temp = `${holderPath(dataDir)}.${process.pid}.tmp`;
    try {
      writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o644 });
      renameSync(temp, holderPath(dataDir));
    } catch {
      // Only the holder's name for a refusal message: the lock itself is held. A full disk must not stop the start.
      rmSync(temp, { force: true });
    }
    return new DataDirLock(dataDir, db);
  }

  /** What the holder wrote, or null when it cannot be read. */
  static holder(dataDir: string): LockHolder | null {
    try {
      const parsed = JSON.parse(readFileSync(holderPath(dataDir), "utf8")) as Partial<LockHolder>;
      if (typeof parsed.pid !== "number" || typeof parsed.address !== "string") return null;
      return { pid: parsed.pid, address: parsed.address, started: String(parsed.started ?? "an unknown time") };
    } catch {
      return null;
    }
  }

  get held(): boolean {
    return this.#db !== null;
  }

  /** Lets the directory go (process exit does the same). */
  release(): void {
    if (!this.#db) return;
    rmSync(holderPath(this.dataDir), { force: true });
    this.#db.exec("ROLLBACK");
    this.#db.close();
    this.#db = null;
  }
}
