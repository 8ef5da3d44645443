import { Counter, Gauge, type Registry } from "prom-client";
import type { ConnectionLimits } from "./connection-limits.ts";

/** What the HTTP process holds in memory that /metrics should show beside the node's own figures. */
export interface ServerGauges {
  connections: ConnectionLimits;
  /** Live session tokens. */
  sessions: () => number;
  /** Consumed Epistula uuids remembered. */
  uuids: () => number;
  /** Idempotency keys remembered (24 hours each). */
  idempotencyKeys: () => number;
}

const NAMES = [
  "propnet_http_connections",
  "propnet_http_connections_refused_total",
  "propnet_sessions",
  "propnet_epistula_uuids",
  "propnet_idempotency_keys",
  "propnet_process_memory_bytes",
] as const;

/**
 * Registers the gauges on a node's registry, read when scraped. A server built again over the same
 * node (tests do) replaces the previous server's gauges.
 */
export function exposeServerMetrics(registry: Registry, g: ServerGauges): void {
  for (const name of NAMES) registry.removeSingleMetric(name);
  const registers = [registry];
  new Gauge({
    name: "propnet_http_connections",
    help: "HTTP connections open now",
    registers,
    collect() {
      this.set(g.connections.open);
    },
  });
  new Counter({
    name: "propnet_http_connections_refused_total",
    help: "HTTP connections refused at accept, by the cap that refused them",
    labelNames: ["reason"],
    registers,
    collect() {
      // The counts live in ConnectionLimits; a counter read from them, set to their value.
      this.reset();
      for (const [reason, n] of Object.entries(g.connections.refused)) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: "propnet_sessions",
    help: "Live read-only session tokens",
    registers,
    collect() {
      this.set(g.sessions());
    },
  });
  new Gauge({
    name: "propnet_epistula_uuids",
    help: "Consumed Epistula uuids remembered (forgotten once outside the timestamp window)",
    registers,
    collect() {
      this.set(g.uuids());
    },
  });
  new Gauge({
    name: "propnet_idempotency_keys",
    help: "Idempotency keys remembered (24 hours each)",
    registers,
    collect() {
      this.set(g.idempotencyKeys());
    },
  });
  new Gauge({
    name: "propnet_process_memory_bytes",
    help: "Memory of this process, by kind (process.memoryUsage)",
    labelNames: ["kind"],
    registers,
    collect() {
      const m = process.memoryUsage();
      this.set({ kind: "rss" }, m.rss);
      this.set({ kind: "heap_used" }, m.heapUsed);
      this.set({ kind: "heap_total" }, m.heapTotal);
      this.set({ kind: "external" }, m.external);
      this.set({ kind: "array_buffers" }, m.arrayBuffers);
    },
  });
}
