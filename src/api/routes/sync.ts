import type { FastifyPluginAsync } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { DomainError } from "../../core/errors/errors.ts";
import { SYNC_FACT_TYPES, type SyncFact } from "../../core/sync/sync-fact.ts";
import { MAX_BATCH } from "../../node/sync/sync-stream.ts";
import { DEFAULT_BATCH, type SyncAgent } from "../../node/sync/sync-agent.ts";
import { SIGNED } from "../openapi.ts";
import { type Access, hotkeyParam, requireSigner, signedWrite, write } from "../access.ts";

const HASH = z.string().regex(/^[0-9a-f]{64}$/);
const Fact = z.strictObject({
  stream_seq: z.number().int().min(1),
  type: z.enum(SYNC_FACT_TYPES),
  payload: z.record(z.string(), z.unknown()),
  ts_ms: z.number().int(),
  prev_hash: HASH,
  hash: HASH,
});
const Head = z.strictObject({ stream_seq: z.number().int().min(0), hash: HASH, signature: z.string().nullable() });
const PushAnswer = z.strictObject({
  applied: z.number().int(),
  duplicates: z.number().int(),
  conflicts: z.number().int(),
  refused: z.number().int(),
  stream_seq: z.number().int(),
});

/** A pushed batch (MAX_BATCH facts of a few hundred bytes) may be larger than an ordinary request. */
const SYNC_BODY_LIMIT = 4 * 1024 * 1024;

/** Peer sync (API.md "Sync between validators"): the mothership's fact stream, served and received. */
export const syncRoutes: FastifyPluginAsync<{ access: Access; sync: () => SyncAgent | null }> = async (instance, { access, sync }) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  // Served while a mothership catches up too (before the node is ready): peers ask it for its head.
  const agent = (): SyncAgent => {
    const a = sync();
    if (!a) throw new DomainError("UNAVAILABLE", "peer sync is not running on this node");
    return a;
  };

  app.get(
    "/v1/sync/events",
    {
      schema: {
        summary: "The mothership's facts after a stream_seq, up to a head the mothership signed (anyone)",
        tags: ["sync"],
        querystring: z.strictObject({
          after: z.coerce.number().int().min(0).default(0),
          limit: z.coerce.number().int().min(1).max(MAX_BATCH).default(DEFAULT_BATCH),
        }),
        response: { 200: z.strictObject({ events: z.array(Fact), head: Head }) },
      },
    },
    // Facts leave exactly as stored and checked when made: sent as text, not checked again field by field on the way out.
    async (request, reply) => {
      const batch = await agent().serve(request.query.after, request.query.limit);
      return reply.type("application/json; charset=utf-8").send(JSON.stringify(batch) as never);
    },
  );

  app.post(
    "/v1/sync/events",
    {
      bodyLimit: SYNC_BODY_LIMIT,
      preValidation: signedWrite(access),
      schema: {
        summary: "Receive a signed batch of facts (any node, relaying); always 200 with what it came to",
        tags: ["sync"],
        security: SIGNED,
        body: z.strictObject({ events: z.array(Fact).min(1).max(MAX_BATCH), head: Head.extend({ signature: z.string() }) }),
        response: { 200: PushAnswer },
      },
    },
    async (request) => agent().receive({ events: request.body.events as SyncFact[], head: request.body.head }),
  );

  app.get(
    "/v1/sync/head",
    {
      schema: {
        summary: "This node's stream head, its mothership, and the hash of the entity facts every node must agree on (anyone)",
        tags: ["sync"],
        // The hash covers every subaccount: computed only when asked for (peers poll the head often).
        querystring: z.strictObject({ state_hash: z.enum(["0", "1"]).default("0") }),
        response: {
          200: z.strictObject({
            stream_seq: z.number().int(),
            hash: HASH,
            mothership: z.string().nullable(),
            hotkey: z.string().nullable(),
            conflicts: z.number().int(),
            sync_state_hash: HASH.optional(),
          }),
        },
      },
    },
    async (request) => agent().head(request.query.state_hash === "1"),
  );

  app.post(
    "/v1/sync/mothership",
    {
      preValidation: signedWrite(access, { idempotent: true }),
      schema: {
        summary: "Root rotates the mothership key, effective after the stream's current head (root; on the mothership in office)",
        tags: ["sync"],
        security: SIGNED,
        body: z.strictObject({ to: z.string(), at_stream_seq: z.number().int().min(0) }),
        response: { 200: z.strictObject({ mothership: z.string(), at_stream_seq: z.number().int() }) },
      },
    },
    async (request, reply) => {
      requireSigner(request, [access.root()], "root");
      const to = hotkeyParam(request.body.to);
      const h = request.headers;
      const authorization = {
        signer: request.epistula?.signer ?? "",
        uuid: String(h["epistula-uuid"] ?? ""),
        timestamp: String(h["epistula-timestamp"] ?? ""),
        signed_for: String(h["epistula-signed-for"] ?? ""),
        body: (request.rawBody ?? Buffer.alloc(0)).toString("utf8"),
        signature: String(h["epistula-request-signature"] ?? ""),
      };
      return write(access, request, reply, {
        command: { kind: "change_mothership", to, at_stream_seq: request.body.at_stream_seq, authorization },
        status: 200,
        view: () => ({ mothership: to, at_stream_seq: request.body.at_stream_seq }),
      });
    },
  );
};
