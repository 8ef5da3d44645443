// `propnet simulate` is deterministic: the same seed gives byte-identical CSV rows and the same
// final state hash on any run; another seed gives another run.
import { describe, expect, it } from "vitest";
import { CSV_HEADER, type SimulationOptions, type SimulationSummary, simulate } from "./simulator.ts";

interface Run {
  summary: SimulationSummary;
  /** netuid -> the CSV as `propnet simulate --out` writes it. */
  csv: Map<number, string>;
  blocksSeen: number[];
}

const BASE: Omit<SimulationOptions, "seed"> = { blocks: 150, subnets: 2, neurons: 12, validators: 4, tempo: 9 };

function run(seed: number, options: Partial<SimulationOptions> = {}): Run {
  const rows = new Map<number, string[]>();
  const blocksSeen: number[] = [];
  const summary = simulate({
    ...BASE,
    ...options,
    seed,
    onBlock: (b) => blocksSeen.push(b),
    onRow: (netuid, row) => {
      let list = rows.get(netuid);
      if (!list) rows.set(netuid, (list = [CSV_HEADER]));
      list.push(row);
    },
  });
  return { summary, csv: new Map([...rows].map(([u, list]) => [u, `${list.join("\n")}\n`])), blocksSeen };
}

/** The summary without its wall-clock figures. */
function deterministic(s: SimulationSummary) {
  const { seconds: _s, blocksPerSecond: _b, msPerEpoch: _m, ...rest } = s;
  return rest;
}

describe("simulate", () => {
  it("the same seed gives byte-identical CSVs and the same final state hash", () => {
    const a = run(7);
    const b = run(7);
    expect(a.summary.violations).toBe(0);
    expect(a.summary.epochs).toBeGreaterThan(0);
    expect([...a.csv.keys()]).toEqual([1, 2]);
    for (const [netuid, text] of a.csv) {
      expect(b.csv.get(netuid)).toBe(text);
      const lines = text.trimEnd().split("\n");
      expect(lines[0]).toBe(CSV_HEADER);
      expect(lines).toHaveLength(BASE.blocks + 1);
      expect(lines.slice(1).map((l) => Number(l.split(",")[0]))).toEqual(Array.from({ length: BASE.blocks }, (_, i) => i + 1));
      for (const line of lines.slice(1)) expect(line.split(",")).toHaveLength(CSV_HEADER.split(",").length);
    }
    expect(b.summary.stateHash).toBe(a.summary.stateHash);
    expect(deterministic(b.summary)).toEqual(deterministic(a.summary));
    expect(a.blocksSeen).toEqual(Array.from({ length: BASE.blocks }, (_, i) => i + 1));
  });

  it("another seed gives another run", () => {
    const a = run(7);
    const c = run(8);
    expect(c.summary.violations).toBe(0);
    expect(c.summary.stateHash).not.toBe(a.summary.stateHash);
    expect([...c.csv.values()].join("")).not.toBe([...a.csv.values()].join(""));
  });

  it("nothing but the seed and the options decides the run: interleaved runs do not disturb each other", () => {
    const first = run(7, { blocks: 40 });
    run(9, { blocks: 40 });
    expect(run(7, { blocks: 40 }).summary.stateHash).toBe(first.summary.stateHash);
    // A shorter run is a prefix of a longer one with the same seed.
    const longer = run(7, { blocks: 60 });
    for (const [netuid, text] of first.csv) expect((longer.csv.get(netuid) as string).startsWith(text)).toBe(true);
  });
});
