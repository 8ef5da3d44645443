import { GENESIS_HASH, hashEventFields } from "./event-hash.mjs";

export { GENESIS_HASH };

/** One row of the append-only log, exactly as stored. Hashes are lowercase hex sha256. */
export interface StoredEvent {
  seq: number;
  block: number;
  ts: number;
  /** `Name@version` */
  type: string;
  /** JSON text; the hash covers these bytes, never a re-encoding. */
  payload: string;
  signer: string | null;
  signature: string | null;
  /** The hash of seq - 1 (the zero hash for seq 1). */
  prevHash: string;
  hash: string;
}

/**
 * sha256 over the previous hash and the stored bytes of every column: a changed byte anywhere in
 * a row, or a row moved, dropped or inserted, breaks the chain at that row.
 */
export function hashEvent(e: Omit<StoredEvent, "hash">): string {
  return hashEventFields(e.prevHash, e.seq, e.block, e.ts, e.type, e.signer, e.signature, e.payload);
}

/** Why a log cannot be trusted, always naming the first bad seq. */
export class LogIntegrityError extends Error {
  override readonly name = "LogIntegrityError";
  constructor(
    readonly seq: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks one row against the seq and previous hash the chain expects: its recomputed hash must be
 * its stored hash. Throws LogIntegrityError naming the seq.
 */
export function checkLink(row: StoredEvent, expectedSeq: number, prevHash: string): void {
  if (row.seq !== expectedSeq) {
    throw new LogIntegrityError(expectedSeq, `event log is missing seq ${expectedSeq} (next stored row is seq ${row.seq})`);
  }
  // prev_hash is stored but outside the preimage: it must name the chain's previous hash.
  if (row.prevHash !== prevHash) {
    throw new LogIntegrityError(row.seq, `event at seq ${row.seq} was altered: its prev_hash is not the hash of seq ${row.seq - 1}`);
  }
  if (hashEventFields(prevHash, row.seq, row.block, row.ts, row.type, row.signer, row.signature, row.payload) !== row.hash) {
    throw new LogIntegrityError(
      row.seq,
      `event at seq ${row.seq} was altered: its bytes do not match its hash (or the chain before it is broken)`,
    );
  }
}
