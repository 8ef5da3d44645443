import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ViolationRecord } from "../../core/machine/state.ts";
import { PropnetNode } from "../../node/node.ts";
import { buildServer } from "../server.ts";
import { MAX_PROBLEM_LINES } from "./health.ts";

let dir: string;
let node: PropnetNode;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "propnet-health-"));
  node = await PropnetNode.open({ dataDir: dir, genesis: [{ owner: "alice", amount_rao: 1_000n }] });
});

afterAll(async () => {
  await node?.close({ snapshot: false });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const violation = (scope: string, actual = "2"): ViolationRecord => ({
  scope,
  invariant: "alpha_issuance_equals_in_plus_out",
  expected: "1",
  actual,
});

async function problems(violations: ViolationRecord[]): Promise<string[]> {
  // Written straight into the state: this is about how /healthz words them, not how they arise.
  node.state.violations = violations;
  const app = buildServer({ node: () => node, startupStatus: () => "starting", version: "test" });
  try {
    const health = (await app.inject("/healthz")).json();
    expect(health.status).toBe(violations.length > 0 ? "degraded" : "ok");
    return health.problems;
  } finally {
    await app.close();
    node.state.violations = [];
  }
}

describe("/healthz problems", () => {
  it("one line per (scope, invariant), worded as recorded, with how often it was seen", async () => {
    expect(await problems([violation("subnet:1"), violation("subnet:2", "5"), violation("subnet:1", "3")])).toEqual([
      "CriticalInvariantViolation in subnet:1: alpha_issuance_equals_in_plus_out (expected 1, actual 2) (seen 2 times)",
      "CriticalInvariantViolation in subnet:2: alpha_issuance_equals_in_plus_out (expected 1, actual 5)",
    ]);
  });

  it("counts the sightings core noted after recording it once", async () => {
    node.state.violationRepeats.set("subnet:1|alpha_issuance_equals_in_plus_out", { repeats: 499, expected: "1", actual: "7" });
    try {
      expect(await problems([violation("subnet:1")])).toEqual([
        "CriticalInvariantViolation in subnet:1: alpha_issuance_equals_in_plus_out (expected 1, actual 2) (seen 500 times)",
      ]);
    } finally {
      node.state.violationRepeats.clear();
    }
  });

  it(`stays short however many are unresolved: ${MAX_PROBLEM_LINES} lines, then how many more`, async () => {
    const many = Array.from({ length: 3 }, () => Array.from({ length: 25 }, (_, i) => violation(`subnet:${i}`))).flat();
    const lines = await problems(many);
    expect(lines).toHaveLength(MAX_PROBLEM_LINES + 1);
    expect(lines[0]).toBe("CriticalInvariantViolation in subnet:0: alpha_issuance_equals_in_plus_out (expected 1, actual 2) (seen 3 times)");
    expect(lines[MAX_PROBLEM_LINES - 1]).toMatch(/^CriticalInvariantViolation in subnet:19: /);
    expect(lines[MAX_PROBLEM_LINES]).toBe("... and 5 more");
  });
});

describe("/healthz conditions the node watches", () => {
  it("a degraded condition degrades the status; an advisory one only adds its line", async () => {
    const app = buildServer({ node: () => node, startupStatus: () => "starting", version: "test" });
    let condition: { problem: string; degraded: boolean } | null = { problem: "chain unreachable", degraded: false };
    node.watch("test", () => condition);
    try {
      let health = (await app.inject("/healthz")).json();
      expect(health).toMatchObject({ status: "ok", problems: ["chain unreachable"] });
      condition = { problem: "CLOCK_JUMP: the wall clock jumped", degraded: true };
      health = (await app.inject("/healthz")).json();
      expect(health).toMatchObject({ status: "degraded", problems: ["CLOCK_JUMP: the wall clock jumped"] });
      condition = null;
      health = (await app.inject("/healthz")).json();
      expect(health).toMatchObject({ status: "ok", problems: [] });
    } finally {
      node.watch("test", () => null);
      await app.close();
    }
  });
});
