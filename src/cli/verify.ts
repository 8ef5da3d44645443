import { existsSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { SingleBar } from "cli-progress";
import { logPath } from "../node/node.ts";
import { findSoundPrefix, TruncateRefused, truncateLog } from "../node/truncate-log.ts";
import { verifyLog } from "../node/verify.ts";
import { DataDirectoryLocked } from "../store/data-dir-lock.ts";
import { LogIntegrityError } from "../store/stored-event.ts";

/**
 * `propnet verify`: exit 0 when everything matches, 1 with the first bad seq, the last sound one
 * and how to recover otherwise. With `--truncate-to N`: keeps events 1..N (after a y/N question
 * on a terminal, or `--yes`), sets the rest aside, then verifies what is kept.
 */
export async function runVerify(options: { data: string; full?: boolean; truncateTo?: number; yes?: boolean }): Promise<number> {
  if (options.truncateTo !== undefined) return runTruncate(options.data, options.truncateTo, options.yes ?? false, options.full);
  const bar = new SingleBar({
    format: "verify [{bar}] {percentage}% | {value}/{total} events",
    noTTYOutput: true,
    notTTYSchedule: 2000,
    stream: process.stderr,
  });
  let base = 0;
  try {
    const report = await verifyLog(options.data, {
      full: options.full,
      onStart: (total, fromSeq) => {
        base = fromSeq;
        bar.start(Math.max(total, 1), 0);
      },
      onProgress: (seq) => bar.update(Math.min(seq - base, bar.getTotal())),
    });
    bar.update(bar.getTotal());
    bar.stop();
    // A damaged snapshot does not make the log wrong: it is named, and the log was verified without it.
    for (const p of report.snapshotProblems) process.stdout.write(`snapshot not used: ${p.path}: ${p.problem}\n`);
    if (report.headFileProblem) process.stdout.write(`note: ${report.headFileProblem}\n`);
    process.stdout.write(
      `verified ${report.events} events from ${report.from}; last seq ${report.lastSeq}; ` +
        `state hash ${report.stateHash}; ${report.snapshotsCompared} snapshot(s) matched; ${report.ms} ms\n`,
    );
    return 0;
  } catch (error) {
    bar.stop();
    if (error instanceof LogIntegrityError) {
      const advice = recoveryAdvice(options.data, error);
      process.stderr.write(`verify failed${error.seq > 0 ? ` at seq ${error.seq}` : ""}: ${error.message}\n${advice ? `${advice}\n` : ""}`);
      return 1;
    }
    throw error;
  }
}

/**
 * What a user can do about a log that cannot be trusted: the last sound seq (events 1..N readable,
 * chained, and before the first bad seq) and the two ways back: a backup, or truncating to N.
 */
export function recoveryAdvice(dataDir: string, error: LogIntegrityError): string {
  // No log at all: the error says so, and there is nothing to keep.
  if (!existsSync(logPath(dataDir))) return "";
  const sound = findSoundPrefix(logPath(dataDir));
  const n = error.seq > 0 ? Math.min(sound.lastSoundSeq, error.seq - 1) : sound.lastSoundSeq;
  const dir = /^[\w@%+=:,./-]+$/.test(dataDir) ? dataDir : `'${dataDir.replaceAll("'", "'\\''")}'`;
  const lines = [
    n > 0 ? `the last sound event is seq ${n}: events 1..${n} are intact and chained${sound.problem && n === sound.lastSoundSeq ? `; after it, ${sound.problem}` : ""}` : "no event of the log is sound (not even seq 1)",
    "to recover, either:",
    "  restore a backup into a new data directory: propnet restore --from BACKUP_FILE --data NEW_DIR",
  ];
  if (n > 0) lines.push(`  or keep events 1..${n} and set the rest aside (writes after seq ${n} are lost): propnet verify --data ${dir} --truncate-to ${n}`);
  lines.push(`the whole check, every hash and invariant from genesis: propnet verify --data ${dir} --full`);
  return lines.join("\n");
}

async function runTruncate(dataDir: string, toSeq: number, yes: boolean, full?: boolean): Promise<number> {
  const sound = findSoundPrefix(logPath(dataDir));
  if (toSeq > sound.lastSoundSeq) {
    process.stderr.write(`propnet: seq ${toSeq} is past the last sound event (seq ${sound.lastSoundSeq}); truncate to ${sound.lastSoundSeq} or less\n`);
    return 1;
  }
  process.stderr.write(
    `this keeps events 1..${toSeq} of the log in ${dataDir} and moves the old log, snapshots after seq ${toSeq} and the ` +
      `acknowledged-head file into ${dataDir}/truncated-<time>/ (nothing is deleted)` +
      `${sound.problem ? `; the log is sound through seq ${sound.lastSoundSeq}, then: ${sound.problem}` : `; the log holds ${sound.lastSoundSeq} sound events`}. ` +
      `Every write after seq ${toSeq} is lost to this node.\n`,
  );
  if (!yes) {
    if (!process.stdin.isTTY) {
      process.stderr.write("propnet: not on a terminal: add --yes to truncate without asking\n");
      return 1;
    }
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`truncate the log to seq ${toSeq}? [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stderr.write("not truncated\n");
      return 1;
    }
  }
  try {
    const report = truncateLog(dataDir, toSeq, new Date().toISOString().replace(/[:.]/g, "-"));
    process.stderr.write(
      `truncated to seq ${report.kept}; set aside in ${report.setAside}: the old log` +
        `${report.movedSnapshots > 0 ? `, ${report.movedSnapshots} snapshot(s)` : ""}${report.movedHeadFile ? ", the head file" : ""}\n`,
    );
  } catch (error) {
    if (error instanceof TruncateRefused || error instanceof DataDirectoryLocked) {
      process.stderr.write(`propnet: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  return runVerify({ data: dataDir, full });
}
