import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { join, resolve, sep } from "node:path";
import type { SeededRandom } from "./seeded-random.ts";

const SNAPSHOT = /^snapshot-\d{12}\.json$/;

type Open = (path: unknown, flags?: unknown, mode?: unknown) => Promise<FileHandle>;
const fsPromises = createRequire(import.meta.url)("node:fs/promises") as { open: Open };
let realOpen: Open | null = null;
const disks = new Set<SnapshotDisk>();

/** An fs error as Node raises it. */
function enospc(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: "ENOSPC", errno: -28, syscall: "write", path });
}

/**
 * The snapshot directory of one simulated node, and the faults its files meet: a full disk while a
 * snapshot is written (the temp file is left half written and the write fails with ENOSPC, as a
 * real full disk does), a torn file, a lost one. The node writes snapshots with `fs/promises`
 * directly, so the full disk is injected there, for this directory's temp files only.
 */
export class SnapshotDisk {
  /** Snapshot writes that still fail with ENOSPC. */
  fullFor = 0;
  /** Snapshot writes that failed so. */
  failedWrites = 0;
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
    if (!realOpen) {
      realOpen = fsPromises.open;
      fsPromises.open = (path, flags, mode) => {
        const disk = [...disks].find((d) => d.#owns(path));
        const real = realOpen as Open;
        if (!disk || disk.fullFor <= 0 || !String(path).endsWith(".tmp")) return real(path, flags, mode);
        disk.fullFor--;
        disk.failedWrites++;
        return real(path, flags, mode).then((handle) => disk.#full(handle, String(path)));
      };
      syncBuiltinESMExports();
    }
    disks.add(this);
  }

  /** Stops injecting here; the last disk released puts `open` back as it was. */
  release(): void {
    disks.delete(this);
    if (disks.size === 0 && realOpen) {
      fsPromises.open = realOpen;
      realOpen = null;
      syncBuiltinESMExports();
    }
  }

  /** Snapshot files, oldest first. */
  files(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((n) => SNAPSHOT.test(n))
      .sort()
      .map((n) => join(this.dir, n));
  }

  /** Leftover temp files (a snapshot whose write failed). */
  tempFiles(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((n) => n.endsWith(".tmp"));
  }

  /** Tears the newest snapshot: cut short, or one byte flipped. Returns what it did, or null without snapshots. */
  tearNewest(random: SeededRandom): string | null {
    const newest = this.files().at(-1);
    if (!newest) return null;
    const bytes = readFileSync(newest);
    if (random.chance(0.5) && bytes.length > 1) {
      const at = random.int(0, bytes.length - 2);
      truncateSync(newest, at);
      return `${newest} cut to ${at} bytes`;
    }
    const at = random.int(0, bytes.length - 1);
    bytes[at] = (bytes[at] as number) ^ 0x20;
    writeFileSync(newest, bytes);
    return `${newest}: byte ${at} flipped`;
  }

  /** Deletes the newest snapshot, or all of them. Returns how many went. */
  remove(which: "newest" | "all"): number {
    const files = which === "all" ? this.files() : this.files().slice(-1);
    for (const f of files) rmSync(f, { force: true });
    return files.length;
  }

  #owns(path: unknown): boolean {
    return typeof path === "string" && resolve(path).startsWith(this.dir + sep);
  }

  /** A handle whose whole-file write stops halfway with ENOSPC. */
  #full(handle: FileHandle, path: string): FileHandle {
    return new Proxy(handle, {
      get(target, prop) {
        if (prop === "writeFile") {
          return async (data: string | Uint8Array) => {
            const bytes = typeof data === "string" ? Buffer.from(data) : data;
            await target.writeFile(bytes.subarray(0, Math.floor(bytes.length / 2)));
            throw enospc(path);
          };
        }
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}
