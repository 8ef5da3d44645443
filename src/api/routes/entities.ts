import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { DomainError } from "../../core/errors/errors.ts";
import {
  type EliminateSubaccount,
  MAX_ACCOUNT_SIZE_USD,
  MAX_ACTIVE_SUBACCOUNTS,
  MIN_ACCOUNT_SIZE_USD,
  type ReinstateSubaccount,
} from "../../core/entities/entity-commands.ts";
import type { EntityRecord, SubaccountRecord } from "../../core/entities/entity-state.ts";
import { syntheticHotkey } from "../../core/entities/synthetic-hotkey.ts";
import { decodeCheckpointRow } from "../../core/debt/checkpoint-row.ts";
import type { DebtCheckpoint } from "../../core/debt/debt-checkpoint.ts";
import { NO_ENTITY_EMISSION, openDebtCheckpoint } from "../../core/debt/debt-state.ts";
import { aggregateEntity } from "../../core/debt/entity-aggregation.ts";
import { usdOfMicro } from "../../core/debt/micro-usd.ts";
import { PPM } from "../../core/debt/penalty.ts";
import type { State } from "../../core/machine/state.ts";
import { debtStatusOf, traderOf } from "../../core/trading/trader.ts";
import { CHECKPOINT_WINDOW_MS, type PerfCheckpoint } from "../../core/perf/perf-checkpoint.ts";
import { type Access, hotkeyParam, requireSigner, signedRead, signedWrite, syntheticParam, write } from "../access.ts";
import { signerOf } from "../request-signature.ts";
import {
  EliminationSchema,
  EntitySchema,
  entityView,
  eliminationView,
  openCheckpoint,
  PerfCheckpointSchema,
  PerfSummarySchema,
  perfSummary,
  PositionSchema,
  positionsOf,
  SubaccountSchema,
  subaccountView,
} from "../views.ts";
import { SIGNED, SIGNED_OR_SESSION } from "../openapi.ts";

const HotkeyParams = z.strictObject({ hotkey: z.string() });
/** 120 days of 12-hour checkpoints, and room to spare. */
const MAX_CHECKPOINTS = 250;
const SyntheticParams = z.strictObject({ synthetic: z.string() });
const Limit = z
  .string()
  .regex(/^[1-9][0-9]{0,3}$/, "must be an integer from 1 to 1000")
  .transform(Number)
  .pipe(z.number().max(1_000));
const Cursor = z.string().regex(/^(0|[1-9][0-9]{0,8})$/, "must be a cursor from a previous page");

const DebtCheckpointSchema = z.strictObject({
  ts_ms: z.number().int(),
  emission_alpha_rao: z.string(),
  emission_tao_rao: z.string(),
  emission_usd: z.number(),
  realized_pnl_usd: z.number(),
  unrealized_pnl_usd: z.number(),
  fees_usd: z.number(),
  portfolio_return: z.number(),
  max_drawdown: z.number(),
  total_penalty: z.number(),
  status: z.enum(["challenge", "funded", "eliminated", "entity"]),
  owed_usd: z.number(),
  paid_usd: z.number(),
});

const AttributionSchema = z.strictObject({ paid_alpha_rao: z.string(), attributed_alpha_rao: z.string(), unattributed_alpha_rao: z.string() });

/** API.md DebtCheckpoint: rao as strings, USD as numbers, the penalty as a fraction. */
function debtCheckpointView(c: DebtCheckpoint) {
  return {
    ts_ms: c.ts_ms,
    emission_alpha_rao: c.emission_alpha_rao.toString(),
    emission_tao_rao: c.emission_tao_rao.toString(),
    emission_usd: usdOfMicro(c.emission_usd_micro),
    realized_pnl_usd: c.realized_pnl_usd,
    unrealized_pnl_usd: c.unrealized_pnl_usd,
    fees_usd: c.fees_usd,
    portfolio_return: c.portfolio_return,
    max_drawdown: c.max_drawdown,
    total_penalty: c.total_penalty_ppm / PPM,
    status: c.status,
    owed_usd: usdOfMicro(c.owed_usd_micro),
    paid_usd: usdOfMicro(c.paid_usd_micro),
  };
}

