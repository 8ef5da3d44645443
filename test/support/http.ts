// Epistula v2 signing and raw HTTP for the API tests: development keys, request headers signed as a
// client signs them (or deliberately not: another key, an old timestamp, a reused uuid, a broken
// signature), a fetch that keeps the status, the text and the headers of the answer, and the checks
// every error answer must pass. The headers are built here, not with the client's epistulaHeaders,
// so that the tests check the client and the verifier against an independent signer.
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { DEV_PHRASE, Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { stringToU8a, u8aToHex } from "@polkadot/util";
import { cryptoWaitReady, keyExtractPath, mnemonicToMiniSecret } from "@polkadot/util-crypto";
import { sr25519DeriveKeypairHard, sr25519KeypairFromSeed, sr25519Sign, waitReady } from "@polkadot/wasm-crypto";
import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import { epistulaMessage, sha256hex } from "../../src/epistula/epistula.ts";
import { DomainError } from "../../src/core/errors/errors.ts";

/** A line of a stack trace, which no answer may carry. */
export const STACK_LINE = /\n\s+at .+[(:]\d+/;

// ---- development keys ----------------------------------------------------------------------------

/** What signs a request: a keyring pair, or a development key signing with WASM. */
export interface Signer {
  readonly address: string;
  sign(message: string): Uint8Array;
}

/** The sr25519 keyring (SS58 prefix 42 unless told), once the crypto is ready. */
export async function devKeyring(ss58Format = 42): Promise<Keyring> {
  await cryptoWaitReady();
  return new Keyring({ type: "sr25519", ss58Format });
}

/** Development key pairs by name: `//<name>` of the development phrase. */
export async function devPairs<N extends string>(names: readonly N[]): Promise<Record<N, KeyringPair>> {
  const keyring = await devKeyring();
  return Object.fromEntries(names.map((name) => [name, keyring.addFromUri(`//${name}`)])) as Record<N, KeyringPair>;
}

/**
 * The same development keys, signing with @polkadot/wasm-crypto: the keyring's own sign (JS sr25519
 * in @polkadot/util-crypto 14) takes about 10 ms here, the WASM one about 1 ms.
 */
export async function devSigners<N extends string>(names: readonly N[]): Promise<Record<N, Signer>> {
  const keyring = await devKeyring();
  await waitReady();
  return Object.fromEntries(names.map((name) => [name, wasmSigner(keyring, name)])) as Record<N, Signer>;
}

function wasmSigner(keyring: Keyring, name: string): Signer {
  const pair = keyring.addFromUri(`//${name}`);
  let kp = sr25519KeypairFromSeed(mnemonicToMiniSecret(DEV_PHRASE));
  for (const junction of keyExtractPath(`//${name}`).path) kp = sr25519DeriveKeypairHard(kp, junction.chainCode);
  const secret = kp.slice(0, 64);
  const publicKey = kp.slice(64);
  if (u8aToHex(publicKey) !== u8aToHex(pair.publicKey)) throw new Error(`//${name}: the WASM derivation differs from the keyring's`);
  return { address: pair.address, sign: (message) => sr25519Sign(publicKey, secret, stringToU8a(message)) };
}

// ---- Epistula v2 headers -------------------------------------------------------------------------

export interface SignOptions {
  /** Epistula-Timestamp (ms); now unless given. */
  ts?: number;
  /** Epistula-Uuid; a fresh one unless given. */
  uuid?: string;
  /** Epistula-Signed-For, signed and sent when given (signed as "" otherwise). */
  signedFor?: string;
  /** Sign with this key while claiming to be `by`. */
  key?: Signer;
  /** Sign the `<Bytes>…</Bytes>` wrapping of the message, as wallet extensions do. */
  wrap?: boolean;
  /** Flip the last byte of the signature. */
  corrupt?: boolean;
  /** Also send this Idempotency-Key (not signed). */
  idempotencyKey?: string;
}

/** Epistula v2 headers for a request by `by` with these exact body bytes ("" for none). */
export function epistula(by: Signer, rawBody: string, o: SignOptions = {}): Record<string, string> {
  const ts = String(o.ts ?? Date.now());
  const uuid = o.uuid ?? randomUUID();
  const message = epistulaMessage(sha256hex(rawBody), uuid, ts, o.signedFor ?? "");
  let signature: string = u8aToHex((o.key ?? by).sign(o.wrap ? `<Bytes>${message}</Bytes>` : message));
  if (o.corrupt) signature = `${signature.slice(0, -2)}${signature.endsWith("00") ? "01" : "00"}`;
  const headers: Record<string, string> = {
    "Epistula-Version": "2",
    "Epistula-Timestamp": ts,
    "Epistula-Uuid": uuid,
    "Epistula-Signed-By": by.address,
    "Epistula-Request-Signature": signature,
  };
  if (o.signedFor !== undefined) headers["Epistula-Signed-For"] = o.signedFor;
  if (o.idempotencyKey !== undefined) headers["Idempotency-Key"] = o.idempotencyKey;
  return headers;
}

/** Headers as Node hands them to a server: names in lower case. */
export function lowerHeaders(headers: Record<string, string>): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** The code of the DomainError `fn` throws (or rejects with), "OK" when it does not; anything else is rethrown. */
export async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return "OK";
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
}

// ---- raw HTTP ------------------------------------------------------------------------------------

/** Listens on a free port of 127.0.0.1; answers the base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: "127.0.0.1" });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

export interface Answer {
  status: number;
  /** The body parsed as JSON, null when it is not JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  text: string;
  headers: Headers;
}

export interface RequestOptions {
  body?: string;
  headers?: Record<string, string>;
}

/** One request with these exact body bytes; content-type application/json when there is a body and none is given. */
export async function request(base: string, method: string, path: string, init: RequestOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, { method, headers, body: init.body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers };
}

export interface PostOptions extends SignOptions {
  /** Sent as content-type instead of application/json. */
  contentType?: string;
}

export interface Api {
  request(method: string, path: string, init?: RequestOptions): Promise<Answer>;
  /** A GET, signed by `by` when given. */
  get(path: string, by?: Signer, o?: SignOptions): Promise<Answer>;
  /** A POST of these exact bytes (no body when undefined), signed by `by` (unsigned when null). */
  postRaw(path: string, by: Signer | null, raw: string | undefined, o?: PostOptions): Promise<Answer>;
  /** A POST of `body` as compact JSON (no body at all when undefined), signed by `by` (unsigned when null). */
  post(path: string, by: Signer | null, body: unknown, o?: PostOptions): Promise<Answer>;
}

/** The requests of a test file, on the server at `base()` (read at each request: it is known only once listening). */
export function api(base: () => string): Api {
  const send = (method: string, path: string, init: RequestOptions = {}) => request(base(), method, path, init);
  const postRaw = (path: string, by: Signer | null, raw: string | undefined, o: PostOptions = {}) => {
    const headers = by ? epistula(by, raw ?? "", o) : {};
    if (!by && o.idempotencyKey !== undefined) headers["Idempotency-Key"] = o.idempotencyKey;
    if (o.contentType !== undefined) headers["content-type"] = o.contentType;
    return send("POST", path, { body: raw, headers });
  };
  return {
    request: send,
    get: (path, by, o = {}) => send("GET", path, { headers: by ? epistula(by, "", o) : {} }),
    postRaw,
    post: (path, by, body, o) => postRaw(path, by, body === undefined ? undefined : JSON.stringify(body), o),
  };
}

/** An error answer: this status and code, a message, and no stack trace or internal path. */
export function expectError(a: Answer, status: number, code: string): void {
  expect(a.status, a.text).toBe(status);
  expect(a.json?.error?.code, a.text).toBe(code);
  expect(typeof a.json?.error?.message).toBe("string");
  expect(a.text).not.toMatch(STACK_LINE);
  expect(a.text).not.toMatch(/\/src\/|node_modules/);
}
