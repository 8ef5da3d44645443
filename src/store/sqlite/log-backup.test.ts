import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { BackupRefused, backupLog, checkBackup, copyBackupLog } from "./log-backup.ts";
import { SqliteStore } from "./sqlite-store.ts";
import { GENESIS_HASH, hashEvent, type StoredEvent } from "../stored-event.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "propnet-backup-unit-"));
  dirs.push(d);
  return d;
}

function rows(n: number): StoredEvent[] {
  const out: StoredEvent[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e = { seq, block: 0, ts: seq, type: "Test@1", payload: JSON.stringify({ seq }), signer: null, signature: null, prevHash: prev };
    out.push({ ...e, hash: hashEvent(e) });
    prev = (out[seq - 1] as StoredEvent).hash;
  }
  return out;
}

async function logOf(dir: string, n: number): Promise<string> {
  const path = join(dir, "events.sqlite");
  const store = SqliteStore.open(path);
  await store.append(rows(n));
  store.closeSync();
  return path;
}

async function refusal(path: string): Promise<string> {
  const error = await checkBackup(path).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BackupRefused);
  return (error as Error).message;
}

describe("backup files", () => {
  it("one self-contained file holding the log and its head; restored as a log with the node's schema only", async () => {
    const dir = tempDir();
    const log = await logOf(dir, 50);
    const out = join(dir, "x.backup");
    const info = await backupLog({ logPath: log, snapshotDir: join(dir, "snapshots"), out, codeVersion: "t", source: dir });
    expect(info.head.seq).toBe(50);
    expect(info.snapshot_seq).toBeNull();
    const checked = await checkBackup(out);
    expect(checked.head).toEqual(info.head);
    expect(checked.info).toMatchObject({ format: 1, source: dir });
    await expect(backupLog({ logPath: log, snapshotDir: dir, out, codeVersion: "t", source: dir })).rejects.toBeInstanceOf(BackupRefused);
    const restored = join(dir, "restored.sqlite");
    expect(await copyBackupLog(out, restored)).toEqual(info.head);
    const db = new Database(restored, { readonly: true });
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()).toEqual(["events", "head", "perf_checkpoints"]);
    db.close();
  });

  it("a plain copy of a log is accepted; an altered row, a lost last row or a head that is not the backup's are refused", async () => {
    const dir = tempDir();
    const log = await logOf(dir, 30);
    expect((await checkBackup(log)).info).toBeNull();

    const altered = join(dir, "altered.sqlite");
    copyFileSync(log, altered);
    let db = new Database(altered);
    db.prepare("UPDATE events SET payload = '{\"seq\":99}' WHERE seq = 12").run();
    db.close();
    expect(await refusal(altered)).toMatch(/does not verify at seq 12/);

    const cut = join(dir, "cut.sqlite");
    copyFileSync(log, cut);
    db = new Database(cut);
    db.prepare("DELETE FROM events WHERE seq = 30").run();
    db.close();
    expect(await refusal(cut)).toMatch(/last event \(seq 29\) is not its recorded head \(seq 30\)/);

    const out = join(dir, "b.backup");
    await backupLog({ logPath: log, snapshotDir: dir, out, codeVersion: "t", source: dir });
    db = new Database(out);
    db.prepare("UPDATE propnet_backup SET info = json_set(info, '$.head.seq', 31)").run();
    db.close();
    expect(await refusal(out)).toMatch(/not the head the backup recorded \(seq 31\)/);
    expect(await refusal(join(dir, "nothing"))).toMatch(/no backup file/);
  });
});
