import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { DomainError, ERROR_TABLE, type ErrorCode, type ErrorDetails, ValidationError } from "../core/errors/errors.ts";
import { retryAfterSeconds } from "./rate-limit.ts";

/** The longest path parameter (a synthetic hotkey is at most 58 characters); longer is 414 before routing ends. */
export const MAX_PARAM_LENGTH = 100;
/** The longest URL, path and query together (API.md: an over-long path is 414 URI_TOO_LONG). */
export const MAX_URL_LENGTH = 8_192;

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
  // Our own 503 while closing (return503OnClosing is off: fastify's answers in its own shape).
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  // First of the onRequest hooks: what no route should see, refused in the envelope.
  app.addHook("onRequest", async (request, reply) => {
    if (closing) {
      reply.header("connection", "close");
      throw new DomainError("UNAVAILABLE", "the server is shutting down");
    }
    if (request.url.length > MAX_URL_LENGTH) throw new DomainError("URI_TOO_LONG", `the URL is longer than ${MAX_URL_LENGTH} characters`);
    // Node's own check (requireHostHeader) would answer 400 with no body; it is off so that this one answers.
    if (request.raw.httpVersion === "1.1" && request.headers.host === undefined) {
      reply.header("connection", "close");
      throw new ValidationError("an HTTP/1.1 request needs a Host header");
    }
  });
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

/**
 * Fastify's `frameworkErrors`: what its router refuses before any route or hook runs (a badly
 * percent-encoded or over-long path parameter). Its default answers in its own shape.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
    reply.code(414).send(errorBody("URI_TOO_LONG", `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`));
  } else if (error.code === "FST_ERR_BAD_URL") {
    // Never echo the path: it may be long, and it is the client's own.
    reply.code(400).send(errorBody("VALIDATION_FAILED", "the path is not validly percent-encoded"));
  } else {
    request.log.error({ err: error }, "framework error");
    reply.code(500).send(errorBody("INTERNAL", "internal error"));
  }
}

/** The request line of a refused request is too long: it fills the packet, or never ends in it. */
function requestLineTooLong(packet: unknown): boolean {
  if (!Buffer.isBuffer(packet) || !/^[A-Za-z]+ /.test(packet.subarray(0, 32).toString("latin1"))) return false;
  const eol = packet.indexOf("\r\n");
  return eol < 0 || eol > MAX_URL_LENGTH;
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before fastify sees a request
 * (a request line or headers over Node's 16 KiB, an unknown method, malformed HTTP, a timeout).
 * Written to the socket by hand, as there is no request; the connection is then closed.
 */
export function clientErrorHandler(error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  let body: ErrorBody;
  if (error.code === "HPE_HEADER_OVERFLOW") {
    body = requestLineTooLong(error.rawPacket)
      ? errorBody("URI_TOO_LONG", "the request line is too long")
      : errorBody("VALIDATION_FAILED", "the request's headers are too large (16 KiB at most, with the request line)");
  } else if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    body = errorBody("VALIDATION_FAILED", "the request did not arrive in time");
  } else {
    body = errorBody("VALIDATION_FAILED", "the request is not valid HTTP/1.1");
  }
  const status = ERROR_TABLE[body.error.code];
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(error);
}
