import { expect } from "vitest";
import type { Extrinsic } from "../../src/core/chain/block.ts";
import { head } from "../../src/core/chain/chain-state.ts";
import type { Effect } from "../../src/core/chain/effects.ts";
import { type Command, HANDLERS } from "../../src/core/machine/commands.ts";
import { type EventDraft, encodePayload } from "../../src/core/machine/event.ts";
import { applyEvent, execute } from "../../src/core/machine/execute.ts";
import { createState, type State } from "../../src/core/machine/state.ts";

/** A chain state and the events that built it, for tests that replay what they did. */
export interface ChainLog {
  state: State;
  log: EventDraft[];
}

/** The next block (12 s after the head), with these extrinsics; its effects. */
export function nextBlock(s: ChainLog, extrinsics: Extrinsic[] = []): Effect[] {
  const ts = (head(s.state.chain).block + 1) * 12_000;
  const r = execute(s.state, { kind: "block", ts, extrinsics } as Command, HANDLERS);
  expect(r.error).toBeUndefined();
  s.log.push(...r.events);
  return r.events[0]?.payload.effects as unknown as Effect[];
}

/** A fresh strict state built from the events as stored (through JSON). */
export function replayOf(log: EventDraft[]): State {
  const state = createState({ strict: true });
  for (const e of log) applyEvent(state, { type: e.type, version: e.version, payload: JSON.parse(encodePayload(e)) });
  return state;
}
