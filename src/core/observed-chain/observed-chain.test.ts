import { describe, expect, it } from "vitest";
import { replayOf } from "../../../test/support/chain-log.ts";
import { type Command, HANDLERS } from "../machine/commands.ts";
import type { EventDraft } from "../machine/event.ts";
import { execute } from "../machine/execute.ts";
import { createState, exportState, importState, type State, stateHash } from "../machine/state.ts";
import { syntheticHotkey } from "../entities/synthetic-hotkey.ts";
import type { ObserveChainEpoch } from "./observed-chain-commands.ts";
import { chainViewOf } from "./observed-chain-view.ts";

const GENESIS = `0x${"2f".repeat(32)}`;
const HOTKEYS = ["owner", "validator", "entity", "miner"];

interface World {
  state: State;
  log: EventDraft[];
}

function run(w: World, command: Command) {
  const r = execute(w.state, command, HANDLERS);
  w.log.push(...r.events);
  return r;
}

function ok(w: World, command: Command) {
  const r = run(w, command);
  expect(r.error).toBeUndefined();
  return r.events;
}

function epoch(block: number, overrides: Partial<ObserveChainEpoch> = {}): ObserveChainEpoch {
  return {
    kind: "observe_chain_epoch",
    ts: block * 12_000,
    netuid: 8,
    block,
    block_hash: `0x${block.toString(16).padStart(64, "0")}`,
    timestamp_ms: block * 12_000 - 500,
    owner_hotkey: "owner",
    hotkeys: HOTKEYS,
    alpha_paid: ["0", "0", "3000000000", "0"],
    source: "IncentiveAlphaEmittedToMiners",
    subnet_tao_rao: "22079400556774",
    subnet_alpha_in_rao: "2316467425363654",
    ...overrides,
  };
}

function following(): World {
  const w: World = { state: createState({ strict: true }), log: [] };
  ok(w, { kind: "follow_chain", ts: 1, netuid: 8, genesis_hash: GENESIS });
  return w;
}

