import type { SwaggerOptions } from "@fastify/swagger";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import { ERROR_TABLE, type ErrorCode } from "../core/errors/errors.ts";
import { SESSION_COOKIE } from "./sessions.ts";

/**
 * Epistula v2 is five headers sent together: OpenAPI names one header per apiKey scheme, so a
 * signed route requires all five in one requirement object (they are ANDed).
 */
const EPISTULA_HEADERS = {
  EpistulaVersion: ["Epistula-Version", "`2`"],
  EpistulaTimestamp: ["Epistula-Timestamp", "ms since epoch, within [server time - 8,000, server time + 2,000]"],
  EpistulaUuid: ["Epistula-Uuid", "a fresh UUID; a uuid is accepted once"],
  EpistulaSignedBy: ["Epistula-Signed-By", "SS58 of the signer"],
  EpistulaRequestSignature: [
    "Epistula-Request-Signature",
    "`0x` + hex sr25519 signature of `${sha256hex(rawBody)}.${uuid}.${timestamp}.${signedFor}` (signedFor: the optional Epistula-Signed-For header, or empty)",
  ],
} as const;

type SecurityRequirement = Record<string, string[]>;

const epistula: SecurityRequirement = Object.fromEntries(Object.keys(EPISTULA_HEADERS).map((name) => [name, []]));

/** `schema.security` of a route that must be Epistula-signed (writes, and POST /v1/sessions). */
export const SIGNED: SecurityRequirement[] = [epistula];

/** `schema.security` of a private read: Epistula-signed, or a session token (Bearer or cookie). */
export const SIGNED_OR_SESSION: SecurityRequirement[] = [epistula, { SessionBearer: [] }, { SessionCookie: [] }];

/** The error envelope every failure answers with (error-envelope.ts). */
const ERROR_ENVELOPE = {
  type: "object",
  required: ["error"],
  additionalProperties: false,
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "details"],
      additionalProperties: false,
      properties: {
        code: { type: "string", enum: Object.keys(ERROR_TABLE) },
        message: { type: "string" },
        details: { type: "object", additionalProperties: true },
      },
    },
  },
};

function codesAnswering(status: number): ErrorCode[] {
  return (Object.keys(ERROR_TABLE) as ErrorCode[]).filter((code) => ERROR_TABLE[code] === status);
}

/**
 * The statuses a route can fail with, from what it is: any request can be malformed (400), too
 * long (414), rate limited (429), hit a bug (500) or arrive while the node starts or stops (503);
 * a path parameter names something that may not exist (404); a body may be too large (413); a
 * signed route refuses a bad signature (401) or the wrong signer (403); a signed write is judged
 * by the domain's rules (404, 409, 422; 503 STORAGE_FULL).
 */
export function errorStatuses(route: { method: string; url: string; signed: boolean }): number[] {
  const statuses = new Set([400, 414, 429, 500, 503]);
  const write = route.method !== "GET" && route.method !== "HEAD";
  if (route.url.includes(":")) statuses.add(404);
  if (write) statuses.add(413);
  if (route.signed) {
    statuses.add(401);
    statuses.add(403);
  }
  if (route.signed && write) for (const s of [404, 409, 422]) statuses.add(s);
  return [...statuses].sort((a, b) => a - b);
}

function errorResponse(status: number): object {
  return { ...ERROR_ENVELOPE, description: `Error envelope; code is one of ${codesAnswering(status).join(", ")}` };
}

type TransformInput = Parameters<typeof jsonSchemaTransform>[0];

/** Zod schemas to JSON Schema, then each route's error responses beside its answers. */
function transform(input: TransformInput): ReturnType<typeof jsonSchemaTransform> {
  const out = jsonSchemaTransform(input);
  const schema = (out.schema ?? {}) as Record<string, unknown> & { hide?: boolean; security?: unknown; response?: Record<string, unknown> };
  if (schema.hide) return out;
  const methods = [input.route.method].flat();
  const signed = Array.isArray(schema.security) && schema.security.length > 0;
  const response: Record<string, unknown> = { ...(schema.response ?? {}) };
  // A route that declares no answer of its own keeps swagger's default one beside its errors.
  if (!Object.keys(response).some((status) => /^[23]/.test(status))) response["200"] = { description: "Default Response" };
  for (const status of errorStatuses({ method: methods.includes("GET") ? "GET" : String(methods[0]), url: input.url, signed })) {
    response[String(status)] ??= errorResponse(status);
  }
  return { ...out, schema: { ...schema, response } as typeof out.schema };
}

/** @fastify/swagger's options: the document's info, its security schemes, and the transform. */
export function openApiOptions(version: string): SwaggerOptions {
  const securitySchemes: Record<string, object> = {
    ...Object.fromEntries(
      Object.entries(EPISTULA_HEADERS).map(([scheme, [header, description]]) => [scheme, { type: "apiKey", in: "header", name: header, description: `Epistula v2: ${description}` }]),
    ),
    SessionBearer: { type: "http", scheme: "bearer", description: "A read-only session token from POST /v1/sessions (15 minutes)" },
    SessionCookie: { type: "apiKey", in: "cookie", name: SESSION_COOKIE, description: "The session token as the HttpOnly cookie POST /v1/sessions sets" },
  };
  return {
    openapi: {
      openapi: "3.0.3",
      info: { title: "propnet", description: "propnet validator HTTP API", version },
      components: { securitySchemes: securitySchemes as never },
    },
    transform,
  };
}
