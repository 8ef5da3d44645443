import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { decodeCheckpointRow } from "../core/debt/checkpoint-row.ts";
import type { Command } from "../core/machine/commands.ts";
import { CHECKPOINT_MS, checkpointEnd } from "../core/perf/perf-checkpoint.ts";
import { NodeClock } from "./clock.ts";
import { PropnetNode } from "./node.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const COLD = "5cold";
const E = "5entity";

describe("closed performance checkpoints in the store", () => {
  it("commit with the events that closed them, survive a restart, and are not written twice by replay", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-checkpoints-"));
    dirs.push(dir);
    let t = 1_767_225_600_000; // 2026-01-01T00:00Z, a boundary
    const open = () =>
      PropnetNode.open({
        dataDir: dir,
        clock: new NodeClock(() => t),
        genesis: [{ owner: COLD, amount_rao: 1_000_000n * 1_000_000_000n }],
        chainGenesis: { root: COLD, subnets: [{ netuid: 1, ownerHotkey: "5owner", ownerColdkey: COLD }] },
      });
    let node = await open();
    const run = async (command: Command) => {
      const outcome = await node.submit({ command });
      expect(outcome.ok ? null : outcome.error.message).toBeNull();
    };
    await run({ kind: "block", ts: t, extrinsics: [{ call: "subtensor.burned_register", signer: COLD, args: { netuid: 1, hotkey: E } }] });
    await run({ kind: "block", ts: t, extrinsics: [{ call: "collateral.deposit", signer: COLD, args: { hotkey: E, amount_rao: "100000000000" } }] });
    await run({ kind: "register_entity", ts: t, hotkey: E });
    await run({ kind: "create_subaccount", ts: t, entity: E, uuid: "u" });
    await run({ kind: "post_prices", ts: t, prices: [{ trade_pair: "ETHUSD", price: 3_000, ts_ms: t }] });
    await run({ kind: "place_order", ts: t, signer: E, subaccount_id: 0, trade_pair: "ETHUSD", order_type: "LONG", leverage: 0.2, order_uuid: "o", fingerprint: "", position_uuid: "p" });
    const first = checkpointEnd(t);
    t = first + 2 * CHECKPOINT_MS + 5;
    await run({ kind: "post_prices", ts: t, prices: [{ trade_pair: "ETHUSD", price: 3_100, ts_ms: t }] });
    const stored = async () => (await node.store.readCheckpoints(`${E}_0`, 0, 100)).map((r) => [r.ts_ms, decodeCheckpointRow(r.data).perf.open_ms]);
    expect(await stored()).toEqual([
      [first, CHECKPOINT_MS],
      [first + CHECKPOINT_MS, CHECKPOINT_MS],
      [first + 2 * CHECKPOINT_MS, CHECKPOINT_MS],
    ]);
    const before = await stored();
    await node.close({ snapshot: false });
    node = await open(); // replays every event: the store's rows stay as they were
    expect(await stored()).toEqual(before);
    await node.close();
  });
});
