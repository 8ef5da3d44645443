import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { DomainError, ValidationError } from "../../core/errors/errors.ts";
import { isNeuron } from "../../core/entities/entity-commands.ts";
import { syntheticHotkey } from "../../core/entities/synthetic-hotkey.ts";
import type { State } from "../../core/machine/state.ts";
import { TRADE_PAIRS } from "../../core/trading/trade-pairs.ts";
import { PRICE_MAX_AHEAD_MS } from "../../core/trading/trading-commands.ts";
import { nthKey, positionKey } from "../../core/trading/trading-state.ts";
import type { Position } from "../../core/trading/position.ts";
import { isSs58 } from "../../keys/keys.ts";
import { type Access, requireSigner, signedRead, signedWrite, syntheticParam, write } from "../access.ts";
import { sha256hex } from "../../epistula/epistula.ts";
import { signerOf } from "../request-signature.ts";
import { OrderSchema, orderView, PositionSchema, positionsOf, positionView } from "../views.ts";
import { SIGNED, SIGNED_OR_SESSION } from "../openapi.ts";

const SyntheticParams = z.strictObject({ synthetic: z.string() });

const OrderBody = z.strictObject({
  subaccount_id: z.number().int().min(0).max(999_999_999).optional(),
  trade_pair: z.string().min(1).max(16),
  order_type: z.enum(["LONG", "SHORT", "FLAT"]),
  leverage: z.number().positive().max(1_000).optional(),
  order_uuid: z.string().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/, "letters, digits and . _ : - only").optional(),
});

