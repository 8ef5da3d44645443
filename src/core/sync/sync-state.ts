import { createHash } from "node:crypto";
import { AssertionFailure } from "../errors/errors.ts";
import { canonicalJson } from "../machine/canonical-json.ts";
import { type Journal, JournaledMap } from "../machine/journal.ts";
import type { State } from "../machine/state.ts";
import { STREAM_GENESIS_HASH, type SyncFact } from "./sync-fact.ts";

/** A fact received that contradicts one this node holds (SYNC_CONFLICT): recorded, never applied. */
export interface SyncConflict {
  stream_seq: number;
  /** What this node holds at that place in the stream (its hash), or what it expected. */
  ours: string;
  theirs: string;
  subject: string;
  message: string;
  ts_ms: number;
}

/** A subaccount that broke a rule on a follower: frozen until the mothership's elimination arrives. */
export interface PendingElimination {
  reason: string;
  since_ms: number;
}

/**
 * The mothership's fact stream as this node holds it (every node keeps all of it, so any node can
 * serve it), the head signatures it received, who the mothership is after a rotation, conflicts
 * and, on a follower, the subaccounts waiting for their elimination.
 */
export interface SyncState {
  /** stream_seq -> fact. */
  stream: JournaledMap<number, SyncFact>;
  /** stream_seq -> the mothership a MothershipChanged there handed over to (derived from `stream`, never encoded). */
  rotations: JournaledMap<number, string>;
  /** stream_seq -> the mothership's signature of that fact's hash, for heads this node received signed. */
  signatures: JournaledMap<number, { signer: string; signature: string }>;
  /** "m" -> the mothership set by the last MothershipChanged (before one, node configuration decides). */
  mothership: JournaledMap<"m", string>;
  /** n -> conflict, in the order recorded. */
  conflicts: JournaledMap<number, SyncConflict>;
  /** synthetic hotkey -> pending elimination. */
  pending: JournaledMap<string, PendingElimination>;
}

/**
 * Who this node is, which the log does not say: node configuration, set when the node opens and
 * never hashed. Handlers read it (a follower issues no facts); apply never does.
 */
export interface NodeIdentity {
  /** The node's hotkey (null in tests and simulations: a node of its own). */
  hotkey: string | null;
  /** `--mothership` (null: this node is its own mothership). */
  mothership: string | null;
  /**
   * Set by peer sync while this node may hold less than its peers (at start, and after a rotation
   * made it the mothership): it issues nothing meanwhile, so it can never reissue a stream_seq.
   */
  catchingUp?: boolean;
}

export function createSyncState(journal: Journal): SyncState {
  return {
    stream: new JournaledMap(journal),
    rotations: new JournaledMap(journal),
    signatures: new JournaledMap(journal),
    mothership: new JournaledMap(journal),
    conflicts: new JournaledMap(journal),
    pending: new JournaledMap(journal),
  };
}

export function streamHead(sync: SyncState): { stream_seq: number; hash: string } {
  const n = sync.stream.size;
  return n === 0 ? { stream_seq: 0, hash: STREAM_GENESIS_HASH } : { stream_seq: n, hash: (sync.stream.get(n) as SyncFact).hash };
}

/** The mothership now: the last rotation's, else the configured one, else this node itself. */
export function mothershipOf(sync: SyncState, identity: NodeIdentity): string | null {
  return sync.mothership.get("m") ?? identity.mothership ?? identity.hotkey;
}

/** Whether this node is the mothership (or a node of its own), caught up or not. */
export function isMothership(sync: SyncState, identity: NodeIdentity): boolean {
  const m = mothershipOf(sync, identity);
  return m === null || m === identity.hotkey;
}

/** Whether this node issues facts (and ids) now: it is the mothership and holds all its peers hold. */
export function issuesFacts(sync: SyncState, identity: NodeIdentity): boolean {
  return identity.catchingUp !== true && isMothership(sync, identity);
}

/**
 * The mothership in office before fact `seq`: the configured one (`--mothership` names the stream's
 * first mothership, kept after rotations), moved by every rotation before it.
 */
export function issuerOf(sync: SyncState, identity: NodeIdentity, seq: number): string | null {
  let issuer = identity.mothership ?? identity.hotkey;
  for (const at of sync.rotations.sortedKeys()) {
    if (at >= seq) break;
    issuer = sync.rotations.get(at) as string;
  }
  return issuer;
}

/** Appends facts that continue the stream exactly; anything else is a bug in the caller (fatal). */
export function recordFacts(sync: SyncState, facts: readonly SyncFact[]): void {
  for (const f of facts) {
    const head = streamHead(sync);
    if (f.stream_seq !== head.stream_seq + 1 || f.prev_hash !== head.hash) {
      throw new AssertionFailure(`sync fact ${f.stream_seq} does not continue the stream at ${head.stream_seq}`);
    }
    sync.stream.set(f.stream_seq, f);
    if (f.type === "MothershipChanged") {
      sync.mothership.set("m", f.payload.to as string);
      sync.rotations.set(f.stream_seq, f.payload.to as string);
    }
  }
}

export function recordConflict(sync: SyncState, conflict: SyncConflict): void {
  sync.conflicts.set(sync.conflicts.size + 1, conflict);
}

// ---- canonical encoding --------------------------------------------------------------------------

export interface EncodedSync {
  stream: SyncFact[];
  signatures: Array<[number, { signer: string; signature: string }]>;
  mothership: string | null;
  conflicts: SyncConflict[];
  pending: Array<[string, PendingElimination]>;
}

/** Null while nothing was ever synced or issued, so older logs keep their recorded state hashes. */
export function exportSync(s: SyncState): EncodedSync | null {
  if (s.stream.size === 0 && s.conflicts.size === 0 && s.pending.size === 0) return null;
  return {
    stream: s.stream.sortedEntries().map(([, f]) => f),
    signatures: s.signatures.sortedEntries(),
    mothership: s.mothership.get("m") ?? null,
    conflicts: s.conflicts.sortedEntries().map(([, c]) => c),
    pending: s.pending.sortedEntries(),
  };
}

export function importSync(encoded: EncodedSync | undefined, journal: Journal): SyncState {
  const s = createSyncState(journal);
  if (!encoded) return s;
  for (const f of encoded.stream) {
    s.stream.set(f.stream_seq, f);
    if (f.type === "MothershipChanged") s.rotations.set(f.stream_seq, f.payload.to as string);
  }
  for (const [k, v] of encoded.signatures) s.signatures.set(k, v);
  if (encoded.mothership !== null) s.mothership.set("m", encoded.mothership);
  encoded.conflicts.forEach((c, i) => s.conflicts.set(i + 1, c));
  for (const [k, v] of encoded.pending) s.pending.set(k, v);
  return s;
}

/**
 * What every validator must agree on once in sync, hashed: the stream head and the replicated
 * entity facts (limits; subaccount ids, uuids, creation and elimination times, sizes and status).
 * Collateral and trading are each node's own.
 */
export function syncStateHash(state: Pick<State, "sync" | "entities">): string {
  const { sync, entities } = state;
  const head = streamHead(sync);
  const body = {
    stream_seq: head.stream_seq,
    hash: head.hash,
    mothership: sync.mothership.get("m") ?? null,
    entities: entities.entities.sortedEntries().map(([, e]) => [e.hotkey, e.maxSubaccounts]),
    subaccounts: entities.subaccounts.sortedEntries().map(([k, a]) => [k, a.uuid, a.createdAtMs, a.accountSizeUsd, a.status, a.eliminatedAtMs]),
  };
  return createHash("sha256").update(canonicalJson(body)).digest("hex");
}
