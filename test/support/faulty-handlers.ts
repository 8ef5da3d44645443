import { HANDLERS, type Handlers } from "../../src/core/machine/commands.ts";
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

