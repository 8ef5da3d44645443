import { createHash } from "node:crypto";
import type { Extrinsic } from "../core/chain/block.ts";
import { DomainError } from "../core/errors/errors.ts";
import type { Command, CommandKind } from "../core/machine/commands.ts";
import { stateHash } from "../core/machine/state.ts";
import { tradePair } from "../core/trading/trade-pairs.ts";
import type { Outcome } from "../node/writer.ts";
import type { AckBook } from "./ack-book.ts";
import { invalidCommands } from "./invalid-commands.ts";
import type { NodeLife } from "./node-life.ts";
import type { SeededRandom } from "./seeded-random.ts";
import type { SimWorld } from "./sim-world.ts";
import type { VirtualClock } from "./virtual-clock.ts";
import { type WorldView, worldView } from "./world-view.ts";

const TAO = 1_000_000_000n;
/** Where prices start; NZDUSD is never priced, so an order on it meets NO_PRICE. */
const START_PRICES: Record<string, number> = {
  BTCUSD: 60_000,
  ETHUSD: 3_000,
  SOLUSD: 150,
  XRPUSD: 0.5,
  DOGEUSD: 0.1,
  ADAUSD: 0.4,
  EURUSD: 1.08,
  GBPUSD: 1.27,
  AUDUSD: 0.66,
  USDCAD: 1.36,
  USDCHF: 0.9,
  TAOUSD: 400,
};
const PRICED = Object.keys(START_PRICES);

/** What the simulated clients sent and got, for the summary. */
export interface WorkloadStats {
  /** Requests sent, by command kind or extrinsic call. */
  sent: Record<string, number>;
  acked: number;
  /** Refusals of well-meant requests, by code (a rule said no: not a failure). */
  refused: Record<string, number>;
  /** Invalid commands refused as they must be, by kind (extrinsics as `x:<call>`). */
  invalid: Record<string, number>;
  /** Requests in flight when the node died: no answer. */
  unanswered: number;
  /** Of those, sent again after the restart (same Idempotency-Key or order_uuid). */
  retried: number;
  blocks: number;
  weightRounds: number;
}

export function emptyStats(): WorkloadStats {
  return { sent: {}, acked: 0, refused: {}, invalid: {}, unanswered: 0, retried: 0, blocks: 0, weightRounds: 0 };
}

const bump = (r: Record<string, number>, k: string, n = 1) => {
  r[k] = (r[k] ?? 0) + n;
};
const sha256hex = (text: string) => createHash("sha256").update(text).digest("hex");

/** An off-chain request as a client sends it: the route adds `ts` and the request's identity. */
interface Draft {
  signer: string;
  command: Record<string, unknown> & { kind: CommandKind };
  /** Idempotency-Key and the fingerprint the route computes (method, path and body). */
  idempotency?: { key: string; fingerprint: string };
  /** A retry after a crash: answered as the first request if that one was committed. */
  retry?: boolean;
}

/**
 * The seeded workload: what clients of a validator send, through the commands the routes issue
 * (entity registrations, subaccount creations, orders, price batches with breaches and guarded
 * moves, eliminations, reinstatements, held prices resolved) and the devnet extrinsics (transfers,
 * stakes, collateral, weights) in blocks; plus invalid commands of every kind at quiet moments.
 * Everything it decides comes from its seeded random source and the committed state.
 */
export class Workload {
  readonly problems: string[] = [];
  #retry: Draft[] = [];
  #traced: string[] = [];

  constructor(
    readonly world: SimWorld,
    readonly random: SeededRandom,
    readonly clock: VirtualClock,
    readonly book: AckBook,
    readonly stats: WorkloadStats,
  ) {}

  /** The last steps' outline, for a failing seed's report. */
  get trace(): readonly string[] {
    return this.#traced;
  }

  #note(line: string): void {
    this.#traced.push(line);
    if (this.#traced.length > 40) this.#traced.shift();
  }

