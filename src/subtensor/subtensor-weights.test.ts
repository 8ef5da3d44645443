import type { ApiPromise, SubmittableResult } from "@polkadot/api";
import type { SubmittableExtrinsic } from "@polkadot/api/types";
import type { ExtrinsicStatus, Hash } from "@polkadot/types/interfaces";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import { hexToU8a, u8aToHex } from "@polkadot/util";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openReplayApi, ReplayProvider } from "../../test/support/subtensor-replay.ts";
import { COMMIT_REVEAL_VERSION } from "./set-weights-call.ts";
import { type SubmitWeights, SubtensorWeights, submitAndWatch } from "./subtensor-weights.ts";
import { parseTimelockCiphertext } from "./timelock-ciphertext.ts";
import { timelockDecrypt } from "./timelock-encrypt.ts";
import { decodeWeightsTlockPayload } from "./timelock-payload.ts";
import { QUICKNET } from "./timelock-reveal-round.ts";
import { WeightsRefused } from "./weights-refused.ts";

// quicknet's signature of round 1000 (Subtensor's tests/weights.rs): opens a commit aimed at that round
const ROUND_1000_SIGNATURE = hexToU8a("0xb44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39");

const NETUID = 8;
const HEAD = 5_000;
const HEAD_HASH = `0x${"5e".repeat(32)}`;
const UID = 3;

let provider: ReplayProvider;
let api: ApiPromise;
let validator: KeyringPair;
let other: KeyringPair;

interface Chain {
  commitReveal: boolean;
  rateLimit: number;
  versionKey: bigint;
  uid: number | null;
  lastUpdate: number;
  commitRevealVersion: number;
  tempo: number;
  revealPeriod: number;
}

const DEFAULT_CHAIN: Chain = { commitReveal: false, rateLimit: 100, versionKey: 7n, uid: UID, lastUpdate: 4_800, commitRevealVersion: 4, tempo: 360, revealPeriod: 1 };

/** Scripts the subnet's storage, as a node would answer it at the head (SCALE bytes: toU8a, not toHex, which is big-endian for integers). */
function chain(overrides: Partial<Chain> = {}): void {
  const c = { ...DEFAULT_CHAIN, ...overrides };
  const q = api.query.subtensorModule as unknown as Record<string, { key(...args: unknown[]): string }>;
  const put = (item: string, args: unknown[], type: string, value: unknown) =>
    provider.setStorage((q[item] as { key(...a: unknown[]): string }).key(...args), value === null ? null : u8aToHex(api.registry.createType(type, value).toU8a()));
  put("commitRevealWeightsEnabled", [NETUID], "bool", c.commitReveal);
  put("commitRevealWeightsVersion", [], "u16", c.commitRevealVersion);
  put("revealPeriodEpochs", [NETUID], "u64", c.revealPeriod);
  put("weightsSetRateLimit", [NETUID], "u64", c.rateLimit);
  put("weightsVersionKey", [NETUID], "u64", c.versionKey);
  put("tempo", [NETUID], "u16", c.tempo);
  put("uids", [NETUID, validator.address], "u16", c.uid);
  const lastUpdate = Array.from({ length: 8 }, (_, uid) => (uid === UID ? c.lastUpdate : 4_000 + uid));
  put("lastUpdate", [NETUID], "Vec<u64>", lastUpdate);
}

/** Records what would have been sent, and answers as a node that includes it in the next block. */
function recordingSubmit(): { submit: SubmitWeights; sent: SubmittableExtrinsic<"promise">[] } {
  const sent: SubmittableExtrinsic<"promise">[] = [];
  return {
    sent,
    submit: async (tx, pair) => {
      expect(pair.address).toBe(validator.address);
      sent.push(tx);
      return { blockHash: `0x${"01".repeat(32)}`, blockNumber: HEAD + 1 };
    },
  };
}

beforeAll(async () => {
  await cryptoWaitReady();
  provider = new ReplayProvider();
  provider.addBlock({ number: HEAD, hash: HEAD_HASH });
  provider.setHead(HEAD_HASH);
  api = await openReplayApi("metagraph", provider);
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  validator = keyring.addFromUri("//PropnetValidator");
  other = keyring.addFromUri("//Someone");
});

