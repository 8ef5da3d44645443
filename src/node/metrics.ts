import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { INVARIANTS } from "../core/invariants/invariant-table.ts";
import { assetName, TAO } from "../core/ledger/asset.ts";
import type { StoredEvent } from "../store/stored-event.ts";
import type { CommitStats } from "./writer.ts";

/** Told what the node committed and snapshotted (the node's logger listens here). */
export interface NodeObserver {
  /** Rows just made durable, in seq order; called in the commit path, so it must be quick. */
  committed?(rows: readonly StoredEvent[]): void;
  snapshotWritten?(seq: number): void;
}

/** The node's Prometheus metrics, one registry per node. */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly #commands = new Counter({
    name: "propnet_commands_total",
    help: "Commands executed, by outcome",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly #events = new Counter({
    name: "propnet_events_appended_total",
    help: "Events committed to the log",
    registers: [this.registry],
  });
  readonly #batch = new Histogram({
    name: "propnet_commit_batch_commands",
    help: "Commands per committed group",
    buckets: [1, 4, 16, 64, 256, 1024, 4096],
    registers: [this.registry],
  });
  readonly #commit = new Histogram({
    name: "propnet_commit_seconds",
    help: "From handing a group to the store to its durable acknowledgement",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  readonly #violations = new Counter({
    name: "propnet_critical_invariant_violations_total",
    help: "CriticalInvariantViolation events recorded",
    labelNames: ["invariant"],
    registers: [this.registry],
  });
  readonly #recycled = new Counter({
    name: "propnet_recycled_remainder_rao_total",
    help: "Rao recycled because a scope ended with a live credit (production mode)",
    labelNames: ["asset"],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "propnet_writer_queue_depth",
    help: "Commands waiting for the writer",
    registers: [this.registry],
  });
  readonly seq = new Gauge({ name: "propnet_log_seq", help: "Last committed seq", registers: [this.registry] });
  readonly #orders = new Counter({ name: "propnet_orders_total", help: "Orders committed", registers: [this.registry] });
  readonly #snapshots = new Counter({ name: "propnet_snapshots_total", help: "Snapshots written", registers: [this.registry] });
  readonly #observers = new Set<NodeObserver>();

  constructor() {
    // Labelled counters print 0 for their known labels before the first event, so a dashboard's
    // rate() and an alert's "> 0" see a series from the start.
    this.#commands.inc({ outcome: "ok" }, 0);
    this.#commands.inc({ outcome: "refused" }, 0);
    for (const invariant of Object.keys(INVARIANTS)) this.#violations.inc({ invariant }, 0);
    this.#recycled.inc({ asset: assetName(TAO) }, 0);
  }

  /** Adds an observer; returns what removes it. */
  observe(observer: NodeObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  snapshotWritten(seq: number): void {
    this.#snapshots.inc();
    for (const o of this.#observers) {
      try {
        o.snapshotWritten?.(seq);
      } catch {
        // An observer's failure never reaches the node.
      }
    }
  }
  readonly #requests = new Histogram({
    name: "propnet_http_request_seconds",
    help: "HTTP requests by route, method and status code, with their latency",
    labelNames: ["route", "method", "status"],
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 2],
    registers: [this.registry],
  });

  /** Gauges read from the state when scraped (subaccounts by status, held prices). */
  observeState(read: () => { active: number; eliminated: number; held: number }): void {
    // prom-client calls collect() on each scrape.
    new Gauge({
      name: "propnet_subaccounts",
      help: "Subaccounts by status",
      labelNames: ["status"],
      registers: [this.registry],
      collect() {
        const s = read();
        this.set({ status: "active" }, s.active);
        this.set({ status: "eliminated" }, s.eliminated);
      },
    });
    new Gauge({
      name: "propnet_held_prices",
      help: "Price ticks held by the 20% guard, awaiting root",
      registers: [this.registry],
      collect() {
        this.set(read().held);
      },
    });
  }

  /** Peer sync, read when scraped: the stream, recorded SYNC_CONFLICTs, pending eliminations, each peer's lag. */
  observeSync(read: () => { streamSeq: number; conflicts: number; pending: number; refusedBatches: number; peers: Array<{ url: string; lag: number | null }> }): void {
    const gauge = (name: string, help: string, pick: (s: ReturnType<typeof read>) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(pick(read()));
        },
      });
    gauge("propnet_sync_stream_seq", "Last mothership fact this node holds", (s) => s.streamSeq);
    gauge("propnet_sync_conflicts", "SYNC_CONFLICTs recorded (never applied)", (s) => s.conflicts);
    gauge("propnet_sync_pending_eliminations", "Subaccounts frozen on this follower until the mothership's elimination arrives", (s) => s.pending);
    gauge("propnet_sync_batches_refused", "Received batches refused since start (forged, tampered, not chaining)", (s) => s.refusedBatches);
    new Gauge({
      name: "propnet_sync_peer_lag",
      help: "Facts a peer is behind this node (negative: ahead); absent until it answered",
      labelNames: ["peer"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const p of read().peers) if (p.lag !== null) this.set({ peer: p.url }, p.lag);
      },
    });
  }

  request(route: string, method: string, status: number, seconds: number): void {
    this.#requests.observe({ route, method, status: String(status) }, seconds);
  }

  committed(stats: CommitStats, rows: readonly StoredEvent[], refused: number): void {
    this.#commands.inc({ outcome: "ok" }, stats.commands - refused);
    if (refused > 0) this.#commands.inc({ outcome: "refused" }, refused);
    this.#events.inc(stats.events);
    this.#batch.observe(stats.commands);
    this.#commit.observe(stats.commitMs / 1000);
    for (const row of rows) {
      if (row.type.startsWith("OrderPlaced@")) this.#orders.inc();
      else if (row.type.startsWith("CriticalInvariantViolation@")) {
        this.#violations.inc({ invariant: String((JSON.parse(row.payload) as { invariant: string }).invariant) });
      } else if (row.payload.includes('"remainders":')) {
        const remainders = (JSON.parse(row.payload) as { remainders?: [string, string][] }).remainders ?? [];
        for (const [asset, amount] of remainders) this.#recycled.inc({ asset }, Number(amount));
      }
    }
    if (rows.length === 0) return;
    for (const o of this.#observers) {
      try {
        o.committed?.(rows);
      } catch {
        // An observer's failure never reaches the writer.
      }
    }
  }
}
