// `propnet simulate --out DIR` as a user runs it: the same seed twice writes byte-identical CSV
// files and reports the same state hash; another seed writes other files.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { children, cli } from "../support/processes.ts";

const dirs: string[] = [];

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "propnet-simulate-cli-"));
  dirs.push(dir);
  return dir;
}

interface Simulated {
  files: Map<string, Buffer>;
  stateHash: string;
}

async function simulateTo(seed: number): Promise<Simulated> {
  const cwd = tempDir();
  const out = join(cwd, "out");
  const ran = await cli(["simulate", "--blocks", "120", "--subnets", "2", "--neurons", "20", "--tempo", "9", "--seed", String(seed), "--out", out], cwd, {
    ...process.env,
    NO_COLOR: "1",
  });
  expect(ran.code, ran.stderr).toBe(0);
  expect(ran.stdout).toMatch(/; 0 violations; /);
  const hash = /state hash ([0-9a-f]{64})/.exec(ran.stdout);
  expect(hash).not.toBeNull();
  const names = readdirSync(out).sort();
  return { files: new Map(names.map((name) => [name, readFileSync(join(out, name))])), stateHash: (hash as RegExpExecArray)[1] as string };
}

describe("propnet simulate --out", () => {
  it("the same seed twice: byte-identical CSVs and the same state hash; another seed: other CSVs", async () => {
    const a = await simulateTo(5);
    const b = await simulateTo(5);
    expect([...a.files.keys()]).toEqual(["subnet-1.csv", "subnet-2.csv"]);
    expect([...b.files.keys()]).toEqual([...a.files.keys()]);
    for (const [name, bytes] of a.files) {
      expect(bytes.length).toBeGreaterThan(0);
      expect(Buffer.compare(b.files.get(name) as Buffer, bytes), name).toBe(0);
      expect(bytes.toString("utf8").trimEnd().split("\n")).toHaveLength(121);
    }
    expect(b.stateHash).toBe(a.stateHash);

    const other = await simulateTo(6);
    expect(other.stateHash).not.toBe(a.stateHash);
    expect([...other.files].some(([name, bytes]) => Buffer.compare(bytes, a.files.get(name) as Buffer) !== 0)).toBe(true);
  });
});
