// Checks the hash chain of a range of the log on its own thread and read-only connection, so
// replay can apply events on the main thread at the same time. SQLite builds each row's hash
// preimage (PREIMAGE_SUFFIX_SQL), which reads far cheaper than eight separate columns.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { hashWithSuffix, PREIMAGE_SUFFIX_SQL } from "../event-hash.mjs";

const { path, after, prevHash, until, storedPrevHash } = workerData;
let seq = after;
let prev = prevHash;
const broken = (at, message) => Object.assign(new Error(message), { seq: at });
try {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const page = db
    // A log not yet migrated (opened read-only) has no prev_hash column: the chain alone is checked.
    .prepare(`SELECT seq, hash, ${PREIMAGE_SUFFIX_SQL}, ${storedPrevHash ? "prev_hash" : "NULL"} FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`)
    .raw(true);
  for (;;) {
    const rows = page.all(seq, until, 10_000);
    if (rows.length === 0) break;
    for (const [s, stored, suffix, storedPrev] of rows) {
      if (s !== seq + 1) throw broken(seq + 1, `event log is missing seq ${seq + 1}`);
      // The stored prev_hash is outside the hash preimage, so it is compared with the chain here.
      if (storedPrev !== null && storedPrev !== prev) throw broken(s, `event at seq ${s} was altered: its prev_hash is not the hash of seq ${seq}`);
      if (hashWithSuffix(prev, suffix) !== stored) {
        throw broken(s, `event at seq ${s} was altered: its bytes do not match its hash (or the chain before it is broken)`);
      }
      seq = s;
      prev = stored;
    }
    parentPort.postMessage({ type: "progress", seq });
  }
  db.close();
  if (seq !== until) throw broken(seq + 1, `event log is missing seq ${seq + 1}`);
  parentPort.postMessage({ type: "done", seq, hash: prev });
} catch (error) {
  parentPort.postMessage({ type: "broken", seq: error.seq ?? seq + 1, message: String(error.message ?? error) });
}
