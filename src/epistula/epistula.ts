import { createHash, randomUUID } from "node:crypto";
import type { KeyringPair } from "@polkadot/keyring/types";
import { u8aToHex } from "@polkadot/util";
import type { IncomingHttpHeaders } from "node:http";
import { sr25519Verify, waitReady } from "@polkadot/wasm-crypto";
import { checkAddress, decodeAddress } from "@polkadot/util-crypto";
import { DomainError } from "../core/errors/errors.ts";
import type { SignaturePool } from "./signature-pool.ts";

/**
 * Epistula v2 (API.md "Authentication", DESIGN.md §6): sr25519 over
 * `${sha256hex(rawBody)}.${uuid}.${timestamp}.${signedFor}`, the raw message or its `<Bytes>`
 * wrapping, within [now - 8 s, now + 2 s], each uuid accepted once.
 */

export const EPISTULA_VERSION = "2";
/** How far in the past a timestamp may be. */
export const EPISTULA_PAST_MS = 8_000;
/** How far in the future a timestamp may be. */
export const EPISTULA_FUTURE_MS = 2_000;
/** For this long after start, timestamps older than the start are refused (uuids seen before are forgotten). */
export const EPISTULA_STARTUP_GUARD_MS = 10_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^(0|[1-9][0-9]{0,15})$/;
const SIGNATURE = /^0x[0-9a-fA-F]{128}$/;
const SS58_PREFIX = 42;

/** An HTTP request as the verifier sees it: its headers and exact body bytes; the proof is set on it. */
export interface SignedRequest {
  headers: IncomingHttpHeaders;
  rawBody?: Buffer;
  epistula?: EpistulaProof;
}

/** What a verified request proves. */
export interface EpistulaProof {
  /** SS58 of the signer (Epistula-Signed-By). */
  signer: string;
  uuid: string;
  timestamp: number;
  signedFor: string;
}


export function sha256hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The message an Epistula v2 signature covers. */
export function epistulaMessage(bodyHash: string, uuid: string, timestamp: string | number, signedFor = ""): string {
  return `${bodyHash}.${uuid}.${timestamp}.${signedFor}`;
}

let ready: Promise<boolean> | null = null;

/** The WASM sr25519 verifier must be loaded once before `verify`. */
export function epistulaReady(): Promise<boolean> {
  ready ??= waitReady();
  return ready;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new DomainError("SIGNATURE_INVALID", `the ${name} header appears more than once`);
  return v;
}

function required(headers: IncomingHttpHeaders, name: string, display: string): string {
  const v = header(headers, name);
  if (v === undefined || v.length === 0) {
    throw new DomainError("SIGNATURE_MISSING", `the ${display} header is required (Epistula v2)`, { header: display });
  }
  return v;
}

const BYTES_OPEN = Buffer.from("<Bytes>");
const BYTES_CLOSE = Buffer.from("</Bytes>");

function verifySr25519(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return sr25519Verify(signature, message, publicKey);
  } catch {
    // A public key that is not a valid point, for instance.
    return false;
  }
}

export interface EpistulaOptions {
  /**
   * Server clock (ms since epoch); default the wall clock. `serve` passes node time, which keeps to
   * the monotonic clock, so a jump of the wall clock does not refuse correctly-timed clients.
   */
  now?: () => number;
  /** When this node started, by `now`; defaults to construction time (see `markStarted`). */
  startedAt?: number;
  /** Signature threads; without them signatures are checked on the calling thread. */
  pool?: SignaturePool;
}

/** SS58 signer -> public key: signers repeat, and decoding and checksumming SS58 in JS is not free. */
const publicKeys = new Map<string, Uint8Array | null>();
const MAX_CACHED_SIGNERS = 100_000;

function publicKeyOf(signer: string): Uint8Array | null {
  let key = publicKeys.get(signer);
  if (key !== undefined) return key;
  try {
    const [ok] = checkAddress(signer, SS58_PREFIX);
    key = ok ? decodeAddress(signer) : null;
  } catch {
    key = null;
  }
  if (key !== null && key.length !== 32) key = null;
  if (publicKeys.size >= MAX_CACHED_SIGNERS) publicKeys.clear();
  publicKeys.set(signer, key);
  return key;
}

