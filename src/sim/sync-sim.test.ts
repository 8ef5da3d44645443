import { describe, expect, it } from "vitest";
import { runSyncSeed, syncReplayCommand, type SyncSeedReport } from "./sync-sim.ts";
import { SyncSimSummary } from "./sync-sim-summary.ts";

/** Seeds in `npm test` with the stand-in signatures; `npm run sim:sync -- --seeds 10000` runs the long version. */
const SEEDS = 200;
/** Seeds with real sr25519 signatures (the CLI's default): about twice the cost of a stand-in seed. */
const SR25519_SEEDS = 20;

function expectConverged(summary: SyncSimSummary): void {
  expect(summary.failed.map((r) => `seed ${r.seed}: ${r.problems.slice(0, 3).join(" | ")}\n  replay: ${syncReplayCommand(r.seed, summary.options)}`)).toEqual([]);
}

describe("the peer-sync simulator", () => {
  it(`converges over ${SEEDS} seeds: equal sync-state hashes, no conflict, no id issued twice`, { timeout: 180_000 }, async () => {
    const summary = new SyncSimSummary({ crypto: "fast" });
    for (let seed = 1; seed <= SEEDS; seed++) summary.add(await runSyncSeed({ seed, crypto: "fast" }));
    console.log(summary.format());
    expectConverged(summary);
    // The faults happened, and the checks had something to check.
    expect(summary.facts).toBeGreaterThan(SEEDS * 20);
    const seen = {
      ...summary.net,
      crashes: summary.crashes,
      restores: summary.restores,
      followerRestores: summary.followerRestores,
      restoredFacts: summary.restoredFacts,
      rotations: summary.rotations,
      lostCommits: summary.lostCommits,
      partitions: summary.partitions,
      refusedBatches: summary.refusedBatches,
    };
    for (const [what, n] of Object.entries(seen)) expect(n, what).toBeGreaterThan(0);
  });

  it(`converges over ${SR25519_SEEDS} more seeds with real sr25519 signatures`, { timeout: 120_000 }, async () => {
    const summary = new SyncSimSummary();
    for (let seed = SEEDS + 1; seed <= SEEDS + SR25519_SEEDS; seed++) summary.add(await runSyncSeed({ seed }));
    console.log(summary.format());
    expectConverged(summary);
  });

  it("replays a seed exactly", { timeout: 60_000 }, async () => {
    const strip = (r: SyncSeedReport) => JSON.stringify({ ...r, ms: 0 });
    const a = await runSyncSeed({ seed: 7, crypto: "fast" });
    const b = await runSyncSeed({ seed: 7, crypto: "fast" });
    expect(a.ok).toBe(true);
    expect(strip(b)).toBe(strip(a));
  });

  it("real and stand-in signatures run the same seed the same way", { timeout: 60_000 }, async () => {
    const strip = (r: SyncSeedReport) => JSON.stringify({ ...r, ms: 0 });
    expect(strip(await runSyncSeed({ seed: 11, crypto: "fast" }))).toBe(strip(await runSyncSeed({ seed: 11 })));
  });

  it("fails a seed when a restored mothership issues before it caught up with its peers", { timeout: 60_000 }, async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 40 && failures.length === 0; seed++) {
      failures.push(...(await runSyncSeed({ seed, crypto: "fast", alwaysRestore: true, plant: { skipCatchUp: true } })).problems);
    }
    expect(failures.some((p) => /holds stream_seq \d+ as .* another node held|an id issued twice|conflict/.test(p)), failures.join("\n")).toBe(true);
  });

  it("fails a seed when a restore loses facts no follower held (acknowledged creations gone)", { timeout: 60_000 }, async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 20 && failures.length === 0; seed++) {
      failures.push(...(await runSyncSeed({ seed, crypto: "fast", alwaysRestore: true, plant: { lossyRestore: true } })).problems);
    }
    expect(failures.some((p) => /acknowledged subaccount .* at the end|an id issued twice/.test(p)), failures.join("\n")).toBe(true);
  });

  it("a rotated-to mothership restored from before its rotation catches up again before it issues (seed 177: no fork)", { timeout: 60_000 }, async () => {
    // Root rotates the mothership to f2, f2 issues, f2 is restored from a backup from before the
    // rotation and restarts as a follower; it learns the rotation from a lagging peer before it
    // pulled its own later facts back from f1. It must not issue stream_seq 7 again: applying the
    // rotation makes it catch up with every peer first (identity.catchingUp).
    const run = await runSyncSeed({ seed: 177, crypto: "fast" });
    expect(run.problems).toEqual([]);
  });
});
