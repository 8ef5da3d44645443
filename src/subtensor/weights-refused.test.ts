import { type ApiPromise, SubmittableResult } from "@polkadot/api";
import type { DispatchError, ExtrinsicStatus, Hash } from "@polkadot/types/interfaces";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openReplayApi } from "../../test/support/subtensor-replay.ts";
import { inclusionOf, refusalFromDispatchError, refusalFromSubmitError, WeightsRefused } from "./weights-refused.ts";

let api: ApiPromise;
beforeAll(async () => {
  api = await openReplayApi();
});
afterAll(async () => {
  await api.disconnect();
});

const BLOCK = `0x${"ab".repeat(32)}`;

const txHash = () => api.registry.createType<Hash>("Hash", `0x${"cd".repeat(32)}`);

/** A SubtensorModule (pallet 7) module error, as the chain reports it in ExtrinsicFailed. */
function moduleError(error: number): DispatchError {
  return api.registry.createType("DispatchError", { Module: { index: 7, error: [error, 0, 0, 0] } });
}

/** An error as polkadot-js raises a JSON-RPC error of the pool. */
function rpcError(code: number, message: string, data?: string): Error {
  return Object.assign(new Error(`${code}: ${message}${data ? `: ${data}` : ""}`), { code, data });
}

describe("the chain's refusals, as stable codes", () => {
  it("decodes SubtensorModule dispatch errors by name from the metadata", () => {
    // indices of the recorded mainnet metadata's SubtensorModule errors
    expect(refusalFromDispatchError(api.registry, moduleError(28)).code).toBe("SettingWeightsTooFast");
    expect(refusalFromDispatchError(api.registry, moduleError(78)).code).toBe("CommittingWeightsTooFast");
    expect(refusalFromDispatchError(api.registry, moduleError(6)).code).toBe("HotKeyNotRegisteredInNetwork");
    expect(refusalFromDispatchError(api.registry, moduleError(29)).code).toBe("IncorrectWeightVersionKey");
    const refused = refusalFromDispatchError(api.registry, moduleError(52));
    expect(refused.code).toBe("CommitRevealEnabled");
    expect(refused.source).toBe("dispatch");
    expect(refused.message).toMatch(/^CommitRevealEnabled: subtensorModule\.CommitRevealEnabled/);
  });

  it("names dispatch errors that are not a module's", () => {
    expect(refusalFromDispatchError(api.registry, api.registry.createType("DispatchError", { BadOrigin: null })).code).toBe("BadOrigin");
    expect(refusalFromDispatchError(api.registry, api.registry.createType("DispatchError", { Token: "Frozen" })).code).toBe("Token.Frozen");
  });

  it("maps the pool's Subtensor custom errors (transaction_error.rs) and Substrate's own", () => {
    expect(refusalFromSubmitError(rpcError(1010, "Invalid Transaction", "Custom error: 6")).code).toBe("RateLimitExceeded");
    expect(refusalFromSubmitError(rpcError(1010, "Invalid Transaction", "Custom error: 10")).code).toBe("HotKeyNotRegisteredInNetwork");
    expect(refusalFromSubmitError(rpcError(1010, "Invalid Transaction", "Custom error: 15")).code).toBe("InvalidRevealRound");
    expect(refusalFromSubmitError(rpcError(1010, "Invalid Transaction", "Custom error: 30")).code).toBe("CommittingWeightsTooFast");
    expect(refusalFromSubmitError(rpcError(1010, "Invalid Transaction", "Custom error: 99")).code).toBe("CustomTransactionError99");
    expect(refusalFromSubmitError(rpcError(1010, "Invalid Transaction", "Transaction is outdated")).code).toBe("Stale");
    expect(refusalFromSubmitError(rpcError(1010, "Invalid Transaction", "Transaction has a bad signature")).code).toBe("BadProof");
    expect(refusalFromSubmitError(rpcError(1014, "Priority is too low", "(1 vs 1)")).code).toBe("PriorityTooLow");
    // the message alone (no code property), as some transports pass it on
    const fromText = refusalFromSubmitError(new Error("1010: Invalid Transaction: Custom error: 6"));
    expect(fromText).toBeInstanceOf(WeightsRefused);
    expect(fromText.code).toBe("RateLimitExceeded");
    expect(fromText.source).toBe("pool");
    expect(refusalFromSubmitError(new Error("WebSocket is not connected")).code).toBe("SubmitFailed");
  });
});

describe("following a submitted extrinsic", () => {
  const status = (value: object) => api.registry.createType<ExtrinsicStatus>("ExtrinsicStatus", value);

  it("waits while the extrinsic is only in the pool", () => {
    expect(inclusionOf(api.registry, new SubmittableResult({ txHash: txHash(), status: status({ ready: null }) }))).toBeNull();
    expect(inclusionOf(api.registry, new SubmittableResult({ txHash: txHash(), status: status({ broadcast: ["peer"] }) }))).toBeNull();
    expect(inclusionOf(api.registry, new SubmittableResult({ txHash: txHash(), status: status({ retracted: BLOCK }) }))).toBeNull();
  });

  it("ends with the block that holds it, or the dispatch error it failed with there", () => {
    const ok = new SubmittableResult({ txHash: txHash(), status: status({ inBlock: BLOCK }), blockNumber: api.registry.createType("BlockNumber", 6_852_700), events: [] });
    expect(inclusionOf(api.registry, ok)).toEqual({ blockHash: BLOCK, blockNumber: 6_852_700 });
    const failed = new SubmittableResult({ txHash: txHash(), status: status({ inBlock: BLOCK }), dispatchError: moduleError(28), events: [] });
    const outcome = inclusionOf(api.registry, failed);
    expect(outcome && "refused" in outcome && outcome.refused.code).toBe("SettingWeightsTooFast");
  });

  it("ends refused when the pool drops it, or when the block's events cannot be read", () => {
    for (const [value, code] of [
      [{ invalid: null }, "Invalid"],
      [{ dropped: null }, "Dropped"],
      [{ usurped: BLOCK }, "Usurped"],
    ] as const) {
      const outcome = inclusionOf(api.registry, new SubmittableResult({ txHash: txHash(), status: status(value) }));
      expect(outcome && "refused" in outcome && outcome.refused.code).toBe(code);
    }
    const unread = new SubmittableResult({ txHash: txHash(), status: status({ inBlock: BLOCK }), internalError: new Error("state pruned") });
    const outcome = inclusionOf(api.registry, unread);
    expect(outcome && "refused" in outcome && outcome.refused.code).toBe("InclusionUnknown");
  });
});