/**
 * Verifies Epistula v2 headers. Checks run cheapest first: headers present and well formed, the
 * timestamp window (before paying for the signature), the signature (raw message, then the
 * `<Bytes>` wrapping), then the uuid, which every verified request consumes whatever its outcome.
 *
 * Consumed uuids live in memory with their timestamps and are forgotten once the timestamp is
 * outside the window: a replay of such a request fails the window check anyway. Across a restart
 * the memory is lost, so for 10 s after start timestamps older than the start are refused.
 * Write uuids are also committed with their command's event; on start the node reads back those of
 * the last few seconds (`remember`), so a request acknowledged just before a crash stays refused.
 */
export class EpistulaVerifier {
  #startedAt: number;
  readonly #now: () => number;
  readonly #pool: SignaturePool | undefined;
  /** uuid (lower case) -> its timestamp, in insertion order. */
  readonly #seen = new Map<string, number>();

  constructor(options: EpistulaOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#pool = options.pool;
    this.#startedAt = options.startedAt ?? this.#now();
  }

  /** When this node started, by the verifier's clock: the start-up guard counts from here. */
  get startedAt(): number {
    return this.#startedAt;
  }

  /**
   * The node's start, by node time, once its clock is anchored on its log (the verifier exists
   * before, while the log replays). A uuid consumed earlier whose timestamp is past the window of
   * the new clock is forgotten: a replay of it fails the window anyway, and kept it would hold
   * back the forgetting of every uuid after it.
   */
  markStarted(at: number): void {
    this.#startedAt = at;
    for (const [id, ts] of this.#seen) if (ts > at + EPISTULA_FUTURE_MS) this.#seen.delete(id);
  }

  /** How many uuids are remembered right now. */
  get rememberedUuids(): number {
    return this.#seen.size;
  }

  /** Throws DomainError (401 codes) or returns what the signature proves. */
  async verify(headers: IncomingHttpHeaders, rawBody: Uint8Array | string = ""): Promise<EpistulaProof> {
    const version = required(headers, "epistula-version", "Epistula-Version");
    const timestampText = required(headers, "epistula-timestamp", "Epistula-Timestamp");
    const uuid = required(headers, "epistula-uuid", "Epistula-Uuid");
    const signer = required(headers, "epistula-signed-by", "Epistula-Signed-By");
    const signatureHex = required(headers, "epistula-request-signature", "Epistula-Request-Signature");
    const signedFor = header(headers, "epistula-signed-for") ?? "";

    if (version !== EPISTULA_VERSION) {
      throw new DomainError("SIGNATURE_INVALID", `Epistula-Version must be "${EPISTULA_VERSION}"`);
    }
    if (!TIMESTAMP.test(timestampText)) {
      throw new DomainError("SIGNATURE_INVALID", "Epistula-Timestamp must be integer milliseconds since the epoch");
    }
    const timestamp = Number(timestampText);
    const now = this.#now();
    if (timestamp < now - EPISTULA_PAST_MS || timestamp > now + EPISTULA_FUTURE_MS) {
      throw new DomainError(
        "SIGNATURE_EXPIRED",
        `Epistula-Timestamp is outside [server time - ${EPISTULA_PAST_MS}, server time + ${EPISTULA_FUTURE_MS}] ms`,
        { server_time_ms: now },
      );
    }
    if (now < this.#startedAt + EPISTULA_STARTUP_GUARD_MS && timestamp < this.#startedAt) {
      throw new DomainError("SIGNATURE_EXPIRED", "Epistula-Timestamp is older than the node's start; sign the request again", {
        server_time_ms: now,
      });
    }
    if (!UUID.test(uuid)) throw new DomainError("SIGNATURE_INVALID", "Epistula-Uuid must be a UUID");
    const publicKey = publicKeyOf(signer);
    if (publicKey === null) {
      throw new DomainError("SIGNATURE_INVALID", "Epistula-Signed-By must be an SS58 address (prefix 42)");
    }
    if (!SIGNATURE.test(signatureHex)) {
      throw new DomainError("SIGNATURE_INVALID", "Epistula-Request-Signature must be 0x and 128 hex digits");
    }
    const signature = Buffer.from(signatureHex.slice(2), "hex");
    const message = Buffer.from(epistulaMessage(sha256hex(rawBody), uuid, timestampText, signedFor), "utf8");
    const valid = this.#pool
      ? await this.#pool.verify(signature, message, publicKey)
      : verifySr25519(signature, message, publicKey) || verifySr25519(signature, Buffer.concat([BYTES_OPEN, message, BYTES_CLOSE]), publicKey);
    if (!valid) throw new DomainError("SIGNATURE_INVALID", "the signature does not verify for Epistula-Signed-By");

    // Verified: the uuid is consumed now (on this thread, so two copies in flight cannot both pass), whatever the request's outcome.
    this.#forgetExpired(this.#now());
    const id = uuid.toLowerCase();
    const proof = { signer, uuid: id, timestamp, signedFor };
    if (this.#seen.has(id)) throw new ReplayedRequest(proof);
    this.#seen.set(id, timestamp);
    return proof;
  }

  /** Marks uuids of requests accepted before a restart as used (read back from the log). */
  remember(uuid: string, timestamp: number): void {
    this.#seen.set(uuid.toLowerCase(), timestamp);
  }

  /**
   * Forgets uuids whose timestamps are now outside the window, from the oldest inserted. An entry
   * behind a newer one may linger a little (at most the window's length): keeping is always safe.
   */
  #forgetExpired(now: number): void {
    const cutoff = now - EPISTULA_PAST_MS;
    for (const [id, ts] of this.#seen) {
      if (ts >= cutoff) break;
      this.#seen.delete(id);
    }
  }

  /** A fastify preValidation hook: runs after body size and JSON syntax, before role and schema checks. */
  hook(): (request: SignedRequest) => Promise<void> {
    return async (request) => {
      request.epistula = await this.verify(request.headers, request.rawBody ?? "");
    };
  }
}

/** A verified request whose uuid was used before; it still proves who signed it. */
export class ReplayedRequest extends DomainError {
  override readonly name = "ReplayedRequest";
  constructor(readonly proof: EpistulaProof) {
    super("REQUEST_REPLAYED", "this Epistula-Uuid was already used");
  }
}


/**
 * The Epistula v2 headers for `rawBody` (the exact bytes sent; "" for a GET), signed by `pair` at
 * `now` with a fresh uuid. Signed-For is left out (empty).
 */
export function epistulaHeaders(pair: KeyringPair, rawBody: string | Uint8Array, now: number = Date.now()): Record<string, string> {
  const uuid = randomUUID();
  const timestamp = String(Math.floor(now));
  const message = epistulaMessage(sha256hex(rawBody), uuid, timestamp);
  return {
    "Epistula-Version": EPISTULA_VERSION,
    "Epistula-Timestamp": timestamp,
    "Epistula-Uuid": uuid,
    "Epistula-Signed-By": pair.address,
    "Epistula-Request-Signature": u8aToHex(pair.sign(message)),
  };
}


/** Whether `signatureHex` is `signer`'s sr25519 signature of `message` (raw or `<Bytes>`-wrapped): one head of a sync batch, for instance. */
export function verifySignature(signer: string, message: string, signatureHex: string): boolean {
  const publicKey = publicKeyOf(signer);
  if (publicKey === null || !SIGNATURE.test(signatureHex)) return false;
  const signature = Buffer.from(signatureHex.slice(2), "hex");
  const bytes = Buffer.from(message, "utf8");
  return verifySr25519(signature, bytes, publicKey) || verifySr25519(signature, Buffer.concat([BYTES_OPEN, bytes, BYTES_CLOSE]), publicKey);
}

/** `pair`'s sr25519 signature of `message`, as 0x-hex. */
export function signMessage(pair: KeyringPair, message: string): string {
  return u8aToHex(pair.sign(message));
}