  /** Neurons, collateral, entities, first prices and subaccounts. */
  async bootstrap(life: NodeLife): Promise<void> {
    const w = this.world;
    const [coldA] = w.coldkeys;
    await this.#run(life, [], [...w.entities, ...w.miners].map((hotkey) => this.#x("subtensor.burned_register", coldA, { netuid: 1, hotkey })), "produce");
    await this.#run(
      life,
      [],
      w.entities.map((hotkey) => this.#x("collateral.deposit", coldA, { hotkey, amount_rao: (w.collateralRao.get(hotkey) as bigint).toString() })),
      "produce",
    );
    await this.#run(
      life,
      w.entities.map((hotkey) => this.#draft(hotkey, { kind: "register_entity", hotkey, max_subaccounts: w.maxSubaccounts.get(hotkey) }, "/v1/entities")),
      [],
      "none",
    );
    const view = await this.#view(life);
    await this.#run(life, [this.#prices(view, PRICED.filter((p) => p !== "NZDUSD"), "small")], [], "none");
    await this.#run(life, this.#creations(await this.#view(life), 2 * w.entities.length), [], "none");
  }

  /** One step of mixed load: requests sent together (one group commit), then the block they wait for. */
  async step(life: NodeLife, options: { snapshot?: boolean } = {}): Promise<void> {
    this.#advanceTime();
    const retries = this.#retry.splice(0);
    const view = await this.#view(life);
    const offChain: Draft[] = retries.map((d) => ({ ...d, retry: true }));
    this.stats.retried += retries.length;
    const extrinsics: Extrinsic[] = [];
    const parts = this.random.int(1, 3);
    for (let i = 0; i < parts; i++) {
      const part = this.random.weighted({ orders: 6, prices: 4, creations: 2, extrinsics: 3, root: 2 });
      if (part === "orders") offChain.push(...this.#orders(view, this.random.int(1, 6)));
      else if (part === "prices") offChain.push(this.#prices(view, this.#pickPairs(), this.random.weighted({ small: 6, breach: 3, guard: 1 })));
      else if (part === "creations") offChain.push(...this.#creations(view, this.random.int(1, 3)));
      else if (part === "extrinsics") extrinsics.push(...this.#extrinsics(view, this.random.int(1, 4)));
      else offChain.push(...this.#root(view));
    }
    const blocks = extrinsics.length > 0 ? "produce" : this.random.weighted({ none: 5, produce: 2, range: 2, epoch: 1 });
    this.#note(`${offChain.length} requests (${offChain.map((d) => d.command.kind).join(",")}), ${extrinsics.length} extrinsics, blocks: ${blocks}`);
    await this.#run(life, offChain, extrinsics, blocks, options.snapshot ?? false);
  }

  /** The validator scores and sets weights (assess_entity per entity, score_weights, set_weights in a block). */
  async weights(life: NodeLife): Promise<void> {
    this.#note("weights");
    const round = await life.setWeights();
    if (round.set) this.stats.weightRounds++;
    else bump(this.stats.refused, "WEIGHTS_NOT_SET");
  }

  /**
   * At a quiet moment (nothing in flight): invalid commands, one at a time, each of which must be
   * refused with a DomainError while the state hash and the log head stay as they were.
   */
  async invalid(life: NodeLife, count: number): Promise<void> {
    const node = life.node;
    const now = node.clock.now();
    const list = await node.read((state) => invalidCommands({ state, view: worldView(state, this.world.coldkeys, now), world: this.world, now, random: this.random }, count));
    this.#note(`invalid: ${list.map((x) => x.kind).join(",")}`);
    for (const x of list) {
      const before = await node.read((state, head) => `${head.seq}:${stateHash(state)}`);
      let outcome: Outcome;
      try {
        outcome = await node.submit({ command: x.command });
      } catch (error) {
        // A full disk refuses every write before it runs (STORAGE_FULL): nothing to check then.
        if (!this.#expected(life, error)) this.problems.push(`invalid ${x.kind} (${x.why}) was not answered: ${(error as Error).message}`);
        return;
      }
      if (outcome.ok) {
        this.problems.push(`invalid ${x.kind} (${x.why}) was accepted at seq ${outcome.seq}`);
        continue;
      }
      if (!(outcome.error instanceof DomainError) || outcome.events.length > 0) {
        this.problems.push(`invalid ${x.kind} (${x.why}) was refused with ${outcome.error.name} and ${outcome.events.length} event(s)`);
      }
      const after = await node.read((state, head) => `${head.seq}:${stateHash(state)}`);
      if (after !== before) this.problems.push(`invalid ${x.kind} (${x.why}), refused with ${outcome.error.code}, changed the state (seq:hash ${before.slice(0, 16)} -> ${after.slice(0, 16)})`);
      else bump(this.stats.invalid, x.kind);
    }
  }

  // ---- sending -------------------------------------------------------------------------------------

  #view(life: NodeLife): Promise<WorldView> {
    const now = life.node.clock.now();
    return life.node.read((state) => worldView(state, this.world.coldkeys, now));
  }

  /** Why a request may go unanswered: the process died, a commit failed, or the disk is full (503 STORAGE_FULL). */
  #expected(life: NodeLife, error: unknown): boolean {
    return life.disturbed || (error instanceof DomainError && error.code === "STORAGE_FULL");
  }

  /**
   * Sends the off-chain requests together (the writer takes them in one turn), queues the
   * extrinsics, maybe starts a snapshot meanwhile, waits for the answers, then produces blocks.
   */
  async #run(life: NodeLife, offChain: Draft[], extrinsics: Extrinsic[], blocks: "none" | "produce" | "range" | "epoch", snapshot = false): Promise<void> {
    const answers: Array<Promise<void>> = [];
    for (const d of offChain) answers.push(this.#send(life, d));
    const included = extrinsics.map((x) => this.#include(life, x));
    const snapshotting = snapshot ? life.snapshot() : null;
    await Promise.all(answers);
    // The snapshot ran beside the requests; it settles before blocks are decided, so that decision
    // never depends on how long the disk took.
    await snapshotting?.catch(() => undefined);
    if (life.disturbed) return;
    if (blocks === "range" || blocks === "epoch") await this.#emptyBlocks(life, blocks === "epoch");
    if (life.disturbed) return;
    if (blocks !== "none") {
      await life.producer.produce();
      this.stats.blocks++;
    }
    await Promise.all(included);
  }

  #send(life: NodeLife, d: Draft): Promise<void> {
    const node = life.node;
    const uuid = this.random.uuid();
    const kind = d.command.kind;
    const command = { ...d.command, ts: node.clock.now(), request: { signer: d.signer, uuid, ...(d.idempotency ? { idempotency: d.idempotency } : {}) } } as unknown as Command;
    bump(this.stats.sent, kind);
    return node.submit({ command, signer: d.signer }).then(
      (outcome) => {
        if (outcome.ok) {
          this.stats.acked++;
          let subaccount;
          if (kind === "create_subaccount") {
            const p = JSON.parse(outcome.events[0]?.payload ?? "{}") as { entity: string; id: number; uuid: string };
            subaccount = { entity: p.entity, id: p.id, uuid: p.uuid };
          }
          this.book.offChain(uuid, kind, outcome.seq, subaccount);
          return;
        }
        const { error } = outcome;
        bump(this.stats.refused, error.code);
        if (error.code === "INTERNAL") this.problems.push(`${kind} ${uuid} refused as INTERNAL: ${error.message}`);
        if (d.retry && (error.code === "IDEMPOTENCY_KEY_REUSED" || error.code === "DUPLICATE_ORDER") && error.details.same_body !== true) {
          this.problems.push(`a retry of ${kind} with the same body was refused as another body (${error.code})`);
        }
      },
      (error: unknown) => this.#unanswered(life, d, error),
    );
  }

  #unanswered(life: NodeLife, d: Draft, error: unknown): void {
    if (!this.#expected(life, error)) {
      this.problems.push(`${d.command.kind} failed without a crash: ${(error as Error)?.message ?? String(error)}`);
      return;
    }
    this.stats.unanswered++;
    // A client that can retry safely does: with the same Idempotency-Key, or the same order_uuid.
    if (!d.retry && (d.idempotency !== undefined || d.command.kind === "place_order")) this.#retry.push(d);
  }

  #include(life: NodeLife, x: Extrinsic): Promise<void> {
    const uuid = this.random.uuid();
    const idempotency = this.random.chance(0.2) ? { key: this.random.uuid(), fingerprint: sha256hex(`POST /v1/chain/extrinsics\n${sha256hex(JSON.stringify(x))}`) } : undefined;
    bump(this.stats.sent, x.call);
    return life.producer.include({ ...x, request: { uuid, ...(idempotency ? { idempotency } : {}) } }).then(
      (inclusion) => {
        this.stats.acked++;
        this.book.extrinsic(uuid, x.call, inclusion.includedInBlock);
        const failed = inclusion.effects.find((e) => e.k === "failed");
        if (failed && failed.k === "failed") {
          bump(this.stats.invalid, `x:${x.call}`);
          // A refused extrinsic is undone alone: its block records only the refusal and the request.
          const other = inclusion.effects.filter((e) => e.k !== "failed" && e.k !== "request");
          if (other.length > 0) this.problems.push(`refused extrinsic ${x.call} (${failed.code}) left effects: ${other.map((e) => e.k).join(",")}`);
        }
      },
      (error: unknown) => {
        if (!this.#expected(life, error)) this.problems.push(`extrinsic ${x.call} failed without a crash: ${(error as Error)?.message ?? String(error)}`);
        else this.stats.unanswered++;
      },
    );
  }

  /**
   * Empty blocks logged as ranges (as the producer logs the blocks it owes), up to the block
   * before the next epoch; with `epoch`, the epoch block itself then follows (produce).
   */
  async #emptyBlocks(life: NodeLife, toEpoch: boolean): Promise<void> {
    const view = await this.#view(life);
    const room = view.epochIn - 1;
    const n = toEpoch ? room : Math.min(room, this.random.int(1, 40));
    if (n <= 0) return;
    const node = life.node;
    const now = node.clock.now();
    const from = Math.min(view.blockTs, now);
    const ts = Array.from({ length: n }, (_, i) => Math.max(view.blockTs, Math.floor(from + ((now - from) * (i + 1)) / n)));
    const outcome = await node.submit({ command: { kind: "block_range", ts } }).catch(() => null);
    if (outcome === null) return;
    if (!outcome.ok) {
      // A block in the range was not routine: the producer then logs each with its effects.
      for (const t of ts) if ((await node.submit({ command: { kind: "block", ts: t, extrinsics: [] } }).catch(() => null)) === null) return;
    }
    this.stats.blocks += n;
  }

  // ---- what clients send -------------------------------------------------------------------------

  #draft(signer: string, command: Draft["command"], path: string, idempotent = false): Draft {
    if (!idempotent) return { signer, command };
    const body = JSON.stringify(command);
    return { signer, command, idempotency: { key: this.random.uuid(), fingerprint: sha256hex(`POST ${path}\n${sha256hex(body)}`) } };
  }

  #x(call: string, signer: string, args: Record<string, unknown>): Extrinsic {
    return { call, signer, args };
  }

