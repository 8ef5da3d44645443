// A small in-memory world for core tests and benches: a devnet genesis, neurons on subnet 1 with
// collateral, and helpers that execute commands and keep the log for replay checks.
import { expect } from "vitest";
import { head } from "../../src/core/chain/chain-state.ts";
import type { Command } from "../../src/core/machine/commands.ts";
import { type EventDraft, encodePayload } from "../../src/core/machine/event.ts";
import { applyEvent, execute, type ExecuteResult } from "../../src/core/machine/execute.ts";
import { createState, type State, stateHash } from "../../src/core/machine/state.ts";

export const TAO_RAO = 1_000_000_000n;
export const ROOT = "5root";
export const DAY_MS = 86_400_000;

export interface World {
  state: State;
  log: EventDraft[];
  /** Command time: starts at 1,000,000 ms and only moves forward. */
  now: number;
  run(command: Command): ExecuteResult;
  ok(command: Command): EventDraft;
  block(extrinsics?: Array<{ call: string; signer: string; args: Record<string, unknown> }>): void;
}

export function world(options: { strict?: boolean; coldkeys?: string[] } = {}): World {
  const state = createState({ strict: options.strict ?? true });
  const w: World = {
    state,
    log: [],
    now: 1_000_000,
    run(command) {
      const r = execute(state, command);
      w.log.push(...r.events);
      return r;
    },
    ok(command) {
      const r = w.run(command);
      expect(r.error?.message).toBeUndefined();
      return r.events[0] as EventDraft;
    },
    block(extrinsics = []) {
      w.now = Math.max(w.now, (head(state.chain).block + 1) * 12_000);
      w.ok({ kind: "block", ts: w.now, extrinsics });
    },
  };
  w.ok({
    kind: "genesis",
    endowments: (options.coldkeys ?? ["5cold"]).map((owner) => ({ owner, amount_rao: 1_000_000n * TAO_RAO })),
    chain: { root: ROOT, subnets: [{ netuid: 1, ownerHotkey: "5owner", ownerColdkey: "5cold" }] },
  });
  return w;
}

/** Registers hotkeys as neurons on subnet 1 and deposits collateral for each (in one block). */
export function neurons(w: World, hotkeys: string[], collateralTao = 5_000n, coldkey = "5cold"): void {
  w.block(hotkeys.map((hotkey) => ({ call: "subtensor.burned_register", signer: coldkey, args: { netuid: 1, hotkey } })));
  if (collateralTao > 0n) {
    w.block(hotkeys.map((hotkey) => ({ call: "collateral.deposit", signer: coldkey, args: { hotkey, amount_rao: (collateralTao * TAO_RAO).toString() } })));
  }
}

/**
 * Replays the log as stored (payloads through JSON) into fresh states: the hashes must agree. Strict
 * replay also recomputes every recorded figure by the rules; non-strict replay writes the recorded
 * figures only, so both must build the same state.
 */
export function expectReplayMatches(w: World): void {
  for (const strict of [true, false]) {
    const replay = createState({ strict });
    for (const e of w.log) applyEvent(replay, { type: e.type, version: e.version, payload: JSON.parse(encodePayload(e)) });
    expect(stateHash(replay), strict ? "strict replay" : "replay").toBe(stateHash(w.state));
  }
}
