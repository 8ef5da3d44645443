import fastifySwagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyRequest, LogController } from "fastify";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { BlockProducer } from "../node/block-producer.ts";
import type { PropnetNode } from "../node/node.ts";
import { EpistulaVerifier, epistulaReady } from "../epistula/epistula.ts";
import { installRawJsonParser } from "./request-signature.ts";
import { makeAccess } from "./access.ts";
import {
  CONNECTIONS_CHECK_MS,
  type ConnectionLimitOptions,
  ConnectionLimits,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  REQUEST_TIMEOUT_MS,
} from "./connection-limits.ts";
import { clientErrorHandler, frameworkErrors, installErrorEnvelope, MAX_PARAM_LENGTH } from "./error-envelope.ts";
import { installRequestLog, type LogOptions, loggerOptions } from "./logging.ts";
import { openApiOptions } from "./openapi.ts";
import { RateLimits } from "./rate-limit.ts";
import { auditRoutes } from "./routes/audit.ts";
import { clockRoutes } from "./routes/clock.ts";
import { entityRoutes } from "./routes/entities.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { tradingRoutes } from "./routes/trading.ts";
import { weightRoutes } from "./routes/weights.ts";
import { chainFigures, exposeServerMetrics } from "./server-metrics.ts";
import { Sessions } from "./sessions.ts";
import { chainRoutes } from "./routes/chain.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { liveRoutes } from "./routes/live.ts";
import { healthRoutes } from "./routes/health.ts";
import { syncRoutes } from "./routes/sync.ts";
import type { SyncAgent } from "../node/sync/sync-agent.ts";

export interface ApiContext {
  /** The node once startup replay is done; null before. */
  node: () => PropnetNode | null;
  /** The devnet block producer, once the node is ready. */
  producer?: () => BlockProducer | null;
  /** Root's hotkey (SS58). */
  root?: string;
  /** The price oracle's hotkey; root when absent. */
  oracle?: string;
  /** What the node is doing while not yet ready. */
  startupStatus: () => string;
  version: string;
  /** Epistula verification (one per process: it remembers consumed uuids); made here if absent. */
  epistula?: EpistulaVerifier;
  /** Peer sync (serves and receives the mothership's facts), once the node is open. */
  sync?: () => SyncAgent | null;
  /** The real chain this node follows (`serve --chain subtensor`): what /healthz shows of it. */
  chain?: () => ChainHealth | null;
  /** Rate limits (API.md numbers); on unless given disabled. */
  limits?: RateLimits;
  /** Whether this process holds the store's single-writer lock (/healthz `role`); "writer" when absent (SQLite). */
  role?: () => "writer" | "reader";
  /** Hooks installed before the routes (several processes on PostgreSQL: writes forwarded to the writer). */
  install?: (app: FastifyInstance) => void;
  /** A request forwarded by another process of this validator: the per-IP limit was applied where it arrived. */
  forwardedByPeer?: (request: FastifyRequest) => boolean;
}

/** What /healthz says of a followed chain: where it is, how far behind the node is, the last weights set. */
export interface ChainHealth {
  kind: "subtensor";
  url: string;
  netuid: number;
  connected: boolean;
  head: number | null;
  last_epoch_block: number | null;
  lag_blocks: number | null;
  epochs: number;
  gaps: number;
  /** `last_error`: the chain's refusal (its code); `problem`: why the last round did not get that far (not scored, say). */
  weights: { path: string | null; last_set_block: number | null; last_set_at_ms: number | null; last_error: { code: string; message: string } | null; problem: string | null };
}

export const BODY_LIMIT = 64 * 1024;

export interface ServerOptions {
  /** Off unless given: `true` is JSON at `info` on stdout; LogOptions choose level, format and stream. */
  logger?: boolean | LogOptions;
  /** Caps on open connections (connection-limits.ts); the defaults there when absent. */
  connections?: ConnectionLimitOptions;
}

/** The HTTP interface: routes are plugins over one shared context. */
export function buildServer(ctx: ApiContext, options: ServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger: options.logger ? loggerOptions(options.logger === true ? {} : options.logger) : false,
    // Fastify's two lines per request give way to one (installRequestLog), with the route and signer.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Idle and slow clients give their connection back (connection-limits.ts says why these values).
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Whatever fastify or Node refuse before a route runs answers in the envelope (error-envelope.ts).
    return503OnClosing: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
    clientErrorHandler,
    http: {
      requireHostHeader: false,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
    },
    // "body.args.amount_rao: Invalid input: expected string, received number"; never schema internals.
    schemaErrorFormatter: (errors, dataVar) =>
      new Error(
        errors
          .map((e) => `${dataVar}${(e.instancePath ?? "").replace(/\/$/, "").replaceAll("/", ".")}: ${e.message ?? "invalid"}`)
          .join("; "),
      ),
  });
  // Zod schemas validate requests (strict, no coercion) and serialize responses.
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorEnvelope(app);
  if (options.logger) installRequestLog(app);
  installRawJsonParser(app);
  ctx.install?.(app);
  const connections = new ConnectionLimits(options.connections);
  connections.install(app.server);
  // Connections that never sent a request would hold app.close() until their deadline.
  app.addHook("preClose", async () => connections.close());
  const epistula = ctx.epistula ?? new EpistulaVerifier();
  const limits = ctx.limits ?? new RateLimits();
  const sessions = new Sessions();
  const access = makeAccess(ctx, epistula, sessions, limits);
  /** The node whose registry shows this server's gauges (it exists only once replay is done). */
  let exposedOn: PropnetNode | null = null;
  app.addHook("onRequest", async (request) => {
    if (!ctx.forwardedByPeer?.(request)) limits.checkIp(request.ip);
    const node = ctx.node();
    if (node !== null && node !== exposedOn) {
      exposedOn = node;
      exposeServerMetrics(node.metrics.registry, {
        connections,
        sessions: () => sessions.size,
        uuids: () => epistula.rememberedUuids,
        idempotencyKeys: () => node.state.idempotency.size,
        chain: async () => (node.readable ? node.read(chainFigures) : null),
      });
    }
  });
  app.addHook("onResponse", async (request, reply) => {
    ctx.node()?.metrics.request(request.routeOptions.url ?? "unmatched", request.method, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.addHook("onReady", async () => {
    await epistulaReady();
  });
  app.register(fastifySwagger, openApiOptions(ctx.version));
  app.register(healthRoutes, { ctx });
  app.register(dashboardRoutes);
  app.register(liveRoutes, { ctx });
  app.register(chainRoutes, { ctx, epistula });
  app.register(entityRoutes, { access });
  app.register(tradingRoutes, { access });
  app.register(weightRoutes, { access });
  app.register(sessionRoutes, { access });
  app.register(auditRoutes, { access });
  app.register(clockRoutes, { access });
  app.register(syncRoutes, { access, sync: () => ctx.sync?.() ?? null });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  return app;
}
