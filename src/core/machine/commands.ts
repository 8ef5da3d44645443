import { DomainError, ValidationError } from "../errors/errors.ts";
import { type AssetId, assetName, TAO } from "../ledger/asset.ts";
import { MAX_ISSUANCE } from "../ledger/ledger.ts";
import { type BlockCommand, type BlockRangeCommand, produceBlock, produceBlockRange } from "../chain/block.ts";
import { type ChainGenesis, decodeChainParams, encodeChainGenesis, genesisEffectCosts } from "../chain/chain-state.ts";
import { applyEffect, type Effect } from "../chain/effects.ts";
import {
  createSubaccount,
  type CreateSubaccount,
  eliminateSubaccount,
  type EliminateSubaccount,
  registerEntity,
  type RegisterEntity,
  reinstateSubaccount,
  type ReinstateSubaccount,
  unfreezeEntity,
  type UnfreezeEntity,
} from "../entities/entity-commands.ts";
import {
  type PlaceOrder,
  placeOrderCommand,
  type PostPrices,
  postPricesCommand,
  type ResolveHeldPrice,
  resolveHeldPriceCommand,
  type SweepChallenges,
  sweepChallengesCommand,
} from "../trading/trading-commands.ts";
import { type AttributeEntity, attributeEntityCommand, attributeEpochEffect } from "../debt/attribute-epoch.ts";
import type { SetPayoutPeriod } from "../debt/debt-state.ts";
import { setPayoutPeriodCommand } from "../debt/payout-period-command.ts";
import { type AssessEntity, assessEntityCommand, type ScoreWeights, scoreWeightsCommand } from "../debt/score-weights.ts";
import {
  type FollowChain,
  followChainCommand,
  type ObserveChainEpoch,
  observeChainEpochCommand,
  type RecordChainGap,
  recordChainGapCommand,
} from "../observed-chain/observed-chain-commands.ts";
import { type ApplySyncBatch, applySyncBatchCommand, type ChangeMothership, changeMothershipCommand } from "../sync/sync-commands.ts";
import type { EventDraft, JsonObject } from "./event.ts";
import { applyRequest, heldIdempotencyKey } from "./idempotency.ts";
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
  | { kind: "batch_transfer"; asset: AssetId; from: string; to: Endowment[] }
  | OffChain<RegisterEntity>
  | OffChain<CreateSubaccount>
  | OffChain<EliminateSubaccount>
  | OffChain<ReinstateSubaccount>
  | OffChain<UnfreezeEntity>
  | OffChain<PlaceOrder>
  | OffChain<PostPrices>
  | OffChain<ResolveHeldPrice>
  | SweepChallenges
  | ScoreWeights
  | SetPayoutPeriod
  | AttributeEntity
  | AssessEntity
  | FollowChain
  | ObserveChainEpoch
  | RecordChainGap
  | ApplySyncBatch
  | OffChain<ChangeMothership>;

/** The signed request a command came from: its uuid is kept with the event, so a replay is refused even after a restart. */
export interface RequestMeta {
  signer: string;
  uuid: string;
  /** Idempotency-Key and the fingerprint (hash) of the request it came with. */
  idempotency?: { key: string; fingerprint: string };
}

type OffChain<C> = C & { request?: RequestMeta };

/**
 * Every off-chain command: a repeated Idempotency-Key is refused before anything runs (the API
 * answers a same-body repeat with the first response, rebuilt from `ref`); the request's identity
 * goes into the event, where `applyRequest` records it, on the live path and on replay alike.
 */
function offChain<C extends OffChain<{ ts: number }>>(handler: (state: State, command: C) => EventDraft): (state: State, command: C) => EventDraft {
  return (state, command) => {
    const req = command.request;
    if (req?.idempotency) {
      const prior = heldIdempotencyKey(state, req.signer, req.idempotency.key, command.ts);
      if (prior) {
        const same = prior.fingerprint === req.idempotency.fingerprint;
        throw new DomainError("IDEMPOTENCY_KEY_REUSED", same ? "this Idempotency-Key was already used with this body" : "this Idempotency-Key was already used with another body", {
          same_body: same,
        });
      }
    }
    const draft = handler(state, command);
    if (!req) return draft;
    const request: JsonObject = { signer: req.signer, uuid: req.uuid };
    if (req.idempotency) Object.assign(request, { idempotency_key: req.idempotency.key, fingerprint: req.idempotency.fingerprint });
    const payload = { ...draft.payload, request };
    applyRequest(state, payload);
    return { ...draft, payload };
  };
}

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

/**
 * Sets the chain's parameters and applies the recorded genesis effects: subnets, then their genesis
 * neurons' registrations and stakes (handler and replay alike).
 */
export function applyChainGenesis(state: State, chain: { params: Record<string, unknown>; subnets: Effect[] }): void {
  state.chain.params.set("params", decodeChainParams(chain.params));
  // A clear refusal rather than the ledger's: the endowments must pay every genesis burn and stake.
  const needs = genesisEffectCosts(chain.subnets);
  for (const [coldkey, need] of [...needs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const have = state.ledger.balanceOf(TAO, coldkey);
    if (have < need) {
      throw new ValidationError(`genesis: ${coldkey} is endowed with ${have} rao, but its genesis registrations and stake need ${need}`, {
        coldkey,
        needed_rao: need.toString(),
        available_rao: have.toString(),
      });
    }
  }
  for (const e of chain.subnets) applyEffect(state, e);
}

export const HANDLERS: Handlers = {
  register_entity: offChain(registerEntity),
  create_subaccount: offChain(createSubaccount),
  eliminate_subaccount: offChain(eliminateSubaccount),
  reinstate_subaccount: offChain(reinstateSubaccount),
  unfreeze_entity: offChain(unfreezeEntity),
  place_order: offChain(placeOrderCommand),
  post_prices: offChain(postPricesCommand),
  resolve_held_price: offChain(resolveHeldPriceCommand),
  sweep_challenges: sweepChallengesCommand,
  score_weights: scoreWeightsCommand,
  attribute_entity: attributeEntityCommand,
  assess_entity: assessEntityCommand,
  follow_chain: followChainCommand,
  observe_chain_epoch: observeChainEpochCommand,
  record_chain_gap: recordChainGapCommand,
  apply_sync_batch: applySyncBatchCommand,
  change_mothership: offChain(changeMothershipCommand),
  set_payout_period: setPayoutPeriodCommand,
  block: (state, command) => produceBlock(state, command, {}, { afterEpoch: attributeEpochEffect }),
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
