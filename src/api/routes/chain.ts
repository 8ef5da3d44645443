import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Extrinsic } from "../../core/chain/block.ts";
import { account, head, key, PARAMETER_BOUNDS, type ParameterName, params as chainParams, type SubnetInfo } from "../../core/chain/chain-state.ts";
import { DomainError, ERROR_TABLE, type ErrorCode } from "../../core/errors/errors.ts";
import { type InvariantReport, report } from "../../core/invariants/report.ts";
import { alpha, TAO } from "../../core/ledger/asset.ts";
import { PROP_NETUID } from "../../core/entities/entity-commands.ts";
import { heldIdempotencyKey } from "../../core/machine/idempotency.ts";
import type { IdempotencyRecord, State } from "../../core/machine/state.ts";
import { isSs58 } from "../../keys/keys.ts";
import type { BlockProducer, Inclusion } from "../../node/block-producer.ts";
import type { PropnetNode } from "../../node/node.ts";
import { BLOCK_EVENT_TYPE, CHAIN_EVENT_TYPES, type ChainEvent, chainEventsOfPayload, extrinsicEffectsInLog, toChainEvents } from "../chain-events.ts";
import { type EpistulaVerifier, ReplayedRequest, sha256hex } from "../../epistula/epistula.ts";
import { signerOf } from "../request-signature.ts";
import type { ApiContext } from "../server.ts";
import { SIGNED } from "../openapi.ts";

// ---- schemas --------------------------------------------------------------------------------------

/** A positive amount of rao, as a decimal string (at most 19 digits, as the chain accepts). */
const PositiveRao = z.string().regex(/^[1-9][0-9]{0,18}$/, "must be a string of positive integer rao");
const RaoString = z.string().regex(/^-?(0|[1-9][0-9]*)$/);
const Ss58 = z
  .string()
  .max(64)
  .refine((s) => isSs58(s), "must be an SS58 address (prefix 42)");
const Netuid = z.number().int().min(0).max(65_535);
const U16 = z.number().int().min(0).max(65_535);
const MAX_NEURONS_PER_CALL = 4_096;

/** A path or query integer: digits only, no sign, no leading zeros. */
const digits = (max: number) =>
  z
    .string()
    .regex(/^(0|[1-9][0-9]{0,15})$/, "must be a non-negative integer")
    .transform(Number)
    .pipe(z.number().int().max(max));

const NetuidParams = z.strictObject({ netuid: digits(65_535) });

const call = <C extends string, A extends z.ZodRawShape>(name: C, args: A) =>
  z.strictObject({ call: z.literal(name), args: z.strictObject(args) });

export const EXTRINSIC_CALLS = [
  "balances.transfer",
  "subtensor.burned_register",
  "subtensor.add_stake",
  "subtensor.remove_stake",
  "subtensor.set_weights",
  "collateral.deposit",
  "collateral.withdraw",
  "root.unpause_subnet_emission",
  "root.set_parameter",
] as const;

/** A numeric chain parameter within core's bounds (PARAMETER_BOUNDS), so OpenAPI shows its range. */
const boundedInt = (name: "tempo" | "defaultTempo" | "maxNeurons" | "recountPerBlock" | "activityCutoff") =>
  z.number().int().min(PARAMETER_BOUNDS[name].min).max(PARAMETER_BOUNDS[name].max);
const boundedRao = (name: "registrationBurnRao" | "minStakeRao") => {
  const { min, max } = PARAMETER_BOUNDS[name];
  return z
    .string()
    .regex(/^(0|[1-9][0-9]{0,18})$/, "must be a string of integer rao")
    .refine((v) => BigInt(v) >= min && BigInt(v) <= max, `must be from ${min} to ${max} rao`);
};
const parameter = <N extends ParameterName, V extends z.ZodType>(name: N, value: V) => z.strictObject({ name: z.literal(name), value });

/** root.set_parameter's args: one schema per parameter name, each with its own bounds. */
const SetParameterArgs = z.discriminatedUnion("name", [
  parameter("tempo", boundedInt("tempo")),
  parameter("defaultTempo", boundedInt("defaultTempo")),
  parameter("maxNeurons", boundedInt("maxNeurons")),
  parameter("recountPerBlock", boundedInt("recountPerBlock")),
  parameter("activityCutoff", boundedInt("activityCutoff")),
  parameter("registrationBurnRao", boundedRao("registrationBurnRao")),
  parameter("minStakeRao", boundedRao("minStakeRao")),
]);

