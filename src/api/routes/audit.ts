import type { FastifyPluginAsync } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { type Access, requireSigner, signedRead } from "../access.ts";
import { SIGNED_OR_SESSION } from "../openapi.ts";

const AuditEvent = z.strictObject({
  seq: z.number().int(),
  block: z.number().int(),
  ts: z.number().int(),
  type: z.string(),
  /** The stored JSON text, byte for byte: the hash covers these bytes. */
  payload: z.string(),
  signer: z.string().nullable(),
  prev_hash: z.string(),
  hash: z.string(),
});

/** `GET /v1/audit` (root): the event log with its hash chain, so anyone holding it can check every row. */
export const auditRoutes: FastifyPluginAsync<{ access: Access }> = async (instance, { access }) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  app.get(
    "/v1/audit",
    {
      preValidation: [signedRead(access), async (request) => void requireSigner(request, [access.root()], "root")],
      schema: {
        security: SIGNED_OR_SESSION,
        summary: "The event log with hashes, oldest first (root)",
        description: "hash = sha256 over prev_hash and the stored bytes of the row; `next` is the seq to pass as `after`, null at the end.",
        tags: ["operations"],
        querystring: z.strictObject({
          after: z.string().regex(/^(0|[1-9][0-9]{0,15})$/).transform(Number).optional(),
          limit: z.string().regex(/^[1-9][0-9]{0,3}$/).transform(Number).pipe(z.number().max(1_000)).optional(),
        }),
        response: { 200: z.strictObject({ events: z.array(AuditEvent), next: z.number().int().nullable() }) },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 100;
      // Committed rows only: the store holds nothing that is not durable.
      const rows = await access.node().store.read(request.query.after ?? 0, limit);
      return {
        events: rows.map((r) => ({ seq: r.seq, block: r.block, ts: r.ts, type: r.type, payload: r.payload, signer: r.signer, prev_hash: r.prevHash, hash: r.hash })),
        next: rows.length === limit ? (rows[rows.length - 1]?.seq ?? null) : null,
      };
    },
  );
};
