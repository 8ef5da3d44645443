import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EventDraft } from "../src/core/machine/event.ts";
import { createState, exportState, hashSnapshot, stateHash } from "../src/core/machine/state.ts";
import { EventLog } from "../src/node/event-log.ts";
import { logPath, PropnetNode, snapshotDir } from "../src/node/node.ts";
import { recover } from "../src/node/recover.ts";
import { replay } from "../src/node/replay.ts";
import { SNAPSHOT_FORMAT, writeSnapshot } from "../src/store/snapshot-files.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.ts";
import { GENESIS_HASH } from "../src/store/stored-event.ts";
import { CODE_VERSION } from "../src/version.ts";

const OWNERS = Array.from({ length: 1_000 }, (_, i) => `5${String(i).padStart(4, "0")}${"x".repeat(43)}`);

/** A realistic mix: three transfers to one batch transfer of 2-6 legs, among 1,000 accounts. */
function draft(i: number): EventDraft {
  const from = OWNERS[(i * 31) % OWNERS.length] as string;
  if (i % 4 !== 3) {
    return {
      type: "Transferred",
      version: 1,
      payload: { asset: "TAO", from, to: OWNERS[(i * 7 + 3) % OWNERS.length] as string, amount_rao: String(1 + (i % 997)) },
    };
  }
  const legs = Array.from({ length: 2 + (i % 5) }, (_, k) => [
    OWNERS[(i + k * 13) % OWNERS.length] as string,
    String(1 + ((i + k) % 991)),
  ]);
  const total = legs.reduce((s, [, a]) => s + BigInt(a as string), 0n);
  return { type: "BatchTransferred", version: 1, payload: { asset: "TAO", from, total_rao: total.toString(), to: legs } };
}

export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const events = Number(args.events ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), "propnet-bench-replay-"));
  try {
    // Build the log directly (the events are exactly what the handlers emit for these commands).
    const store = SqliteStore.open(logPath(dir));
    const log = new EventLog(store, { seq: 0, hash: GENESIS_HASH });
    const genesis: EventDraft = {
      type: "GenesisEndowed",
      version: 1,
      payload: { endowments: OWNERS.map((o) => [o, "10000000000000"]) },
    };
    store.appendSync([log.seal(genesis, { block: 0, ts: 1_767_225_600_000 })]);
    for (let i = 1; i < events; i += 5_000) {
      const rows = [];
      for (let k = i; k < Math.min(events, i + 5_000); k++)
        rows.push(log.seal(draft(k), { block: Math.floor(k / 50), ts: 1_767_225_600_000 + k }));
      store.appendSync(rows);
    }
    store.closeSync();
    const bytes = SqliteStore.sizeOnDisk(logPath(dir));

    // Baseline: read every row and do nothing with it.
    const reader = SqliteStore.open(logPath(dir));
    let t = performance.now();
    for (let after = 0; ; ) {
      const page = await reader.read(after, 10_000);
      if (page.length === 0) break;
      after = page[page.length - 1]?.seq as number;
    }
    const rawReadPerS = events / ((performance.now() - t) / 1000);

    // Restart without a snapshot: every event applied, every hash checked (on a second thread).
    t = performance.now();
    const recovered = await recover(reader, join(dir, "no-snapshots"), { strict: false, codeVersion: CODE_VERSION });
    const replayMs = performance.now() - t;
    if (recovered.head.seq !== events) throw new Error(`replayed to ${recovered.head.seq}, expected ${events}`);
    const hash = stateHash(recovered.state);

    // verify's path: hashes checked inline and every ledger identity after every event.
    const state = createState();
    t = performance.now();
    await replay(state, reader, { seq: 0, hash: GENESIS_HASH }, { checkEveryEvent: true });
    const verifyMs = performance.now() - t;
    if (stateHash(state) !== hash) throw new Error("verify replay disagrees with restart replay");
    reader.closeSync();

    // Restart with a snapshot at the head: what a node does after a clean stop.
    const encoded = exportState(recovered.state);
    await writeSnapshot(snapshotDir(dir), {
      format: SNAPSHOT_FORMAT,
      code_version: CODE_VERSION,
      seq: recovered.head.seq,
      head_hash: recovered.head.hash,
      state_hash: hashSnapshot(encoded),
      created_ms: 0,
      state: encoded,
    });
    t = performance.now();
    const node = await PropnetNode.open({ dataDir: dir });
    const restartMs = performance.now() - t;
    if (stateHash(node.state) !== hash) throw new Error("restart from snapshot disagrees");
    t = performance.now();
    await node.audit;
    const auditMs = performance.now() - t;
    if (node.problems.length > 0) throw new Error(node.problems.join());
    await node.close({ snapshot: false });

    const replayPerS = events / (replayMs / 1000);
    return {
      events,
      bytes_per_event: Math.round(bytes / events),
      log_mb: Number((bytes / 2 ** 20).toFixed(1)),
      replay_events_per_s: Math.round(replayPerS),
      raw_read_rows_per_s: Math.round(rawReadPerS),
      ratio_replay_vs_raw_read: Number((replayPerS / rawReadPerS).toFixed(2)),
      verify_events_per_s: Math.round(events / (verifyMs / 1000)),
      restart_with_snapshot_ms: Math.round(restartMs),
      background_audit_ms_after_start: Math.round(auditMs),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
