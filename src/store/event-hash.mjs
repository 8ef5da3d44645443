// The one definition of an event's hash, shared by the TypeScript store and the chain-check
// thread (plain JavaScript, so it loads without a TS loader).
import { hash } from "node:crypto";

export const GENESIS_HASH = "0".repeat(64);

/**
 * sha256 over the previous hash and the stored bytes of every column, as lowercase hex.
 * A changed byte anywhere in a row, or a row moved, dropped or inserted, breaks the chain there.
 */
export function hashEventFields(prevHash, seq, block, ts, type, signer, signature, payload) {
  return hash("sha256", `${prevHash}\n${seq}\n${block}\n${ts}\n${type}\n${signer ?? ""}\n${signature ?? ""}\n${payload}`);
}
