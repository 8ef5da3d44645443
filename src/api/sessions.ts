import { randomBytes } from "node:crypto";

/**
 * Read-only session tokens (API.md "Authentication", DESIGN.md §6): one signed `POST /v1/sessions`
 * gives the dashboard a token scoped to the signer, accepted on reads instead of Epistula. Kept in
 * memory only: a restart signs everyone out, which costs one more signature.
 */

export const SESSION_COOKIE = "propnet_session";
export const SESSION_TTL_MS = 15 * 60 * 1_000;
/** Live tokens kept at most; past it the oldest go first (they would expire first anyway). */
export const SESSION_MAX = 100_000;

export interface SessionOptions {
  now?: () => number;
  ttlMs?: number;
  maxSessions?: number;
}

export class Sessions {
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #max: number;
  /** token -> its signer and expiry, in issue order, which is expiry order (the ttl is fixed). */
  readonly #live = new Map<string, { signer: string; expiresAt: number }>();

  constructor(options: SessionOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.ttlMs ?? SESSION_TTL_MS;
    this.#max = options.maxSessions ?? SESSION_MAX;
  }

  /** How many tokens are remembered right now. */
  get size(): number {
    return this.#live.size;
  }

  issue(signer: string): { token: string; expires_at_ms: number } {
    const now = this.#now();
    this.#forget(now);
    const token = randomBytes(32).toString("base64url");
    const expiresAt = now + this.#ttlMs;
    this.#live.set(token, { signer, expiresAt });
    return { token, expires_at_ms: expiresAt };
  }

  /** The signer a token was issued to; null when it is unknown or expired. */
  signerOf(token: string): string | null {
    const session = this.#live.get(token);
    if (session === undefined) return null;
    if (this.#now() >= session.expiresAt) {
      this.#live.delete(token);
      return null;
    }
    return session.signer;
  }

  /**
   * Drops expired tokens from the oldest, and the oldest live ones past the cap. Amortized O(1):
   * each token is dropped once. Should the clock step back, a token issued then may sit behind a
   * later-expiring one for a while; `signerOf` still checks its expiry.
   */
  #forget(now: number): void {
    for (const [token, session] of this.#live) {
      if (session.expiresAt > now && this.#live.size < this.#max) break;
      this.#live.delete(token);
    }
  }
}

/** A `Set-Cookie` value for a session token; Max-Age ends no later than the token. */
export function sessionCookie(token: string, expiresAtMs: number, now: number = Date.now()): string {
  const maxAge = Math.max(0, Math.floor((expiresAtMs - now) / 1_000));
  return `${SESSION_COOKIE}=${token}; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Strict`;
}

/** The session token in a `Cookie` header, if there is one. */
export function sessionTokenFromCookie(cookieHeader: string | undefined): string | null {
  if (cookieHeader === undefined) return null;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return value.length > 0 ? value : null;
    }
  }
  return null;
}
