import type { FastifyPluginAsync } from "fastify";
import { head } from "../../core/chain/chain-state.ts";
import type { State, ViolationRecord } from "../../core/machine/state.ts";
import { isMothership, mothershipOf, streamHead } from "../../core/sync/sync-state.ts";
import { errorBody } from "../error-envelope.ts";
import type { ApiContext } from "../server.ts";

/** /healthz (is it serving, is anything wrong), /readyz (replay done), /metrics (Prometheus), /v1/time. */
export const healthRoutes: FastifyPluginAsync<{ ctx: ApiContext }> = async (app, { ctx }) => {
  app.get("/healthz", { schema: { summary: "Is the node serving, and is anything wrong (problems)", tags: ["health"] } }, async () => {
    const node = ctx.node();
    // role: whether this process holds the store's single-writer lock (always "writer" on SQLite).
    const base = { block: 0, stream_seq: 0, version: ctx.version, role: ctx.role?.() ?? "writer" };
    if (!node) return { status: "ok", ...base, seq: 0, problems: [ctx.startupStatus()] };
    if (!node.readable) {
      // No read here: after a failed commit the state may hold effects that never became durable.
      return { status: "degraded", ...base, seq: node.head.seq, problems: [...node.problems, "store is not writable"] };
    }
    const conditions = node.conditions();
    return node.read((state, logHead) => {
      const problems = [
        ...node.problems,
        ...conditions.map((c) => c.problem),
        ...(node.writable || node.problems.length > 0 ? [] : ["writes are refused"]),
        ...violationLines(state),
        ...state.sync.conflicts.sortedEntries().map(([, c]) => `SYNC_CONFLICT at stream_seq ${c.stream_seq}: ${c.message}; recorded, not applied`),
        ...state.trading.held
          .sortedEntries()
          .map(([, h]) => `price held: ${h.trade_pair} ${h.price} at ts_ms ${h.ts_ms} is more than 20% from ${h.last_price}; root resolves it with POST /v1/prices/held/resolve`),
      ];
      // `block` is the chain head's block number.
      const block = head(state.chain).block;
      const advisory = conditions.filter((c) => !c.degraded).length;
      // On a followed chain, `block` is that chain's head as last seen.
      const chain = ctx.chain?.() ?? null;
      const agent = ctx.sync?.() ?? null;
      const sync = {
        mothership: mothershipOf(state.sync, state.identity),
        role: isMothership(state.sync, state.identity) ? "mothership" : "follower",
        catching_up: state.identity.catchingUp === true,
        conflicts: state.sync.conflicts.size,
        pending_eliminations: state.sync.pending.size,
        peers: agent?.peerStatus() ?? [],
      };
      return {
        status: problems.length > advisory ? "degraded" : "ok",
        ...base,
        block: chain ? (chain.head ?? 0) : block,
        seq: logHead.seq,
        stream_seq: streamHead(state.sync).stream_seq,
        problems: capped(problems),
        sync,
        ...(chain ? { chain } : {}),
      };
    });
  });

  app.get("/readyz", { schema: { summary: "Ready once startup replay is done (503 UNAVAILABLE before)", tags: ["health"] } }, async (_request, reply) => {
    if (!ctx.node()) {
      reply.code(503);
      return errorBody("UNAVAILABLE", ctx.startupStatus());
    }
    return { ready: true };
  });

  app.get("/metrics", { schema: { summary: "Prometheus metrics (text exposition format)", tags: ["health"] } }, async (_request, reply) => {
    const node = ctx.node();
    if (!node) {
      reply.code(503);
      return errorBody("UNAVAILABLE", ctx.startupStatus());
    }
    reply.type(node.metrics.registry.contentType);
    return node.metrics.registry.metrics();
  });

  // Node time, what Epistula windows and price stamps are judged against (the wall clock until the node is open).
  app.get("/v1/time", { schema: { summary: "Node time (ms), what Epistula timestamps are judged against", tags: ["health"] } }, async () => ({ server_time_ms: ctx.node()?.clock.now() ?? Date.now() }));
};

/** /healthz stays short however much is wrong: this many problem lines, then a count of the rest. */
export const MAX_PROBLEM_LINES = 20;

/** One line per (scope, invariant), in the order first recorded, saying how often it was recorded. */
function violationLines(state: State): string[] {
  const groups = new Map<string, { first: ViolationRecord; times: number }>();
  for (const v of state.violations) {
    const key = `${v.scope}|${v.invariant}`;
    const group = groups.get(key);
    if (group) group.times++;
    else groups.set(key, { first: v, times: 1 });
  }
  // Core records a violation once while its scope stays paused and counts later sightings.
  return [...groups].map(([key, { first: v, times }]) => {
    const seen = times + (state.violationRepeats.get(key)?.repeats ?? 0);
    return `CriticalInvariantViolation in ${v.scope}: ${v.invariant} (expected ${v.expected}, actual ${v.actual})${seen > 1 ? ` (seen ${seen} times)` : ""}`;
  });
}

function capped(problems: string[]): string[] {
  if (problems.length <= MAX_PROBLEM_LINES) return problems;
  return [...problems.slice(0, MAX_PROBLEM_LINES), `... and ${problems.length - MAX_PROBLEM_LINES} more`];
}
