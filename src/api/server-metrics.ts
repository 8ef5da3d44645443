import { Counter, Gauge, type Registry } from "prom-client";
import { account, head } from "../core/chain/chain-state.ts";
import { alpha, TAO } from "../core/ledger/asset.ts";
import type { State } from "../core/machine/state.ts";
import type { ConnectionLimits } from "./connection-limits.ts";

/** The chain's figures /metrics shows, read from committed state when scraped. */
export interface ChainFigures {
  block: number;
  issuanceRao: bigint;
  subnets: Array<{ netuid: number; pendingRao: bigint; paused: boolean }>;
}

/** Cheap: a map lookup per figure and one pass over the subnets (a handful). */
export function chainFigures(state: State): ChainFigures {
  const { ledger } = state;
  const subnets = state.chain.subnets.sortedEntries().map(([netuid, s]) => {
    const a = alpha(netuid);
    const pendingRao =
      ledger.balanceOf(a, account.pendingServer(netuid)) + ledger.balanceOf(a, account.pendingValidator(netuid)) + ledger.balanceOf(a, account.pendingOwnerCut(netuid));
    return { netuid, pendingRao, paused: s.paused };
  });
  return { block: head(state.chain).block, issuanceRao: ledger.totals(TAO).issuance, subnets };
}

/** What the HTTP process holds in memory that /metrics should show beside the node's own figures. */
export interface ServerGauges {
  connections: ConnectionLimits;
  /** Live session tokens. */
  sessions: () => number;
  /** Consumed Epistula uuids remembered. */
  uuids: () => number;
  /** Idempotency keys remembered (24 hours each). */
  idempotencyKeys: () => number;
  /** The chain's figures from committed state (through node.read); null while they cannot be read. */
  chain?: () => Promise<ChainFigures | null>;
}

const NAMES = [
  "propnet_http_connections",
  "propnet_http_connections_refused_total",
  "propnet_sessions",
  "propnet_epistula_uuids",
  "propnet_idempotency_keys",
  "propnet_process_memory_bytes",
  "propnet_block_height",
  "propnet_total_issuance_rao",
  "propnet_pending_emission_rao",
  "propnet_subnet_emission_paused",
  "propnet_paused_subnets",
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
  });  if (g.chain) exposeChainGauges(registers, g.chain);
}

function exposeChainGauges(registers: Registry[], read: () => Promise<ChainFigures | null>): void {
  // A scrape starts every collect() in one turn: they share the read while it is pending.
  let pending: Promise<ChainFigures | null> | null = null;
  const figures = (): Promise<ChainFigures | null> => {
    pending ??= read()
      .catch(() => null)
      .finally(() => {
        pending = null;
      });
    return pending;
  };
  new Gauge({
    name: "propnet_block_height",
    help: "The chain head's block number (committed state)",
    registers,
    async collect() {
      const f = await figures();
      if (f) this.set(f.block);
    },
  });
  new Gauge({
    name: "propnet_total_issuance_rao",
    help: "TAO total issuance in rao (a float: exact below 2^53 rao)",
    registers,
    async collect() {
      const f = await figures();
      if (f) this.set(Number(f.issuanceRao));
    },
  });
  new Gauge({
    name: "propnet_pending_emission_rao",
    help: "Alpha emission pending until the subnet's next epoch (server + validator + owner cut), in the subnet's alpha rao",
    labelNames: ["netuid"],
    registers,
    async collect() {
      const f = await figures();
      if (!f) return;
      this.reset();
      for (const s of f.subnets) this.set({ netuid: String(s.netuid) }, Number(s.pendingRao));
    },
  });
  new Gauge({
    name: "propnet_subnet_emission_paused",
    help: "1 while a subnet's emission is paused by a critical invariant violation, else 0",
    labelNames: ["netuid"],
    registers,
    async collect() {
      const f = await figures();
      if (!f) return;
      this.reset();
      for (const s of f.subnets) this.set({ netuid: String(s.netuid) }, s.paused ? 1 : 0);
    },
  });
  new Gauge({
    name: "propnet_paused_subnets",
    help: "Subnets whose emission is paused",
    registers,
    async collect() {
      const f = await figures();
      if (f) this.set(f.subnets.filter((s) => s.paused).length);
    },
  });
}
