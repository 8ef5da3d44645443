import type { FastifyPluginAsync } from "fastify";
import { head } from "../../core/chain/chain-state.ts";
import { errorBody } from "../error-envelope.ts";
import type { ApiContext } from "../server.ts";

/** /healthz (is it serving, is anything wrong), /readyz (replay done), /metrics (Prometheus), /v1/time. */
export const healthRoutes: FastifyPluginAsync<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get("/healthz", async () => {
    const node = ctx.node();
    const base = { block: 0, stream_seq: 0, version: ctx.version };
    if (!node) return { status: "ok", ...base, seq: 0, problems: [ctx.startupStatus()] };
    if (!node.writable && node.problems.length === 0) {
      // No read here: after a failed commit the state may hold effects that never became durable.
      return { status: "degraded", ...base, seq: node.head.seq, problems: ["store is not writable"] };
    }
    return node.read((state, logHead) => {
      const problems = [
        ...node.problems,
        ...state.violations.map(
          (v) => `CriticalInvariantViolation in ${v.scope}: ${v.invariant} (expected ${v.expected}, actual ${v.actual})`,
        ),
        ...state.trading.held
          .sortedEntries()
          .map(([, h]) => `price held: ${h.trade_pair} ${h.price} at ts_ms ${h.ts_ms} is more than 20% from ${h.last_price}; root resolves it with POST /v1/prices/held/resolve`),
      ];
      // `block` is the chain head's block number.
      const block = head(state.chain).block;
      return { status: problems.length > 0 ? "degraded" : "ok", ...base, block, seq: logHead.seq, problems };
    });
  });

  app.get("/readyz", async (_request, reply) => {
    if (!ctx.node()) {
      reply.code(503);
      return errorBody("UNAVAILABLE", ctx.startupStatus());
    }
    return { ready: true };
  });

  app.get("/metrics", async (_request, reply) => {
    const node = ctx.node();
    if (!node) {
      reply.code(503);
      return errorBody("UNAVAILABLE", ctx.startupStatus());
    }
    reply.type(node.metrics.registry.contentType);
    return node.metrics.registry.metrics();
  });

  app.get("/v1/time", async () => ({ server_time_ms: Date.now() }));
};
