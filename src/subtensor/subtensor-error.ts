/** Why a read of the real chain failed, as a stable code (reported in status, CLI output and logs). */
export type SubtensorErrorCode =
  /** No connection to the node (refused, timed out, dropped). Retry later. */
  | "CHAIN_UNREACHABLE"
  /** The subnet does not exist at that block. */
  | "SUBNET_NOT_FOUND"
  /** The node no longer holds the state of that block (pruned): only an archive node can answer. */
  | "STATE_UNAVAILABLE"
  /** The chain answered something this adapter does not understand (a runtime it was not built for). */
  | "UNEXPECTED_CHAIN_DATA";

export class SubtensorError extends Error {
  override readonly name = "SubtensorError";
  constructor(
    readonly code: SubtensorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// Substrate's answers for state it has pruned or blocks it does not know ("State already discarded
// for ...", "Api called for an unknown Block", "Header was not found"); anything else is transient.
const STATE_UNAVAILABLE = /state already discarded|unknown block|header was not found|block not found|unable to retrieve header/i;

/** Whether an error from the node means "that block's state is gone" rather than "try again". */
export function isStateUnavailable(error: unknown): boolean {
  if (error instanceof SubtensorError) return error.code === "STATE_UNAVAILABLE";
  return error instanceof Error && STATE_UNAVAILABLE.test(error.message);
}

/** An error's message; WebSocket error events carry theirs in `message` or in `error`. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  const e = error as { message?: unknown; error?: unknown } | null;
  if (e && typeof e === "object") {
    if (typeof e.message === "string" && e.message) return e.message;
    if (e.error instanceof Error) return e.error.message;
    return "connection error";
  }
  return String(error);
}