afterAll(async () => {
  await api.disconnect();
});

beforeEach(() => chain());

const NOW = Date.UTC(2026, 0, 1);

describe("SubtensorWeights with commit-reveal off: set_weights", () => {
  it("sends the devnet path's vector with the subnet's version key and reports the block", async () => {
    const { submit, sent } = recordingSubmit();
    const weights = new SubtensorWeights({ api, pair: validator, submit, now: () => NOW });

    await expect(weights.setWeights(NETUID, validator.address, [0, 2, 5], [65_535, 30_000, 12])).resolves.toEqual({ block: HEAD + 1 });

    expect(sent).toHaveLength(1);
    const call = (sent[0] as SubmittableExtrinsic<"promise">).method;
    expect(`${call.section}.${call.method}`).toBe("subtensorModule.setWeights");
    expect(call.args.map((a) => a.toJSON())).toEqual([8, [0, 2, 5], [65_535, 30_000, 12], 7]);
    expect(weights.status).toEqual({ lastSetBlock: HEAD + 1, lastSetAt: NOW, lastError: null, path: "set_weights" });
  });

  it("normalises as the SDK does before sending (max-upscale, round, drop zeros)", async () => {
    const { submit, sent } = recordingSubmit();
    await new SubtensorWeights({ api, pair: validator, submit }).setWeights(NETUID, validator.address, [1, 4, 6], [0.5, 0, 0.25]);
    // 0.5 -> 65535; 0 dropped; 0.25 / 0.5 * 65535 = 32767.5 -> 32768 (half to even)
    expect((sent[0] as SubmittableExtrinsic<"promise">).method.args.map((a) => a.toJSON())).toEqual([8, [1, 6], [65_535, 32_768], 7]);
  });

  it("sends the configured version key instead, and refuses one below the subnet's", async () => {
    const { submit, sent } = recordingSubmit();
    await new SubtensorWeights({ api, pair: validator, submit, versionKey: 9_012_001n }).setWeights(NETUID, validator.address, [0], [65_535]);
    expect((sent[0] as SubmittableExtrinsic<"promise">).method.args[3]?.toString()).toBe("9012001");

    const low = new SubtensorWeights({ api, pair: validator, submit, versionKey: 6n });
    await expect(low.setWeights(NETUID, validator.address, [0], [65_535])).rejects.toMatchObject({ code: "IncorrectWeightVersionKey", source: "local" });
    expect(sent).toHaveLength(1);
    // a subnet whose WeightsVersionKey is 0 accepts any
    chain({ versionKey: 0n });
    await expect(low.setWeights(NETUID, validator.address, [0], [65_535])).resolves.toEqual({ block: HEAD + 1 });
  });
});

