import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { initSync, tld } from "@ideallabs/timelock_wasm_wrapper";
import { hexToU8a } from "@polkadot/util";
import { sha256AsU8a } from "@polkadot/util-crypto";
import { QUICKNET } from "./timelock-reveal-round.ts";

/**
 * Timelock encryption to a drand quicknet round, in the layout Subtensor decrypts
 * (`TLECiphertext<TinyBLS381>` with AES-GCM, ark-serialize compressed), with
 * `@ideallabs/timelock_wasm_wrapper` (a wasm build of the same `timelock` crate the chain uses).
 * The identity is sha256 of the round as a big-endian u64, as bittensor-drand and the chain's
 * reveal derive it; the 32-byte AES key is fresh from the OS for every commit.
 */

/** A timelock encryption or decryption failed. */
export class TimelockFailed extends Error {
  override readonly name = "TimelockFailed";
  readonly code = "TimelockFailed";
}

/** sha256(u64 big-endian round): the IBE identity whose key is quicknet's signature of that round. */
export function quicknetIdentity(round: number | bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(round), false);
  return sha256AsU8a(bytes);
}

/** Largest time one encryption may take on its thread before it counts as failed. */
const ENCRYPT_TIMEOUT_MS = 30_000;

/**
 * Encrypts `message` so that it opens with quicknet's signature of `round`. Runs on a thread of
 * its own (started for this call and stopped after it): the wasm takes 15-30 ms, and weights are
 * committed once a tempo, so a standing thread would buy nothing.
 */
export async function timelockEncrypt(message: Uint8Array, round: number | bigint): Promise<Uint8Array> {
  const request = {
    identity: quicknetIdentity(round),
    message: Uint8Array.from(message),
    secretKey: new Uint8Array(randomBytes(32)),
    publicKey: hexToU8a(`0x${QUICKNET.publicKeyHex}`),
  };
  const worker = new Worker(new URL("./timelock-worker.mjs", import.meta.url));
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimelockFailed(`timelock encryption took over ${ENCRYPT_TIMEOUT_MS} ms`)), ENCRYPT_TIMEOUT_MS);
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        settle();
      };
      worker.on("message", (reply: { ready?: true; ciphertext?: Uint8Array; error?: string }) => {
        if (reply.ready) worker.postMessage(request);
        else if (reply.ciphertext) done(() => resolve(reply.ciphertext as Uint8Array));
        else done(() => reject(new TimelockFailed(`timelock encryption failed: ${reply.error ?? "no answer"}`)));
      });
      worker.once("error", (error) => done(() => reject(new TimelockFailed(`the timelock thread failed: ${error.message}`))));
      worker.once("exit", (code) => done(() => reject(new TimelockFailed(`the timelock thread stopped (exit ${code}) before answering`))));
    });
  } finally {
    void worker.terminate();
  }
}

let wasmReady = false;

/**
 * Opens a ciphertext with quicknet's BLS signature of its round (48 bytes, compressed G1), as the
 * chain's reveal does. In-process and synchronous (~10 ms): for tests and operator checks, never
 * on the writer.
 */
export function timelockDecrypt(ciphertext: Uint8Array, signature: Uint8Array): Uint8Array {
  if (!wasmReady) {
    const require = createRequire(import.meta.url);
    initSync({ module: readFileSync(require.resolve("@ideallabs/timelock_wasm_wrapper/timelock_wasm_wrapper_bg.wasm")) });
    wasmReady = true;
  }
  try {
    return Uint8Array.from(tld(ciphertext, signature, "bls12_381") as number[]);
  } catch (error) {
    throw new TimelockFailed(`timelock decryption failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
