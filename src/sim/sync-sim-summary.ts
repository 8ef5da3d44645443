import { type NetStats, type SyncSeedReport, syncReplayCommand, type SyncSimOptions } from "./sync-sim.ts";

/** The figures of a run of sync-simulator seeds: what the network and the faults did, what failed and how to replay it. */
export class SyncSimSummary {
  seeds = 0;
  readonly failed: SyncSeedReport[] = [];
  readonly net: NetStats = { sent: 0, dropped: 0, duplicated: 0, delayed: 0, timeouts: 0, refusedDown: 0, partitioned: 0, tampered: 0 };
  readonly refused: Record<string, number> = {};
  facts = 0;
  followers = 0;
  partitions = 0;
  crashes = 0;
  restores = 0;
  restoresSkipped = 0;
  followerRestores = 0;
  rotations = 0;
  restoredFacts = 0;
  lostCommits = 0;
  refusedBatches = 0;
  acked = 0;
  virtualMs = 0;
  /** Wall time of the seeds themselves. */
  ms = 0;
  readonly #started = performance.now();

  constructor(readonly options: Pick<SyncSimOptions, "crypto" | "spanMs" | "alwaysRestore" | "noRotation"> = {}) {}

  add(r: SyncSeedReport): void {
    this.seeds++;
    if (!r.ok) this.failed.push(r);
    for (const k of Object.keys(this.net) as Array<keyof NetStats>) this.net[k] += r.net[k];
    for (const [k, v] of Object.entries(r.refused)) this.refused[k] = (this.refused[k] ?? 0) + v;
    this.facts += r.facts;
    this.followers += r.followers;
    this.partitions += r.partitions;
    this.crashes += r.crashes;
    this.restores += r.restores;
    this.restoresSkipped += r.restoresSkipped;
    this.followerRestores += r.followerRestores;
    this.rotations += r.rotations;
    this.restoredFacts += r.restoredFacts;
    this.lostCommits += r.lostCommits;
    this.refusedBatches += r.refusedBatches;
    this.acked += r.acked;
    this.virtualMs += r.virtualMs;
    this.ms += r.ms;
  }

  format(): string {
    const n = this.net;
    const refused =
      Object.entries(this.refused)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "none";
    const wall = (performance.now() - this.#started) / 1000;
    const lines = [
      `sim:sync: ${this.seeds} seeds (${this.options.crypto ?? "sr25519"} signatures), ${this.failed.length} failed, ${wall.toFixed(1)} s (${this.seeds > 0 ? Math.round(this.ms / this.seeds) : 0} ms per seed)`,
      `  nodes: ${this.seeds} motherships, ${this.followers} followers; facts issued ${this.facts}; client writes acknowledged ${this.acked}, refused by the rules: ${refused}`,
      `  network: ${n.sent} messages, ${n.dropped} dropped, ${n.duplicated} duplicated, ${n.delayed} delayed (reordered), ${n.partitioned} cut by ${this.partitions} partitions, ${n.timeouts} timeouts, ${n.refusedDown} to a node that was down, ${n.tampered} batches tampered with`,
      `  faults: ${this.crashes} crashes (${this.lostCommits} commits lost in flight), ${this.restores} mothership restores from an old backup (${this.restoresSkipped} skipped) and ${this.followerRestores} follower restores (${this.restoredFacts} facts cut and found again on other nodes), ${this.rotations} mothership rotations, ${this.refusedBatches} received batches refused`,
      `  virtual time ${(this.virtualMs / 3_600_000).toFixed(2)} h${this.failed.length === 0 && this.seeds > 0 ? "; every seed ended with equal sync-state hashes, no conflict, no stream_seq or (entity, id) held two ways, every acknowledged creation kept" : ""}`,
    ];
    for (const r of this.failed.slice(0, 10)) lines.push(`  FAILED seed ${r.seed}: ${r.problems[0]?.split("\n")[0]}\n    replay: ${syncReplayCommand(r.seed, this.options)}`);
    return lines.join("\n");
  }
}
