import type { FastifyPluginAsync } from "fastify";
import { errorBody } from "../error-envelope.ts";
import type { ApiContext } from "../server.ts";

/** /healthz (is it serving, and is anything wrong) and /readyz (replay done, ready for traffic). */
export const healthRoutes: FastifyPluginAsync<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get("/healthz", async () => {
    const node = ctx.node();
    const problems: string[] = [];
    let degraded = false;
    if (!node) {
      problems.push(ctx.startupStatus());
    } else {
      for (const v of node.state.violations) {
        degraded = true;
        problems.push(`CriticalInvariantViolation in ${v.scope}: ${v.invariant} (expected ${v.expected}, actual ${v.actual})`);
      }
      if (!node.writable) {
        degraded = true;
        problems.push("store is not writable");
      }
    }
    return {
      status: degraded ? "degraded" : "ok",
      block: 0,
      seq: node?.head.seq ?? 0,
      stream_seq: 0,
      version: ctx.version,
      problems,
    };
  });

  app.get("/readyz", async (_request, reply) => {
    if (!ctx.node()) {
      reply.code(503);
      return errorBody("UNAVAILABLE", ctx.startupStatus());
    }
    return { ready: true };
  });

  app.get("/v1/time", async () => ({ server_time_ms: Date.now() }));
};