const ExtrinsicBody = z.discriminatedUnion("call", [
  call("balances.transfer", { dest: Ss58, amount_rao: PositiveRao }),
  call("subtensor.burned_register", { netuid: Netuid, hotkey: Ss58 }),
  call("subtensor.add_stake", { hotkey: Ss58, netuid: Netuid, amount_rao: PositiveRao }),
  call("subtensor.remove_stake", { hotkey: Ss58, netuid: Netuid, amount_alpha: PositiveRao }),
  call("subtensor.set_weights", {
    netuid: Netuid,
    uids: z.array(U16).max(MAX_NEURONS_PER_CALL),
    weights: z.array(U16).max(MAX_NEURONS_PER_CALL),
  }),
  call("collateral.deposit", { hotkey: Ss58, amount_rao: PositiveRao }),
  call("collateral.withdraw", { hotkey: Ss58, amount_rao: PositiveRao }),
  call("root.unpause_subnet_emission", { netuid: Netuid, force: z.boolean().optional() }),
  z.strictObject({ call: z.literal("root.set_parameter"), args: SetParameterArgs }),
]);

/** The body may be left out altogether. */
const UnpauseBody = z.strictObject({ force: z.boolean().optional() }).nullish();

const SubnetSchema = z.strictObject({
  netuid: z.number().int(),
  tempo: z.number().int(),
  owner_hotkey: z.string(),
  tao_in_rao: RaoString,
  alpha_in_rao: RaoString,
  alpha_out_rao: RaoString,
  price: z.number(),
  emission_paused: z.boolean(),
  pending_server_rao: RaoString,
  pending_validator_rao: RaoString,
  pending_owner_cut_rao: RaoString,
  blocks_since_last_step: z.number().int(),
});
type Subnet = z.infer<typeof SubnetSchema>;

const NeuronSchema = z.strictObject({
  uid: z.number().int(),
  hotkey: z.string(),
  coldkey: z.string(),
  stake_alpha_rao: RaoString,
  incentive: z.number(),
  dividends: z.number(),
  emission_rao: RaoString,
  is_entity: z.boolean(),
});
type Neuron = z.infer<typeof NeuronSchema>;

const ChainEventSchema = z.strictObject({
  block: z.number().int(),
  type: z.enum(CHAIN_EVENT_TYPES),
  data: z.record(z.string(), z.unknown()),
});

const InvariantSchema = z.strictObject({
  name: z.string(),
  scope: z.string(),
  ok: z.boolean(),
  expected: RaoString,
  actual: RaoString,
});

const ViolationSchema = z.strictObject({
  scope: z.string(),
  invariant: z.string(),
  expected: z.string(),
  actual: z.string(),
  /** Sightings since it was recorded (it is recorded once while its scope stays paused). */
  repeats: z.number().int(),
});

const HeadResponse = z.strictObject({
  block: z.number().int(),
  timestamp_ms: z.number().int(),
  total_issuance_rao: RaoString,
  block_emission_rao: RaoString,
});

const EventsQuery = z.strictObject({
  type: z.enum(CHAIN_EVENT_TYPES).optional(),
  after: digits(Number.MAX_SAFE_INTEGER).optional(),
  limit: digits(1_000)
    .pipe(z.number().min(1, "must be from 1 to 1000"))
    .optional(),
});

// ---- views ----------------------------------------------------------------------------------------

function subnetView(state: State, s: SubnetInfo): Subnet {
  const { ledger } = state;
  const a = alpha(s.netuid);
  const taoIn = ledger.balanceOf(TAO, account.subnetTao(s.netuid));
  const alphaIn = ledger.balanceOf(a, account.alphaIn(s.netuid));
  return {
    netuid: s.netuid,
    tempo: s.tempo,
    owner_hotkey: s.ownerHotkey,
    tao_in_rao: taoIn.toString(),
    alpha_in_rao: alphaIn.toString(),
    alpha_out_rao: s.alphaOut.toString(),
    price: alphaIn === 0n ? 0 : Number(taoIn) / Number(alphaIn),
    emission_paused: s.paused,
    pending_server_rao: ledger.balanceOf(a, account.pendingServer(s.netuid)).toString(),
    pending_validator_rao: ledger.balanceOf(a, account.pendingValidator(s.netuid)).toString(),
    pending_owner_cut_rao: ledger.balanceOf(a, account.pendingOwnerCut(s.netuid)).toString(),
    blocks_since_last_step: s.blocksSinceLastStep,
  };
}

