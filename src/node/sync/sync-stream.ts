import type { State } from "../../core/machine/state.ts";
import type { SignedHead, SyncFact } from "../../core/sync/sync-fact.ts";
import { issuerOf, streamHead } from "../../core/sync/sync-state.ts";

/** A batch as it travels (API.md "Sync between validators"). */
export interface SyncBatch {
  events: SyncFact[];
  head: SignedHead;
}

/** Most facts in one batch a node serves, pushes or takes: one batch is one writer task (~15-20 µs a fact). */
export const MAX_BATCH = 250;

/**
 * The facts after `after` that this node can serve as one batch: up to a head it holds a mothership
 * signature for, or can sign itself (it issued that fact), never across a rotation (a rotation ends
 * its batch). Null when there is nothing to serve; `sign` is asked only for a head without one.
 */
export function batchAfter(state: State, after: number, limit: number, self: string | null): { facts: SyncFact[]; end: number; signature: string | null } | null {
  const head = streamHead(state.sync).stream_seq;
  if (after >= head) return null;
  const { stream, signatures } = state.sync;
  // A rotation ends its batch.
  let bound = Math.min(head, after + Math.max(1, limit));
  for (let k = after + 1; k <= bound; k++) {
    if ((stream.get(k) as SyncFact).type === "MothershipChanged") {
      bound = k;
      break;
    }
  }
  const signable = (k: number) => signatures.has(k) || (self !== null && issuerOf(state.sync, state.identity, k) === self);
  let end = 0;
  for (let k = bound; k > after; k--) {
    if (signable(k)) {
      end = k;
      break;
    }
  }
  // Nothing signed within the limit: the next signed head past it, if any (batches are at most MAX_BATCH).
  if (end === 0) {
    for (let k = bound + 1; k <= Math.min(head, after + MAX_BATCH * 5); k++) {
      if (signatures.has(k)) {
        end = k;
        break;
      }
      if ((stream.get(k) as SyncFact).type === "MothershipChanged") break;
    }
  }
  if (end === 0) return null;
  const facts: SyncFact[] = [];
  for (let k = after + 1; k <= end; k++) facts.push(stream.get(k) as SyncFact);
  return { facts, end, signature: signatures.get(end)?.signature ?? null };
}
