// A signature thread: verifies sr25519 signatures with @polkadot/wasm-crypto off the event loop.
// Plain JavaScript so it loads without a TS loader. A batch is one buffer per field, so a message
// of many signatures costs one structured clone; the reply is one byte per signature.
import { parentPort } from "node:worker_threads";
import { sr25519Verify, waitReady } from "@polkadot/wasm-crypto";

await waitReady();
const OPEN = Buffer.from("<Bytes>");
const CLOSE = Buffer.from("</Bytes>");

function verify(signature, message, publicKey) {
  try {
    return sr25519Verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

parentPort.on("message", ({ id, signatures, publicKeys, messages, ends }) => {
  const n = ends.length;
  const ok = new Uint8Array(n);
  let start = 0;
  for (let i = 0; i < n; i++) {
    const signature = signatures.subarray(i * 64, i * 64 + 64);
    const publicKey = publicKeys.subarray(i * 32, i * 32 + 32);
    const message = messages.subarray(start, ends[i]);
    // The raw message, or the <Bytes> wrapping that wallet extensions add.
    ok[i] = verify(signature, message, publicKey) || verify(signature, Buffer.concat([OPEN, message, CLOSE]), publicKey) ? 1 : 0;
    start = ends[i];
  }
  parentPort.postMessage({ id, ok }, [ok.buffer]);
});
parentPort.postMessage({ ready: true });