describe("refusing locally what the chain would refuse", () => {
  it("respects WeightsSetRateLimit: block - LastUpdate >= limit in the block that would include it", async () => {
    const { submit, sent } = recordingSubmit();
    const weights = new SubtensorWeights({ api, pair: validator, submit });

    chain({ lastUpdate: 4_950 });
    const refused = await weights.setWeights(NETUID, validator.address, [0], [65_535]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WeightsRefused);
    expect(refused).toMatchObject({ code: "RateLimitExceeded", source: "local" });
    expect((refused as Error).message).toMatch(/last set weights in block 4950.*every 100 blocks.*not before block 5050, the head is 5000/);
    expect(weights.status.lastError?.code).toBe("RateLimitExceeded");
    expect(weights.status.lastSetBlock).toBeNull();

    // the next block is 5001: 5001 - 4902 = 99 < 100 refused; 5001 - 4901 = 100 allowed
    chain({ lastUpdate: 4_902 });
    await expect(weights.setWeights(NETUID, validator.address, [0], [65_535])).rejects.toMatchObject({ code: "RateLimitExceeded" });
    expect(sent).toHaveLength(0);
    chain({ lastUpdate: 4_901 });
    await expect(weights.setWeights(NETUID, validator.address, [0], [65_535])).resolves.toEqual({ block: HEAD + 1 });
    // 0 is the storage default: never set, no limit
    chain({ lastUpdate: 0 });
    await expect(weights.setWeights(NETUID, validator.address, [0], [65_535])).resolves.toEqual({ block: HEAD + 1 });
    expect(sent).toHaveLength(2);
    expect(weights.status.lastError).toBeNull();
  });

  it("refuses a hotkey with no uid on the subnet, another validator's hotkey, an all-zero vector and a negative weight", async () => {
    const { submit, sent } = recordingSubmit();
    const weights = new SubtensorWeights({ api, pair: validator, submit });
    chain({ uid: null });
    await expect(weights.setWeights(NETUID, validator.address, [0], [65_535])).rejects.toMatchObject({ code: "HotKeyNotRegisteredInNetwork" });
    chain();
    await expect(weights.setWeights(NETUID, other.address, [0], [65_535])).rejects.toMatchObject({ code: "KeyMismatch" });
    await expect(weights.setWeights(NETUID, validator.address, [0, 1], [0, 0])).rejects.toMatchObject({ code: "EmptyWeights" });
    await expect(weights.setWeights(NETUID, validator.address, [0, 1], [1, -1])).rejects.toMatchObject({ code: "WeightsNotEmittable" });
    expect(sent).toHaveLength(0);
  });

  it("reports a chain it cannot read as ChainReadFailed", async () => {
    const { submit } = recordingSubmit();
    provider.setHead(`0x${"77".repeat(32)}`); // a head whose header the node does not have
    try {
      const weights = new SubtensorWeights({ api, pair: validator, submit });
      await expect(weights.setWeights(NETUID, validator.address, [0], [65_535])).rejects.toMatchObject({ code: "ChainReadFailed", source: "read" });
      expect(weights.status.path).toBeNull();
    } finally {
      provider.setHead(HEAD_HASH);
    }
  });
});

