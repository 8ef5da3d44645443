// The SQLite commit thread: owns the write connection, so inserts and fsync never block the
// node's event loop (DESIGN.md §2 rule 8). Plain JavaScript so it loads without a TS loader;
// its SQL comes from sqlite-store.ts through workerData, so the schema lives in one place.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const db = new Database(workerData.path);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
const insert = db.prepare(workerData.insertSql);
const setHead = db.prepare(workerData.setHeadSql);
const appendBatch = db.transaction((rows) => {
  for (const row of rows) insert.run(row);
  const last = rows[rows.length - 1];
  setHead.run(last[0], last[7]);
});

parentPort.on("message", (message) => {
  if (message.type === "append") {
    try {
      appendBatch(message.rows);
      parentPort.postMessage({ type: "committed", id: message.id });
    } catch (error) {
      parentPort.postMessage({ type: "failed", id: message.id, message: String(error?.message ?? error) });
    }
  } else if (message.type === "close") {
    // Fold the WAL back into the main file, so a clean stop leaves one self-contained file.
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
    parentPort.postMessage({ type: "closed" });
  }
});
parentPort.postMessage({ type: "ready" });
