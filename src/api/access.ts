import type { FastifyReply, FastifyRequest } from "fastify";
import { DomainError } from "../core/errors/errors.ts";
import { parseSyntheticHotkey } from "../core/entities/synthetic-hotkey.ts";
import type { Command } from "../core/machine/commands.ts";
import { idempotencyKey } from "../core/machine/idempotency.ts";
import type { EventDraft } from "../core/machine/event.ts";
import type { IdempotencyRecord, State } from "../core/machine/state.ts";
import { isSs58 } from "../keys/keys.ts";
import { isMothership, mothershipOf } from "../core/sync/sync-state.ts";
import type { PropnetNode } from "../node/node.ts";
import { ViewFailed } from "../node/writer.ts";
import { type EpistulaVerifier, ReplayedRequest, sha256hex } from "../epistula/epistula.ts";
import { signerOf } from "./request-signature.ts";
import type { RateLimits } from "./rate-limit.ts";
import type { ApiContext } from "./server.ts";
import { type Sessions, sessionTokenFromCookie } from "./sessions.ts";

/**
 * Who may do what (API.md "Authentication"), and how a signed write becomes a command: checks run
 * in API.md's order (body size and JSON before this; signature, role, schema, domain rules).
 */
declare module "fastify" {
  interface FastifyRequest {
    /** Set when the uuid was used before: only an Idempotency-Key repeat of the same body may go on. */
    replayed?: boolean;
  }
}

export interface Access {
  node(): PropnetNode;
  /** Throws 409 NOT_MOTHERSHIP on a follower (entity facts are issued by the mothership only). */
  mothershipOnly(): void;
  root(): string;
  oracle(): string;
  epistula: EpistulaVerifier;
  sessions: Sessions;
  limits: RateLimits;
}

