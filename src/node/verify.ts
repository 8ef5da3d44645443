import { existsSync } from "node:fs";
import { fullRecount } from "../core/invariants/chain-invariants.ts";
import { entityViolations, recountEntity } from "../core/invariants/entity-invariants.ts";
import { createState, importState, type State, stateHash } from "../core/machine/state.ts";
import { headFilePath, readHeadFile } from "../store/head-file.ts";
import { readSnapshots, type SnapshotFile } from "../store/snapshot-files.ts";
import { openLogSnapshot } from "../store/open-log-snapshot.ts";
import { GENESIS_HASH, LogIntegrityError } from "../store/stored-event.ts";
import { CODE_VERSION } from "../version.ts";
import { logPath, snapshotDir } from "./node.ts";
import { checkAcknowledged, checkHead, checkSnapshotAgainstLog } from "./recover.ts";
import { replay } from "./replay.ts";

export interface VerifyReport {
  /** `genesis` or `snapshot at seq N`. */
  from: string;
  events: number;
  lastSeq: number;
  stateHash: string;
  snapshotsCompared: number;
  /** Snapshot files that could not be used, each with why (the log was verified without them). */
  snapshotProblems: Array<{ path: string; problem: string }>;
  /** What the head file said about the last acknowledged head, if anything was wrong with it. */
  headFileProblem: string | null;
  ms: number;
}

/**
 * Every chain and entity invariant with a full recount (O(N)): at every snapshot and at the end.
 * A violation that was recorded live came from a fault the log does not hold (value changed behind
 * the ledger's back), so the replayed state must pass; one that replay reproduces is in the log.
 */
function checkEveryInvariant(state: State, seq: number): void {
  const chain = fullRecount(state, null);
  const entities = state.entities.entities
    .sortedKeys()
    .flatMap((hotkey) => [...entityViolations(state, hotkey), ...recountEntity(state, hotkey)].map((v) => ({ scope: `entity:${hotkey}`, ...v })));
  const v = chain[0] ?? entities[0];
  if (v) throw new LogIntegrityError(seq, `invariant ${v.invariant} in ${v.scope} fails after seq ${seq}: expected ${v.expected}, actual ${v.actual}`);
}

/**
 * Checks a node's log: every hash link, every O(1) ledger and chain identity after every event,
 * the state hash and every invariant (full recount) at every snapshot passed and at the end, and
 * that the log holds every write the node acknowledged (its head file). Starts from the oldest
 * sound snapshot (the last verified anchor), or from genesis with `full`; a damaged snapshot file
 * (torn, wrong state hash, another format) is named in `snapshotProblems` and passed over. Works
 * beside a running node: a read-only connection and one read transaction, so the log checked is
 * the log as it was when verify began. Throws LogIntegrityError naming the first bad seq.
 */
export async function verifyLog(
  dataDir: string,
  options: { full?: boolean; onStart?: (total: number, fromSeq: number) => void; onProgress?: (seq: number) => void } = {},
): Promise<VerifyReport> {
  const started = performance.now();
  const path = logPath(dataDir);
  if (!existsSync(path)) throw new LogIntegrityError(0, `no event log at ${path}`);
  // Read before the log's read transaction begins, so that neither can be ahead of the log read.
  const acknowledged = readHeadFile(dataDir);
  const reads = readSnapshots(snapshotDir(dataDir), CODE_VERSION);
  let snapshot: Awaited<ReturnType<typeof openLogSnapshot>>;
  try {
    snapshot = await openLogSnapshot({ backend: "sqlite", path });
  } catch (error) {
    // SQLite refuses a file cut short or damaged in its first pages: a log that cannot be trusted, not a crash.
    throw new LogIntegrityError(0, `event log ${path} cannot be read (damaged or cut short on disk): ${(error as Error).message}`);
  }
  const store = snapshot.store;
  try {
    const last = await checkHead(store);
    const lastSeq = last?.seq ?? 0;
    if (acknowledged && "head" in acknowledged) await checkAcknowledged(store, { head: acknowledged.head, source: headFilePath(dataDir) }, lastSeq);
    const snapshotProblems: Array<{ path: string; problem: string }> = [];
    const snapshots: SnapshotFile[] = [];
    const paths = new Map<SnapshotFile, string>();
    for (const read of reads) {
      if ("problem" in read) {
        snapshotProblems.push({ path: read.path, problem: read.problem });
        continue;
      }
      await checkSnapshotAgainstLog(store, read.snapshot, lastSeq);
      snapshots.push(read.snapshot);
      paths.set(read.snapshot, read.path);
    }
    snapshots.sort((a, b) => a.seq - b.seq);
    // A snapshot whose state does not hash to its own recorded hash is damaged: named, and neither
    // an anchor nor compared. The anchor is the oldest sound one (or genesis).
    const sound: SnapshotFile[] = [];
    let anchor: SnapshotFile | undefined;
    let state: State | undefined;
    for (const candidate of snapshots) {
      const imported = importState(candidate.state);
      if (stateHash(imported) !== candidate.state_hash) {
        snapshotProblems.push({ path: paths.get(candidate) ?? `snapshot at seq ${candidate.seq}`, problem: "its state does not hash to its recorded state hash" });
        continue;
      }
      sound.push(candidate);
      if (!anchor && !options.full) {
        anchor = candidate;
        state = imported;
      }
    }
    state ??= createState();
    const from = anchor ? { seq: anchor.seq, hash: anchor.head_hash } : { seq: 0, hash: GENESIS_HASH };
    const bySeq = new Map(sound.filter((s) => s.seq > from.seq).map((s) => [s.seq, s]));
    let compared = anchor ? 1 : 0;
    options.onStart?.(lastSeq - from.seq, from.seq);
    const head = await replay(state, store, from, {
      checkEveryEvent: true,
      progressEvery: 10_000,
      onProgress: options.onProgress,
      afterEvent: (row) => {
        const snap = bySeq.get(row.seq);
        if (!snap) return;
        compared++;
        if (stateHash(state) !== snap.state_hash) {
          throw new LogIntegrityError(row.seq, `state after seq ${row.seq} differs from the snapshot taken there`);
        }
        checkEveryInvariant(state, row.seq);
      },
    });
    checkEveryInvariant(state, head.seq);
    return {
      from: anchor ? `snapshot at seq ${anchor.seq}` : "genesis",
      events: head.seq - from.seq,
      lastSeq: head.seq,
      stateHash: stateHash(state),
      snapshotsCompared: compared,
      snapshotProblems,
      headFileProblem: acknowledged === null ? `no head file at ${headFilePath(dataDir)}: acknowledged writes cannot be checked` : "problem" in acknowledged ? acknowledged.problem : null,
      ms: Math.round(performance.now() - started),
    };
  } finally {
    await snapshot.close();
  }
}
