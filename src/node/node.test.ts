import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { blockApplyFails, forgetsLastLeg } from "../../test/support/faulty-handlers.ts";
import { buildServer } from "../api/server.ts";
import { head } from "../core/chain/chain-state.ts";
import { TAO } from "../core/ledger/asset.ts";
import { stateHash } from "../core/machine/state.ts";
import { PropnetNode } from "./node.ts";
import { verifyLog } from "./verify.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("a credit leaked in production", () => {
  it("is recycled, recorded, counted in /metrics, degrades /healthz, and replays exactly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-node-"));
    dirs.push(dir);
    const node = await PropnetNode.open({
      dataDir: dir,
      strict: false,
      handlers: forgetsLastLeg,
      genesis: [{ owner: "alice", amount_rao: 1_000n }],
    });
    const app = buildServer({ node: () => node, startupStatus: () => "starting", version: "test" });
    expect((await app.inject("/healthz")).json()).toMatchObject({ status: "ok", problems: [] });

    const outcome = await node.submit({
      command: {
        kind: "batch_transfer",
        asset: TAO,
        from: "alice",
        to: [
          { owner: "bob", amount_rao: 100n },
          { owner: "carol", amount_rao: 11n },
        ],
      },
    });
    expect(outcome.ok).toBe(true);
    expect(outcome.events.map((e) => e.type)).toEqual(["BatchTransferred@1", "CriticalInvariantViolation@1"]);

    const health = (await app.inject("/healthz")).json();
    expect(health.status).toBe("degraded");
    expect(health.problems[0]).toMatch(/CriticalInvariantViolation in batch_transfer: no_live_credit/);
    const metrics = (await app.inject("/metrics")).body;
    expect(metrics).toMatch(/propnet_recycled_remainder_rao_total\{asset="TAO"\} 11/);
    expect(metrics).toMatch(/propnet_critical_invariant_violations_total\{invariant="no_live_credit"\} 1/);
    expect(await node.read((s) => s.ledger.totals(TAO))).toMatchObject({ issuance: 989n, recycled: 11n });

    const hash = stateHash(node.state);
    await app.close();
    await node.close();
    const report = await verifyLog(dir, { full: true });
    expect(report.stateHash).toBe(hash);
  });
});

describe("a command that fails to execute (an exception in apply)", () => {
  it("stops writes for good while the node stays up for reads and says why; a restart writes again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-node-"));
    dirs.push(dir);
    const fatal: unknown[] = [];
    const faults: string[] = [];
    const block = (ts: number) => ({ command: { kind: "block" as const, ts, extrinsics: [] } });
    const node = await PropnetNode.open({
      dataDir: dir,
      handlers: blockApplyFails((c) => c.ts === 24_000),
      genesis: [{ owner: "alice", amount_rao: 1_000_000_000_000n }],
      chainGenesis: { root: "5root", subnets: [{ netuid: 1, ownerHotkey: "5owner", ownerColdkey: "alice" }] },
      onFatal: (e) => fatal.push(e),
      onFault: (problem) => faults.push(problem),
    });
    expect((await node.submit(block(12_000))).ok).toBe(true);
    const committed = () => node.read((s, h) => ({ hash: stateHash(s), head: head(s.chain), seq: h.seq }));
    const before = await committed();

    await expect(node.submit(block(24_000))).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(node.writable).toBe(false);
    expect(node.problems).toHaveLength(1);
    expect(node.problems[0]).toMatch(/^execution fault: block: applying its event BlockProduced threw: .*unknown subnet 99.*until the node restarts/);
    expect(faults).toEqual(node.problems);
    expect(fatal).toEqual([]);
    // Nothing of the failed block was kept, and nothing after it is written.
    expect(await committed()).toEqual(before);
    await expect(node.submit({ command: { kind: "transfer", asset: TAO, from: "alice", to: "bob", amount_rao: 1n } })).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
    expect(await node.read((s) => s.ledger.balanceOf(TAO, "bob"))).toBe(0n);

    const app = buildServer({ node: () => node, startupStatus: () => "starting", version: "test" });
    expect((await app.inject("/healthz")).json()).toMatchObject({ status: "degraded", block: 1, seq: before.seq, problems: node.problems });
    await app.close();
    await node.close();

    const again = await PropnetNode.open({ dataDir: dir });
    expect(stateHash(again.state)).toBe(before.hash);
    expect(again.problems).toEqual([]);
    expect((await again.submit(block(24_000))).ok).toBe(true);
    await again.close();
  });
});
