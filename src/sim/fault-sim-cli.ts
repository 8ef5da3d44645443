/**
 * `npm run sim:faults -- [--seeds N | --seed S] [--from S] [--steps N] [--faults N] [--threaded] [--keep]`
 *
 * Runs the fault simulator over seeds and prints what it injected and checked; every failing seed
 * prints the one command that replays it. Exit code 1 when a seed failed.
 */
import { parseArgs } from "node:util";
import { replayCommand, runSeed, type SeedReport, type SimOptions } from "./fault-sim.ts";
import { nonNegative, runCli, runSeeds } from "./seed-runner.ts";
import { SimSummary } from "./sim-summary.ts";

const SEED_TIMEOUT_MS = 120_000;


/** A seed that hangs is a failure too, reported with its replay command. */
async function withTimeout(options: SimOptions): Promise<SeedReport> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<SeedReport>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          seed: options.seed,
          ok: false,
          problems: [`the seed did not finish in ${SEED_TIMEOUT_MS / 1000} s`],
          faults: {},
          restarts: 0,
          rebuilds: 0,
          checked: 0,
          stats: { sent: {}, acked: 0, refused: {}, invalid: {}, unanswered: 0, retried: 0, blocks: 0, weightRounds: 0 },
          events: 0,
          types: {},
          ms: SEED_TIMEOUT_MS,
          plan: [],
          trace: [],
        }),
      SEED_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([runSeed(options), hung]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: "string" },
      seeds: { type: "string" },
      from: { type: "string" },
      steps: { type: "string" },
      faults: { type: "string" },
      threaded: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
    },
    strict: true,
  });
  const steps = values.steps === undefined ? undefined : nonNegative("steps", values.steps, 60);
  const faults = values.faults === undefined ? undefined : nonNegative("faults", values.faults, 5);
  const base = { steps, faults, threaded: values.threaded, keep: values.keep };
  const summary = new SimSummary(base);

  if (values.seed !== undefined) {
    // One seed, told in full: its faults, its problems, its last steps.
    const seed = nonNegative("seed", values.seed, 1);
    const r = await withTimeout({ ...base, seed });
    summary.add(r);
    process.stdout.write(`${summary.format()}\n  fault plan: ${r.plan.join("; ")}\n`);
    if (!r.ok) {
      process.stdout.write(`problems:\n${r.problems.map((p) => `  - ${p}`).join("\n")}\nlast steps:\n${r.trace.map((t) => `  ${t}`).join("\n")}\n`);
      if (r.dataDir) process.stdout.write(`data directory kept: ${r.dataDir}\n`);
    }
    return r.ok ? 0 : 1;
  }

  const count = nonNegative("seeds", values.seeds, 100);
  return runSeeds({
    from: nonNegative("from", values.from, 1),
    count,
    run: (seed) => withTimeout({ ...base, seed }),
    summary,
    replay: (seed) => replayCommand(seed, base),
    progress: () =>
      `sim:faults: ${summary.seeds}/${count} seeds, ${summary.failed.length} failed, ${summary.faultsInjected} faults, ${(summary.ms / 1000).toFixed(0)} s, rss ${Math.round(process.memoryUsage().rss / 1024 / 1024)} MiB`,
  });
}

runCli("sim:faults", main);