const PriceTick = z.strictObject({
  trade_pair: z.string().min(1).max(16),
  price: z.number(),
  ts_ms: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

/** The trader a path names: a subaccount's synthetic hotkey or a regular miner's own hotkey. */
function traderParam(text: string): { trader: string; owner: string } {
  if (isSs58(text)) return { trader: text, owner: text };
  const { entity, synthetic } = syntheticParam(text);
  return { trader: synthetic, owner: entity };
}

function traderOrNotFound(state: State, trader: string): void {
  if (!state.entities.subaccounts.has(trader) && !state.trading.traders.has(trader)) {
    throw new DomainError("SUBACCOUNT_NOT_FOUND", `${trader} has never been created or traded`, { synthetic_hotkey: trader });
  }
}

/** Orders, positions, prices and trade pairs (API.md "Orders, positions, prices"). */
export const tradingRoutes: FastifyPluginAsync<{ access: Access }> = async (instance, { access }) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  const { node } = access;
  const now = () => node().clock.now();
  const writeSigned = signedWrite(access, { idempotent: true });
  const readSigned = signedRead(access);
  const ownerOrRoot = async (request: FastifyRequest) => {
    const { owner } = traderParam((request.params as { synthetic: string }).synthetic);
    requireSigner(request, [owner, access.root()], "the owner or root");
  };

  app.post(
    "/v1/orders",
    {
      preValidation: [
        writeSigned,
        async (request) => {
          // The role (an entity or a neuron) is checked before the body's schema; core checks it again in order.
          const signer = signerOf(request);
          const state = node().state;
          if (!state.entities.entities.has(signer) && !isNeuron(state, signer)) {
            throw new DomainError("NOT_A_NEURON", `${signer} is neither an entity nor a neuron on the subnet`, { hotkey: signer });
          }
        },
      ],
      schema: {
        security: SIGNED,
        summary: "Place an order for a subaccount (entity) or for itself (regular miner)",
        description: "LONG and SHORT need a leverage within the pair's range; FLAT closes. A repeated order_uuid with the same body answers 200 with the original and duplicate: true.",
        tags: ["trading"],
        body: OrderBody,
        response: {
          201: z.strictObject({ order: OrderSchema, position: PositionSchema }),
          200: z.strictObject({ order: OrderSchema, position: PositionSchema.nullable(), duplicate: z.literal(true) }),
        },
      },
    },
    async (request, reply) => {
      const signer = signerOf(request);
      const body = request.body;
      access.limits.checkOrder(body.subaccount_id === undefined ? signer : syntheticHotkey(signer, body.subaccount_id));
      const fingerprint = sha256hex(JSON.stringify([body.subaccount_id ?? null, body.trade_pair, body.order_type, body.leverage ?? null]));
      const view = (state: State, ref: Record<string, string | number>) => {
        const trader = String(ref.trader);
        const order = state.trading.orders.get(nthKey(trader, Number(ref.n)));
        if (!order) throw new DomainError("NOT_FOUND", "the order is gone");
        const t = state.trading.traders.get(trader);
        const open = state.trading.open.get(positionKey(trader, order.trade_pair));
        const position = open?.orders.some((o) => o.order_uuid === order.order_uuid) ? open : findClosed(state, trader, order.order_uuid);
        return { order: orderView(order), position: positionView(state, position as Position, t?.accountSizeUsd ?? 10_000) };
      };
      try {
        return await write(access, request, reply, {
          command: {
            kind: "place_order",
            signer,
            subaccount_id: body.subaccount_id,
            trade_pair: body.trade_pair,
            order_type: body.order_type,
            leverage: body.leverage,
            order_uuid: body.order_uuid ?? crypto.randomUUID(),
            fingerprint,
            position_uuid: crypto.randomUUID(),
          },
          status: 201,
          view,
        });
      } catch (error) {
        if (error instanceof DomainError && error.code === "DUPLICATE_ORDER" && error.details.same_body === true) {
          reply.code(200);
          return node().read((state) => ({ ...view(state, { trader: String(error.details.trader), n: Number(error.details.order_index) }), duplicate: true as const }));
        }
        throw error;
      }
    },
  );

  app.get(
    "/v1/subaccounts/:synthetic/positions",
    {
      preValidation: [readSigned, ownerOrRoot],
      schema: {
        security: SIGNED_OR_SESSION,
        summary: "Open positions and those closed in the last 120 days (owner or root)",
        tags: ["trading"],
        params: SyntheticParams,
        response: { 200: z.strictObject({ positions: z.array(PositionSchema) }) },
      },
    },
    async (request) => {
      const { trader } = traderParam(request.params.synthetic);
      return node().read((state) => {
        traderOrNotFound(state, trader);
        return { positions: positionsOf(state, trader, now()) };
      });
    },
  );

  app.get(
    "/v1/subaccounts/:synthetic/orders",
    {
      preValidation: [readSigned, ownerOrRoot],
      schema: {
        security: SIGNED_OR_SESSION,
        summary: "Order history, oldest first (owner or root)",
        description: "`next` is the cursor to pass as `after`, null at the end.",
        tags: ["trading"],
        params: SyntheticParams,
        querystring: z.strictObject({
          after: z.string().regex(/^(0|[1-9][0-9]{0,15})$/).transform(Number).optional(),
          limit: z.string().regex(/^[1-9][0-9]{0,3}$/).transform(Number).pipe(z.number().max(1_000)).optional(),
        }),
        response: { 200: z.strictObject({ orders: z.array(OrderSchema), next: z.number().int().nullable() }) },
      },
    },
    async (request) => {
      const { trader } = traderParam(request.params.synthetic);
      return node().read((state) => {
        traderOrNotFound(state, trader);
        const count = state.trading.traders.get(trader)?.orderCount ?? 0;
        const from = request.query.after === undefined ? 0 : request.query.after + 1;
        const to = Math.min(count, from + (request.query.limit ?? 100));
        const orders = [];
        for (let n = from; n < to; n++) orders.push(orderView(state.trading.orders.get(nthKey(trader, n)) as never));
        return { orders, next: to < count ? to - 1 : null };
      });
    },
  );

  app.post(
    "/v1/prices",
    {
      preValidation: [writeSigned, async (request) => void requireSigner(request, [access.oracle(), access.root()], "the oracle or root")],
      schema: {
        security: SIGNED,
        summary: "Post prices (oracle or root): applied in order; a move over 20% is held for root",
        description: "Answers once the passes, eliminations, FLAT orders and slashes the prices caused are committed.",
        tags: ["trading"],
        body: z.strictObject({ prices: z.array(PriceTick).min(1).max(1_000) }),
        response: { 200: z.strictObject({ accepted: z.number().int(), held: z.number().int(), skipped: z.number().int() }) },
      },
    },
    async (request, reply) => {
      // Against node time, not the wall clock: a tick from the future would judge every subaccount at a time that has not come.
      const serverTime = now();
      const ahead = request.body.prices.findIndex((p) => p.ts_ms > serverTime + PRICE_MAX_AHEAD_MS);
      if (ahead >= 0) {
        const ts = request.body.prices[ahead]?.ts_ms ?? 0;
        throw new ValidationError(
          `prices[${ahead}].ts_ms is ${ts - serverTime} ms ahead of the server clock (at most ${PRICE_MAX_AHEAD_MS} ms); the batch is refused whole`,
          { index: ahead, ts_ms: ts, server_time_ms: serverTime, max_ahead_ms: PRICE_MAX_AHEAD_MS },
        );
      }
      return write(access, request, reply, {
        command: { kind: "post_prices", prices: request.body.prices },
        status: 200,
        view: (_state, ref) => ({ accepted: Number(ref.accepted), held: Number(ref.held), skipped: Number(ref.skipped) }),
      });
    },
  );

  app.get(
    "/v1/prices",
    {
      schema: {
        summary: "The latest accepted price of each pair, and the held ticks",
        tags: ["trading"],
        response: {
          200: z.strictObject({
            prices: z.record(z.string(), z.strictObject({ price: z.number(), ts_ms: z.number().int() })),
            held: z.array(z.strictObject({ trade_pair: z.string(), price: z.number(), ts_ms: z.number().int(), last_price: z.number() })),
          }),
        },
      },
    },
    async () =>
      node().read((state) => ({
        prices: Object.fromEntries(state.trading.prices.sortedEntries().map(([k, v]) => [k, { price: v.price, ts_ms: v.ts_ms }])),
        held: state.trading.held.sortedEntries().map(([, h]) => ({ ...h })),
      })),
  );

  app.post(
    "/v1/prices/held/resolve",
    {
      preValidation: [writeSigned, async (request) => void requireSigner(request, [access.root()], "root")],
      schema: {
        security: SIGNED,
        summary: "Apply or discard a held price (root)",
        tags: ["trading"],
        body: z.strictObject({ trade_pair: z.string().min(1).max(16), ts_ms: z.number().int().min(0), action: z.enum(["apply", "discard"]) }),
        response: { 200: z.strictObject({ resolved: z.number().int() }) },
      },
    },
    async (request, reply) =>
      write(access, request, reply, {
        command: { kind: "resolve_held_price", trade_pair: request.body.trade_pair, ts_ms: request.body.ts_ms, action: request.body.action },
        status: 200,
        view: () => ({ resolved: 1 }),
      }),
  );

  app.get(
    "/v1/trade-pairs",
    {
      schema: {
        summary: "The trade pairs with their leverage ranges and fees",
        description: "tradable: false marks a valuation-only pair (TAOUSD): its price is posted and used to value emissions in USD; an order on it is 422 PAIR_NOT_TRADABLE.",
        tags: ["trading"],
        response: {
          200: z.strictObject({
            trade_pairs: z.array(
              z.strictObject({
                id: z.string(),
                category: z.enum(["crypto", "forex", "valuation"]),
                min_leverage: z.number(),
                max_leverage: z.number(),
                fee: z.number(),
                carry_per_year: z.number(),
                tradable: z.boolean(),
              }),
            ),
          }),
        },
      },
    },
    async () => ({ trade_pairs: TRADE_PAIRS.map((p) => ({ ...p })) }),
  );
};

function findClosed(state: State, trader: string, orderUuid: string): Position | undefined {
  const t = state.trading.traders.get(trader);
  for (let n = (t?.closedCount ?? 0) - 1; n >= 0; n--) {
    const p = state.trading.closed.get(nthKey(trader, n));
    if (p?.orders.some((o) => o.order_uuid === orderUuid)) return p;
  }
  return undefined;
}
