import { statfsSync } from "node:fs";
import { DomainError } from "../core/errors/errors.ts";
import { isIoError, isStorageFull } from "../store/storage-full.ts";

/** Bytes available to this process on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Kept free below the log by default: room for a few thousand batches and a snapshot's temp file. */
export const DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024;
/** After a commit failed for lack of space, writes resume once this much more is free than then. */
export const RESUME_MARGIN_BYTES = 1024 * 1024;

const MIB = 1024 * 1024;

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

/**
 * Decides when writes are refused for lack of disk space (503 STORAGE_FULL), and says so in
 * `/healthz`. Free space is probed at most once a second (by the node's timer) and the cached
 * figure is what the writer asks before executing anything, so a refused write changes nothing.
 *
 * Two ways in: free space below `minFree` (refused before executing), or a commit that failed for
 * lack of space anyway (a burst bigger than the reserve, another process filling the disk). After
 * the latter, writes resume only once more than `RESUME_MARGIN_BYTES` beyond the free space seen
 * then is available, so one failed commit does not turn into a loop of them.
 */
export class StorageGuard {
  #free = Number.POSITIVE_INFINITY;
  #probeError: string | null = null;
  /** Free bytes needed before writes resume after a failed commit; null when none failed. */
  #resumeAt: number | null = null;
  #refusing = false;

  constructor(
    readonly dir: string,
    readonly minFree: number,
    readonly probe: (dir: string) => number = freeBytes,
    readonly say: (message: string) => void = () => {},
  ) {
    this.refresh();
  }

  /** The free bytes last probed. */
  get free(): number {
    return this.#free;
  }

  /** Whether writes are refused now. */
  get full(): boolean {
    return this.#refusing;
  }

  /** Probes free space now and says when writes stop or resume. */
  refresh(): number {
    try {
      this.#free = this.probe(this.dir);
      this.#probeError = null;
    } catch (error) {
      // Unknown free space refuses nothing: a failed commit would still be caught.
      this.#probeError = (error as Error).message;
      this.#free = Number.POSITIVE_INFINITY;
    }
    // Unknown free space never ends a refusal that a failed commit started: only a reading does.
    if (this.#resumeAt !== null && this.#probeError === null && this.#free >= this.#resumeAt && this.#free >= this.minFree) this.#resumeAt = null;
    const refusing = this.#resumeAt !== null || this.#free < this.minFree;
    if (refusing !== this.#refusing) {
      this.#refusing = refusing;
      this.say(
        refusing
          ? `storage full: ${this.#describe()}; writes are refused with 503 STORAGE_FULL until space is freed (reads go on)`
          : `storage: ${mib(this.#free)} free on ${this.dir}; writes resume`,
      );
    }
    return this.#free;
  }

  /**
   * A commit failed: whether for lack of space. SQLite reports a write that hit ENOSPC as
   * SQLITE_FULL; a failed write (SQLITE_IOERR_WRITE) counts too when the disk is in fact (nearly)
   * full right now.
   */
  explains(error: unknown): boolean {
    if (isStorageFull(error)) return true;
    return isIoError(error) && this.refresh() < Math.max(this.minFree, RESUME_MARGIN_BYTES);
  }

  /** A commit failed for lack of space: refuse writes until clearly more space is free. */
  commitFailed(): void {
    const free = this.refresh();
    this.#resumeAt = Math.max(this.minFree, (Number.isFinite(free) ? free : 0) + RESUME_MARGIN_BYTES);
    this.refresh();
  }

  /** The writer's admission check: STORAGE_FULL while space is short, else null. */
  refusal(): DomainError | null {
    if (!this.#refusing) return null;
    return new DomainError("STORAGE_FULL", `the disk holding the event log is full (${this.#describe()}): writes are refused until space is freed; reads go on`, {
      free_bytes: Number.isFinite(this.#free) ? this.#free : null,
      min_free_bytes: this.minFree,
    });
  }

  /** The `/healthz` line while writes are refused. */
  condition(): { problem: string; degraded: boolean; code: string } | null {
    if (!this.#refusing) return null;
    return { problem: `storage full: ${this.#describe()}; writes are refused (503 STORAGE_FULL) until space is freed`, degraded: true, code: "STORAGE_FULL" };
  }

  #describe(): string {
    const free = Number.isFinite(this.#free) ? mib(this.#free) : `unknown (${this.#probeError ?? "not probed"})`;
    const need = this.#resumeAt !== null ? `a commit failed for lack of space; writes resume at ${mib(this.#resumeAt)} free` : `below the reserve of ${mib(this.minFree)}`;
    return `${free} free on ${this.dir}, ${need}`;
  }
}