export function makeAccess(ctx: ApiContext, epistula: EpistulaVerifier, sessions: Sessions, limits: RateLimits): Access {
  const node = (): PropnetNode => {
    const n = ctx.node();
    if (!n) throw new DomainError("UNAVAILABLE", `the node is not ready: ${ctx.startupStatus()}`);
    return n;
  };
  const root = (): string => ctx.root ?? "";
  // The writer refuses too (core's mustIssueFacts); this answers before the body is checked, with where to go.
  const mothershipOnly = () => {
    const { sync, identity } = node().state;
    // A mothership still catching up is answered by the writer (503 UNAVAILABLE, retry).
    if (isMothership(sync, identity)) return;
    const mothership = mothershipOf(sync, identity);
    throw new DomainError("NOT_MOTHERSHIP", `this node follows the mothership ${String(mothership)}; send entity changes there`, {
      mothership,
      url: (mothership && ctx.sync?.()?.urlOf(mothership)) ?? null,
    });
  };
  return { node, mothershipOnly, root, oracle: () => ctx.oracle ?? root(), epistula, sessions, limits };
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

/**
 * preValidation for writes: a verified Epistula signature. On routes that answer through `write`
 * (`idempotent`), a replayed uuid goes on when it carries an Idempotency-Key: `write` answers it
 * with the stored response or refuses it.
 */
export function signedWrite(access: Access, options: { idempotent?: boolean } = {}) {
  return async (request: FastifyRequest) => {
    try {
      request.epistula = await access.epistula.verify(request.headers, request.rawBody ?? "");
    } catch (error) {
      if (!(error instanceof ReplayedRequest) || !options.idempotent || request.headers["idempotency-key"] === undefined) throw error;
      request.epistula = error.proof;
      request.replayed = true;
    }
    access.limits.checkSigner(request.epistula.signer);
  };
}

/** preValidation for private reads: Epistula, or a session token (cookie or `Authorization: Bearer`). */
export function signedRead(access: Access) {
  return async (request: FastifyRequest) => {
    if (request.headers["epistula-signed-by"] !== undefined || request.headers["epistula-request-signature"] !== undefined) {
      request.epistula = await access.epistula.verify(request.headers, "");
    } else {
      const auth = request.headers.authorization;
      const token = auth?.startsWith("Bearer ") ? auth.slice(7) : sessionTokenFromCookie(request.headers.cookie);
      const signer = token ? access.sessions.signerOf(token) : null;
      if (!signer) {
        throw new DomainError(token ? "SIGNATURE_INVALID" : "SIGNATURE_MISSING", token ? "the session token is unknown or expired" : "this read must be signed (Epistula v2) or carry a session token");
      }
      request.epistula = { signer, uuid: "", timestamp: 0, signedFor: "" };
    }
    access.limits.checkSigner(request.epistula.signer);
  };
}

export function hotkeyParam(text: string): string {
  if (!isSs58(text)) throw new DomainError("INVALID_HOTKEY", `${text.slice(0, 80)} is not an SS58 address (prefix 42)`);
  return text;
}

/** A path synthetic hotkey: `<entity SS58>_<id>` or 400 INVALID_SYNTHETIC_HOTKEY (API.md "Conventions"). */
export function syntheticParam(text: string): { entity: string; id: number; synthetic: string } {
  const parsed = parseSyntheticHotkey(text);
  if (!parsed || !isSs58(parsed.entity)) {
    throw new DomainError("INVALID_SYNTHETIC_HOTKEY", `${text.slice(0, 90)} is not <entity SS58>_<id> with id 0..999999999 and no leading zeros`);
  }
  return { ...parsed, synthetic: text };
}

export function requireSigner(request: FastifyRequest, allowed: readonly string[], what: string): string {
  const signer = signerOf(request);
  if (!allowed.includes(signer)) throw new DomainError("FORBIDDEN", `only ${what} may do this`);
  return signer;
}

/** An off-chain command carrying its request's identity; `ts` is stamped here from the node clock. */
type Draft = Command extends infer C ? (C extends { request?: unknown; ts: number } ? Omit<C, "request" | "ts"> : never) : never;

export interface WriteSpec<T> {
  command: Draft;
  /** The answer from the state as the command left it (or, on an idempotent repeat, as it is now). */
  view: (state: State, ref: Record<string, string | number>) => T;
  status: number;
}

/**
 * Submits a signed write and answers once it is durable. A repeat with the same Idempotency-Key
 * and body answers as the first time (rebuilt from the resource it made); a used uuid without
 * one is refused.
 */
export async function write<T>(access: Access, request: FastifyRequest, reply: FastifyReply, spec: WriteSpec<T>): Promise<T> {
  const node = access.node();
  const proof = request.epistula;
  if (!proof) throw new DomainError("SIGNATURE_MISSING", "this request must be signed (Epistula v2)");
  const keyHeader = request.headers["idempotency-key"];
  let idempotency: { key: string; fingerprint: string } | undefined;
  if (keyHeader !== undefined) {
    if (typeof keyHeader !== "string" || !IDEMPOTENCY_KEY.test(keyHeader)) {
      throw new DomainError("VALIDATION_FAILED", "Idempotency-Key must be 1 to 128 printable ASCII characters");
    }
    idempotency = { key: keyHeader, fingerprint: sha256hex(`${request.method} ${request.url}\n${sha256hex(request.rawBody ?? "")}`) };
  }
  const repeat = (record: IdempotencyRecord | undefined) => {
    if (!record || !idempotency || record.fingerprint !== idempotency.fingerprint) return undefined;
    reply.code(spec.status);
    return node.read((state) => spec.view(state, record.ref));
  };
  if (request.replayed) {
    const answer = await node.read((state) => state.idempotency.get(idempotencyKey(proof.signer, idempotency?.key ?? "")));
    const again = repeat(answer);
    if (again) return again;
    throw new DomainError("REQUEST_REPLAYED", "this Epistula-Uuid was already used");
  }
  const command = { ...spec.command, ts: node.clock.now(), request: { signer: proof.signer, uuid: proof.uuid, idempotency } } as Command;
  const outcome = await node.submit({
    command,
    signer: proof.signer,
    view: (state: State, events: readonly EventDraft[]) => spec.view(state, (events[0]?.payload.ref ?? {}) as Record<string, string | number>),
  });
  if (!outcome.ok) {
    const { error } = outcome;
    if (error.code === "IDEMPOTENCY_KEY_REUSED" && error.details.same_body === true) {
      const again = repeat(await node.read((state) => state.idempotency.get(idempotencyKey(proof.signer, idempotency?.key ?? ""))));
      if (again) return again;
    }
    throw error;
  }
  if (outcome.view instanceof ViewFailed) throw outcome.view.cause;
  reply.code(spec.status);
  return outcome.view as T;
}
