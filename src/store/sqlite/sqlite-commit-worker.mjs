// The SQLite commit thread: owns the write connection, so inserts and fsync never block the
// node's event loop (DESIGN.md §2 rule 8). Plain JavaScript so it loads without a TS loader;
// its SQL comes from sqlite-store.ts through workerData, so the schema lives in one place.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const db = new Database(workerData.path);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
// Checkpoints run on the checkpoint thread (sqlite-checkpoint-worker.mjs), not inside commits.
db.pragma("wal_autocheckpoint = 0");
const insert = db.prepare(workerData.insertSql);
// Rows go in 32 at a time through one multi-row statement: fewer statement steps per batch.
const MANY = 32;
// seq, block, ts, type, payload, signer, signature, hash, prev_hash
const FIELDS = 9;
const insertMany = db.prepare(
  workerData.insertSql.replace(/VALUES \((.*)\)$/, (_, one) => `VALUES ${Array(MANY).fill(`(${one})`).join(", ")}`),
);
const setHead = db.prepare(workerData.setHeadSql);
const insertCheckpoint = db.prepare(workerData.insertCheckpointSql);
// A batch is one string: rows end with \u0002, fields are separated by \u0001 (see
// threaded-sqlite-store.ts); an empty signer or signature is NULL.
const appendBatch = db.transaction((batch, checkpoints) => {
  // Closed perf checkpoints (trader \u0001 ts_ms \u0001 json \u0002) commit with the events that closed them.
  if (checkpoints) {
    const closed = checkpoints.split("\u0002");
    closed.pop();
    for (const c of closed) {
      const f = c.split("\u0001");
      insertCheckpoint.run(f[0], Number(f[1]), f[2]);
    }
  }
  const rows = batch.split("\u0002");
  rows.pop();
  let values = [];
  for (let i = 0; i < rows.length; i++) {
    const f = rows[i].split("\u0001");
    values.push(Number(f[0]), Number(f[1]), Number(f[2]), f[3], f[4], f[5] || null, f[6] || null, f[7], f[8]);
    if (values.length === MANY * FIELDS) {
      insertMany.run(...values);
      values = [];
    }
  }
  for (let i = 0; i < values.length; i += FIELDS) insert.run(...values.slice(i, i + FIELDS));
  const last = rows[rows.length - 1].split("\u0001");
  setHead.run(Number(last[0]), last[7]);
});

// After a failed batch nothing more is committed: the batches behind it continue its seqs, so
// committing one would leave a gap in the log. The node opens a new store to write again.
let failed = null;
parentPort.on("message", (message) => {
  if (message.type === "append") {
    if (failed) {
      parentPort.postMessage({ type: "failed", id: message.id, message: `an earlier batch failed: ${failed.message}`, code: failed.code });
      return;
    }
    try {
      const started = performance.now();
      appendBatch(message.batch, message.checkpoints);
      parentPort.postMessage({ type: "committed", id: message.id, ms: performance.now() - started });
    } catch (error) {
      // SQLite rolled the transaction back; its code (SQLITE_FULL, SQLITE_IOERR_...) tells a full disk apart.
      failed = { message: String(error?.message ?? error), code: typeof error?.code === "string" ? error.code : undefined };
      parentPort.postMessage({ type: "failed", id: message.id, ...failed });
    }
  } else if (message.type === "close") {
    // Fold the WAL back into the main file, so a clean stop leaves one self-contained file. On a
    // full disk this can fail: the WAL then stays (every commit is in it) and the next open reads it.
    try {
      db.pragma("wal_checkpoint(TRUNCATE)");
    } catch {
      // kept in the WAL
    }
    db.close();
    parentPort.postMessage({ type: "closed" });
  }
});
parentPort.postMessage({ type: "ready" });
