/**
 * Every error a client can see, with its stable code and HTTP status, in one table (API.md).
 * Domain rules raise these inside core; command execution turns them into values.
 */
export const ERROR_TABLE = {
  VALIDATION_FAILED: 400,
  INVALID_HOTKEY: 400,
  INVALID_SYNTHETIC_HOTKEY: 400,
  SIGNATURE_MISSING: 401,
  SIGNATURE_INVALID: 401,
  SIGNATURE_EXPIRED: 401,
  REQUEST_REPLAYED: 401,
  FORBIDDEN: 403,
  NOT_A_NEURON: 403,
  ENTITY_CANNOT_TRADE: 403,
  ENTITY_FROZEN: 403,
  SUBACCOUNT_NOT_ACTIVE: 403,
  NOT_FOUND: 404,
  ENTITY_NOT_FOUND: 404,
  SUBACCOUNT_NOT_FOUND: 404,
  ENTITY_EXISTS: 409,
  SUBACCOUNT_LIMIT_REACHED: 409,
  DUPLICATE_ORDER: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  NOT_MOTHERSHIP: 409,
  INVARIANT_STILL_FAILING: 409,
  OPEN_POSITIONS: 409,
  WALL_CLOCK_BEHIND: 409,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  INSUFFICIENT_COLLATERAL: 422,
  INSUFFICIENT_BALANCE: 422,
  UNKNOWN_TRADE_PAIR: 422,
  LEVERAGE_OUT_OF_RANGE: 422,
  NO_PRICE: 422,
  PAIR_NOT_TRADABLE: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  STORAGE_FULL: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_TABLE;

export type ErrorDetails = Record<string, string | number | boolean | null | readonly string[]>;

/** A rule of the domain said no. Nothing changed. */
export class DomainError extends Error {
  override readonly name: string = "DomainError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
  }

  get status(): number {
    return ERROR_TABLE[this.code];
  }
}

export class ValidationError extends DomainError {
  override readonly name = "ValidationError";
  constructor(message: string, details: ErrorDetails = {}) {
    super("VALIDATION_FAILED", message, details);
  }
}

export class InsufficientBalanceError extends DomainError {
  override readonly name = "InsufficientBalanceError";
  constructor(owner: string, asset: string, needed: bigint, available: bigint) {
    super("INSUFFICIENT_BALANCE", `${owner} has ${available} rao of ${asset}, needs ${needed}`, {
      owner,
      asset,
      needed_rao: needed.toString(),
      available_rao: available.toString(),
    });
  }
}

/**
 * A broken assumption inside propnet itself (a spent Credit reused, a live Credit at the end of a
 * scope in strict mode). Never caught by domain code; assertions stay on in production.
 */
export class AssertionFailure extends Error {
  override readonly name = "AssertionFailure";
}

/**
 * Applying a command's event threw (DESIGN.md §2 rule 2: fatal). Apply never refuses, so this is a
 * bug, not an answer. Everything the command did was undone first: the state is exactly as before it.
 */
export class ApplyFailed extends Error {
  override readonly name = "ApplyFailed";
  constructor(
    readonly command: string,
    readonly eventType: string,
    cause: unknown,
  ) {
    super(`${command}: applying its event ${eventType} threw: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}
