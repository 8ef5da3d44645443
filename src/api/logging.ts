import type { FastifyInstance, FastifyServerOptions } from "fastify";
import pretty from "pino-pretty";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogOptions {
  level?: LogLevel;
  /** `json` (one object a line, the default) or `pretty` (pino-pretty, for a terminal). */
  format?: LogFormat;
  /** Where lines go; stdout when absent (the `propnet: ...` messages stay on stderr). */
  stream?: { write(line: string): unknown };
}

/**
 * Secrets never reach a log line: request lines carry the signer's hotkey only, and anything that
 * logs a request, its headers or a body by mistake has these paths censored (defence in depth).
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["epistula-request-signature"]',
  "headers.authorization",
  "headers.cookie",
  'headers["epistula-request-signature"]',
  'headers["set-cookie"]',
  "signature",
  "token",
  "mnemonic",
  "seed",
  "secret",
  "*.signature",
  "*.token",
  "*.mnemonic",
  "*.seed",
  "*.secret",
  "*.secret_key",
  "*.private_key",
];

/** Probes and scrapes come every few seconds: their lines are `debug`, so `info` stays readable. */
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics", "/v1/time"]);

/** Fastify's `logger` option: its own pino, at `info` unless told, JSON on stdout unless pretty. */
export function loggerOptions(options: LogOptions = {}): FastifyServerOptions["logger"] {
  const level = options.level ?? "info";
  const base = { level, redact: { paths: REDACT_PATHS, censor: "[redacted]" }, base: { pid: process.pid } };
  if (options.format === "pretty") {
    // In this thread (no transport worker): a line is out before the process exits.
    const destination = options.stream ?? process.stdout;
    return { ...base, stream: pretty({ destination: destination as NodeJS.WritableStream, ignore: "pid,hostname", translateTime: "SYS:HH:MM:ss.l", singleLine: true, sync: true }) };
  }
  return options.stream ? { ...base, stream: options.stream } : base;
}

/**
 * One line per request, when it is answered: the route pattern (never the raw URL, which may hold
 * anything a client typed), method, status, the Epistula signer when signed, latency and the
 * request id (`reqId`, bound by fastify). Never a header, a signature, a token or a body.
 */
export function installRequestLog(app: FastifyInstance): void {
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    const status = reply.statusCode;
    const line = {
      route,
      method: request.method,
      status,
      ...(request.epistula?.signer ? { signer: request.epistula.signer } : {}),
      ms: Math.round(reply.elapsedTime * 100) / 100,
    };
    if (status >= 500) request.log.error(line, "request");
    else if (QUIET_ROUTES.has(route) && status < 400) request.log.debug(line, "request");
    else request.log.info(line, "request");
  });
}
