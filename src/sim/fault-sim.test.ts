import { describe, expect, it } from "vitest";
import { HANDLERS, type Handlers } from "../core/machine/commands.ts";
import { runSeed } from "./fault-sim.ts";
import { kindsWithoutInvalid } from "./invalid-commands.ts";
import { SimSummary } from "./sim-summary.ts";

/** Seeds in `npm test`; `npm run sim:faults -- --seeds 10000` runs the long version. */
const SEEDS = 50;
/** Steps per seed: the CLI's default, so a failing seed replays with `--seed N` alone; 50 seeds take 20-30 s on two cores. */
const STEPS = 60;

describe("the fault simulator", () => {
  it(`keeps every acknowledged request through every fault, over ${SEEDS} seeds`, { timeout: 180_000 }, async () => {
    const summary = new SimSummary({ steps: STEPS });
    for (let seed = 1; seed <= SEEDS; seed++) summary.add(await runSeed({ seed, steps: STEPS }));
    console.log(summary.format());
    expect(summary.failed.map((r) => `seed ${r.seed}: ${r.problems.slice(0, 3).join(" | ")}`)).toEqual([]);
    // Every fault kind was injected, and the checks had something to check.
    expect(summary.faultKindsMissing).toEqual([]);
    expect(summary.restarts).toBeGreaterThanOrEqual(SEEDS);
    expect(summary.checked).toBeGreaterThan(SEEDS * 100);
    expect(summary.unanswered).toBeGreaterThan(0);
    // Every command kind met an invalid command of its own, refused with nothing changed.
    expect(kindsWithoutInvalid()).toEqual([]);
    expect(Object.keys(HANDLERS).filter((k) => !summary.invalid[k])).toEqual([]);
    // The workload reached what the rules do: eliminations by drawdown, passes, reinstatements, held prices, epochs.
    for (const t of ["verdict:FAILED_CHALLENGE_PERIOD_DRAWDOWN", "verdict:pass", "SubaccountReinstated", "HeldPriceResolved", "EmissionAttributed", "WeightsScored"]) {
      expect(summary.types[t] ?? 0, t).toBeGreaterThan(0);
    }
  });

  it("replays a seed exactly: same faults, same requests, same answers, same log", { timeout: 60_000 }, async () => {
    const strip = (r: Awaited<ReturnType<typeof runSeed>>) => JSON.stringify({ ...r, ms: 0 });
    const a = await runSeed({ seed: 7, steps: 30 });
    const b = await runSeed({ seed: 7, steps: 30 });
    expect(a.ok).toBe(true);
    expect(strip(b)).toBe(strip(a));
  });

  it("fails a seed when an answer goes out before its commit is durable", { timeout: 60_000 }, async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 8 && failures.length === 0; seed++) {
      const r = await runSeed({ seed, steps: 30, faults: 3, plant: { ackBeforeDurable: true } });
      failures.push(...r.problems);
    }
    // The node's head file or the simulator's own check finds the acknowledged events missing.
    expect(failures.some((p) => /acknowledged (writes|events?|.* is not in the log)|not in the log/.test(p)), failures.join("\n")).toBe(true);
  });

  it("fails a seed when a handler changes state that no event records", { timeout: 60_000 }, async () => {
    const handlers: Handlers = {
      ...HANDLERS,
      place_order(state, command) {
        // A write behind the journal's back: the live state moves, the log never says so.
        const e = state.entities.entities.get(command.signer);
        if (e) (e as { registeredAtMs: number }).registeredAtMs += 1;
        return HANDLERS.place_order(state, command);
      },
    };
    const r = await runSeed({ seed: 3, steps: 30, plant: { handlers } });
    expect(r.ok).toBe(false);
    expect(r.problems.some((p) => p.includes("(the last acknowledged) hashes")), r.problems.join("\n")).toBe(true);
  });
});
