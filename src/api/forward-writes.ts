import type { FastifyInstance, FastifyRequest } from "fastify";
import { EPISTULA_STARTUP_GUARD_MS, ReplayedRequest } from "../epistula/epistula.ts";
import { DomainError } from "../core/errors/errors.ts";
import type { ForwardingOptions } from "../node/cluster/cluster-member.ts";

/** The response header naming the seq a write's answer reflects: a reader answers once its replica has it. */
export const SEQ_HEADER = "propnet-seq";
/**
 * Set on a forwarded request, to the writer's token (published with its address): the writer knows
 * it from a client's (it was rate limited where it arrived); a process that is not the writer
 * refuses it rather than forward it again.
 */
export const FORWARDED_HEADER = "propnet-forwarded";

/** Request headers a forwarded write keeps, unchanged (what Epistula signs and what the route reads). */
const KEPT = ["content-type", "epistula-version", "epistula-timestamp", "epistula-uuid", "epistula-signed-by", "epistula-request-signature", "epistula-signed-for", "idempotency-key"];
/** Response headers passed back to the client. */
const RETURNED = ["content-type", "retry-after", SEQ_HEADER];

/** Writes that stay local: a session lives in the process that signed it in. */
const LOCAL_WRITES = new Set(["/v1/sessions"]);


function isWrite(request: FastifyRequest): boolean {
  const m = request.method;
  if (m === "GET" || m === "HEAD" || m === "OPTIONS") return false;
  return !LOCAL_WRITES.has(request.url.split("?")[0] as string);
}

/**
 * Several processes on one PostgreSQL log (issue #11): on a reader, a signed write is checked here
 * (its signature, on this process's threads) and sent on to the writer with its Epistula headers
 * and body unchanged; the answer is given once this process's replica holds the seq the writer
 * named (read your writes). No writer reachable: 503 UNAVAILABLE, which clients retry (an
 * Idempotency-Key makes the retry safe). On the writer, every write's answer names the seq.
 */
export function installForwarding(app: FastifyInstance, options: ForwardingOptions): void {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const catchUpMs = options.catchUpMs ?? 5_000;
  app.addHook("onSend", async (request, reply, payload) => {
    if (options.role() === "writer" && isWrite(request)) {
      const seq = options.committedSeq();
      if (seq !== null) reply.header(SEQ_HEADER, String(seq));
    }
    return payload;
  });
  // An app-level preValidation runs before every route's own: the route's checks (roles, schema,
  // domain rules) then run once, on the writer, against the state the write goes into.
  app.addHook("preValidation", async (request, reply) => {
    if (!isWrite(request)) return;
    if (options.role() === "writer") {
      // The uuids the old writer saw and did not commit (refused requests) are in no log: as after a
      // restart (EPISTULA_STARTUP_GUARD_MS), writes signed before the takeover are refused for a
      // moment, with 503 so that clients sign again and retry.
      const since = options.promotedAt?.() ?? null;
      const now = options.now?.() ?? Date.now();
      const ts = Number(request.headers["epistula-timestamp"]);
      if (since !== null && now < since + EPISTULA_STARTUP_GUARD_MS && Number.isFinite(ts) && ts < since) {
        throw new DomainError("UNAVAILABLE", "the writer process just changed: sign the request again and retry");
      }
      return;
    }
    if (request.headers[FORWARDED_HEADER] !== undefined) {
      throw new DomainError("UNAVAILABLE", "this process is not the writer (the writer changed): retry");
    }
    // Unsigned: the route refuses it here (SIGNATURE_MISSING) exactly as the writer would.
    if (request.headers["epistula-request-signature"] === undefined && request.headers["epistula-signed-by"] === undefined) return;
    const raw = request.rawBody ?? Buffer.alloc(0);
    try {
      await options.epistula.verify(request.headers, raw);
    } catch (error) {
      // A repeat may be an idempotent retry: the writer decides (it refuses a plain replay too).
      if (!(error instanceof ReplayedRequest)) throw error;
    }
    const { address, token } = await options.writer().catch(() => ({ address: null, token: null }));
    if (address === null || token === null) throw new DomainError("UNAVAILABLE", "no writer process right now (it is changing over): retry in a moment");
    const headers: Record<string, string> = { [FORWARDED_HEADER]: token };
    for (const name of KEPT) {
      const v = request.headers[name];
      if (typeof v === "string") headers[name] = v;
    }
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${address}${request.url}`, {
        method: request.method,
        headers,
        body: request.rawBody && request.rawBody.length > 0 ? new Uint8Array(request.rawBody) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (error) {
      options.forgetWriter();
      // Sent or not, committed or not, is unknown: only a retry with the same Idempotency-Key is safe.
      throw new DomainError("UNAVAILABLE", `the writer process could not be reached (${(error as Error).message}): retry`);
    }
    if (res.status === 503) options.forgetWriter();
    const seq = Number(res.headers.get(SEQ_HEADER));
    if (Number.isSafeInteger(seq) && seq > 0) await options.waitFor(seq, catchUpMs);
    reply.code(res.status);
    for (const name of RETURNED) {
      const v = res.headers.get(name);
      if (v !== null) reply.header(name, v);
    }
    return reply.send(text);
  });
}

/** A request another process of this validator forwarded to this writer (checked against its token). */
export function forwardedByPeer(request: FastifyRequest, options: Pick<ForwardingOptions, "isForwardedByPeer">): boolean {
  const sent = request.headers[FORWARDED_HEADER];
  return typeof sent === "string" && options.isForwardedByPeer(sent);
}
