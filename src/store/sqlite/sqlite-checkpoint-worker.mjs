// Copies committed WAL frames back into the main database file on its own thread and connection,
// so the commit thread never pays for checkpoints inside a commit. PASSIVE never blocks the
// writer; the commit connection has automatic checkpoints turned off.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const db = new Database(workerData.path, { fileMustExist: true });
db.pragma("synchronous = FULL");
let stopping = false;
const timer = setInterval(() => {
  if (stopping) return;
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch {
    // A full disk can stop the main file from growing: the frames stay in the WAL (committed and
    // durable there) and the next interval tries again.
  }
}, workerData.intervalMs);

parentPort.on("message", (message) => {
  if (message.type === "close") {
    stopping = true;
    clearInterval(timer);
    db.close();
    parentPort.postMessage({ type: "closed" });
  }
});
parentPort.postMessage({ type: "ready" });
