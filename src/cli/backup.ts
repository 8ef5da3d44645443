import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { logPath, snapshotDir } from "../node/node.ts";
import { verifyLog } from "../node/verify.ts";
import { HeadFile } from "../store/head-file.ts";
import { BackupRefused, backupLog, checkBackup, copyBackupLog } from "../store/sqlite/log-backup.ts";
import { writeSnapshot } from "../store/snapshot-files.ts";
import { LogIntegrityError } from "../store/stored-event.ts";
import { CODE_VERSION } from "../version.ts";

function say(message: string): void {
  process.stderr.write(`propnet: ${message}\n`);
}

const KEY_NOTE =
  "the node key (node-key in the data directory) is not part of a backup: keep a copy of it apart, and put it into the restored directory (or pass --key) before `propnet serve`, or the node makes a new key";

/** `propnet backup`: exit 0 with the backup written, 2 when refused (no log, the file exists), 1 on failure. */
export async function runBackup(options: { data: string; out: string }): Promise<number> {
  const started = performance.now();
  const log = logPath(options.data);
  if (!existsSync(log)) {
    say(`no event log at ${log}`);
    return 2;
  }
  try {
    const info = await backupLog({
      logPath: log,
      snapshotDir: snapshotDir(options.data),
      out: options.out,
      codeVersion: CODE_VERSION,
      source: resolve(options.data),
    });
    const mb = (statSync(options.out).size / (1024 * 1024)).toFixed(1);
    process.stdout.write(
      `backup written to ${options.out}: log head seq ${info.head.seq} (${info.head.hash}), ` +
        `${info.snapshot_seq !== null ? `snapshot at seq ${info.snapshot_seq}` : "no snapshot"}; ${mb} MB; ${Math.round(performance.now() - started)} ms\n`,
    );
    say(KEY_NOTE);
    return 0;
  } catch (error) {
    if (error instanceof BackupRefused) {
      say(error.message);
      return 2;
    }
    say(`backup failed: ${(error as Error).message}`);
    return 1;
  }
}

function isEmptyOrMissing(dir: string): boolean {
  if (!existsSync(dir)) return true;
  return statSync(dir).isDirectory() && readdirSync(dir).length === 0;
}

/**
 * `propnet restore`: checks the backup (head, every hash from genesis), writes it into a fresh
 * directory beside the target, replays it in full (`verify --full`: every hash, invariant and the
 * snapshot's state hash), and only then moves it into place. Exit 0 when restored, 1 when the
 * backup does not verify, 2 when the target is not empty.
 */
export async function runRestore(options: { from: string; data: string }): Promise<number> {
  const started = performance.now();
  const target = resolve(options.data);
  if (!isEmptyOrMissing(target)) {
    say(`refusing to restore into ${target}: it is not empty (restore into a new directory, then point --data at it)`);
    return 2;
  }
  const temp = `${target}.restoring-${process.pid}`;
  try {
    const backup = await checkBackup(options.from);
    mkdirSync(dirname(target), { recursive: true });
    rmSync(temp, { recursive: true, force: true });
    mkdirSync(temp, { recursive: true });
    const head = await copyBackupLog(options.from, logPath(temp));
    if (backup.snapshot) await writeSnapshot(snapshotDir(temp), backup.snapshot);
    // The restored node starts knowing what it acknowledged: exactly the restored head.
    const headFile = HeadFile.open(temp);
    headFile.record(head);
    await headFile.close();
    // Every hash and invariant, from genesis, and the snapshot's state hash at its seq.
    const report = await verifyLog(temp, { full: true });
    if (existsSync(target)) rmdirSync(target);
    renameSync(temp, target);
    process.stdout.write(
      `restored ${report.lastSeq} events into ${target} from ${options.from}` +
        `${backup.info ? ` (taken ${backup.info.created} from ${backup.info.source})` : ""}; last seq ${report.lastSeq}; ` +
        `state hash ${report.stateHash}; ${backup.snapshot ? `snapshot at seq ${backup.snapshot.seq} matched` : "no snapshot"}; ` +
        `${Math.round(performance.now() - started)} ms\n`,
    );
    say(KEY_NOTE);
    return 0;
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    if (error instanceof BackupRefused || error instanceof LogIntegrityError) {
      const at = error instanceof LogIntegrityError ? ` at seq ${error.seq}` : "";
      say(`refusing to restore ${options.from}: it does not verify${at}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
