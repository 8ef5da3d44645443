import { SingleBar } from "cli-progress";
import { verifyLog } from "../node/verify.ts";
import { LogIntegrityError } from "../store/stored-event.ts";

/** `propnet verify`: exit 0 when everything matches, 1 with the first bad seq otherwise. */
export async function runVerify(options: { data: string; full?: boolean }): Promise<number> {
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
      process.stderr.write(`verify failed at seq ${error.seq}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
