import { FAULT_KINDS, type FaultKind, replayCommand, type SeedReport, type SimOptions } from "./fault-sim.ts";

const add = (into: Record<string, number>, from: Partial<Record<string, number>>) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + (v ?? 0);
};

const list = (r: Record<string, number>) =>
  Object.entries(r)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k} ${v}`)
    .join(", ") || "none";

/** The figures of a run of seeds: what was injected, what was checked, what failed and how to replay it. */
export class SimSummary {
  seeds = 0;
  readonly failed: SeedReport[] = [];
  readonly faults: Record<string, number> = {};
  readonly sent: Record<string, number> = {};
  readonly refused: Record<string, number> = {};
  readonly invalid: Record<string, number> = {};
  readonly types: Record<string, number> = {};
  restarts = 0;
  rebuilds = 0;
  checked = 0;
  acked = 0;
  unanswered = 0;
  retried = 0;
  events = 0;
  blocks = 0;
  weightRounds = 0;
  readonly #started = performance.now();

  constructor(readonly options: Pick<SimOptions, "steps" | "faults" | "threaded"> = {}) {}

  add(r: SeedReport): void {
    this.seeds++;
    if (!r.ok) this.failed.push(r);
    add(this.faults, r.faults);
    add(this.sent, r.stats.sent);
    add(this.refused, r.stats.refused);
    add(this.invalid, r.stats.invalid);
    add(this.types, r.types);
    this.restarts += r.restarts;
    this.rebuilds += r.rebuilds;
    this.checked += r.checked;
    this.acked += r.stats.acked;
    this.unanswered += r.stats.unanswered;
    this.retried += r.stats.retried;
    this.events += r.events;
    this.blocks += r.stats.blocks;
    this.weightRounds += r.stats.weightRounds;
  }

  get faultsInjected(): number {
    return Object.values(this.faults).reduce((s, n) => s + n, 0);
  }

  /** Fault kinds no seed injected (a run long enough injects every kind). */
  get faultKindsMissing(): FaultKind[] {
    return FAULT_KINDS.filter((k) => !this.faults[k]);
  }

  get ms(): number {
    return Math.round(performance.now() - this.#started);
  }

  format(): string {
    const sent = Object.values(this.sent).reduce((s, n) => s + n, 0);
    const lines = [
      `fault simulator: ${this.seeds} seeds, ${this.failed.length} failed, ${(this.ms / 1000).toFixed(1)} s (${Math.round(this.ms / Math.max(1, this.seeds))} ms a seed)`,
      `  faults injected: ${this.faultsInjected} (${list(this.faults)})`,
      `  restarts: ${this.restarts}; in-process rebuilds after a full disk: ${this.rebuilds}; acknowledged requests checked in the log: ${this.checked} (summed over every check)`,
      `  requests sent: ${sent}; acknowledged ${this.acked}; unanswered at a crash ${this.unanswered}, retried ${this.retried}; refused by the rules: ${list(this.refused)}`,
      `  invalid commands refused with nothing changed: ${Object.values(this.invalid).reduce((s, n) => s + n, 0)} (${list(this.invalid)})`,
      `  events in the final logs: ${this.events}; blocks ${this.blocks}; weight rounds ${this.weightRounds}`,
      `  by type: ${list(this.types)}`,
    ];
    for (const r of this.failed) {
      lines.push(`  FAILED seed ${r.seed}: replay with \`${replayCommand(r.seed, this.options)}\``);
      for (const p of r.problems.slice(0, 5)) lines.push(`    - ${p.split("\n")[0]}`);
    }
    return lines.join("\n");
  }
}