  #advanceTime(): void {
    const r = this.random.float();
    // Mostly seconds; sometimes minutes, hours (checkpoints close), days (payout periods roll,
    // Idempotency-Keys expire), and now and then weeks, so 90-day challenges run out.
    const ms =
      r < 0.7
        ? this.random.int(100, 3_000)
        : r < 0.9
          ? this.random.int(60_000, 1_800_000)
          : r < 0.97
            ? this.random.int(3_600_000, 12 * 3_600_000)
            : r < 0.99
              ? this.random.int(86_400_000, 5 * 86_400_000)
              : this.random.int(20 * 86_400_000, 60 * 86_400_000);
    this.clock.advance(ms);
  }

  #pickPairs(): string[] {
    const n = this.random.int(1, 4);
    const out = new Set<string>();
    while (out.size < n) out.add(this.random.pick(["BTCUSD", "BTCUSD", "ETHUSD", "SOLUSD", "EURUSD", "GBPUSD", "TAOUSD"]));
    return [...out];
  }

  /** One price batch from the oracle: small moves, breaches (drawdowns that eliminate) or moves the guard holds. */
  #prices(view: WorldView, pairs: string[], move: "small" | "breach" | "guard"): Draft {
    const now = this.clock.trueNow;
    const prices = pairs.map((pair, i) => {
      const last = view.prices.get(pair)?.price ?? (START_PRICES[pair] as number);
      const size = move === "small" ? this.random.float() * 0.01 : move === "breach" ? 0.08 + this.random.float() * 0.07 : 0.25 + this.random.float() * 0.15;
      const sign = this.random.chance(0.5) ? 1 : -1;
      // Now or a little behind (a tick older than the pair's last is skipped, never refused).
      const ts = now - (this.random.chance(0.1) ? this.random.int(1, 5_000) : 0) + i;
      return { trade_pair: pair, price: Number((last * (1 + sign * size)).toPrecision(10)), ts_ms: ts };
    });
    return this.#draft(this.world.root, { kind: "post_prices", prices }, "/v1/prices", this.random.chance(0.3));
  }

  #traders(view: WorldView): Array<{ signer: string; trader: string; subaccountId?: number }> {
    const out: Array<{ signer: string; trader: string; subaccountId?: number }> = [];
    for (const s of view.subaccounts) if (s.active && !view.entities.get(s.entity)?.frozen) out.push({ signer: s.entity, trader: s.synthetic, subaccountId: s.id });
    for (const m of this.world.miners) if (view.neurons.has(m) && !view.miners.get(m)?.eliminated && !view.entities.has(m)) out.push({ signer: m, trader: m });
    return out;
  }

  #orders(view: WorldView, n: number): Draft[] {
    const traders = this.#traders(view);
    const pairs = [...view.prices.keys()].filter((p) => tradePair(p)?.tradable);
    if (traders.length === 0 || pairs.length === 0) return [];
    const out: Draft[] = [];
    for (let i = 0; i < n; i++) {
      const t = this.random.pick(traders);
      const pair = this.random.pick(pairs);
      const p = tradePair(pair);
      if (!p) continue;
      const net = view.open.get(t.trader)?.get(pair) ?? 0;
      const type = net !== 0 && this.random.chance(0.3) ? "FLAT" : this.random.pick(["LONG", "SHORT"] as const);
      const leverage = type === "FLAT" ? undefined : this.random.pick(p.category === "crypto" ? [0.05, 0.1, 0.25, 0.5] : [0.5, 1, 2.5, 5]);
      const fingerprint = sha256hex(JSON.stringify([t.subaccountId ?? null, pair, type, leverage ?? null]));
      const command = {
        kind: "place_order" as const,
        signer: t.signer,
        subaccount_id: t.subaccountId,
        trade_pair: pair,
        order_type: type,
        leverage,
        order_uuid: this.random.uuid(),
        fingerprint,
        position_uuid: this.random.uuid(),
      };
      out.push(this.#draft(t.signer, command, "/v1/orders", this.random.chance(0.15)));
    }
    return out;
  }

  #creations(view: WorldView, n: number): Draft[] {
    const open = [...view.entities.values()].filter((e) => !e.frozen);
    if (open.length === 0) return [];
    return Array.from({ length: n }, () => {
      const e = this.random.pick(open);
      const size = this.random.pick([undefined, 1_000, 5_000, 10_000, 25_000, 100_000]);
      const command = { kind: "create_subaccount" as const, entity: e.hotkey, account_size_usd: size, uuid: this.random.uuid() };
      return this.#draft(e.hotkey, command, `/v1/entities/${e.hotkey}/subaccounts`, this.random.chance(0.5));
    });
  }

  /** Root and owners: eliminate, reinstate, resolve a held price. */
  #root(view: WorldView): Draft[] {
    const out: Draft[] = [];
    const active = view.subaccounts.filter((s) => s.active);
    const gone = view.subaccounts.filter((s) => !s.active);
    const root = this.world.root;
    if (active.length > 0 && this.random.chance(0.5)) {
      const s = this.random.pick(active);
      const by = this.random.chance(0.5) ? root : s.entity;
      out.push(this.#draft(by, { kind: "eliminate_subaccount", synthetic: s.synthetic, reason: "sim", by }, `/v1/subaccounts/${s.synthetic}/eliminate`, this.random.chance(0.3)));
    }
    if (gone.length > 0 && this.random.chance(0.6)) {
      const s = this.random.pick(gone);
      out.push(this.#draft(root, { kind: "reinstate_subaccount", synthetic: s.synthetic, reason: "sim: reviewed", by: root }, `/v1/subaccounts/${s.synthetic}/reinstate`, this.random.chance(0.3)));
    }
    if (view.held.length > 0) {
      const h = this.random.pick(view.held);
      out.push(this.#draft(root, { kind: "resolve_held_price", trade_pair: h.pair, ts_ms: h.tsMs, action: this.random.pick(["apply", "discard"] as const) }, "/v1/prices/held/resolve"));
    }
    return out;
  }

  /** Devnet extrinsics, some of them doomed (beyond a balance, another's hotkey, no neuron). */
  #extrinsics(view: WorldView, n: number): Extrinsic[] {
    const w = this.world;
    const [coldA, coldB] = w.coldkeys;
    const hotkeys = [w.validator, ...w.entities.filter((e) => view.neurons.has(e))];
    const out: Extrinsic[] = [];
    for (let i = 0; i < n; i++) {
      const kind = this.random.weighted({ transfer: 3, stake: 3, unstake: 2, deposit: 2, withdraw: 1, doomed: 2 });
      const tao = (lo: number, hi: number) => (BigInt(this.random.int(lo, hi)) * TAO).toString();
      if (kind === "transfer") out.push(this.#x("balances.transfer", coldA, { dest: coldB, amount_rao: tao(1, 100) }));
      else if (kind === "stake") out.push(this.#x("subtensor.add_stake", coldB, { hotkey: this.random.pick(hotkeys), netuid: 1, amount_rao: tao(1, 20) }));
      else if (kind === "unstake") out.push(this.#x("subtensor.remove_stake", coldB, { hotkey: this.random.pick(hotkeys), netuid: 1, amount_alpha: tao(1, 5) }));
      else if (kind === "deposit" && w.entities.length > 0) out.push(this.#x("collateral.deposit", coldA, { hotkey: this.random.pick(w.entities), amount_rao: tao(1, 30) }));
      else if (kind === "withdraw" && w.entities.length > 0) out.push(this.#x("collateral.withdraw", coldA, { hotkey: this.random.pick(w.entities), amount_rao: tao(1, 10) }));
      else {
        const doomed = this.random.pick([
          this.#x("balances.transfer", coldB, { dest: coldA, amount_rao: ((view.balances.get(coldB) ?? 0n) + TAO).toString() }),
          this.#x("subtensor.set_weights", w.nobody, { netuid: 1, uids: [0], weights: [1] }),
          this.#x("collateral.deposit", coldB, { hotkey: w.validator, amount_rao: tao(1, 2) }),
          this.#x("collateral.withdraw", coldB, { hotkey: w.entities[0] ?? w.validator, amount_rao: tao(1, 2) }),
          this.#x("subtensor.burned_register", coldA, { netuid: 1, hotkey: w.validator }),
        ]);
        out.push(doomed);
      }
    }
    return out;
  }
}
