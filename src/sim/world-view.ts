import { account, head, isEpochBlock, key } from "../core/chain/chain-state.ts";
import { PROP_NETUID } from "../core/entities/entity-commands.ts";
import { TAO } from "../core/ledger/asset.ts";
import { IDEMPOTENCY_TTL_MS } from "../core/machine/idempotency.ts";
import type { State } from "../core/machine/state.ts";
import { positionKey } from "../core/trading/trading-state.ts";

export interface EntityView {
  hotkey: string;
  nextId: number;
  active: number;
  max: number;
  frozen: boolean;
  freeCollateralRao: bigint;
}

export interface SubaccountView {
  synthetic: string;
  entity: string;
  id: number;
  active: boolean;
  accountSizeUsd: number;
}

/** What the simulated clients may know of the committed state: enough to send sensible (and senseless) requests. */
export interface WorldView {
  block: number;
  blockTs: number;
  /** Blocks from the head to the next epoch block of subnet 1 (1: the next block runs it). */
  epochIn: number;
  /** Hotkeys holding a uid on subnet 1. */
  neurons: Set<string>;
  entities: Map<string, EntityView>;
  subaccounts: SubaccountView[];
  /** Regular miners that traded: eliminated or not. */
  miners: Map<string, { eliminated: boolean }>;
  /** trader -> pair -> net leverage of its open position. */
  open: Map<string, Map<string, number>>;
  prices: Map<string, { price: number; tsMs: number }>;
  held: Array<{ pair: string; tsMs: number }>;
  /** TAO balance per coldkey asked about. */
  balances: Map<string, bigint>;
  /** Idempotency keys still held at `now` (`signer|key`): within their 24 hours. */
  heldKeys: string[];
}

/** Reads the view from committed state (inside node.read); `now` is node time. */
export function worldView(state: State, coldkeys: readonly string[], now: number): WorldView {
  const h = head(state.chain);
  const subnet = state.chain.subnets.get(PROP_NETUID);
  let epochIn = 1;
  if (subnet) while (!isEpochBlock(h.block + epochIn, PROP_NETUID, subnet.tempo) && epochIn < 100_000) epochIn++;
  const neurons = new Set<string>();
  for (let uid = 0; uid < (subnet?.neuronCount ?? 0); uid++) {
    const n = state.chain.neurons.get(key.neuron(PROP_NETUID, uid));
    if (n) neurons.add(n.hotkey);
  }
  const entities = new Map<string, EntityView>();
  for (const [hotkey, e] of state.entities.entities.sortedEntries()) {
    entities.set(hotkey, {
      hotkey,
      nextId: e.nextId,
      active: e.active,
      max: e.maxSubaccounts,
      frozen: e.frozenByViolation || !neurons.has(hotkey),
      freeCollateralRao: state.ledger.balanceOf(TAO, account.collateral(hotkey)),
    });
  }
  const subaccounts: SubaccountView[] = state.entities.subaccounts
    .sortedEntries()
    .map(([synthetic, s]) => ({ synthetic, entity: s.entity, id: s.id, active: s.status === "active", accountSizeUsd: s.accountSizeUsd }));
  const miners = new Map<string, { eliminated: boolean }>();
  const open = new Map<string, Map<string, number>>();
  for (const [trader, t] of state.trading.traders.sortedEntries()) {
    if (t.entity === null) miners.set(trader, { eliminated: t.elimination !== null });
    if (t.openPairs.length === 0) continue;
    const pairs = new Map<string, number>();
    for (const pair of t.openPairs) pairs.set(pair, state.trading.open.get(positionKey(trader, pair))?.net_leverage ?? 0);
    open.set(trader, pairs);
  }
  const prices = new Map<string, { price: number; tsMs: number }>();
  for (const [pair, p] of state.trading.prices.sortedEntries()) prices.set(pair, { price: p.price, tsMs: p.ts_ms });
  const balances = new Map<string, bigint>();
  for (const c of coldkeys) balances.set(c, state.ledger.balanceOf(TAO, c));
  return {
    block: h.block,
    blockTs: h.timestampMs,
    epochIn,
    neurons,
    entities,
    subaccounts,
    miners,
    open,
    prices,
    held: state.trading.held.sortedEntries().map(([, x]) => ({ pair: x.trade_pair, tsMs: x.ts_ms })),
    balances,
    heldKeys: state.idempotency.sortedEntries().flatMap(([k, r]) => (r.ts_ms + IDEMPOTENCY_TTL_MS > now ? [k] : [])),
  };
}
