import type { FastifyError, FastifyInstance } from "fastify";
import { DomainError, ERROR_TABLE, type ErrorCode, type ErrorDetails } from "../core/errors/errors.ts";
import { retryAfterSeconds } from "./rate-limit.ts";

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details: ErrorDetails };
}

export function errorBody(code: ErrorCode, message: string, details: ErrorDetails = {}): ErrorBody {
  return { error: { code, message, details } };
}

/**
 * Every failure leaves as `{ error: { code, message, details } }` with a code from the one table;
 * never a stack trace or an internal path.
 */
export function installErrorEnvelope(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody("NOT_FOUND", `no route for ${request.method} ${request.url.split("?")[0]}`));
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DomainError) {
      if (error.code === "RATE_LIMITED") reply.header("retry-after", String(retryAfterSeconds(Number(error.details.retry_after_ms ?? 1_000))));
      reply.code(ERROR_TABLE[error.code]).send(errorBody(error.code, error.message, error.details));
      return;
    }
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      reply.code(413).send(errorBody("PAYLOAD_TOO_LARGE", "request body exceeds 64 KiB"));
      return;
    }
    if (error.statusCode === 400 || error.code?.startsWith("FST_ERR_CTP") || error.validation) {
      reply.code(400).send(errorBody("VALIDATION_FAILED", error.message));
      return;
    }
    request.log.error({ err: error }, "unhandled error");
    reply.code(500).send(errorBody("INTERNAL", "internal error"));
  });
}
