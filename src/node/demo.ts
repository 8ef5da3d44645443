import { Keyring } from "@polkadot/keyring";
import { key } from "../core/chain/chain-state.ts";
import { PROP_NETUID } from "../core/entities/entity-commands.ts";
import type { Command } from "../core/machine/commands.ts";
import { prng } from "../core/random/prng.ts";
import { unrealizedPnl } from "../core/trading/position.ts";
import { TRADE_PAIRS, type TradePair } from "../core/trading/trade-pairs.ts";
import type { BlockProducer } from "./block-producer.ts";
import { DEMO_START_PRICES, DemoPrices } from "./demo-prices.ts";
import type { PropnetNode } from "./node.ts";

/** How often the demo posts prices and trades. */
export const DEMO_TICK_MS = 2_000;
/** The demo's devnet tempo (blocks per epoch): with 12 s blocks an epoch every 36 s, the first within a minute. */
export const DEMO_TEMPO = 2;
/** The demo's payout period when the user chose none: debts become owed, and weights follow them, within a minute. */
export const DEMO_PAYOUT_PERIOD = "1m" as const;
/**
 * At most this many orders per tick, so a tick stays a short burst of small commands: more in the
 * first minutes (every subaccount opens, and the first challenges are decided), fewer afterwards,
 * so that a devnet left running does not fill its disk with demo orders.
 */
const ORDERS_PER_TICK = { warmUp: 32, after: 3 };
/** Ticks of warm-up: five minutes at the default tick. */
const WARM_UP_TICKS = 150;
/** One replacement subaccount every this many ticks (eliminated ones are replaced, so the desks keep their size). */
const TICKS_PER_CREATION = { warmUp: 1, after: 5 };
const TAO_RAO = 1_000_000_000n;
/** Each demo entity's collateral: 4 TAO reserved per 10,000 USD subaccount, the rest covers slashes for hours. */
const DEMO_COLLATERAL_RAO = 1_000n * TAO_RAO;
/** What the demo trades: every tradable pair (TAOUSD is priced for valuation, never traded). */
export const DEMO_TRADED_PAIRS = TRADE_PAIRS.filter((p) => p.tradable);

/**
 * A demo desk: an entity (hotkey `//<coldkey>//demo-entity`, registered and funded by the
 * development account `coldkey`), how many subaccounts it keeps active, and how boldly they trade:
 * the leverage they open at, as a fraction of each pair's maximum, and the share of forex (where
 * leverage reaches 5) in their book. Bold desks pass or fail their challenge within a minute.
 */
export interface DemoDesk {
  coldkey: string;
  subaccounts: number;
  /** Leverage as a fraction of the pair's maximum, drawn in [min, max]. */
  leverage: [number, number];
  /** Probability that a subaccount trades forex rather than crypto. */
  forex: number;
}

export const DEMO_DESKS: readonly DemoDesk[] = Object.freeze([
  { coldkey: "Dave", subaccounts: 40, leverage: [0.8, 1], forex: 1 },
  { coldkey: "Eve", subaccounts: 32, leverage: [0.5, 1], forex: 0.8 },
  { coldkey: "Ferdie", subaccounts: 28, leverage: [0.3, 0.7], forex: 0.7 },
  { coldkey: "Charlie", subaccounts: 24, leverage: [0.2, 0.6], forex: 0.5 },
]);

export interface DemoOptions {
  desks?: readonly DemoDesk[];
  /** Seeds the prices and the traders' choices (default: the time, so each fresh devnet differs). */
  seed?: number;
  tickMs?: number;
}

interface Desk extends DemoDesk {
  entity: string;
  coldkeyAddress: string;
}

/** One demo subaccount as the committed state shows it, with what the demo needs to decide. */
interface Seat {
  entity: string;
  id: number;
  challenge: "in_challenge" | "passed" | "failed";
  /** The open position's pair and its unrealised PnL as a fraction of the account, or null. */
  open: { pair: string; pnl: number } | null;
}

/** An order the demo chose. */
interface DemoOrder {
  entity: string;
  id: number;
  pair: TradePair;
  type: "LONG" | "SHORT" | "FLAT";
  leverage?: number;
}

/**
 * The devnet demo (off with `--no-demo`): generated prices every couple of seconds (TAOUSD
 * included) and four demo entities with dozens of subaccounts each trading on them, so a fresh
 * start shows the whole loop within a minute or two: challenges passed (+3%) and failed (6%
 * drawdown), funded subaccounts banking profits, the validator's weights following their debts,
 * and epochs whose alpha is attributed to them. Everything goes through the commands the API
 * issues (node.submit) and the chain extrinsics users send (the block producer); each is small.
 */
export class Demo {
  #timer: NodeJS.Timeout | null = null;
  #prices: DemoPrices | null = null;
  readonly #random: () => number;
  readonly #seed: number;
  readonly #desks: Desk[];
  readonly #tickMs: number;
  #tick: Promise<void> = Promise.resolve();
  /** Entities whose collateral top-up is waiting for its block. */
  readonly #toppingUp = new Set<string>();
  #ticks = 0;
  /** Per entity, the lowest id that was still active: ids below it are eliminated for good, not read again. */
  readonly #firstActive = new Map<string, number>();

