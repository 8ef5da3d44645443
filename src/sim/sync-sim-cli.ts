/**
 * `npm run sim:sync -- [--seeds N | --seed S] [--from S] [--crypto sr25519|fast] [--span MS] [--always-restore] [--no-rotation]
 *   [--trace]`
 *
 * Runs the peer-sync simulator over seeds and prints what the network and the faults did; every
 * failing seed prints the one command that replays it. Exit code 1 when a seed failed.
 */
import { parseArgs } from "node:util";
import { runSyncSeed, type SimCrypto, type SyncSeedReport, syncReplayCommand } from "./sync-sim.ts";
import { SyncSimSummary } from "./sync-sim-summary.ts";

function count(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new Error(`--${name} must be a non-negative integer, not ${text}`);
  return Number(text);
}

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
  const base = { crypto: values.crypto as SimCrypto, spanMs: values.span === undefined ? undefined : count("span", values.span, 0), alwaysRestore: values["always-restore"] || undefined,
    noRotation: values["no-rotation"] || undefined,
  };
  const summary = new SyncSimSummary(base);

  if (values.seed !== undefined) {
    // One seed, told in full: its figures, its problems, its last moments.
    const r = await runSyncSeed({ ...base, seed: count("seed", values.seed, 1) });
    summary.add(r);
    process.stdout.write(`${summary.format()}\n`);
    if (!r.ok) process.stdout.write(`problems:\n${r.problems.map((p) => `  - ${p}`).join("\n")}\n`);
    if (!r.ok || values.trace) process.stdout.write(`last moments (virtual ms):\n${r.trace.map((t) => `  ${t}`).join("\n")}\n`);
    return r.ok ? 0 : 1;
  }

  const n = count("seeds", values.seeds, 100);
  const from = count("from", values.from, 1);
  let lastReport = performance.now();
  for (let seed = from; seed < from + n; seed++) {
    const r: SyncSeedReport = await runSyncSeed({ ...base, seed });
    summary.add(r);
    if (!r.ok) process.stdout.write(`seed ${seed} FAILED: ${r.problems[0]?.split("\n")[0]}\n  replay: ${syncReplayCommand(seed, base)}\n`);
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      process.stderr.write(`sim:sync: ${summary.seeds}/${n} seeds, ${summary.failed.length} failed, ${(summary.ms / 1000).toFixed(0)} s\n`);
    }
  }
  process.stdout.write(`${summary.format()}\n`);
  return summary.failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`sim:sync: ${(error as Error)?.message ?? String(error)}\n`);
    process.exit(2);
  },
);