function entityOrNotFound(state: State, hotkey: string): EntityRecord {
  const e = state.entities.entities.get(hotkey);
  if (!e) throw new DomainError("ENTITY_NOT_FOUND", `${hotkey} is not a registered entity`, { entity_hotkey: hotkey });
  return e;
}

function subaccountOrNotFound(state: State, synthetic: string): SubaccountRecord {
  const sub = state.entities.subaccounts.get(synthetic);
  if (!sub) throw new DomainError("SUBACCOUNT_NOT_FOUND", `subaccount ${synthetic} was never created`, { synthetic_hotkey: synthetic });
  return sub;
}

/** Entities and their subaccounts (API.md "Entities and subaccounts"). */
export const entityRoutes: FastifyPluginAsync<{ access: Access }> = async (instance, { access }) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  const { node } = access;
  const now = () => node().clock.now();
  const writeSigned = signedWrite(access, { idempotent: true });
  const readSigned = signedRead(access);

  /**
   * Closed perf checkpoints of the last 120 days, from the store (committed rows only). Read after
   * the state they go with: a row at or past that state's open checkpoint (`openTs`) closed since,
   * and is left out, so a period is never both closed and open in one answer.
   */
  const closedRows = async (trader: string, openTs: number) =>
    (await node().readCheckpoints(trader, now() - CHECKPOINT_WINDOW_MS, MAX_CHECKPOINTS))
      .filter((row) => row.ts_ms < openTs)
      .map((row) => decodeCheckpointRow(row.data));
  const closedCheckpoints = async (trader: string, openTs: number): Promise<PerfCheckpoint[]> => (await closedRows(trader, openTs)).map((r) => r.perf);
  /** A trader's open debt checkpoint (once it is funded) and where its open period ends. */
  const openDebt = (state: State, trader: string): { open: DebtCheckpoint | null; openTs: number } => {
    const t = traderOf(state, trader, now());
    const perf = openCheckpoint(t, now());
    return { open: openDebtCheckpoint(state, trader, perf, debtStatusOf(t), now()), openTs: perf.ts_ms };
  };
  /** A trader's debt checkpoints: the closed ones, then the one still open. */
  const debtLedger = async (trader: string, { open, openTs }: { open: DebtCheckpoint | null; openTs: number }): Promise<DebtCheckpoint[]> => {
    const closed = (await closedRows(trader, openTs)).flatMap((r) => (r.debt ? [r.debt] : []));
    return open ? [...closed, open] : closed;
  };

  /** Eliminate and reinstate: a subaccount already in the status asked for answers 200 with itself, unchanged. */
  const changeStatus = async (
    request: FastifyRequest,
    reply: FastifyReply,
    command: Omit<EliminateSubaccount, "ts"> | Omit<ReinstateSubaccount, "ts">,
  ) => {
    access.mothershipOnly();
    const view = (state: State) => ({ subaccount: subaccountView(state, subaccountOrNotFound(state, command.synthetic), now()) });
    try {
      return await write(access, request, reply, { command, status: 200, view });
    } catch (error) {
      if (error instanceof DomainError && error.details.unchanged === true) return node().read(view);
      throw error;
    }
  };

  /** The entity named in the path, or root. */
  const entityOrRoot = async (request: FastifyRequest) => {
    const hotkey = hotkeyParam((request.params as { hotkey: string }).hotkey);
    requireSigner(request, [hotkey, access.root()], "the entity or root");
  };
  /** The entity that owns the subaccount in the path, or root. */
  const ownerOrRoot = async (request: FastifyRequest) => {
    const { entity } = syntheticParam((request.params as { synthetic: string }).synthetic);
    requireSigner(request, [entity, access.root()], "the owning entity or root");
  };

  app.post(
    "/v1/entities",
    {
      preValidation: [writeSigned],
      schema: {
        security: SIGNED,
        summary: "Register the signing hotkey as an entity (it must be a neuron on subnet 1)",
        tags: ["entities"],
        body: z.strictObject({ max_subaccounts: z.number().int().min(1).max(MAX_ACTIVE_SUBACCOUNTS).optional() }).nullish(),
        response: { 201: z.strictObject({ entity: EntitySchema }) },
      },
    },
    async (request, reply) => {
      access.mothershipOnly();
      const hotkey = signerOf(request);
      return write(access, request, reply, {
        command: { kind: "register_entity", hotkey, max_subaccounts: request.body?.max_subaccounts },
        status: 201,
        view: (state) => ({ entity: entityView(state, entityOrNotFound(state, hotkey), now()) }),
      });
    },
  );

  app.get(
    "/v1/entities",
    {
      preValidation: [readSigned, async (request) => void requireSigner(request, [access.root()], "root")],
      schema: {
        security: SIGNED_OR_SESSION,
        summary: "Every entity (root)",
        tags: ["entities"],
        querystring: z.strictObject({ cursor: z.string().max(64).optional(), limit: Limit.optional() }),
        response: { 200: z.strictObject({ entities: z.array(EntitySchema), next_cursor: z.string().nullable() }) },
      },
    },
    async (request) =>
      node().read((state) => {
        const limit = request.query.limit ?? 100;
        const keys = state.entities.entities.sortedKeys();
        const cursor = request.query.cursor;
        let start = 0;
        if (cursor !== undefined) while (start < keys.length && (keys[start] as string) <= cursor) start++;
        const page = keys.slice(start, start + limit);
        return {
          entities: page.map((k) => entityView(state, state.entities.entities.get(k) as EntityRecord, now())),
          next_cursor: start + limit < keys.length ? (page[page.length - 1] ?? null) : null,
        };
      }),
  );

  app.get(
    "/v1/entities/:hotkey",
    {
      preValidation: [readSigned, entityOrRoot],
      schema: { security: SIGNED_OR_SESSION, summary: "One entity (the entity or root)", tags: ["entities"], params: HotkeyParams, response: { 200: z.strictObject({ entity: EntitySchema }) } },
    },
    async (request) => node().read((state) => ({ entity: entityView(state, entityOrNotFound(state, request.params.hotkey), now()) })),
  );

  app.post(
    "/v1/entities/:hotkey/subaccounts",
    {
      preValidation: [
        writeSigned,
        async (request) => {
          const hotkey = hotkeyParam((request.params as { hotkey: string }).hotkey);
          requireSigner(request, [hotkey], "the entity itself");
        },
      ],
      schema: {
        security: SIGNED,
        summary: "Create a subaccount (that entity)",
        description: "Checks, in order: entity registered (404), active < max_subaccounts (409), free collateral for the reserve (422).",
        tags: ["entities"],
        params: HotkeyParams,
        body: z.strictObject({ account_size_usd: z.number().int().min(MIN_ACCOUNT_SIZE_USD).max(MAX_ACCOUNT_SIZE_USD).optional() }).nullish(),
        response: { 201: z.strictObject({ subaccount: SubaccountSchema }) },
      },
    },
    async (request, reply) => {
      access.mothershipOnly();
      return write(access, request, reply, {
        command: { kind: "create_subaccount", entity: request.params.hotkey, account_size_usd: request.body?.account_size_usd, uuid: crypto.randomUUID() },
        status: 201,
        view: (state, ref) => ({ subaccount: subaccountView(state, subaccountOrNotFound(state, String(ref.synthetic_hotkey)), now()) }),
      });
    },
  );

  app.get(
    "/v1/entities/:hotkey/subaccounts",
    {
      preValidation: [readSigned, entityOrRoot],
      schema: {
        security: SIGNED_OR_SESSION,
        summary: "An entity's subaccounts by id, filtered and paged (the entity or root)",
        tags: ["entities"],
        params: HotkeyParams,
        querystring: z.strictObject({
          status: z.enum(["active", "eliminated"]).optional(),
          challenge_state: z.enum(["in_challenge", "passed", "failed"]).optional(),
          cursor: Cursor.optional(),
          limit: Limit.optional(),
        }),
        response: { 200: z.strictObject({ subaccounts: z.array(SubaccountSchema), next_cursor: z.string().nullable() }) },
      },
    },
    async (request) =>
      node().read((state) => {
        const e = entityOrNotFound(state, request.params.hotkey);
        const { status, challenge_state, cursor } = request.query;
        const limit = request.query.limit ?? 100;
        const out = [];
        let id = cursor === undefined ? 0 : Number(cursor) + 1;
        for (; id < e.nextId && out.length < limit; id++) {
          const sub = state.entities.subaccounts.get(syntheticHotkey(e.hotkey, id));
          if (!sub || (status !== undefined && sub.status !== status)) continue;
          const view = subaccountView(state, sub, now());
          if (challenge_state !== undefined && view.challenge.state !== challenge_state) continue;
          out.push(view);
        }
        return { subaccounts: out, next_cursor: id < e.nextId ? String(id - 1) : null };
      }),
  );

  app.get(
    "/v1/subaccounts/:synthetic/status",
    {
      schema: {
        summary: "A subaccount's status: active, eliminated or unknown (anyone)",
        tags: ["entities"],
        params: SyntheticParams,
        response: { 200: z.strictObject({ synthetic_hotkey: z.string(), status: z.enum(["active", "eliminated", "unknown"]) }) },
      },
    },
    async (request) => {
      const { synthetic } = syntheticParam(request.params.synthetic);
      return node().read((state) => ({ synthetic_hotkey: synthetic, status: state.entities.subaccounts.get(synthetic)?.status ?? "unknown" }));
    },
  );

  app.get(
    "/v1/subaccounts/:synthetic",
    {
      preValidation: [readSigned, ownerOrRoot],
      schema: {
        security: SIGNED_OR_SESSION,
        summary: "A subaccount with its positions, performance and elimination (owner or root)",
        tags: ["entities"],
        params: SyntheticParams,
        response: {
          200: z.strictObject({
            subaccount: SubaccountSchema,
            positions: z.array(PositionSchema),
            ledger: PerfSummarySchema,
            elimination: EliminationSchema.nullable(),
          }),
        },
      },
    },
    async (request) => {
      const synthetic = request.params.synthetic;
      const { answer, openTs } = await node().read((state) => {
        const sub = subaccountOrNotFound(state, synthetic);
        const t = traderOf(state, synthetic, now());
        return {
          answer: {
            subaccount: subaccountView(state, sub, now()),
            positions: positionsOf(state, synthetic, now()),
            ledger: perfSummary(t, 0),
            elimination: eliminationView(state.trading.traders.get(synthetic)),
          },
          openTs: openCheckpoint(t, now()).ts_ms,
        };
      });
      const closed = (await closedCheckpoints(synthetic, openTs)).length;
      return { ...answer, ledger: { ...answer.ledger, checkpoints: answer.ledger.checkpoints + closed } };
    },
  );

  app.post(
    "/v1/subaccounts/:synthetic/eliminate",
    {
      preValidation: [writeSigned, ownerOrRoot],
      schema: {
        security: SIGNED,
        summary: "Eliminate a subaccount: closes its positions, slashes by drawdown, frees the rest (owner or root)",
        description: "Idempotent: on an eliminated subaccount it answers 200 with it, unchanged.",
        tags: ["entities"],
        params: SyntheticParams,
        body: z.strictObject({ reason: z.string().min(1).max(200).optional() }).nullish(),
        response: { 200: z.strictObject({ subaccount: SubaccountSchema }) },
      },
    },
    async (request, reply) =>
      changeStatus(request, reply, { kind: "eliminate_subaccount", synthetic: request.params.synthetic, reason: request.body?.reason, by: signerOf(request) }),
  );

  app.post(
    "/v1/subaccounts/:synthetic/reinstate",
    {
      preValidation: [
        writeSigned,
        async (request) => {
          syntheticParam((request.params as { synthetic: string }).synthetic);
          requireSigner(request, [access.root()], "root");
        },
      ],
      schema: {
        security: SIGNED,
        summary: "Reinstate an eliminated subaccount, reversing its slash (root, audited)",
        tags: ["entities"],
        params: SyntheticParams,
        body: z.strictObject({ reason: z.string().min(1).max(500) }),
        response: { 200: z.strictObject({ subaccount: SubaccountSchema }) },
      },
    },
    async (request, reply) =>
      changeStatus(request, reply, { kind: "reinstate_subaccount", synthetic: request.params.synthetic, reason: request.body.reason, by: signerOf(request) }),
  );

  app.post(
    "/v1/entities/:hotkey/unfreeze",
    {
      preValidation: [
        writeSigned,
        async (request) => {
          hotkeyParam((request.params as { hotkey: string }).hotkey);
          requireSigner(request, [access.root()], "root");
        },
      ],
      schema: {
        security: SIGNED,
        summary: "Lift the freeze an entity-scoped invariant violation put on an entity, once its recount passes (root, audited)",
        description: "409 INVARIANT_STILL_FAILING while any of its invariants or its full recount fails; on an entity that is not frozen, 200 unchanged.",
        tags: ["entities"],
        params: HotkeyParams,
        body: z.strictObject({ reason: z.string().min(1).max(500) }),
        response: { 200: z.strictObject({ entity: EntitySchema }) },
      },
    },
    async (request, reply) => {
      const hotkey = request.params.hotkey;
      const view = (state: State) => ({ entity: entityView(state, entityOrNotFound(state, hotkey), now()) });
      const command = { kind: "unfreeze_entity" as const, hotkey, reason: request.body.reason, by: signerOf(request) };
      try {
        return await write(access, request, reply, { command, status: 200, view });
      } catch (error) {
        if (error instanceof DomainError && error.details.unchanged === true) return node().read(view);
        throw error;
      }
    },
  );

  app.get(
    "/v1/subaccounts/:synthetic/ledger",
    {
      preValidation: [readSigned, ownerOrRoot],
      schema: {
        security: SIGNED_OR_SESSION,
        summary: "A subaccount's performance checkpoints (owner or root)",
        description:
          "The closed 12-hour checkpoints of the last 120 days (aligned to 00:00 and 12:00 UTC; periods without marks close flat), then the open one; debt checkpoints from the moment the subaccount was funded, the open one last (its emission is what was attributed since the last close).",
        tags: ["entities"],
        params: SyntheticParams,
        response: { 200: z.strictObject({ perf: z.array(PerfCheckpointSchema), debt: z.array(DebtCheckpointSchema) }) },
      },
    },
    async (request) => {
      const synthetic = request.params.synthetic;
      const { perf, debt } = await node().read((state) => {
        subaccountOrNotFound(state, synthetic);
        return { perf: openCheckpoint(traderOf(state, synthetic, now()), now()), debt: openDebt(state, synthetic) };
      });
      return {
        perf: [...(await closedCheckpoints(synthetic, perf.ts_ms)), perf],
        debt: (await debtLedger(synthetic, debt)).map(debtCheckpointView),
      };
    },
  );

  app.get(
    "/v1/entities/:hotkey/ledger",
    {
      preValidation: [readSigned, entityOrRoot],
      schema: {
        security: SIGNED_OR_SESSION,
        summary: "The entity's debt ledger over its active subaccounts (the entity or root)",
        description:
          "Aggregated over its active and funded subaccounts per 12-hour checkpoint (sums; return weighted by max portfolio value; worst drawdown; smallest penalty), and how the alpha paid to its uid was attributed.",
        tags: ["entities"],
        params: HotkeyParams,
        response: { 200: z.strictObject({ debt: z.array(DebtCheckpointSchema), attribution: AttributionSchema }) },
      },
    },
    async (request) => {
      const { open, attribution } = await node().read((state) => {
        const e = entityOrNotFound(state, request.params.hotkey);
        // Its active, funded subaccounts (the funded index, not every id ever made).
        const opened = [];
        for (const id of state.debt.fundedIds.get(e.hotkey) ?? []) {
          const synthetic = syntheticHotkey(e.hotkey, id);
          if (state.entities.subaccounts.get(synthetic)?.status === "active") opened.push({ id, synthetic, debt: openDebt(state, synthetic) });
        }
        const a = state.debt.entities.get(e.hotkey) ?? NO_ENTITY_EMISSION;
        return {
          open: opened,
          attribution: {
            paid_alpha_rao: a.paidAlphaRao.toString(),
            attributed_alpha_rao: a.attributedAlphaRao.toString(),
            unattributed_alpha_rao: a.unattributedAlphaRao.toString(),
          },
        };
      });
      const ledgers = await Promise.all(open.map(async (o) => ({ id: o.id, checkpoints: await debtLedger(o.synthetic, o.debt) })));
      return { debt: aggregateEntity(ledgers).map((c) => debtCheckpointView({ ...c, status: "entity" })), attribution };
    },
  );
};
