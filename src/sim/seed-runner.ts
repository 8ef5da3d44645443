/**
 * What the simulator CLIs (`sim:faults`, `sim:sync`) share: integer flags, the loop over seeds
 * that prints each failure with its replay command and progress every 10 s, and the exit codes.
 */

export function nonNegative(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new Error(`--${name} must be a non-negative integer, not ${text}`);
  return Number(text);
}

interface SeedOutcome {
  ok: boolean;
  problems: string[];
}

/** Runs seeds `from` .. `from + count - 1` in order; resolves with the exit code (1 if any failed). */
export async function runSeeds<R extends SeedOutcome>(options: {
  from: number;
  count: number;
  run: (seed: number) => Promise<R>;
  summary: { add(r: R): void; format(): string; failed: readonly unknown[] };
  replay: (seed: number) => string;
  progress: () => string;
}): Promise<number> {
  const { from, count, run, summary } = options;
  let lastReport = performance.now();
  for (let seed = from; seed < from + count; seed++) {
    const r = await run(seed);
    summary.add(r);
    if (!r.ok) process.stdout.write(`seed ${seed} FAILED: ${r.problems[0]?.split("\n")[0]}\n  replay: ${options.replay(seed)}\n`);
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      process.stderr.write(`${options.progress()}\n`);
    }
  }
  process.stdout.write(`${summary.format()}\n`);
  return summary.failed.length === 0 ? 0 : 1;
}

/** Runs a CLI's main: its exit code, or 2 with one line when it threw (a bad flag, say). */
export function runCli(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${name}: ${(error as Error)?.message ?? String(error)}\n`);
      process.exit(2);
    },
  );
}
