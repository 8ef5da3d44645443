import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { open, readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { StateSnapshot } from "../core/machine/state.ts";

export const SNAPSHOT_FORMAT = 1;

export interface SnapshotFile {
  format: number;
  code_version: string;
  seq: number;
  head_hash: string;
  state_hash: string;
  created_ms: number;
  state: StateSnapshot;
}

export type SnapshotRead = { path: string; snapshot: SnapshotFile } | { path: string; problem: string };

const NAME = /^snapshot-(\d{12})\.json$/;

function fileName(seq: number): string {
  return `snapshot-${String(seq).padStart(12, "0")}.json`;
}

/**
 * The body is one JSON line followed by a line holding its sha256, so a damaged file is told
 * apart from a log that disagrees with a sound snapshot.
 */
export function encodeSnapshot(snapshot: SnapshotFile): string {
  const body = JSON.stringify(snapshot);
  return `${body}\n${createHash("sha256").update(body).digest("hex")}\n`;
}

/**
 * Writes atomically: temp file, fsync, rename, fsync of the directory. Keeps the newest `keep`.
 */
export async function writeSnapshot(dir: string, snapshot: SnapshotFile, keep = 2): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const final = join(dir, fileName(snapshot.seq));
  const temp = `${final}.tmp`;
  try {
    const file = await open(temp, "w", 0o600);
    try {
      await file.writeFile(encodeSnapshot(snapshot));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, final);
  } catch (error) {
    // A full disk (ENOSPC) or any other failure leaves no torn file behind, not even the temp one.
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
  const names = (await readdir(dir)).filter((n) => NAME.test(n) || n.endsWith(".json.tmp")).sort();
  const complete = names.filter((n) => NAME.test(n));
  for (const n of complete.slice(0, Math.max(0, complete.length - keep))) await unlink(join(dir, n));
  for (const n of names.filter((n) => n.endsWith(".tmp") && join(dir, n) !== temp)) await unlink(join(dir, n)).catch(() => {});
  return final;
}

/** Every snapshot in the directory, newest first, each read or with the reason it is unusable. */
export function readSnapshots(dir: string, codeVersion: string): SnapshotRead[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => NAME.test(n));
  } catch {
    return [];
  }
  return names
    .sort()
    .reverse()
    .map((name): SnapshotRead => {
      const path = join(dir, name);
      try {
        const [body, sum] = readFileSync(path, "utf8").split("\n");
        if (!body || createHash("sha256").update(body).digest("hex") !== sum) {
          return { path, problem: "checksum mismatch (damaged or incomplete file)" };
        }
        const snapshot = JSON.parse(body) as SnapshotFile;
        if (snapshot.format !== SNAPSHOT_FORMAT) {
          return { path, problem: `format ${snapshot.format}, this code reads format ${SNAPSHOT_FORMAT}` };
        }
        if (snapshot.code_version !== codeVersion) {
          return { path, problem: `written by code ${snapshot.code_version}, this is ${codeVersion}` };
        }
        return { path, snapshot };
      } catch (error) {
        return { path, problem: `unreadable: ${(error as Error).message}` };
      }
    });
}
