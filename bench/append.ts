import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TAO } from "../src/core/ledger/asset.ts";
import type { EventDraft } from "../src/core/machine/event.ts";
import { EventLog } from "../src/node/event-log.ts";
import { PropnetNode } from "../src/node/node.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.ts";
import { GENESIS_HASH } from "../src/store/stored-event.ts";
import { ThreadedSqliteStore } from "../src/store/sqlite/threaded-sqlite-store.ts";
import { percentile } from "./http-bench.ts";

const OWNERS = Array.from({ length: 64 }, (_, i) => `5${String(i).padStart(3, "0")}${"x".repeat(44)}`);

/** One small transfer among 64 accounts: the event the append benches write. */
export function transferDraft(i: number): EventDraft {
  return {
    type: "Transferred",
    version: 1,
    payload: { asset: "TAO", from: OWNERS[i % 64] as string, to: OWNERS[(i * 7 + 3) % 64] as string, amount_rao: String(i + 1) },
  };
}

/**
 * Durable appends (synchronous=FULL: every commit is fsynced) with group commit, against one
 * transaction per event; then commands end to end through the writer with many clients waiting.
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const events = Number(args.events ?? 300_000);
  const batch = Number(args.batch ?? 2_000);
  const root = mkdtempSync(join(tmpdir(), "propnet-bench-append-"));
  try {
    // 1. The log alone, as the writer drives it: seal a group (JSON, hash chain) on this thread
    //    while the previous group commits on the commit thread; two groups in flight at most.
    const grouped = await ThreadedSqliteStore.open(join(root, "grouped.sqlite"));
    const log = new EventLog(grouped, { seq: 0, hash: GENESIS_HASH });
    const commitMs: number[] = [];
    const handoffMs: number[] = [];
    let t = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < events; i += batch) {
      const rows = [];
      for (let k = i; k < Math.min(events, i + batch); k++) {
        rows.push(log.seal(transferDraft(k), { block: 0, ts: 1_767_225_600_000 + k }));
      }
      const c = performance.now();
      inFlight.push(
        log.append(rows).then((receipt) => {
          commitMs.push(receipt.transactionMs);
          handoffMs.push(performance.now() - c);
        }),
      );
      if (inFlight.length >= 2) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const groupedPerS = events / ((performance.now() - t) / 1000);
    await grouped.close();
    const bytes = SqliteStore.sizeOnDisk(join(root, "grouped.sqlite"));

    // 2. Baseline: one transaction (one fsync) per event, on this thread.
    const single = SqliteStore.open(join(root, "single.sqlite"));
    const singleLog = new EventLog(single, { seq: 0, hash: GENESIS_HASH });
    const singleCount = Math.min(events, 5_000);
    t = performance.now();
    for (let k = 0; k < singleCount; k++) single.appendSync([singleLog.seal(transferDraft(k), { block: 0, ts: 1_767_225_600_000 + k })]);
    const singlePerS = singleCount / ((performance.now() - t) / 1000);
    single.closeSync();

    // 3. Commands end to end: `clients` callers each waiting for their acknowledgement.
    const clients = Number(args.clients ?? 512);
    const commands = Number(args.commands ?? 200_000);
    const node = await PropnetNode.open({
      dataDir: join(root, "node"),
      genesis: OWNERS.map((owner) => ({ owner, amount_rao: 10n ** 14n })),
      snapshotEvery: 1e12,
    });
    const latencies = new Float64Array(commands);
    let issued = 0;
    const client = async () => {
      while (issued < commands) {
        const i = issued++;
        const s = performance.now();
        const outcome = await node.submit({
          command: {
            kind: "transfer",
            asset: TAO,
            from: OWNERS[i % 64] as string,
            to: OWNERS[(i * 7 + 3) % 64] as string,
            amount_rao: 1n,
          },
        });
        if (!outcome.ok) throw outcome.error;
        latencies[i] = performance.now() - s;
      }
    };
    t = performance.now();
    await Promise.all(Array.from({ length: clients }, client));
    const commandsPerS = commands / ((performance.now() - t) / 1000);
    await node.close({ snapshot: false });
    latencies.sort();
    const commits = Float64Array.from(commitMs).sort();

    return {
      events,
      batch,
      durable_append_events_per_s: Math.round(groupedPerS),
      commit_ms_p50: Number(percentile(commits, 0.5).toFixed(2)),
      commit_ms_p90: Number(percentile(commits, 0.9).toFixed(2)),
      commit_ms_p99: Number(percentile(commits, 0.99).toFixed(2)),
      commit_ms_max: Number(percentile(commits, 1).toFixed(2)),
      handoff_to_durable_ms_p99: Number(percentile(Float64Array.from(handoffMs).sort(), 0.99).toFixed(2)),
      one_tx_per_event_per_s: Math.round(singlePerS),
      ratio_group_vs_single: Number((groupedPerS / singlePerS).toFixed(1)),
      bytes_per_event: Math.round(bytes / events),
      commands,
      clients,
      commands_per_s: Math.round(commandsPerS),
      ack_latency_ms_p50: Number(percentile(latencies, 0.5).toFixed(2)),
      ack_latency_ms_p99: Number(percentile(latencies, 0.99).toFixed(2)),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
