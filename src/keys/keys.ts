import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { u8aToHex } from "@polkadot/util";
import { checkAddress, cryptoWaitReady, keyExtractSuri, mnemonicGenerate, mnemonicValidate, randomAsU8a } from "@polkadot/util-crypto";
import englishWords from "@polkadot/util-crypto/mnemonic/wordlists/en";

export const SS58_PREFIX = 42;
export const DEV_ACCOUNT_NAMES = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"] as const;

let ready: Promise<boolean> | null = null;

/** sr25519 runs in WASM; every key operation waits for it once. */
export function cryptoReady(): Promise<boolean> {
  ready ??= cryptoWaitReady();
  return ready;
}

function keyring(): Keyring {
  return new Keyring({ type: "sr25519", ss58Format: SS58_PREFIX });
}

/** The public Substrate development accounts: name -> SS58. Anyone can sign as them. */
export function devAccounts(): Map<string, string> {
  const k = keyring();
  return new Map(DEV_ACCOUNT_NAMES.map((name) => [name, k.addFromUri(`//${name}`).address]));
}

export function isSs58(address: string): boolean {
  try {
    return checkAddress(address, SS58_PREFIX)[0];
  } catch {
    return false;
  }
}

export class KeyError extends Error {
  override readonly name = "KeyError";
}

/**
 * A signing key from `//Uri` (devnet only) or a key file holding a secret URI (mnemonic or 0x
 * seed). Key files must not be readable by group or others. Nothing here prints a secret.
 */
export function loadKey(spec: string): KeyringPair {
  if (spec.startsWith("//")) return keyring().addFromUri(spec);
  if (!existsSync(spec)) throw new KeyError(`key file ${spec} does not exist`);
  const mode = statSync(spec).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new KeyError(`key file ${spec} has mode 0${mode.toString(8)}; it must be 0600 (chmod 600 ${spec})`);
  }
  const secret = readFileSync(spec, "utf8").trim();
  const problem = secretProblem(secret);
  if (problem) throw new KeyError(`key file ${spec} ${problem}; refusing it rather than signing as some other account`);
  try {
    return keyring().addFromUri(secret);
  } catch {
    throw new KeyError(`key file ${spec} does not hold a valid secret URI (mnemonic or 0x seed)`);
  }
}

const MNEMONIC_LENGTHS = [12, 15, 18, 21, 24];
let wordSet: Set<string> | null = null;

/**
 * Why a secret URI is not one a wallet made, or null. The keyring derives an account from any
 * phrase (a typo'd or made-up mnemonic gives a valid but different account), so a mnemonic must
 * be BIP39: known words, a standard length, a matching checksum. Never quotes the secret.
 */
export function secretProblem(secret: string): string | null {
  // A development account (//Alice) written to a file: the public dev phrase, a valid mnemonic.
  if (secret.startsWith("//")) return null;
  let phrase: string;
  try {
    phrase = keyExtractSuri(secret).phrase;
  } catch {
    return "does not hold a valid secret URI (a mnemonic or a 0x seed, optionally with a //derivation path)";
  }
  if (phrase.startsWith("0x")) {
    return /^0x[0-9a-fA-F]{64}$/.test(phrase) ? null : "holds a 0x seed that is not 32 bytes of hex (0x and 64 hex digits)";
  }
  const words = phrase.split(/\s+/).filter((w) => w !== "");
  if (!MNEMONIC_LENGTHS.includes(words.length)) {
    return `holds ${words.length} word(s); a BIP39 mnemonic has 12, 15, 18, 21 or 24`;
  }
  wordSet ??= new Set(englishWords);
  const unknown = words.findIndex((w) => !wordSet?.has(w));
  if (unknown >= 0) return `holds a mnemonic whose word ${unknown + 1} is not in the BIP39 English word list`;
  if (!mnemonicValidate(words.join(" "))) {
    return "holds a mnemonic whose BIP39 checksum does not match (a word is wrong, missing or out of order)";
  }
  return null;
}

/** The node's own key: DIR/node-key, created on first start with mode 0600. */
export function loadOrCreateNodeKey(dataDir: string): KeyringPair {
  const path = join(dataDir, "node-key");
  if (!existsSync(path)) writeFileSync(path, `${u8aToHex(randomAsU8a(32))}\n`, { mode: 0o600, flag: "wx" });
  return loadKey(path);
}

/**
 * A new key: a fresh 12-word mnemonic written to `path` with mode 0600. Never overwrites (a key
 * file may be the only copy of a secret). Call after `cryptoReady()`.
 */
export function newMnemonicKeyFile(path: string): KeyringPair {
  const mnemonic = mnemonicGenerate(12);
  try {
    writeFileSync(path, `${mnemonic}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new KeyError(`${path} already exists; refusing to overwrite a key file`);
    throw new KeyError(`cannot write key file ${path}: ${code === "ENOENT" ? "no such directory" : (error as Error).message}`);
  }
  return keyring().addFromUri(mnemonic);
}