describe("a log that follows a real subnet", () => {
  it("follows one chain from its start: not a devnet log, not twice, not another", () => {
    const w = following();
    expect(run(w, { kind: "follow_chain", ts: 2, netuid: 8, genesis_hash: GENESIS }).error?.details).toMatchObject({ unchanged: true });
    expect(run(w, { kind: "follow_chain", ts: 2, netuid: 9, genesis_hash: GENESIS }).error?.message).toMatch(/follows subnet 8/);
    const devnet: World = { state: createState({ strict: true }), log: [] };
    ok(devnet, { kind: "genesis", endowments: [{ owner: "alice", amount_rao: 10n ** 15n }], chain: { root: "root", subnets: [{ netuid: 1, ownerHotkey: "alice", ownerColdkey: "alice" }] } });
    expect(run(devnet, { kind: "follow_chain", ts: 2, netuid: 8, genesis_hash: GENESIS }).error?.message).toMatch(/devnet chain/);
  });

  it("registration checks read the latest observed metagraph", () => {
    const w = following();
    expect(run(w, { kind: "register_entity", ts: 10, hotkey: "entity" }).error?.code).toBe("NOT_A_NEURON");
    ok(w, epoch(100));
    ok(w, { kind: "register_entity", ts: 10, hotkey: "entity" });
    expect(run(w, { kind: "register_entity", ts: 11, hotkey: "stranger" }).error?.code).toBe("NOT_A_NEURON");
    expect(chainViewOf(w.state).uidOf(1, "miner")).toBe(3);
    // The entity's uid goes to another hotkey at the next epoch: the entity is no longer a neuron.
    ok(w, epoch(460, { hotkeys: ["owner", "validator", "newcomer", "miner"] }));
    expect(chainViewOf(w.state).uidOf(1, "entity")).toBeUndefined();
    expect(chainViewOf(w.state).hotkeyOf(1, 2)).toBe("newcomer");
    expect(run(w, { kind: "create_subaccount", ts: 12, entity: "entity", uuid: "u-1" }).error?.code).toBe("ENTITY_FROZEN");
  });

  it("subaccounts reserve no collateral here (it lives in the chain's own contract)", () => {
    const w = following();
    ok(w, epoch(100));
    ok(w, { kind: "register_entity", ts: 10, hotkey: "entity" });
    const [created] = ok(w, { kind: "create_subaccount", ts: 11, entity: "entity", uuid: "u-1", account_size_usd: 100_000 });
    expect(created?.payload).toMatchObject({ id: 0, reserved_rao: "0" });
    expect(w.state.entities.subaccounts.get(syntheticHotkey("entity", 0))?.status).toBe("active");
  });

  it("an entity's alpha at an observed epoch waits to be shared, valued at that epoch's pool; replay rebuilds it from the fact", () => {
    const w = following();
    ok(w, epoch(100, { alpha_paid: ["0", "0", "0", "0"] }));
    ok(w, { kind: "register_entity", ts: 10, hotkey: "entity" });
    const [observed] = ok(w, epoch(460));
    expect(observed?.type).toBe("ChainEpochObserved");
    expect(observed?.payload.attributions).toEqual([
      { uid: 2, hotkey: "entity", entity: true, alpha: "3000000000", shares: [], unattributed: "0", price: ["22079400556774", "2316467425363654", "0"] },
    ]);
    expect(w.state.debt.pendingAttribution.get("entity")).toEqual([
      { atMs: 460 * 12_000, alphaRao: 3_000_000_000n, price: { subnetTaoRao: 22_079_400_556_774n, alphaInRao: 2_316_467_425_363_654n, microUsdPerTao: 0n } },
    ]);
    // What the subnet's miners earned per block: 3 alpha over the 360 blocks since the last epoch.
    expect(chainViewOf(w.state).minerAlphaPerBlock(1)).toBe(3_000_000_000n / 360n);
    ok(w, { kind: "attribute_entity", ts: 460 * 12_000 + 1, entity: "entity" });
    const replayed = replayOf(w.log);
    expect(stateHash(replayed)).toBe(stateHash(w.state));
    expect(stateHash(importState(exportState(w.state)))).toBe(stateHash(w.state));
  });

  it("refuses an epoch that is not after the last, amounts that are not rao, and a hotkey on two uids", () => {
    const w = following();
    ok(w, epoch(100));
    expect(run(w, epoch(100)).error?.details).toMatchObject({ unchanged: true });
    expect(run(w, epoch(90)).error?.code).toBe("VALIDATION_FAILED");
    expect(run(w, epoch(200, { alpha_paid: ["1.5", "0", "0", "0"] })).error?.code).toBe("VALIDATION_FAILED");
    expect(run(w, epoch(200, { alpha_paid: ["-1", "0", "0", "0"] })).error?.code).toBe("VALIDATION_FAILED");
    expect(run(w, epoch(200, { hotkeys: ["a", "a", "b", "c"] })).error?.code).toBe("VALIDATION_FAILED");
    expect(run(w, epoch(200, { netuid: 3 })).error?.code).toBe("VALIDATION_FAILED");
    expect(run(w, epoch(200, { alpha_paid: ["0"] })).error?.code).toBe("VALIDATION_FAILED");
  });

  it("records a gap as a gap, and a devnet log refuses chain facts", () => {
    const w = following();
    ok(w, { kind: "record_chain_gap", ts: 5, netuid: 8, after_block: 100, before_block: 1_180, reason: "node down, no archive" });
    expect(w.state.observed.source.get("s")?.gaps).toBe(1);
    // Epochs on both sides of a gap: the rate is not the next epoch's pay over every block since.
    ok(w, epoch(100, { alpha_paid: ["0", "0", "0", "0"] }));
    ok(w, epoch(460, { alpha_paid: ["0", "0", "3600", "0"] }));
    expect(chainViewOf(w.state).minerAlphaPerBlock(1)).toBe(10n);
    ok(w, { kind: "record_chain_gap", ts: 6, netuid: 8, after_block: 460, before_block: 3_700, reason: "node down" });
    ok(w, epoch(3_700, { alpha_paid: ["0", "0", "7200", "0"] }));
    expect(chainViewOf(w.state).minerAlphaPerBlock(1)).toBe(10n);
    ok(w, epoch(4_060, { alpha_paid: ["0", "0", "7200", "0"] }));
    expect(chainViewOf(w.state).minerAlphaPerBlock(1)).toBe(20n);
    expect(run(w, { kind: "record_chain_gap", ts: 5, netuid: 8, after_block: 100, before_block: 100, reason: "x" }).error?.code).toBe("VALIDATION_FAILED");
    expect(stateHash(replayOf(w.log))).toBe(stateHash(w.state));
    const devnet: World = { state: createState({ strict: true }), log: [] };
    expect(run(devnet, epoch(100)).error?.message).toMatch(/does not follow a chain/);
  });
});
