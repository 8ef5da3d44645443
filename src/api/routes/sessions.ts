import type { FastifyPluginAsync } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { type Access, signedWrite } from "../access.ts";
import { signerOf } from "../request-signature.ts";
import { SESSIONS_PER_SIGNER, sessionCookie } from "../sessions.ts";
import { SIGNED } from "../openapi.ts";

/**
 * `POST /v1/sessions`: one signed request buys a read-only token for 15 minutes (API.md
 * "Authentication"); a signer holds at most SESSIONS_PER_SIGNER, a new one ends its oldest.
 */
export const sessionRoutes: FastifyPluginAsync<{ access: Access }> = async (instance, { access }) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  app.post(
    "/v1/sessions",
    {
      preValidation: [signedWrite(access)],
      schema: {
        security: SIGNED,
        summary: "A read-only session token for the signer (also set as an HttpOnly cookie)",
        description: `A signer holds at most ${SESSIONS_PER_SIGNER} live tokens: another one ends its oldest.`,
        tags: ["auth"],
        body: z.strictObject({}).nullish(),
        response: { 200: z.strictObject({ token: z.string(), expires_at_ms: z.number().int() }) },
      },
    },
    async (request, reply) => {
      const session = access.sessions.issue(signerOf(request));
      reply.header("set-cookie", sessionCookie(session.token, session.expires_at_ms));
      return session;
    },
  );
};
