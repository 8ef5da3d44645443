// The one definition of an event's hash, shared by the TypeScript store and the chain-check
// thread (plain JavaScript, so it loads without a TS loader).
import { hash } from "node:crypto";

export const GENESIS_HASH = "0".repeat(64);

/**
 * sha256 over the previous hash and the stored bytes of every column, as lowercase hex:
 * `prev \n seq \n block \n ts \n type \n signer \n signature \n payload`.
 * A changed byte anywhere in a row, or a row moved, dropped or inserted, breaks the chain there.
 */
export function hashEventFields(prevHash, seq, block, ts, type, signer, signature, payload) {
  return hash("sha256", `${prevHash}\n${seq}\n${block}\n${ts}\n${type}\n${signer ?? ""}\n${signature ?? ""}\n${payload}`);
}

/**
 * The same preimage after `prev`, built by SQLite in C (one column instead of eight, for the
 * chain check). hash-preimage.test.ts proves it equals the form above.
 */
export const PREIMAGE_SUFFIX_SQL =
  "char(10) || seq || char(10) || block || char(10) || ts || char(10) || type || char(10) || " +
  "coalesce(signer, '') || char(10) || coalesce(signature, '') || char(10) || payload";

export function hashWithSuffix(prevHash, suffix) {
  return hash("sha256", prevHash + suffix);
}
