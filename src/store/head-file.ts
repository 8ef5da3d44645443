import { closeSync, constants, fsync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { LogHead } from "./store.ts";

const MAGIC = "propnet-head 1";
const RECORD = /^propnet-head 1 (\d{16}) ([0-9a-f]{64})\n$/;

/** `DIR/head`: the last head this node acknowledged. */
export function headFilePath(dataDir: string): string {
  return join(dataDir, "head");
}

/** One fixed-length line, so overwriting it in place never leaves a longer older record behind. */
export function encodeHead(head: LogHead): string {
  return `${MAGIC} ${String(head.seq).padStart(16, "0")} ${head.hash}\n`;
}

export type HeadRead = { head: LogHead } | { problem: string } | null;

/**
 * What the head file says, null when there is none (a new directory, or one written before the
 * file existed), or why it cannot be read.
 */
export function readHeadFile(dataDir: string): HeadRead {
  let text: string;
  try {
    text = readFileSync(headFilePath(dataDir), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    return { problem: `cannot read ${headFilePath(dataDir)}: ${(error as Error).message}` };
  }
  const m = RECORD.exec(text);
  if (!m) return { problem: `${headFilePath(dataDir)} is damaged (expected "${MAGIC} <seq> <hash>")` };
  return { head: { seq: Number(m[1]), hash: m[2] as string } };
}

/**
 * The acknowledged head, kept outside the log (DESIGN.md §5, loss detection): after each group
 * commit has landed, its head is written over this small file. A plain write without fsync
 * survives the process being killed (it sits in the page cache), and it is fsynced at snapshots,
 * every second while it changes, and at close. It is written only after the commit is durable, so
 * it is never ahead of the log: a log that ends before it lost acknowledged writes (a deleted
 * `-wal`, an old copy of the file put in place).
 */
export class HeadFile {
  readonly #fd: number;
  #written: LogHead | null = null;
  #synced = true;
  #syncing: Promise<void> | null = null;
  #closed = false;
  /** Why the last write failed, until one succeeds (a full disk, say). */
  problem: string | null = null;

  private constructor(readonly path: string) {
    // No truncation: a fixed-length record is overwritten in place.
    this.#fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  }

  static open(dataDir: string): HeadFile {
    return new HeadFile(headFilePath(dataDir));
  }

  get head(): LogHead | null {
    return this.#written;
  }

  /** Records a durable head (on the event loop: one small pwrite, no fsync). */
  record(head: LogHead): void {
    if (this.#closed) return;
    try {
      const line = encodeHead(head);
      writeSync(this.#fd, line, 0, "latin1");
      this.#written = head;
      this.#synced = false;
      this.problem = null;
    } catch (error) {
      // The commit itself is durable; a head file that lags only weakens the check at start.
      this.problem = `cannot record the acknowledged head in ${this.path}: ${(error as Error).message}`;
    }
  }

  /** fsyncs the file off the event loop if anything changed since the last sync. */
  sync(): Promise<void> {
    if (this.#synced || this.#closed) return this.#syncing ?? Promise.resolve();
    this.#synced = true;
    const previous = this.#syncing ?? Promise.resolve();
    const next = previous.then(
      () =>
        new Promise<void>((resolve) => {
          fsync(this.#fd, (error) => {
            if (error) {
              this.#synced = false;
              this.problem = `cannot fsync ${this.path}: ${error.message}`;
            }
            resolve();
          });
        }),
    );
    this.#syncing = next;
    void next.then(() => {
      if (this.#syncing === next) this.#syncing = null;
    });
    return next;
  }

  async close(): Promise<void> {
    await this.sync();
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}
