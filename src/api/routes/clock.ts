import type { FastifyPluginAsync } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { type Access, requireSigner, signedWrite } from "../access.ts";
import { SIGNED } from "../openapi.ts";

const Reading = {
  node_time_ms: z.number().int(),
  wall_time_ms: z.number().int(),
  wall_lead_ms: z.number().int(),
};

/**
 * The node clock (DESIGN.md §2 rule 6): what it reads against the wall clock, and root's adoption
 * of a wall clock that jumped ahead (the CLOCK_JUMP condition in /healthz).
 */
export const clockRoutes: FastifyPluginAsync<{ access: Access }> = async (instance, { access }) => {
  const app = instance.withTypeProvider<ZodTypeProvider>();

  app.get(
    "/v1/clock",
    {
      schema: {
        summary: "Node time against the wall clock, and the CLOCK_JUMP condition when there is one",
        description: "Node time keeps to the monotonic clock; wall_lead_ms = wall - node. `jump` is the /healthz line while the wall clock is more than 5 s from node time.",
        tags: ["operations"],
        response: { 200: z.strictObject({ ...Reading, jump: z.string().nullable() }) },
      },
    },
    async () => {
      const { clock } = access.node();
      return { ...clock.read(), jump: clock.condition()?.problem ?? null };
    },
  );

  app.post(
    "/v1/clock/acknowledge",
    {
      preValidation: [signedWrite(access), async (request) => void requireSigner(request, [access.root()], "root")],
      schema: {
        security: SIGNED,
        summary: "Adopt a wall clock that jumped ahead of node time (root)",
        description:
          "Node time steps forward to the wall clock once (adopted_ms; the log says why) and CLOCK_JUMP clears. A wall clock behind node time is never adopted: 409 WALL_CLOCK_BEHIND (time never goes back; the condition clears when the wall clock catches up). Within 5 s there is nothing to adopt: adopted_ms 0.",
        tags: ["operations"],
        body: z.strictObject({}).optional(),
        response: { 200: z.strictObject({ ...Reading, adopted_ms: z.number().int() }) },
      },
    },
    async () => access.node().clock.acknowledge(),
  );
};
