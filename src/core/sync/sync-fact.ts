import { createHash } from "node:crypto";
import { canonicalJson } from "../machine/canonical-json.ts";
import type { JsonObject } from "../machine/event.ts";

/**
 * A mothership fact (DESIGN.md §4.1, API.md "Sync between validators"): what every validator must
 * agree on about entities, issued by the mothership alone into a dense, hash-chained stream.
 * `hash` = sha256 of the canonical JSON of `{stream_seq, type, payload, ts_ms, prev_hash}`.
 */
export interface SyncFact {
  stream_seq: number;
  type: SyncFactType;
  payload: JsonObject;
  /** When the mothership issued it: a subaccount's `created_at_ms` everywhere. */
  ts_ms: number;
  prev_hash: string;
  hash: string;
}

export const SYNC_FACT_TYPES = ["EntityRegistered", "SubaccountCreated", "SubaccountEliminated", "SubaccountReinstated", "MothershipChanged"] as const;
export type SyncFactType = (typeof SYNC_FACT_TYPES)[number];

/** The head of a batch as sent: its last fact's stream_seq and hash, signed by the mothership. */
export interface SignedHead {
  stream_seq: number;
  hash: string;
  /** The mothership's sr25519 signature of `hash` (the hex text), 0x-hex. */
  signature: string;
}

/** What the stream chains from before its first fact. */
export const STREAM_GENESIS_HASH = "0".repeat(64);

export function factHash(fact: Omit<SyncFact, "hash">): string {
  const { stream_seq, type, payload, ts_ms, prev_hash } = fact;
  return createHash("sha256").update(canonicalJson({ stream_seq, type, payload, ts_ms, prev_hash })).digest("hex");
}

/** The fact that follows `prev` (or starts the stream). */
export function chainFact(prev: { stream_seq: number; hash: string }, type: SyncFactType, payload: JsonObject, tsMs: number): SyncFact {
  const draft = { stream_seq: prev.stream_seq + 1, type, payload, ts_ms: tsMs, prev_hash: prev.hash };
  return { ...draft, hash: factHash(draft) };
}

/** The subaccount or entity a fact is about, for messages and conflict records. */
export function factSubject(fact: SyncFact): string {
  const p = fact.payload;
  switch (fact.type) {
    case "EntityRegistered":
      return `entity ${String(p.entity)}`;
    case "SubaccountCreated":
      return `subaccount ${String(p.entity)}_${String(p.id)} (uuid ${String(p.uuid)})`;
    case "SubaccountEliminated":
    case "SubaccountReinstated":
      return `subaccount ${String(p.synthetic_hotkey)}`;
    case "MothershipChanged":
      return `mothership ${String(p.from)} -> ${String(p.to)}`;
  }
}
