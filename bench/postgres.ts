import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { EventLog } from "../src/node/event-log.ts";
import { openStore } from "../src/store/open-store.ts";
import type { Store, StoreConfig } from "../src/store/store.ts";
import { GENESIS_HASH } from "../src/store/stored-event.ts";
import { transferDraft } from "./append.ts";
import { percentile } from "./http-bench.ts";

interface Run {
  perS: number;
  commitP50: number;
  commitP99: number;
}

/**
 * The writer's pattern: seal a batch (JSON, hash chain) on this thread and hand it to the store
 * while earlier batches commit, at most `inflight` outstanding. On PostgreSQL the batches that
 * queue behind a commit go together in the next transaction (group commit).
 */
async function drive(store: Store, events: number, batch: number, inflight: number): Promise<Run> {
  const log = new EventLog(store, { seq: 0, hash: GENESIS_HASH });
  const commitMs: number[] = [];
  const pending: Promise<void>[] = [];
  const t = performance.now();
  for (let i = 0; i < events; i += batch) {
    const rows = [];
    for (let k = i; k < Math.min(events, i + batch); k++) rows.push(log.seal(transferDraft(k), { block: 0, ts: 1_767_225_600_000 + k }));
    pending.push(log.append(rows).then((r) => void commitMs.push(r.transactionMs)));
    if (pending.length >= inflight) await pending.shift();
  }
  await Promise.all(pending);
  const perS = events / ((performance.now() - t) / 1000);
  const sorted = Float64Array.from(commitMs).sort();
  return { perS, commitP50: percentile(sorted, 0.5), commitP99: percentile(sorted, 0.99) };
}

/**
 * `npm run bench -- postgres`: durable appends (synchronous_commit on; SQLite synchronous=FULL)
 * through openStore on both backends in the same run. Floor (issue #11): 20,000 events/s on
 * PostgreSQL. The server at --url must have fsync on for the figure to mean anything; it is reported.
 * Then three `propnet serve` processes on one schema: signed orders/s through three against one, and
 * failover time over 20 writer kills (bench/cluster.ts, also `npm run bench -- cluster`).
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const events = Number(args.events ?? 200_000);
  const batch = Number(args.batch ?? 500);
  const inflight = Number(args.inflight ?? 8);
  const url = args.url ?? process.env.PROPNET_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const schema = `propnet_bench_${process.pid}`;
  const root = mkdtempSync(join(tmpdir(), "propnet-bench-postgres-"));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const setting = async (name: string) => (await admin.query(`SHOW ${name}`)).rows[0]?.[name] as string;
    const server = {
      version: (await setting("server_version")).split(" ")[0],
      fsync: await setting("fsync"),
      wal_sync_method: await setting("wal_sync_method"),
    };

    const measure = async (config: StoreConfig, n = events, depth = inflight) => {
      const store = await openStore(config);
      try {
        return await drive(store, n, batch, depth);
      } finally {
        await store.close();
      }
    };
    const postgres = await measure({ backend: "postgres", url, schema });
    const tx = await admin.query<{ n: string }>(`SELECT count(DISTINCT xmin::text) AS n FROM ${schema}.events`);
    const transactions = Number(tx.rows[0]?.n);
    const bytes = await admin.query<{ n: string }>(`SELECT pg_total_relation_size('${schema}.events') AS n`);
    // Baseline: the same batches one at a time (nothing queues, so nothing is grouped).
    const single = await measure({ backend: "postgres", url, schema: `${schema}_single` }, Math.min(events, 50_000), 1);
    const sqlite = await measure({ backend: "sqlite", path: join(root, "log.sqlite") });
    // Several processes of one validator (issue #11): orders/s through three against one, failover
    // over 20 writer kills (bench/cluster.ts; `--cluster off` leaves it out).
    const cluster = args.cluster === "off" ? null : await (await import("./cluster.ts")).run(args);

    return {
      events,
      batch,
      inflight,
      server,
      postgres_durable_append_events_per_s: Math.round(postgres.perS),
      postgres_floor_events_per_s: 20_000,
      postgres_transactions: transactions,
      postgres_events_per_transaction: Math.round(events / transactions),
      postgres_commit_ms_p50: Number(postgres.commitP50.toFixed(2)),
      postgres_commit_ms_p99: Number(postgres.commitP99.toFixed(2)),
      postgres_bytes_per_event: Math.round(Number(bytes.rows[0]?.n) / events),
      postgres_one_batch_at_a_time_events_per_s: Math.round(single.perS),
      ratio_group_vs_one_at_a_time: Number((postgres.perS / single.perS).toFixed(2)),
      sqlite_durable_append_events_per_s: Math.round(sqlite.perS),
      sqlite_commit_ms_p50: Number(sqlite.commitP50.toFixed(2)),
      sqlite_commit_ms_p99: Number(sqlite.commitP99.toFixed(2)),
      ratio_postgres_vs_sqlite: Number((postgres.perS / sqlite.perS).toFixed(2)),
      ...(cluster ? { cluster } : {}),
    };
  } finally {
    for (const s of [schema, `${schema}_single`]) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => {});
    await admin.end();
    rmSync(root, { recursive: true, force: true });
  }
}
