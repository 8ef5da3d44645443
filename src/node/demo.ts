import { Keyring } from "@polkadot/keyring";
import type { Command } from "../core/machine/commands.ts";
import { prng } from "../core/random/prng.ts";
import { TRADE_PAIRS } from "../core/trading/trade-pairs.ts";
import type { BlockProducer } from "./block-producer.ts";
import { DEMO_START_PRICES, DemoPrices } from "./demo-prices.ts";
import type { PropnetNode } from "./node.ts";

/** How often the demo posts prices and trades. */
export const DEMO_TICK_MS = 5_000;
const TAO_RAO = 1_000_000_000n;
const DEMO_SUBACCOUNTS = 3;
/** What the demo entity trades: the crypto pairs (TAOUSD is priced for valuation, never traded). */
export const DEMO_TRADED_PAIRS = TRADE_PAIRS.filter((p) => p.tradable && p.category === "crypto");

/**
 * The devnet demo (off with `--no-demo`): generated prices every few seconds (TAOUSD included),
 * and one demo entity (hotkey `//Dave//demo-entity`, funded by //Dave) whose subaccounts trade on
 * them (never TAOUSD), so a fresh start has something moving. Everything goes through the same
 * commands as the API.
 */
export class Demo {
  #timer: NodeJS.Timeout | null = null;
  #prices: DemoPrices | null = null;
  readonly #random = prng(7);
  readonly #entity: string;
  readonly #coldkey: string;
  #tick: Promise<void> = Promise.resolve();

  constructor(
    readonly node: PropnetNode,
    readonly producer: BlockProducer,
    readonly say: (message: string) => void = () => {},
  ) {
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    this.#entity = keyring.addFromUri("//Dave//demo-entity").address;
    this.#coldkey = keyring.addFromUri("//Dave").address;
  }

  get entity(): string {
    return this.#entity;
  }

  async start(): Promise<void> {
    const prices = await this.node.read((state) => new Map(state.trading.prices.sortedEntries()));
    // Start from the prices the log already holds, so a restart does not jump past the price guard.
    this.#prices = new DemoPrices(
      Date.now() & 0x7fffffff,
      DEMO_START_PRICES.map((p) => ({ id: p.id, start: prices.get(p.id)?.price ?? p.start })),
    );
    await this.#postPrices();
    await this.#setUpEntity().catch((error: unknown) => this.say(`demo entity not set up: ${(error as Error).message}`));
    this.#timer = setInterval(() => {
      this.#tick = this.#tick.then(() => this.#step()).catch((error: unknown) => this.say(`demo: ${(error as Error).message}`));
    }, DEMO_TICK_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#tick;
  }

  async #submit(command: Command): Promise<boolean> {
    const outcome = await this.node.submit({ command });
    return outcome.ok;
  }

  async #postPrices(): Promise<void> {
    const ts = this.node.clock.now();
    await this.#submit({ kind: "post_prices", ts, prices: (this.#prices as DemoPrices).next(ts) });
  }

  async #setUpEntity(): Promise<void> {
    const known = await this.node.read((state) => state.entities.entities.has(this.#entity));
    if (known) return;
    for (const x of [
      { call: "subtensor.burned_register", signer: this.#coldkey, args: { netuid: 1, hotkey: this.#entity } },
      { call: "collateral.deposit", signer: this.#coldkey, args: { hotkey: this.#entity, amount_rao: (100n * TAO_RAO).toString() } },
    ]) {
      await this.producer.include(x, { now: true });
    }
    await this.#submit({ kind: "register_entity", ts: this.node.clock.now(), hotkey: this.#entity, max_subaccounts: 10 });
    for (let i = 0; i < DEMO_SUBACCOUNTS; i++) {
      await this.#submit({ kind: "create_subaccount", ts: this.node.clock.now(), entity: this.#entity, uuid: crypto.randomUUID() });
    }
    this.say(`demo entity ${this.#entity} trades ${DEMO_SUBACCOUNTS} subaccounts on generated prices`);
  }

  async #step(): Promise<void> {
    await this.#postPrices();
    const active = await this.node.read((state) => {
      const e = state.entities.entities.get(this.#entity);
      const ids: number[] = [];
      for (let id = 0; e && id < e.nextId; id++) if (state.entities.subaccounts.get(`${this.#entity}_${id}`)?.status === "active") ids.push(id);
      return ids;
    });
    if (active.length === 0) return;
    const id = active[Math.floor(this.#random() * active.length)] as number;
    const pair = DEMO_TRADED_PAIRS[Math.floor(this.#random() * DEMO_TRADED_PAIRS.length)] as (typeof TRADE_PAIRS)[number];
    const r = this.#random();
    const orderType = r < 0.45 ? "LONG" : r < 0.9 ? "SHORT" : "FLAT";
    await this.#submit({
      kind: "place_order",
      ts: this.node.clock.now(),
      signer: this.#entity,
      subaccount_id: id,
      trade_pair: pair.id,
      order_type: orderType,
      leverage: orderType === "FLAT" ? undefined : pair.min_leverage * 5,
      order_uuid: crypto.randomUUID(),
      fingerprint: "demo",
      position_uuid: crypto.randomUUID(),
    });
  }
}
