import type { FastifyInstance, FastifyRequest } from "fastify";
import { DomainError, ValidationError } from "../core/errors/errors.ts";
import type { EpistulaProof } from "../epistula/epistula.ts";

/** Fastify glue for Epistula (src/epistula/): the raw body it signs, and the proof on the request. */

declare module "fastify" {
  interface FastifyRequest {
    /** The exact bytes of a JSON body, as received (what Epistula signs). */
    rawBody?: Buffer;
    /** Set once the request's Epistula signature verified. */
    epistula?: EpistulaProof;
  }
}

/** The verified signer of a request that went through `EpistulaVerifier.hook`. */
export function signerOf(request: FastifyRequest): string {
  if (!request.epistula) throw new DomainError("SIGNATURE_MISSING", "this request must be signed (Epistula v2)");
  return request.epistula.signer;
}

/**
 * application/json keeping the exact bytes received (Epistula signs them), parsed here: bad JSON
 * is 400 VALIDATION_FAILED. Fastify checks the body limit (413) before this runs.
 */
export function installRawJsonParser(app: FastifyInstance): void {
  // JSON only: other bodies (text/plain, which fastify parses by default) are 400 VALIDATION_FAILED.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    if (raw.length === 0) {
      done(null, undefined);
      return;
    }
    try {
      const parsed: unknown = JSON.parse(raw.toString("utf8"), (k, v: unknown) => {
        if (k === "__proto__") throw new SyntaxError("__proto__ is not allowed");
        return v;
      });
      done(null, parsed);
    } catch {
      done(new ValidationError("the request body is not valid JSON"), undefined);
    }
  });
}
