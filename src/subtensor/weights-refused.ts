import type { SubmittableResult } from "@polkadot/api";
import type { DispatchError } from "@polkadot/types/interfaces";
import type { Registry } from "@polkadot/types/types";

/** Where a weights round stopped: checked here before paying, the pool, the block, or the watch on it. */
export type RefusalSource = "local" | "read" | "pool" | "dispatch" | "status";

/**
 * Weights were not set, with a stable code: the chain's own name for the reason where the chain
 * gave one (`SettingWeightsTooFast`, `HotKeyNotRegisteredInSubNet`, `RateLimitExceeded`, ...), the
 * same name when refused here first for that reason (`RateLimitExceeded`,
 * `HotKeyNotRegisteredInNetwork`, `IncorrectWeightVersionKey`), else a name of this adapter's
 * (`ChainReadFailed`, `InclusionTimeout`, `CommitTooLarge`, `TimelockFailed`, ...).
 */
export class WeightsRefused extends Error {
  override readonly name = "WeightsRefused";
  constructor(
    readonly code: string,
    readonly source: RefusalSource,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${detail}`, options);
  }
}

/**
 * Subtensor's `CustomTransactionError` by the number the transaction pool answers with
 * (`InvalidTransaction::Custom(n)`; opentensor/subtensor `common/src/transaction_error.rs`).
 */
const CUSTOM_TRANSACTION_ERRORS: Readonly<Record<number, string>> = {
  0: "ColdkeyInSwapSchedule",
  1: "StakeAmountTooLow",
  2: "BalanceTooLow",
  3: "SubnetNotExists",
  4: "HotkeyAccountDoesntExist",
  5: "NotEnoughStakeToWithdraw",
  6: "RateLimitExceeded",
  7: "InsufficientLiquidity",
  8: "SlippageTooHigh",
  9: "TransferDisallowed",
  10: "HotKeyNotRegisteredInNetwork",
  11: "InvalidIpAddress",
  12: "ServingRateLimitExceeded",
  13: "InvalidPort",
  14: "ZeroMaxAmount",
  15: "InvalidRevealRound",
  16: "CommitNotFound",
  17: "CommitBlockNotInRevealRange",
  18: "InputLengthsUnequal",
  19: "UidNotFound",
  20: "EvmKeyAssociateRateLimitExceeded",
  21: "ColdkeySwapDisputed",
  22: "InvalidRealAccount",
  23: "FailedShieldedTxParsing",
  24: "InvalidShieldedTxPubKeyHash",
  25: "CommitRevealEnabled",
  26: "CommitRevealDisabled",
  27: "NonAssociatedColdKey",
  28: "InvalidIpType",
  29: "IncorrectCommitRevealVersion",
  30: "CommittingWeightsTooFast",
  31: "TooManyUnrevealedCommits",
  32: "NewHotKeyIsSameWithOld",
  33: "HotKeyAlreadyRegisteredInSubNet",
  34: "NotEnoughBalanceToPaySwapHotKey",
  35: "HotKeySwapOnSubnetIntervalNotPassed",
  36: "DelegateTakeTooLow",
  37: "DelegateTakeTooHigh",
  38: "InvalidWorkBlock",
  39: "InvalidDifficulty",
  40: "InvalidSeal",
  255: "BadRequest",
};

/** Substrate's `InvalidTransaction` reasons, by the text the pool answers with (sp-runtime). */
const INVALID_TRANSACTION: ReadonlyArray<[RegExp, string]> = [
  [/outdated/i, "Stale"],
  [/valid in the future/i, "Future"],
  [/bad signature/i, "BadProof"],
  [/invalid signing address/i, "BadSigner"],
  [/ancient birth block/i, "AncientBirthBlock"],
  [/exhaust the block limits/i, "ExhaustsResources"],
  [/pay some fees/i, "Payment"],
  [/call is not expected/i, "Call"],
];

/** The pool's JSON-RPC error codes (sc-rpc-api author errors). */
const POOL_ERRORS: Readonly<Record<number, string>> = {
  1011: "UnknownTransactionValidity",
  1012: "TemporarilyBanned",
  1013: "AlreadyImported",
  1014: "PriorityTooLow",
  1015: "CycleDetected",
  1016: "ImmediatelyDropped",
  1017: "Unactionable",
};

/**
 * The transaction pool refused the extrinsic (`author_submitAndWatchExtrinsic` failed): nothing
 * was included or paid. polkadot-js raises these as `"<code>: <message>: <data>"`, e.g.
 * `1010: Invalid Transaction: Custom error: 6`.
 */
export function refusalFromSubmitError(error: unknown): WeightsRefused {
  const message = error instanceof Error ? error.message : String(error);
  const rpcCode = (error as { code?: unknown })?.code;
  const code = typeof rpcCode === "number" ? rpcCode : Number(/^(\d{4}):/.exec(message)?.[1] ?? Number.NaN);
  if (code === 1010) {
    const custom = /Custom error: (\d+)/i.exec(message);
    if (custom) {
      const n = Number(custom[1]);
      return new WeightsRefused(CUSTOM_TRANSACTION_ERRORS[n] ?? `CustomTransactionError${n}`, "pool", `the transaction pool refused the extrinsic (${message})`, { cause: error });
    }
    const reason = INVALID_TRANSACTION.find(([pattern]) => pattern.test(message));
    return new WeightsRefused(reason?.[1] ?? "InvalidTransaction", "pool", `the transaction pool refused the extrinsic (${message})`, { cause: error });
  }
  const named = POOL_ERRORS[code];
  if (named) return new WeightsRefused(named, "pool", `the transaction pool refused the extrinsic (${message})`, { cause: error });
  return new WeightsRefused("SubmitFailed", "pool", `the extrinsic could not be submitted (${message})`, { cause: error });
}

/** The extrinsic was included but failed: the chain's dispatch error, decoded from its metadata. */
export function refusalFromDispatchError(registry: Registry, error: DispatchError): WeightsRefused {
  if (error.isModule) {
    const meta = registry.findMetaError(error.asModule);
    const docs = meta.docs.join(" ").trim();
    return new WeightsRefused(meta.name, "dispatch", `${meta.section}.${meta.name}${docs ? `: ${docs}` : ""}`);
  }
  if (error.isToken) return new WeightsRefused(`Token.${error.asToken.type}`, "dispatch", `dispatch failed: Token.${error.asToken.type}`);
  if (error.isArithmetic) return new WeightsRefused(`Arithmetic.${error.asArithmetic.type}`, "dispatch", `dispatch failed: Arithmetic.${error.asArithmetic.type}`);
  return new WeightsRefused(error.type, "dispatch", `dispatch failed: ${error.type}`);
}

/** What a status update of a submitted extrinsic says: still pending (null), included, or refused. */
export type InclusionOutcome = { blockHash: string; blockNumber: number | null } | { refused: WeightsRefused };

export function inclusionOf(registry: Registry, result: SubmittableResult): InclusionOutcome | null {
  const { status } = result;
  if (status.isInBlock || status.isFinalized) {
    const blockHash = (status.isInBlock ? status.asInBlock : status.asFinalized).toHex();
    // polkadot-js could not read the block's events: whether the call succeeded is unknown.
    if (result.internalError) {
      return { refused: new WeightsRefused("InclusionUnknown", "status", `included in block ${blockHash}, but its events could not be read (${result.internalError.message})`) };
    }
    if (result.dispatchError) return { refused: refusalFromDispatchError(registry, result.dispatchError) };
    return { blockHash, blockNumber: result.blockNumber ? result.blockNumber.toNumber() : null };
  }
  // Retracted, Future, Ready, Broadcast: wait for a block. The rest end the watch without one.
  if (status.isInvalid || status.isDropped || status.isUsurped || status.isFinalityTimeout) {
    return { refused: new WeightsRefused(status.type, "status", `the extrinsic was ${status.type.toLowerCase()} before it was included in a block`) };
  }
  return null;
}
