import Fastify, { type FastifyInstance } from "fastify";
import type { BlockProducer } from "../node/block-producer.ts";
import type { PropnetNode } from "../node/node.ts";
import { installErrorEnvelope } from "./error-envelope.ts";
import { healthRoutes } from "./routes/health.ts";

export interface ApiContext {
  /** The node once startup replay is done; null before. */
  node: () => PropnetNode | null;
  /** The devnet block producer, once the node is ready. */
  producer?: () => BlockProducer | null;
  /** Root's hotkey (SS58). */
  root?: string;
  /** What the node is doing while not yet ready. */
  startupStatus: () => string;
  version: string;
}

export const BODY_LIMIT = 64 * 1024;

/** The HTTP interface: routes are plugins over one shared context. */
export function buildServer(ctx: ApiContext, options: { logger?: boolean } = {}): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: BODY_LIMIT, return503OnClosing: true });
  installErrorEnvelope(app);
  app.register(healthRoutes, { ctx });
  return app;
}
