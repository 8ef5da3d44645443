// A timelock encryption thread: one Boneh-Franklin IBE encryption costs 15-30 ms of wasm, longer
// than the writer may ever be held (DESIGN.md §2 rule 8), so it runs here. Plain JavaScript so it
// loads without a TS loader; the caller (timelock-encrypt.ts) derives every input.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parentPort } from "node:worker_threads";
import { initSync, tle } from "@ideallabs/timelock_wasm_wrapper";

const require = createRequire(import.meta.url);
initSync({ module: readFileSync(require.resolve("@ideallabs/timelock_wasm_wrapper/timelock_wasm_wrapper_bg.wasm")) });

parentPort.on("message", ({ identity, message, secretKey, publicKey }) => {
  try {
    const ciphertext = Uint8Array.from(tle(identity, message, secretKey, publicKey, "bls12_381"));
    parentPort.postMessage({ ciphertext }, [ciphertext.buffer]);
  } catch (error) {
    parentPort.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});
parentPort.postMessage({ ready: true });