describe("SubtensorWeights with commit-reveal on: commit_timelocked_weights", () => {
  it("commits the payload timelocked to the reveal round, which quicknet's signature of that round opens", async () => {
    chain({ commitReveal: true, tempo: 360, revealPeriod: 1 });
    // netuid 8, tempo 360: epoch(5000) = floor(5009 / 361) = 13; epoch 14 starts at 14 * 361 - 9 = 5045;
    // aim at 5048: 48 blocks * 12 s = 576 s. With now = genesis + 2424 s the round is (2424 + 576) / 3 = 1000.
    const now = (QUICKNET.genesisSeconds + 2_424) * 1000;
    const { submit, sent } = recordingSubmit();
    const weights = new SubtensorWeights({ api, pair: validator, submit, now: () => now, versionKey: 9_012_001n });

    await expect(weights.setWeights(NETUID, validator.address, [0, 2, 5], [65_535, 30_000, 12])).resolves.toEqual({ block: HEAD + 1 });

    const call = (sent[0] as SubmittableExtrinsic<"promise">).method;
    expect(`${call.section}.${call.method}`).toBe("subtensorModule.commitTimelockedWeights");
    const [netuid, commit, round, version] = call.args;
    expect(netuid?.toString()).toBe("8");
    expect(round?.toString()).toBe("1000");
    expect(Number(version?.toString())).toBe(COMMIT_REVEAL_VERSION);
    const ciphertext = (commit as unknown as { toU8a(bare: boolean): Uint8Array }).toU8a(true);
    expect(parseTimelockCiphertext(ciphertext).cipherSuite).toBe("AES_GCM_");
    const payload = decodeWeightsTlockPayload(timelockDecrypt(ciphertext, ROUND_1000_SIGNATURE));
    expect(u8aToHex(payload.hotkey)).toBe(u8aToHex(validator.publicKey));
    expect(payload).toMatchObject({ uids: [0, 2, 5], values: [65_535, 30_000, 12], versionKey: 9_012_001n });
    expect(weights.status).toMatchObject({ lastSetBlock: HEAD + 1, lastSetAt: now, path: "commit_timelocked_weights", lastError: null });
  });

  it("aims at the stateful schedule's reveal block on a runtime that has one (dynamic tempo)", async () => {
    // The recorded metadata predates SubnetEpochIndex/LastEpochBlock/PendingEpochAt: add them as a
    // v3.4.8+ runtime declares them. Last epoch at 4990, tempo 360: the commit (block 5001) is in
    // epoch 100 and epoch 101 fires at 4990 + 360 = 5350; the fixed-tempo rule would say 5045.
    const items = { subnetEpochIndex: 100, lastEpochBlock: 4_990, pendingEpochAt: 0 };
    const module = api.query.subtensorModule as unknown as Record<string, unknown>;
    try {
      for (const [name, value] of Object.entries(items)) module[name] = { at: async () => api.registry.createType("u64", value) };
      chain({ commitReveal: true, tempo: 360 });
      const blocksSinceLastStep = (api.query.subtensorModule as unknown as Record<string, { key(n: number): string }>).blocksSinceLastStep as { key(n: number): string };
      provider.setStorage(blocksSinceLastStep.key(NETUID), u8aToHex(api.registry.createType("u64", 10).toU8a()));
      // aim at 5353: 353 blocks * 12 s = 4236 s; now = genesis + 1764 s: (1764 + 4236) / 3 = 2000
      const now = (QUICKNET.genesisSeconds + 1_764) * 1000;
      const { submit, sent } = recordingSubmit();
      await new SubtensorWeights({ api, pair: validator, submit, now: () => now }).setWeights(NETUID, validator.address, [0], [65_535]);
      expect((sent[0] as SubmittableExtrinsic<"promise">).method.args[2]?.toString()).toBe("2000");
    } finally {
      for (const name of Object.keys(items)) delete module[name];
    }
    // without them, the fixed-tempo rule: 5045 + 3 - 5000 = 48 blocks = 576 s: (1764 + 576) / 3 = 780
    const { submit, sent } = recordingSubmit();
    await new SubtensorWeights({ api, pair: validator, submit, now: () => (QUICKNET.genesisSeconds + 1_764) * 1000 }).setWeights(NETUID, validator.address, [0], [65_535]);
    expect((sent[0] as SubmittableExtrinsic<"promise">).method.args[2]?.toString()).toBe("780");
  });

  it("refuses when the chain expects a commit-reveal version other than 4, and rate-limits commits too", async () => {
    const { submit, sent } = recordingSubmit();
    const weights = new SubtensorWeights({ api, pair: validator, submit, encrypt: async () => new Uint8Array(300) });
    chain({ commitReveal: true, commitRevealVersion: 5 });
    await expect(weights.setWeights(NETUID, validator.address, [0], [65_535])).rejects.toMatchObject({ code: "IncorrectCommitRevealVersion" });
    chain({ commitReveal: true, lastUpdate: 4_990 });
    await expect(weights.setWeights(NETUID, validator.address, [0], [65_535])).rejects.toMatchObject({ code: "RateLimitExceeded" });
    expect(weights.status.path).toBe("commit_timelocked_weights");
    expect(sent).toHaveLength(0);
  });

  it("refuses a commit over the chain's 5,000 bytes, or not shaped as a timelock ciphertext, before sending it", async () => {
    const { submit, sent } = recordingSubmit();
    chain({ commitReveal: true });
    const tooLarge = new SubtensorWeights({ api, pair: validator, submit, encrypt: async () => new Uint8Array(5_001) });
    await expect(tooLarge.setWeights(NETUID, validator.address, [0], [65_535])).rejects.toMatchObject({ code: "CommitTooLarge" });
    const malformed = new SubtensorWeights({ api, pair: validator, submit, encrypt: async () => new Uint8Array(300) });
    await expect(malformed.setWeights(NETUID, validator.address, [0], [65_535])).rejects.toMatchObject({ code: "TimelockCiphertextMalformed" });
    expect(malformed.status.lastError?.code).toBe("TimelockCiphertextMalformed");
    expect(sent).toHaveLength(0);
  });
});

describe("one round at a time", () => {
  it("refuses a second round while the first is in flight", async () => {
    let release: () => void = () => undefined;
    const submit: SubmitWeights = () => new Promise((resolve) => (release = () => resolve({ blockHash: "0x", blockNumber: HEAD + 1 })));
    const weights = new SubtensorWeights({ api, pair: validator, submit });
    const first = weights.setWeights(NETUID, validator.address, [0], [65_535]);
    await new Promise((r) => setTimeout(r, 50));
    await expect(weights.setWeights(NETUID, validator.address, [0], [65_535])).rejects.toMatchObject({ code: "Busy" });
    release();
    await expect(first).resolves.toEqual({ block: HEAD + 1 });
  });
});