  constructor(
    readonly node: PropnetNode,
    readonly producer: BlockProducer,
    readonly say: (message: string) => void = () => {},
    options: DemoOptions = {},
  ) {
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    this.#seed = options.seed ?? Date.now() & 0x7fffffff;
    this.#random = prng(this.#seed ^ 0x5eed);
    this.#tickMs = options.tickMs ?? DEMO_TICK_MS;
    this.#desks = (options.desks ?? DEMO_DESKS).map((d) => ({
      ...d,
      entity: keyring.addFromUri(`//${d.coldkey}//demo-entity`).address,
      coldkeyAddress: keyring.addFromUri(`//${d.coldkey}`).address,
    }));
  }

  /** The demo entities' hotkeys. */
  get entities(): string[] {
    return this.#desks.map((d) => d.entity);
  }

  /** The first demo entity (kept for callers of the one-entity demo). */
  get entity(): string {
    return this.#desks[0]?.entity ?? "";
  }

  /** Prices first (so orders can fill), then the desks; then a tick every `tickMs`. */
  async start(): Promise<void> {
    await this.setUp();
    this.#timer = setInterval(() => {
      this.#tick = this.#tick.then(() => this.tick()).catch((error: unknown) => this.say(`demo: ${(error as Error).message}`));
    }, this.#tickMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#tick;
  }

  /** Posts the first prices and sets up every desk (a restart finds them and only tops them up). */
  async setUp(): Promise<void> {
    const prices = await this.node.read((state) => new Map(state.trading.prices.sortedEntries()));
    // Start from the prices the log already holds, so a restart does not jump past the price guard.
    this.#prices = new DemoPrices(
      this.#seed,
      DEMO_START_PRICES.map((p) => ({ id: p.id, start: prices.get(p.id)?.price ?? p.start })),
    );
    await this.#postPrices();
    await this.#setUpDesks().catch((error: unknown) => this.say(`demo entities not set up: ${(error as Error).message}`));
  }

  async #submit(command: Command): Promise<{ ok: boolean; code?: string }> {
    const outcome = await this.node.submit({ command });
    return outcome.ok ? { ok: true } : { ok: false, code: outcome.error.code };
  }

  async #postPrices(): Promise<void> {
    const ts = this.node.clock.now();
    await this.#submit({ kind: "post_prices", ts, prices: (this.#prices as DemoPrices).next(ts) });
  }

  /** Registers each desk's hotkey as a neuron and deposits its collateral (two blocks for all), then its entity and subaccounts. */
  async #setUpDesks(): Promise<void> {
    const known = await this.node.read((state) =>
      this.#desks.map((d) => ({
        neuron: state.chain.uids.has(key.hotkey(PROP_NETUID, d.entity)),
        entity: state.entities.entities.get(d.entity),
      })),
    );
    const include = (x: Parameters<BlockProducer["include"]>[0]) => this.producer.include(x, { now: true });
    await Promise.all(
      this.#desks.flatMap((d, i) =>
        known[i]?.neuron ? [] : [include({ call: "subtensor.burned_register", signer: d.coldkeyAddress, args: { netuid: PROP_NETUID, hotkey: d.entity } })],
      ),
    );
    await Promise.all(
      this.#desks.flatMap((d, i) =>
        known[i]?.entity ? [] : [include({ call: "collateral.deposit", signer: d.coldkeyAddress, args: { hotkey: d.entity, amount_rao: DEMO_COLLATERAL_RAO.toString() } })],
      ),
    );
    for (const [i, d] of this.#desks.entries()) {
      if (!known[i]?.entity) await this.#submit({ kind: "register_entity", ts: this.node.clock.now(), hotkey: d.entity, max_subaccounts: d.subaccounts });
      const active = known[i]?.entity?.active ?? 0;
      // Concurrent submissions share a commit; each creation is its own small command.
      await Promise.all(
        Array.from({ length: Math.max(0, d.subaccounts - active) }, () =>
          this.#submit({ kind: "create_subaccount", ts: this.node.clock.now(), entity: d.entity, uuid: crypto.randomUUID() }),
        ),
      );
    }
    const total = this.#desks.reduce((n, d) => n + d.subaccounts, 0);
    this.say(`demo: ${this.#desks.length} entities with ${total} subaccounts trade on generated prices (a tick every ${this.#tickMs / 1000} s)`);
  }

  /** One demo tick: prices, then a burst of orders, then replacements for eliminated subaccounts. */
  async tick(): Promise<void> {
    this.#ticks++;
    await this.#postPrices();
    const seats = await this.#seats();
    const warm = this.#ticks <= WARM_UP_TICKS;
    const orders = this.#choose(seats).slice(0, warm ? ORDERS_PER_TICK.warmUp : ORDERS_PER_TICK.after);
    await Promise.all(orders.map((o) => this.#order(o)));
    if (this.#ticks % (warm ? TICKS_PER_CREATION.warmUp : TICKS_PER_CREATION.after) === 0) await this.#replaceEliminated();
  }

  async #seats(): Promise<Seat[]> {
    return this.node.read((state) => {
      const seats: Seat[] = [];
      for (const d of this.#desks) {
        const e = state.entities.entities.get(d.entity);
        let first: number | null = null;
        for (let id = this.#firstActive.get(d.entity) ?? 0; e && id < e.nextId; id++) {
          const hotkey = `${d.entity}_${id}`;
          if (state.entities.subaccounts.get(hotkey)?.status !== "active") continue;
          first ??= id;
          const t = state.trading.traders.get(hotkey);
          const pair = t?.openPairs[0];
          const position = pair === undefined ? undefined : state.trading.open.get(`${hotkey}|${pair}`);
          const price = pair === undefined ? undefined : state.trading.prices.get(pair)?.price;
          const size = t?.accountSizeUsd ?? 10_000;
          seats.push({
            entity: d.entity,
            id,
            challenge: t?.challenge ?? "in_challenge",
            open: pair !== undefined && position && price !== undefined ? { pair, pnl: unrealizedPnl(position, price, size) / size } : null,
          });
        }
        if (e) this.#firstActive.set(d.entity, first ?? e.nextId);
      }
      return seats;
    });
  }

  /**
   * Who trades this tick: a funded subaccount banks a profit (its debt becomes owed at the end of
   * the payout period) or, now and then, cuts a loss; one without a position opens one on its
   * desk's terms; one in its challenge holds, and lets the prices pass or fail it.
   */
  #choose(seats: Seat[]): DemoOrder[] {
    const desk = new Map(this.#desks.map((d) => [d.entity, d]));
    const closes: DemoOrder[] = [];
    const opens: DemoOrder[] = [];
    for (const s of seats) {
      const d = desk.get(s.entity) as Desk;
      if (s.open) {
        const pair = DEMO_TRADED_PAIRS.find((p) => p.id === s.open?.pair) as TradePair;
        const funded = s.challenge === "passed";
        if ((funded && s.open.pnl > 0.002) || (funded && s.open.pnl < -0.02 && this.#random() < 0.3) || (!funded && this.#random() < 0.01)) {
          closes.push({ entity: s.entity, id: s.id, pair, type: "FLAT" });
        }
        continue;
      }
      // A funded subaccount that just banked waits a little before its next trade.
      if (s.challenge === "passed" && this.#random() < 0.5) continue;
      const forex = this.#random() < d.forex;
      const pairs = DEMO_TRADED_PAIRS.filter((p) => (p.category === "forex") === forex);
      const pair = pairs[Math.floor(this.#random() * pairs.length)] as TradePair;
      const [lo, hi] = d.leverage;
      const leverage = Math.max(pair.min_leverage, Number((pair.max_leverage * (lo + (hi - lo) * this.#random())).toFixed(2)));
      opens.push({ entity: s.entity, id: s.id, pair, type: this.#random() < 0.5 ? "LONG" : "SHORT", leverage });
    }
    // Closes first (banking a profit cannot wait), each list in a random order so no desk starves under the cap.
    return [...this.#shuffled(closes), ...this.#shuffled(opens)];
  }

  #shuffled<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }

  async #order(o: DemoOrder): Promise<void> {
    await this.#submit({
      kind: "place_order",
      ts: this.node.clock.now(),
      signer: o.entity,
      subaccount_id: o.id,
      trade_pair: o.pair.id,
      order_type: o.type,
      leverage: o.leverage,
      order_uuid: crypto.randomUUID(),
      // As the route makes it: the order's own fields.
      fingerprint: JSON.stringify([o.id, o.pair.id, o.type, o.leverage ?? null]),
      position_uuid: crypto.randomUUID(),
    });
  }

  /** Eliminated subaccounts are replaced a few per tick, so the desks keep their size; collateral is topped up when it runs short. */
  async #replaceEliminated(): Promise<void> {
    const short = await this.node.read((state) =>
      this.#desks.flatMap((d) => {
        const e = state.entities.entities.get(d.entity);
        return e && e.active < d.subaccounts ? [d] : [];
      }),
    );
    // One per round, the desks in turn.
    for (const d of short.length > 0 ? [short[this.#ticks % short.length] as Desk] : []) {
      const created = await this.#submit({ kind: "create_subaccount", ts: this.node.clock.now(), entity: d.entity, uuid: crypto.randomUUID() });
      if (!created.ok && created.code === "INSUFFICIENT_COLLATERAL" && !this.#toppingUp.has(d.entity)) {
        // Waits for the next block: not awaited, so the tick stays short.
        this.#toppingUp.add(d.entity);
        void this.producer
          .include({ call: "collateral.deposit", signer: d.coldkeyAddress, args: { hotkey: d.entity, amount_rao: DEMO_COLLATERAL_RAO.toString() } })
          .catch(() => undefined)
          .finally(() => this.#toppingUp.delete(d.entity));
      }
    }
  }
}
