import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { forgetsLastLeg } from "../../test/support/faulty-handlers.ts";
import { buildServer } from "../api/server.ts";
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