/** An extrinsic whose node answers with `statuses` (in order), or refuses it with `error`. */
function scriptedTx(statuses: Array<() => SubmittableResult>, error?: Error) {
  const seen: { options?: unknown; unsubscribed: boolean } = { unsubscribed: false };
  const tx = {
    signAndSend(_pair: KeyringPair, options: unknown, onStatus: (r: SubmittableResult) => void) {
      seen.options = options;
      if (error) return Promise.reject(error);
      setTimeout(() => statuses.forEach((s) => onStatus(s())), 5);
      return Promise.resolve(() => {
        seen.unsubscribed = true;
      });
    },
  };
  return { tx: tx as unknown as SubmittableExtrinsic<"promise">, seen };
}

describe("submitAndWatch: following the extrinsic to a block", () => {
  // built lazily, once the api exists
  const result = (status: object, extra: Record<string, unknown> = {}) => async () => {
    const { SubmittableResult } = await import("@polkadot/api");
    return new SubmittableResult({ txHash: api.registry.createType<Hash>("Hash", `0x${"cd".repeat(32)}`), status: api.registry.createType<ExtrinsicStatus>("ExtrinsicStatus", status), events: [], ...extra });
  };

  async function statuses(...makers: Array<() => Promise<SubmittableResult>>): Promise<Array<() => SubmittableResult>> {
    const made = await Promise.all(makers.map((m) => m()));
    return made.map((r) => () => r);
  }

  it("signs with the pool-aware nonce and resolves with the including block", async () => {
    const { tx, seen } = scriptedTx(await statuses(result({ ready: null }), result({ inBlock: HEAD_HASH }, { blockNumber: api.registry.createType("BlockNumber", HEAD) })));
    await expect(submitAndWatch(api, 5_000)(tx, validator)).resolves.toEqual({ blockHash: HEAD_HASH, blockNumber: HEAD });
    expect(seen.options).toEqual({ nonce: -1 });
    expect(seen.unsubscribed).toBe(true);
  });

  it("reads the block number from the header when the result lacks it", async () => {
    const { tx } = scriptedTx(await statuses(result({ inBlock: HEAD_HASH })));
    await expect(submitAndWatch(api, 5_000)(tx, validator)).resolves.toEqual({ blockHash: HEAD_HASH, blockNumber: HEAD });
  });

  it("rejects with the chain's dispatch error, the pool's refusal, or a timeout", async () => {
    const failed = result({ inBlock: HEAD_HASH }, { dispatchError: api.registry.createType("DispatchError", { Module: { index: 7, error: [28, 0, 0, 0] } }) });
    const { tx } = scriptedTx(await statuses(failed));
    await expect(submitAndWatch(api, 5_000)(tx, validator)).rejects.toMatchObject({ code: "SettingWeightsTooFast", source: "dispatch" });

    const pool = Object.assign(new Error("1010: Invalid Transaction: Custom error: 6"), { code: 1010, data: "Custom error: 6" });
    await expect(submitAndWatch(api, 5_000)(scriptedTx([], pool).tx, validator)).rejects.toMatchObject({ code: "RateLimitExceeded", source: "pool" });

    const silent = scriptedTx([]);
    await expect(submitAndWatch(api, 50)(silent.tx, validator)).rejects.toMatchObject({ code: "InclusionTimeout" });
    await new Promise((r) => setTimeout(r, 10));
    expect(silent.seen.unsubscribed).toBe(true);
  });

  it("is what SubtensorWeights uses by default: a node that cannot watch extrinsics is a SubmitFailed", async () => {
    // the replay provider has no subscriptions, so author_submitAndWatchExtrinsic cannot run
    const weights = new SubtensorWeights({ api, pair: validator });
    await expect(weights.setWeights(NETUID, validator.address, [0], [65_535])).rejects.toMatchObject({ code: "SubmitFailed", source: "pool" });
    expect(weights.status.lastError?.code).toBe("SubmitFailed");
  });
});
