import { type BlockCommand, produceBlock } from "../../src/core/chain/block.ts";
import type { Effect } from "../../src/core/chain/effects.ts";
import { HANDLERS, type Handlers } from "../../src/core/machine/commands.ts";
import type { EventDraft } from "../../src/core/machine/event.ts";
import { prng } from "../../src/core/random/prng.ts";

export { prng };

/**
 * Deliberate bugs, for proving the invariant machinery catches them. Never used by src/.
 */

/** Withdraws for every leg but forgets to place the last one (and records that honestly). */
export const forgetsLastLeg: Handlers = {
  ...HANDLERS,
  batch_transfer(state, command) {
    const { ledger } = state;
    const total = command.to.reduce((s, l) => s + l.amount_rao, 0n);
    let rest = ledger.withdraw(ledger.account(command.asset, command.from), total);
    const placed = command.to.slice(0, -1);
    for (const leg of placed) {
      const [part, remaining] = rest.split(leg.amount_rao);
      ledger.deposit(ledger.account(command.asset, leg.owner), part);
      rest = remaining;
    }
    return {
      type: "BatchTransferred",
      version: 1,
      payload: {
        asset: "TAO",
        from: command.from,
        total_rao: total.toString(),
        to: placed.map((l) => [l.owner, l.amount_rao.toString()]),
      },
    };
  },
};

/** Moves the amount asked but records one rao more, so replay would differ from what happened. */
export const liesAboutAmount: Handlers = {
  ...HANDLERS,
  transfer(state, command) {
    const event = HANDLERS.transfer(state, command);
    return { ...event, payload: { ...event.payload, amount_rao: (command.amount_rao + 1n).toString() } };
  },
};


/**
 * Produces blocks honestly, but (for the blocks `when` picks) records one effect more than
 * happened: a pause of subnet 99, which does not exist. Applying the event then throws midway,
 * after the block's real effects were re-applied (the head moved, subnet 1's alpha minted): an
 * event its own appliers cannot apply.
 */
export function blockApplyFails(when: (command: BlockCommand) => boolean = () => true): Handlers {
  return {
    ...HANDLERS,
    block(state, command) {
      const event = produceBlock(state, command);
      if (!when(command)) return event;
      const effects = [...(event.payload.effects as unknown as Effect[]), { k: "paused", netuid: 99 } satisfies Effect];
      return { ...event, payload: { ...event.payload, effects: effects as unknown as EventDraft["payload"][string] } };
    },
  };
}

/** Transfers honestly but records a remainder that never existed: apply fails after its scope ended. */
export const recordsPhantomRemainder: Handlers = {
  ...HANDLERS,
  transfer(state, command) {
    const event = HANDLERS.transfer(state, command);
    return { ...event, payload: { ...event.payload, remainders: [["TAO", "1"]] } };
  },
};
