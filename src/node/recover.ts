import { createState, importState, type State, stateHash } from "../core/machine/state.ts";
import { readSnapshots, type SnapshotFile } from "../store/snapshot-files.ts";
import type { LogHead, Store } from "../store/store.ts";
import { GENESIS_HASH, hashEvent, LogIntegrityError, type StoredEvent } from "../store/stored-event.ts";
import { type ReplayOptions, replayWithParallelCheck } from "./replay.ts";

export interface Recovered {
  state: State;
  head: LogHead;
  /** The snapshot restart began from, or null for genesis. */
  snapshot: SnapshotFile | null;
  replayed: number;
}

export interface RecoverOptions extends Pick<ReplayOptions, "onProgress" | "progressEvery"> {
  strict: boolean;
  codeVersion: string;
  /** The last head this node acknowledged (its head file): the log must reach it. */
  acknowledged?: Acknowledged | null;
  /** Human messages: snapshots ignored and why. */
  say?: (message: string) => void;
}

/** The head a node acknowledged, and where that record is kept (named in messages). */
export interface Acknowledged {
  head: LogHead;
  source: string;
}

/** The log ends before a head the node acknowledged: acknowledged writes were lost. */
export class AcknowledgedWritesLost extends LogIntegrityError {}

/**
 * The log must hold every event the node acknowledged, and the event at the acknowledged seq must
 * be the one acknowledged: a log that ends early lost acknowledged writes (a deleted `-wal` file,
 * an older copy of the log put in place) and is refused, never served as if whole.
 */
export async function checkAcknowledged(store: Store, acknowledged: Acknowledged | null | undefined, lastSeq: number): Promise<void> {
  if (!acknowledged || acknowledged.head.seq === 0) return;
  const { head, source } = acknowledged;
  if (lastSeq < head.seq) {
    const lost = head.seq - lastSeq;
    throw new AcknowledgedWritesLost(
      lastSeq + 1,
      `event log ends at seq ${lastSeq}, but this node acknowledged writes up to seq ${head.seq} (recorded in ${source}): ` +
        `${lost} acknowledged event${lost === 1 ? " is" : "s are"} missing (was the events.sqlite-wal file deleted, or an older copy of ` +
        `events.sqlite put in place?). Put the missing -wal file back if you have it, or restore a backup into a new directory ` +
        `(propnet restore --from FILE --data NEWDIR). To accept the loss knowingly, remove ${source} and any snapshot newer than seq ${lastSeq}`,
    );
  }
  const row = await store.eventAt(head.seq);
  if (!row || row.hash !== head.hash) {
    throw new AcknowledgedWritesLost(
      head.seq,
      `event at seq ${head.seq} is not the one this node acknowledged there (recorded in ${source}): another log was put in place. ` +
        `Restore a backup into a new directory, or remove ${source} if this log is the one you mean to serve`,
    );
  }
}

/** A row must hash to its stored hash, chained to the stored hash of the row before it. */
function checkRowIntact(row: StoredEvent): void {
  if (hashEvent(row) !== row.hash) {
    throw new LogIntegrityError(row.seq, `event at seq ${row.seq} was altered: its bytes do not match its hash`);
  }
}

/**
 * The last row and the recorded head must agree, and the last row must be intact: a deleted or
 * altered tail is refused, naming its seq.
 */
export async function checkHead(store: Store): Promise<StoredEvent | null> {
  let last: StoredEvent | null;
  let recorded: LogHead;
  try {
    recorded = await store.recordedHead();
    last = await store.lastEvent();
  } catch (error) {
    throw new LogIntegrityError(0, `event log is unreadable: ${(error as Error).message}`);
  }
  const lastSeq = last?.seq ?? 0;
  if (lastSeq < recorded.seq) {
    throw new LogIntegrityError(
      lastSeq + 1,
      `event log lost its tail: the head was committed at seq ${recorded.seq}, but the last stored event is seq ${lastSeq}`,
    );
  }
  if (lastSeq > recorded.seq || (last?.hash ?? GENESIS_HASH) !== recorded.hash) {
    throw new LogIntegrityError(
      lastSeq,
      `event log head at seq ${lastSeq} does not match the recorded head (seq ${recorded.seq})`,
    );
  }
  if (last) checkRowIntact(last);
  return last;
}

/** A usable snapshot must chain into the log: the row at its seq is intact and carries its head hash. */
export async function checkSnapshotAgainstLog(store: Store, snapshot: SnapshotFile, lastSeq: number): Promise<void> {
  if (lastSeq < snapshot.seq) {
    throw new LogIntegrityError(
      lastSeq + 1,
      `event log head at seq ${lastSeq} is behind the snapshot at seq ${snapshot.seq}: events were lost or an old log was restored`,
    );
  }
  const row = await store.eventAt(snapshot.seq);
  if (!row || row.hash !== snapshot.head_hash) {
    throw new LogIntegrityError(
      snapshot.seq,
      `event at seq ${snapshot.seq} does not match the snapshot taken there: the log was altered`,
    );
  }
  checkRowIntact(row);
}

/**
 * Restart = the newest sound snapshot + the log's tail, every tail hash checked. Damaged or
 * incompatible snapshots are skipped with a message; a log that disagrees with a sound snapshot
 * is refused (LogIntegrityError, naming the seq).
 */
export async function recover(store: Store, snapshotDir: string, options: RecoverOptions): Promise<Recovered> {
  const last = await checkHead(store);
  const lastSeq = last?.seq ?? 0;
  await checkAcknowledged(store, options.acknowledged, lastSeq);
  let state: State | null = null;
  let from: LogHead = { seq: 0, hash: GENESIS_HASH };
  let used: SnapshotFile | null = null;
  for (const read of readSnapshots(snapshotDir, options.codeVersion)) {
    if ("problem" in read) {
      options.say?.(`ignoring snapshot ${read.path}: ${read.problem}; replaying the log instead`);
      continue;
    }
    const snap = read.snapshot;
    await checkSnapshotAgainstLog(store, snap, lastSeq);
    const candidate = importState(snap.state, { strict: options.strict });
    if (stateHash(candidate) !== snap.state_hash) {
      options.say?.(`ignoring snapshot ${read.path}: its state does not hash to its recorded state hash`);
      continue;
    }
    state = candidate;
    used = snap;
    from = { seq: snap.seq, hash: snap.head_hash };
    break;
  }
  state ??= createState({ strict: options.strict });
  const head = await replayWithParallelCheck(state, store, from, lastSeq, options);
  const broken = state.ledger.recount();
  if (broken.length > 0) {
    const v = broken[0] as (typeof broken)[number];
    throw new LogIntegrityError(
      head.seq,
      `ledger recount fails at seq ${head.seq}: ${v.invariant} expected ${v.expected}, actual ${v.actual}`,
    );
  }
  return { state, head, snapshot: used, replayed: head.seq - from.seq };
}
