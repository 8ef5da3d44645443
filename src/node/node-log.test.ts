import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoredEvent } from "../store/stored-event.ts";
import { PropnetNode } from "./node.ts";
import { BLOCKS_PER_LINE, logLinesOf, NodeLog, type NodeLogger } from "./node-log.ts";

let dir: string;
let node: PropnetNode;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "propnet-node-log-"));
  node = await PropnetNode.open({
    dataDir: dir,
    genesis: [{ owner: "alice", amount_rao: 1_000_000_000_000n }],
    // Tempo 4: subnet 1's epoch runs on blocks 3, 8, 13, ... ((block + 2) % 5 == 0).
    chainGenesis: { root: "alice", subnets: [{ netuid: 1, ownerHotkey: "owner", ownerColdkey: "alice", tempo: 4 }] },
  });
});

afterAll(async () => {
  await node?.close({ snapshot: false });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Line = { level: string; message: string; fields: Record<string, unknown> };

function collector(): NodeLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: object, message: string) => void lines.push({ level, message, fields: fields as Record<string, unknown> });
  return { lines, error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
}

async function block(): Promise<void> {
  const outcome = await node.submit({ command: { kind: "block", ts: node.clock.now(), extrinsics: [] } });
  if (!outcome.ok) throw outcome.error;
}

/** The logger writes on the turn after a commit. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

function row(seq: number, type: string, payload: object): StoredEvent {
  return { seq, block: 0, ts: 0, type, payload: JSON.stringify(payload), signer: null, signature: null, prevHash: "", hash: "" };
}

describe("NodeLog on a running node", () => {
  it("logs each epoch, one info line per BLOCKS_PER_LINE blocks (each block at debug), and snapshots", async () => {
    const log = collector();
    const nodeLog = new NodeLog(node, log);
    try {
      for (let i = 0; i < BLOCKS_PER_LINE; i++) await block();
      await settled();
      const info = log.lines.filter((l) => l.level === "info");
      const epochs = info.filter((l) => l.fields.event === "epoch");
      // Blocks 1..100: epochs on 3, 8, ..., 98.
      expect(epochs.map((l) => l.fields.block)).toEqual(Array.from({ length: 20 }, (_, i) => 3 + 5 * i));
      expect(epochs[0]?.fields).toMatchObject({ netuid: 1 });
      expect(info.filter((l) => l.fields.event === "blocks")).toEqual([{ level: "info", message: "blocks produced", fields: { event: "blocks", from: 1, to: 100, count: 100 } }]);
      expect(log.lines.filter((l) => l.level === "debug" && l.fields.event === "block")).toHaveLength(100);

      const path = await node.snapshot();
      expect(path).not.toBeNull();
      expect(log.lines.at(-1)).toMatchObject({ level: "info", message: "snapshot written", fields: { event: "snapshot", seq: node.head.seq } });
    } finally {
      nodeLog.stop();
    }
    // Stopped: nothing more is logged.
    const before = log.lines.length;
    await block();
    await settled();
    expect(log.lines).toHaveLength(before);
  });

  it("logs a condition when it begins (warn, with its code) and when it clears (info)", () => {
    const log = collector();
    const nodeLog = new NodeLog(node, log, { conditionCheckMs: 60_000 });
    let full = false;
    node.watch("test-disk", () => (full ? { problem: "storage full: 1 MiB free", degraded: true, code: "STORAGE_FULL" } : null));
    try {
      nodeLog.checkConditions();
      expect(log.lines).toEqual([]);
      full = true;
      nodeLog.checkConditions();
      nodeLog.checkConditions();
      expect(log.lines).toEqual([{ level: "warn", message: "condition began", fields: { event: "condition", code: "STORAGE_FULL", degraded: true, problem: "storage full: 1 MiB free" } }]);
      full = false;
      nodeLog.checkConditions();
      expect(log.lines.at(-1)).toEqual({ level: "info", message: "condition cleared", fields: { event: "condition_cleared", code: "STORAGE_FULL", problem: "storage full: 1 MiB free" } });
      expect(log.lines).toHaveLength(2);
    } finally {
      node.watch("test-disk", () => null);
      nodeLog.stop();
    }
  });
});

describe("observers of the node's metrics", () => {
  it("an observer that throws never fails a commit, and others still hear of it", async () => {
    const heard: number[] = [];
    const offBad = node.metrics.observe({
      committed() {
        throw new Error("observer bug");
      },
    });
    const offGood = node.metrics.observe({ committed: (rows) => heard.push(...rows.map((r) => r.seq)) });
    try {
      await block();
      expect(heard).toEqual([node.head.seq]);
    } finally {
      offBad();
      offGood();
    }
  });
});

describe("logLinesOf", () => {
  it("violations, pauses and resumes recorded in a block", () => {
    const lines = logLinesOf(
      row(7, "BlockProduced@1", {
        n: 42,
        ts: 0,
        effects: [
          { k: "violation", scope: "subnet:1", invariant: "alpha_issuance_equals_in_plus_out", expected: "1", actual: "2" },
          { k: "paused", netuid: 1 },
          { k: "resumed", netuid: 2, forced: true },
          { k: "transfer", from: "a", to: "b", amount: "1" },
        ],
      }),
    );
    expect(lines.map((l) => [l.level, l.fields.event])).toEqual([
      ["debug", "block"],
      ["error", "violation"],
      ["warn", "emission_paused"],
      ["info", "emission_resumed"],
    ]);
    expect(lines[1]?.fields).toEqual({ event: "violation", seq: 7, scope: "subnet:1", invariant: "alpha_issuance_equals_in_plus_out", expected: "1", actual: "2" });
  });

  it("eliminations and passes: by root, by an order, by prices; violations an entity event found", () => {
    expect(logLinesOf(row(1, "SubaccountEliminated@1", { synthetic_hotkey: "5E_3", reason: "MANUAL", by: "root" }))).toEqual([
      { level: "info", message: "subaccount eliminated", fields: { event: "elimination", seq: 1, subaccount: "5E_3", reason: "MANUAL" } },
    ]);
    expect(logLinesOf(row(2, "OrderPlaced@1", { trader: "5E_4", verdict: "MAX_DRAWDOWN" }))[0]?.fields).toEqual({ event: "elimination", seq: 2, subaccount: "5E_4", reason: "MAX_DRAWDOWN" });
    expect(logLinesOf(row(3, "OrderPlaced@1", { trader: "5E_4", verdict: null }))).toEqual([]);
    const prices = logLinesOf(row(4, "PricesPosted@1", { ts: 0, accepted: [], verdicts: [["5E_5", "pass", 1, {}], ["5E_6", "MAX_DRAWDOWN", 1, {}]] }));
    expect(prices.map((l) => [l.fields.event, l.fields.subaccount])).toEqual([
      ["challenge_passed", "5E_5"],
      ["elimination", "5E_6"],
    ]);
    const found = logLinesOf(row(5, "SubaccountCreated@1", { violations: [{ scope: "entity:5E", invariant: "active_within_limit", expected: "1", actual: "2" }] }));
    expect(found.map((l) => [l.level, l.fields.event, l.fields.scope])).toEqual([["error", "violation", "entity:5E"]]);
    expect(logLinesOf(row(6, "CriticalInvariantViolation@1", { scope: "tao", invariant: "tao_issuance_cap", expected: "0", actual: "1" }))[0]).toMatchObject({ level: "error", fields: { event: "violation", scope: "tao" } });
  });

  it("a range of empty blocks is one debug line with its count", () => {
    expect(logLinesOf(row(9, "BlocksProduced@2", { from: 11, ts: [1, 2, 3], rules: 1 }))).toEqual([{ level: "debug", message: "blocks", fields: { event: "block", seq: 9, block: 11, to: 13, count: 3 } }]);
  });

  it("rows of no interest cost no parse and give no line", () => {
    expect(logLinesOf(row(1, "OrderPlaced@1", { trader: "x" }))).toEqual([]);
    expect(logLinesOf({ ...row(2, "EntityRegistered@1", {}), payload: "not json" })).toEqual([]);
  });
});
