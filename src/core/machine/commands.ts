import { DomainError, ValidationError } from "../errors/errors.ts";
import { type AssetId, assetName, TAO } from "../ledger/asset.ts";
import { MAX_ISSUANCE } from "../ledger/ledger.ts";
import { type BlockCommand, type BlockRangeCommand, produceBlock, produceBlockRange } from "../chain/block.ts";
import { type ChainGenesis, decodeChainParams, encodeChainGenesis } from "../chain/chain-state.ts";
import { applyEffect, type Effect } from "../chain/effects.ts";
import type { EventDraft } from "./event.ts";
import type { State } from "./state.ts";

export interface Endowment {
  owner: string;
  amount_rao: bigint;
}

/** Everything that can change the state enters as one of these, in the writer's order. */
export type Command =
  | { kind: "genesis"; endowments: Endowment[]; chain?: ChainGenesis }
  | BlockCommand
  | BlockRangeCommand
  | { kind: "transfer"; asset: AssetId; from: string; to: string; amount_rao: bigint }
  | { kind: "batch_transfer"; asset: AssetId; from: string; to: Endowment[] };

export type CommandKind = Command["kind"];

/**
 * A handler checks the rules and performs the command's ledger effects (under the writer's
 * journal), returning the one event that records them. It throws DomainError to refuse.
 */
export type Handler<C extends Command = Command> = (state: State, command: C) => EventDraft;

export type Handlers = { [K in CommandKind]: Handler<Extract<Command, { kind: K }>> };

function positive(amount: bigint, what: string): void {
  if (amount <= 0n) throw new ValidationError(`${what} must be a positive number of rao`, { amount_rao: amount.toString() });
}

/** Sets the chain's parameters and creates its genesis subnets (handler and replay alike). */
export function applyChainGenesis(state: State, chain: { params: Record<string, unknown>; subnets: Effect[] }): void {
  state.chain.params.set("params", decodeChainParams(chain.params));
  for (const e of chain.subnets) applyEffect(state, e);
}

export const HANDLERS: Handlers = {
  block: (state, command) => produceBlock(state, command),
  block_range: (state, command) => produceBlockRange(state, command),

  genesis(state, command) {
    const { ledger } = state;
    if (ledger.totals(TAO).minted !== 0n) throw new DomainError("VALIDATION_FAILED", "genesis was already applied");
    let total = 0n;
    for (const e of command.endowments) {
      positive(e.amount_rao, "an endowment");
      total += e.amount_rao;
    }
    if (total > MAX_ISSUANCE) {
      throw new ValidationError(`genesis endows ${total} rao, more than the ${MAX_ISSUANCE} rao cap`);
    }
    let rest = ledger.mint(TAO, total);
    for (const e of command.endowments) {
      const [part, remaining] = rest.split(e.amount_rao);
      ledger.deposit(ledger.account(TAO, e.owner), part);
      rest = remaining;
    }
    rest.dropZero();
    const payload: EventDraft["payload"] = { endowments: command.endowments.map((e) => [e.owner, e.amount_rao.toString()]) };
    if (command.chain) {
      if (state.chain.params.size > 0) throw new DomainError("VALIDATION_FAILED", "the chain already has a genesis");
      payload.chain = encodeChainGenesis(command.chain) as unknown as EventDraft["payload"][string];
      applyChainGenesis(state, payload.chain as never);
    }
    return { type: "GenesisEndowed", version: 1, payload };
  },

  transfer(state, command) {
    positive(command.amount_rao, "a transfer");
    const { ledger } = state;
    const from = ledger.findAccount(command.asset, command.from);
    if (from === undefined) {
      throw new DomainError("INSUFFICIENT_BALANCE", `${command.from} holds no ${assetName(command.asset)}`);
    }
    ledger.transfer(from, ledger.account(command.asset, command.to), command.amount_rao);
    return {
      type: "Transferred",
      version: 1,
      payload: {
        asset: assetName(command.asset),
        from: command.from,
        to: command.to,
        amount_rao: command.amount_rao.toString(),
      },
    };
  },

  batch_transfer(state, command) {
    const { ledger } = state;
    if (command.to.length === 0) throw new ValidationError("a batch transfer needs at least one recipient");
    let total = 0n;
    for (const leg of command.to) {
      positive(leg.amount_rao, "each leg of a batch transfer");
      total += leg.amount_rao;
    }
    const from = ledger.findAccount(command.asset, command.from);
    if (from === undefined) {
      throw new DomainError("INSUFFICIENT_BALANCE", `${command.from} holds no ${assetName(command.asset)}`);
    }
    let rest = ledger.withdraw(from, total);
    for (const leg of command.to) {
      const [part, remaining] = rest.split(leg.amount_rao);
      ledger.deposit(ledger.account(command.asset, leg.owner), part);
      rest = remaining;
    }
    rest.dropZero();
    return {
      type: "BatchTransferred",
      version: 1,
      payload: {
        asset: assetName(command.asset),
        from: command.from,
        total_rao: total.toString(),
        to: command.to.map((leg) => [leg.owner, leg.amount_rao.toString()]),
      },
    };
  },
};
