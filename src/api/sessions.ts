import { randomBytes } from "node:crypto";

/**
 * Read-only session tokens (API.md "Authentication", DESIGN.md §6): one signed `POST /v1/sessions`
 * gives the dashboard a token scoped to the signer, accepted on reads instead of Epistula. Kept in
 * memory only: a restart signs everyone out, which costs one more signature. Bounded: at most
 * SESSIONS_PER_SIGNER live tokens per signer and SESSION_MAX in all, the oldest going first.
 */

export const SESSION_COOKIE = "propnet_session";
export const SESSION_TTL_MS = 15 * 60 * 1_000;
/** Live tokens kept at most; past it the oldest go first (they would expire first anyway). */
export const SESSION_MAX = 100_000;
/**
 * Live tokens per signer at most; a new one past it ends the signer's oldest. A dashboard needs one
 * per browser tab it signs in from; without a bound one key could fill SESSION_MAX and sign
 * everyone else out.
 */
export const SESSIONS_PER_SIGNER = 16;

export interface SessionOptions {
  now?: () => number;
  ttlMs?: number;
  maxSessions?: number;
  maxPerSigner?: number;
}

export class Sessions {
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #maxPerSigner: number;
  /** token -> its signer and expiry, in issue order, which is expiry order (the ttl is fixed). */
  readonly #live = new Map<string, { signer: string; expiresAt: number }>();
  /** signer -> its live tokens, oldest first (at most maxPerSigner). */
  readonly #bySigner = new Map<string, string[]>();

  constructor(options: SessionOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.ttlMs ?? SESSION_TTL_MS;
    this.#max = options.maxSessions ?? SESSION_MAX;
    this.#maxPerSigner = options.maxPerSigner ?? SESSIONS_PER_SIGNER;
  }

  /** How many tokens are remembered right now. */
  get size(): number {
    return this.#live.size;
  }

  /** How many signers hold a remembered token right now. */
  get signers(): number {
    return this.#bySigner.size;
  }

  issue(signer: string): { token: string; expires_at_ms: number } {
    const now = this.#now();
    this.#forget(now);
    const mine = this.#bySigner.get(signer) ?? [];
    while (mine.length >= this.#maxPerSigner) this.#live.delete(mine.shift() as string);
    const token = randomBytes(32).toString("base64url");
    const expiresAt = now + this.#ttlMs;
    this.#live.set(token, { signer, expiresAt });
    mine.push(token);
    this.#bySigner.set(signer, mine);
    return { token, expires_at_ms: expiresAt };
  }

  /** The signer a token was issued to; null when it is unknown or expired. */
  signerOf(token: string): string | null {
    const session = this.#live.get(token);
    if (session === undefined) return null;
    if (this.#now() >= session.expiresAt) {
      this.#drop(token, session.signer);
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
      this.#drop(token, session.signer);
    }
  }

  /** Forgets one token; its signer's list is short (maxPerSigner), so the search is cheap. */
  #drop(token: string, signer: string): void {
    this.#live.delete(token);
    const mine = this.#bySigner.get(signer);
    if (mine === undefined) return;
    const at = mine.indexOf(token);
    if (at >= 0) mine.splice(at, 1);
    if (mine.length === 0) this.#bySigner.delete(signer);
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
