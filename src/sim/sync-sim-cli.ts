/**
 * `npm run sim:sync -- [--seeds N | --seed S] [--from S] [--crypto sr25519|fast] [--span MS] [--always-restore] [--no-rotation]
 *   [--trace]`
 *
 * Runs the peer-sync simulator over seeds and prints what the network and the faults did; every
 * failing seed prints the one command that replays it. Exit code 1 when a seed failed.
 */
import { parseArgs } from "node:util";
import { nonNegative, runCli, runSeeds } from "./seed-runner.ts";
import { runSyncSeed, type SimCrypto, syncReplayCommand } from "./sync-sim.ts";
import { SyncSimSummary } from "./sync-sim-summary.ts";


async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: "string" },
      seeds: { type: "string" },
      from: { type: "string" },
      crypto: { type: "string", default: "sr25519" },
      span: { type: "string" },
      "always-restore": { type: "boolean", default: false },
      trace: { type: "boolean", default: false },
      "no-rotation": { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.crypto !== "sr25519" && values.crypto !== "fast") throw new Error(`--crypto is sr25519 or fast, not ${values.crypto}`);
  const base = { crypto: values.crypto as SimCrypto, spanMs: values.span === undefined ? undefined : nonNegative("span", values.span, 0), alwaysRestore: values["always-restore"] || undefined,
    noRotation: values["no-rotation"] || undefined,
  };
  const summary = new SyncSimSummary(base);

  if (values.seed !== undefined) {
    // One seed, told in full: its figures, its problems, its last moments.
    const r = await runSyncSeed({ ...base, seed: nonNegative("seed", values.seed, 1) });
    summary.add(r);
    process.stdout.write(`${summary.format()}\n`);
    if (!r.ok) process.stdout.write(`problems:\n${r.problems.map((p) => `  - ${p}`).join("\n")}\n`);
    if (!r.ok || values.trace) process.stdout.write(`last moments (virtual ms):\n${r.trace.map((t) => `  ${t}`).join("\n")}\n`);
    return r.ok ? 0 : 1;
  }

  const n = nonNegative("seeds", values.seeds, 100);
  return runSeeds({
    from: nonNegative("from", values.from, 1),
    count: n,
    run: (seed) => runSyncSeed({ ...base, seed }),
    summary,
    replay: (seed) => syncReplayCommand(seed, base),
    progress: () => `sim:sync: ${summary.seeds}/${n} seeds, ${summary.failed.length} failed, ${(summary.ms / 1000).toFixed(0)} s`,
  });
}

runCli("sim:sync", main);