function neuronsView(state: State, s: SubnetInfo): Neuron[] {
  const { chain } = state;
  const stats = chain.stats.get(s.netuid);
  const out: Neuron[] = [];
  for (let uid = 0; uid < s.neuronCount; uid++) {
    const n = chain.neurons.get(key.neuron(s.netuid, uid));
    if (!n) continue;
    out.push({
      uid,
      hotkey: n.hotkey,
      coldkey: n.coldkey,
      stake_alpha_rao: (chain.pools.get(key.hotkey(s.netuid, n.hotkey))?.value ?? 0n).toString(),
      incentive: stats?.incentive[uid] ?? 0,
      dividends: stats?.dividends[uid] ?? 0,
      emission_rao: (stats?.emission[uid] ?? 0n).toString(),
      is_entity: s.netuid === PROP_NETUID && state.entities.entities.has(n.hotkey),
    });
  }
  return out;
}

function subnetOrNotFound(state: State, netuid: number): SubnetInfo {
  const s = state.chain.subnets.get(netuid);
  if (!s) throw new DomainError("NOT_FOUND", `subnet ${netuid} does not exist`, { netuid });
  return s;
}

// ---- the plugin -----------------------------------------------------------------------------------

export interface ChainRoutesOptions {
  ctx: ApiContext;
  epistula: EpistulaVerifier;
}

type ExtrinsicAnswer = { included_in_block: number; events: ChainEvent[] };
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

/** Reads scan at most this many log rows per request; `next` lets the client go on. */
const MAX_SCANNED_ROWS = 10_000;
const SCAN_CHUNK = 500;

/**
 * The devnet chain (API.md "Chain (devnet) and invariants"). Reads run through node.read and see
 * committed state only; extrinsics answer once the block that holds them is committed.
 */
