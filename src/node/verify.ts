import { existsSync } from "node:fs";
import { fullRecount } from "../core/invariants/chain-invariants.ts";
import { entityViolations, recountEntity } from "../core/invariants/entity-invariants.ts";
import { createState, importState, type State, stateHash } from "../core/machine/state.ts";
import { readSnapshots, type SnapshotFile } from "../store/snapshot-files.ts";
import { SqliteStore } from "../store/sqlite-store.ts";
import { GENESIS_HASH, LogIntegrityError } from "../store/stored-event.ts";
import { CODE_VERSION } from "../version.ts";
import { logPath, snapshotDir } from "./node.ts";
import { checkHead, checkSnapshotAgainstLog } from "./recover.ts";
import { replay } from "./replay.ts";

export interface VerifyReport {
  /** `genesis` or `snapshot at seq N`. */
  from: string;
  events: number;
  lastSeq: number;
  stateHash: string;
  snapshotsCompared: number;
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
 * Checks a stopped node's log: every hash link, every O(1) ledger and chain identity after every
 * event, the state hash and every invariant (full recount) at every snapshot passed and at the end.
 * Starts from the oldest sound snapshot (the last verified anchor), or from genesis with `full`. Throws LogIntegrityError naming the first bad seq.
 */
export async function verifyLog(
  dataDir: string,
  options: { full?: boolean; onStart?: (total: number, fromSeq: number) => void; onProgress?: (seq: number) => void } = {},
): Promise<VerifyReport> {
  const started = performance.now();
  const path = logPath(dataDir);
  if (!existsSync(path)) throw new LogIntegrityError(0, `no event log at ${path}`);
  const store = SqliteStore.open(path);
  try {
    const last = checkHead(store);
    const lastSeq = last?.seq ?? 0;
    const snapshots: SnapshotFile[] = [];
    for (const read of readSnapshots(snapshotDir(dataDir), CODE_VERSION)) {
      if ("snapshot" in read) {
        checkSnapshotAgainstLog(store, read.snapshot, lastSeq);
        snapshots.push(read.snapshot);
      }
    }
    snapshots.sort((a, b) => a.seq - b.seq);
    const anchor = options.full ? undefined : snapshots[0];
    let state: State;
    if (anchor) {
      state = importState(anchor.state);
      if (stateHash(state) !== anchor.state_hash) {
        throw new LogIntegrityError(anchor.seq, `snapshot at seq ${anchor.seq} does not hash to its recorded state hash`);
      }
    } else {
      state = createState();
    }
    const from = anchor ? { seq: anchor.seq, hash: anchor.head_hash } : { seq: 0, hash: GENESIS_HASH };
    const bySeq = new Map(snapshots.filter((s) => s.seq > from.seq).map((s) => [s.seq, s]));
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
      ms: Math.round(performance.now() - started),
    };
  } finally {
    store.closeSync();
  }
}
