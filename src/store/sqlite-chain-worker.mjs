// Checks the hash chain of a range of the log on its own thread and read-only connection, so
// replay can apply events on the main thread at the same time.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { hashEventFields } from "./event-hash.mjs";

const { path, after, prevHash, until, selectSql } = workerData;
let seq = after;
let prev = prevHash;
try {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const page = db.prepare(selectSql).raw(true);
  for (;;) {
    const rows = page.all(seq, until, 10_000);
    if (rows.length === 0) break;
    for (const r of rows) {
      // Columns: seq, block, ts, type, payload, signer, signature, hash.
      if (r[0] !== seq + 1) throw Object.assign(new Error(`event log is missing seq ${seq + 1}`), { seq: seq + 1 });
      if (hashEventFields(prev, r[0], r[1], r[2], r[3], r[5], r[6], r[4]) !== r[7]) {
        throw Object.assign(
          new Error(`event at seq ${r[0]} was altered: its bytes do not match its hash (or the chain before it is broken)`),
          { seq: r[0] },
        );
      }
      seq = r[0];
      prev = r[7];
    }
    parentPort.postMessage({ type: "progress", seq });
  }
  db.close();
  if (seq !== until) throw Object.assign(new Error(`event log is missing seq ${seq + 1}`), { seq: seq + 1 });
  parentPort.postMessage({ type: "done", seq, hash: prev });
} catch (error) {
  parentPort.postMessage({ type: "broken", seq: error.seq ?? seq + 1, message: String(error.message ?? error) });
}
