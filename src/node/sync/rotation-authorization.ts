import type { JsonObject } from "../../core/machine/event.ts";
import type { SyncFact } from "../../core/sync/sync-fact.ts";
import { epistulaMessage, sha256hex, verifySignature } from "../../epistula/epistula.ts";

/**
 * Root's request that rotated the mothership, carried in the MothershipChanged fact, so that every
 * follower checks the rotation was root's and not only the outgoing mothership's word.
 */
export interface RotationAuthorization {
  signer: string;
  uuid: string;
  timestamp: string;
  signed_for: string;
  body: string;
  signature: string;
}

/** Whether the fact carries root's signed request for exactly this rotation. */
export function verifyRotation(fact: SyncFact, root: string): boolean {
  const a = fact.payload.authorization as unknown as Partial<RotationAuthorization> | undefined;
  if (!a || a.signer !== root || typeof a.body !== "string" || typeof a.uuid !== "string" || typeof a.timestamp !== "string" || typeof a.signature !== "string") return false;
  const message = epistulaMessage(sha256hex(a.body), a.uuid, a.timestamp, typeof a.signed_for === "string" ? a.signed_for : "");
  if (!verifySignature(root, message, a.signature)) return false;
  let body: JsonObject;
  try {
    body = JSON.parse(a.body) as JsonObject;
  } catch {
    return false;
  }
  return body.to === fact.payload.to && body.at_stream_seq === fact.payload.at_stream_seq;
}