export const chainRoutes: FastifyPluginAsync<ChainRoutesOptions> = async (instance, { ctx, epistula }) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  let lastReport: { seq: number; report: InvariantReport } | null = null;

  const node = (): PropnetNode => {
    const n = ctx.node();
    if (!n) throw new DomainError("UNAVAILABLE", `the node is not ready: ${ctx.startupStatus()}`);
    return n;
  };
  const producer = (): BlockProducer => {
    const p = ctx.producer?.() ?? null;
    if (!p) throw new DomainError("UNAVAILABLE", "the block producer is not running");
    return p;
  };
  const rootKey = async (): Promise<string> => ctx.root ?? (await node().read((s) => chainParams(s.chain).root));

  // preValidation runs after body size (413) and JSON syntax (400) and before schema (400).
  const ready = async () => {
    node();
    producer();
  };
  // Owed empty blocks are logged before any chain route runs, so it sees the chain up to the clock.
  instance.addHook("preHandler", async () => {
    await ctx.producer?.()?.settle();
  });
  const rootOnly = async (request: FastifyRequest) => {
    if (signerOf(request) !== (await rootKey())) throw new DomainError("FORBIDDEN", "only root may do this");
  };
  const rootForRootCalls = async (request: FastifyRequest) => {
    const body = request.body as { call?: unknown } | null | undefined;
    if (body && typeof body === "object" && typeof body.call === "string" && body.call.startsWith("root.")) {
      if (signerOf(request) !== (await rootKey())) throw new DomainError("FORBIDDEN", `only root may call ${body.call}`);
    }
  };

  /**
   * Epistula; a replayed uuid goes on only with an Idempotency-Key, and then only the stored
   * answer to that key and body may answer it (`includeOnce`), as on the entity routes.
   */
  const signedRepeatable = async (request: FastifyRequest) => {
    try {
      request.epistula = await epistula.verify(request.headers, request.rawBody ?? "");
    } catch (error) {
      if (!(error instanceof ReplayedRequest) || request.headers["idempotency-key"] === undefined) throw error;
      request.epistula = error.proof;
      request.replayed = true;
    }
  };

  /** An Idempotency-Key repeat: the first inclusion again, read back from its block in the log. */
  const repeatOf = async (record: IdempotencyRecord, fingerprint: string): Promise<Inclusion> => {
    const { block, index } = record.ref;
    if (record.fingerprint !== fingerprint || typeof block !== "number" || typeof index !== "number") {
      throw new DomainError("IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was already used with another request");
    }
    const n = node();
    const effects = await extrinsicEffectsInLog(n.store, n.head.seq, { block, index, ts: record.ts_ms });
    if (!effects) throw new DomainError("INTERNAL", "the first answer to this Idempotency-Key is not in the log");
    return { includedInBlock: block, effects };
  };

  /**
   * Includes a signed request's extrinsic in a block, once per Idempotency-Key. The uuid and key
   * travel in the extrinsic and its block records them (state, replayed at start), so for 24
   * hours, restarts included, the same key and body get the first inclusion again and another
   * body 409 IDEMPOTENCY_KEY_REUSED. Keys are per signer and shared with the entity routes.
   */
  const includeOnce = async (request: FastifyRequest, extrinsic: Extrinsic, options: { now?: boolean } = {}): Promise<Inclusion> => {
    const proof = request.epistula;
    if (!proof) throw new DomainError("SIGNATURE_MISSING", "this request must be signed (Epistula v2)");
    const header = request.headers["idempotency-key"];
    if (header !== undefined && (typeof header !== "string" || !IDEMPOTENCY_KEY.test(header))) {
      throw new DomainError("VALIDATION_FAILED", "Idempotency-Key must be 1 to 128 printable ASCII characters");
    }
    // As on the entity routes (access.ts), so a key reused on another route is another request.
    const idempotency =
      header === undefined ? undefined : { key: header, fingerprint: sha256hex(`${request.method} ${request.url}\n${sha256hex(request.rawBody ?? "")}`) };
    const held = async () => {
      if (!idempotency) return undefined;
      const n = node();
      return n.read((state) => heldIdempotencyKey(state, proof.signer, idempotency.key, n.clock.now()));
    };
    const prior = await held();
    if (request.replayed && (!prior || !idempotency || prior.fingerprint !== idempotency.fingerprint)) {
      throw new DomainError("REQUEST_REPLAYED", "this Epistula-Uuid was already used");
    }
    if (prior && idempotency) return repeatOf(prior, idempotency.fingerprint);
    const inclusion = await producer().include({ ...extrinsic, request: { uuid: proof.uuid, ...(idempotency ? { idempotency } : {}) } }, options);
    // A concurrent repeat (same key, not yet in a block when this one was sent): the block ran only the first.
    if (idempotency && inclusion.effects.some((e) => e.k === "failed" && e.code === "IDEMPOTENCY_KEY_REUSED")) {
      const first = await held();
      if (first) return repeatOf(first, idempotency.fingerprint);
    }
    return inclusion;
  };

  /** A refused extrinsic answers with its own code, after its block. */
  const answer = (inclusion: Inclusion): ChainEvent[] => {
    const failed = inclusion.effects.find((e) => e.k === "failed");
    if (failed && failed.k === "failed") {
      const code: ErrorCode = Object.hasOwn(ERROR_TABLE, failed.code) ? (failed.code as ErrorCode) : "INTERNAL";
      throw new DomainError(code, failed.message, { included_in_block: inclusion.includedInBlock, call: failed.call });
    }
    return toChainEvents(inclusion.includedInBlock, inclusion.effects);
  };

  app.get(
    "/v1/chain/head",
    { schema: { summary: "The chain's head", tags: ["chain"], response: { 200: HeadResponse } } },
    async () =>
      node().read((state) => {
        const h = head(state.chain);
        return {
          block: h.block,
          timestamp_ms: h.timestampMs,
          total_issuance_rao: state.ledger.totals(TAO).issuance.toString(),
          block_emission_rao: h.emission.toString(),
        };
      }),
  );

  app.get(
    "/v1/chain/subnets",
    { schema: { summary: "Every subnet", tags: ["chain"], response: { 200: z.strictObject({ subnets: z.array(SubnetSchema) }) } } },
    async () =>
      node().read((state) => ({
        subnets: state.chain.subnets
          .sortedKeys()
          .map((u) => state.chain.subnets.get(u))
          .filter((s): s is SubnetInfo => s !== undefined)
          .map((s) => subnetView(state, s)),
      })),
  );

  app.get(
    "/v1/chain/subnets/:netuid",
    {
      schema: {
        summary: "One subnet and its neurons",
        tags: ["chain"],
        params: NetuidParams,
        response: { 200: z.strictObject({ subnet: SubnetSchema, neurons: z.array(NeuronSchema) }) },
      },
    },
    async (request) =>
      node().read((state) => {
        const s = subnetOrNotFound(state, request.params.netuid);
        return { subnet: subnetView(state, s), neurons: neuronsView(state, s) };
      }),
  );

  app.get(
    "/v1/chain/invariants",
    {
      schema: {
        summary: "Every chain invariant, checked now on committed state",
        tags: ["chain"],
        response: {
          200: z.strictObject({
            checked_at_block: z.number().int(),
            invariants: z.array(InvariantSchema),
            unresolved_violations: z.array(ViolationSchema),
          }),
        },
      },
    },
    async () =>
      node().read((state, logHead) => {
        // A full recount is O(N): computed once per committed state, however often the route is polled.
        if (lastReport?.seq !== logHead.seq) lastReport = { seq: logHead.seq, report: report(state) };
        return lastReport.report;
      }),
  );

  app.get(
    "/v1/chain/events",
    {
      schema: {
        summary: "Chain events from the log, oldest first",
        description:
          "Pages over the log's blocks: `next` is the log seq to pass as `after` (null at the end). A block's events are never split across pages, so a page may exceed `limit` when one block alone does.",
        tags: ["chain"],
        querystring: EventsQuery,
        response: { 200: z.strictObject({ events: z.array(ChainEventSchema), next: z.number().int().nullable() }) },
      },
    },
    async (request) => {
      const { store } = node();
      const type = request.query.type;
      const limit = request.query.limit ?? 100;
      let cursor = request.query.after ?? 0;
      const events: ChainEvent[] = [];
      let scanned = 0;
      while (scanned < MAX_SCANNED_ROWS) {
        const rows = await store.read(cursor, Math.min(SCAN_CHUNK, MAX_SCANNED_ROWS - scanned));
        if (rows.length === 0) return { events, next: null };
        for (const row of rows) {
          if (row.type === BLOCK_EVENT_TYPE) {
            const found = chainEventsOfPayload(row.payload).filter((e) => type === undefined || e.type === type);
            // Never split a block: stop before one that does not fit (unless the page is empty).
            if (events.length > 0 && events.length + found.length > limit) return { events, next: cursor };
            events.push(...found);
          }
          cursor = row.seq;
          scanned++;
          if (events.length >= limit) return { events, next: cursor };
        }
      }
      return { events, next: cursor };
    },
  );

  app.post(
    "/v1/chain/extrinsics",
    {
      preValidation: [ready, signedRepeatable, rootForRootCalls],
      schema: {
        security: SIGNED,
        summary: "Submit a devnet extrinsic (Epistula-signed; the signer is the coldkey, root for root calls)",
        description: "Answers after the block that holds the extrinsic is committed. A refused extrinsic answers with its error code and details.included_in_block.",
        tags: ["chain"],
        body: ExtrinsicBody,
        response: { 200: z.strictObject({ included_in_block: z.number().int(), events: z.array(ChainEventSchema) }) },
      },
    },
    async (request): Promise<ExtrinsicAnswer> => {
      const body = request.body;
      const args = Object.fromEntries(Object.entries(body.args).filter(([, v]) => v !== undefined));
      const inclusion = await includeOnce(request, { call: body.call, signer: signerOf(request), args });
      return { included_in_block: inclusion.includedInBlock, events: answer(inclusion) };
    },
  );

  app.post(
    "/v1/chain/subnets/:netuid/unpause",
    {
      preValidation: [ready, signedRepeatable, rootOnly],
      schema: {
        security: SIGNED,
        summary: "Resume a paused subnet's emission after a full recount (root, Epistula-signed)",
        tags: ["chain"],
        params: NetuidParams,
        body: UnpauseBody,
        response: { 200: z.strictObject({ subnet: SubnetSchema }) },
      },
    },
    async (request) => {
      const { netuid } = request.params;
      await node().read((state) => subnetOrNotFound(state, netuid));
      const args: Record<string, unknown> = { netuid };
      if (request.body?.force !== undefined) args.force = request.body.force;
      // A block at once, not at the next tick: only extrinsics wait for a block time (API.md).
      answer(await includeOnce(request, { call: "root.unpause_subnet_emission", signer: signerOf(request), args }, { now: true }));
      return { subnet: await node().read((state) => subnetView(state, subnetOrNotFound(state, netuid))) };
    },
  );
};
