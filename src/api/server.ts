import fastifySwagger from "@fastify/swagger";
import Fastify, { type FastifyInstance } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { BlockProducer } from "../node/block-producer.ts";
import type { PropnetNode } from "../node/node.ts";
import { EpistulaVerifier, epistulaReady, installRawJsonParser } from "./epistula.ts";
import { makeAccess } from "./access.ts";
import { clientErrorHandler, frameworkErrors, installErrorEnvelope, MAX_PARAM_LENGTH } from "./error-envelope.ts";
import { RateLimits } from "./rate-limit.ts";
import { auditRoutes } from "./routes/audit.ts";
import { entityRoutes } from "./routes/entities.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { tradingRoutes } from "./routes/trading.ts";
import { weightRoutes } from "./routes/weights.ts";
import { Sessions } from "./sessions.ts";
import { chainRoutes } from "./routes/chain.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { healthRoutes } from "./routes/health.ts";

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
  /** Set on a follower: the mothership issues entity facts, so creation requests go there (409 NOT_MOTHERSHIP). */
  mothership?: { hotkey: string; url: string | null };
  /** Rate limits (API.md numbers); on unless given disabled. */
  limits?: RateLimits;
}

export const BODY_LIMIT = 64 * 1024;

/** The HTTP interface: routes are plugins over one shared context. */
export function buildServer(ctx: ApiContext, options: { logger?: boolean } = {}): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    // Whatever fastify or Node refuse before a route runs answers in the envelope (error-envelope.ts).
    return503OnClosing: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
    clientErrorHandler,
    http: { requireHostHeader: false },
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
  installRawJsonParser(app);
  const epistula = ctx.epistula ?? new EpistulaVerifier();
  const limits = ctx.limits ?? new RateLimits();
  const access = makeAccess(ctx, epistula, new Sessions(), limits);
  app.addHook("onRequest", async (request) => {
    limits.checkIp(request.ip);
  });
  app.addHook("onResponse", async (request, reply) => {
    ctx.node()?.metrics.request(request.routeOptions.url ?? "unmatched", request.method, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.addHook("onReady", async () => {
    await epistulaReady();
  });
  app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "propnet", description: "propnet validator HTTP API (API.md)", version: ctx.version },
    },
    transform: jsonSchemaTransform,
  });
  app.register(healthRoutes, { ctx });
  app.register(dashboardRoutes);
  app.register(chainRoutes, { ctx, epistula });
  app.register(entityRoutes, { access });
  app.register(tradingRoutes, { access });
  app.register(weightRoutes, { access });
  app.register(sessionRoutes, { access });
  app.register(auditRoutes, { access });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  return app;
}
