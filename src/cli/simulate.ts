import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SingleBar } from "cli-progress";
import { CSV_HEADER, simulate } from "../node/simulator.ts";

export interface SimulateOptions {
  blocks: number;
  subnets: number;
  neurons: number;
  seed: number;
  tempo: number;
  out?: string;
}

/** `propnet simulate`: runs the chain as fast as it can; same seed, same output. */
export function runSimulate(options: SimulateOptions): number {
  const bar = new SingleBar({ format: "simulate [{bar}] {percentage}% | block {value}/{total}", noTTYOutput: true, notTTYSchedule: 2000, stream: process.stderr });
  bar.start(options.blocks, 0);
  const rows = new Map<number, string[]>();
  const summary = simulate({
    ...options,
    onBlock: (b) => {
      if (b % 500 === 0 || b === options.blocks) bar.update(b);
    },
    onRow: options.out
      ? (netuid, row) => {
          let list = rows.get(netuid);
          if (!list) rows.set(netuid, (list = [CSV_HEADER]));
          list.push(row);
        }
      : undefined,
  });
  bar.stop();
  if (options.out) {
    mkdirSync(options.out, { recursive: true });
    for (const [netuid, list] of rows) writeFileSync(join(options.out, `subnet-${netuid}.csv`), `${list.join("\n")}\n`);
  }
  process.stdout.write(
    `simulated ${summary.blocks} blocks, ${summary.subnets} subnets x ${summary.neurons} neurons in ${summary.seconds.toFixed(2)} s ` +
      `(${Math.round(summary.blocksPerSecond)} blocks/s); ${summary.epochs} epochs, ${summary.msPerEpoch.toFixed(2)} ms each; ` +
      `total issuance ${summary.totalIssuanceRao} rao; ${summary.violations} violations; state hash ${summary.stateHash}` +
      `${options.out ? `; CSV in ${options.out}` : ""}\n`,
  );
  return summary.violations === 0 ? 0 : 1;
}
