import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ApiPromise } from "@polkadot/api";
import { u8aToHex } from "@polkadot/util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, ROOT } from "../../test/support/processes.ts";
import { encodeEventRecords, openReplayApi, ReplayProvider } from "../../test/support/subtensor-replay.ts";
import { subnetStorageKeys } from "../subtensor/storage-keys.ts";
import { type ChainCheckReport, runChainCheck } from "./chain-check.ts";

// Recorded mainnet subnet 1 at block 6,852,690: its metagraph is recorded; the storage items the
// weight setter reads were not, so they are scripted here with the values the metagraph reports.
const UID0 = "5DkMmXtWf16RNdusZGCrJ7ca7ADPgRnZLVWCWbgA7s7sy1AQ";
const LAST_EPOCH = 6_852_597;

async function recordedSubnet1(overrides: { commitReveal?: boolean; prunedBefore?: number } = {}): Promise<ApiPromise> {
  const provider = new ReplayProvider("metagraph");
  // The last epoch block (LastMechansimStepBlock) and what a node says at it.
  provider.addBlock({ number: LAST_EPOCH, hash: `0x${"5e".repeat(32)}`, parentHash: `0x${"5d".repeat(32)}` });
  if (overrides.prunedBefore) provider.pruneStateBefore(overrides.prunedBefore);
  const api = await openReplayApi("metagraph", provider);
  const k = subnetStorageKeys(api, 1);
  const scale = (type: string, value: unknown) => u8aToHex(api.createType(type, value).toU8a());
  provider.setStorage(k.commitRevealWeightsEnabled, scale("bool", overrides.commitReveal ?? true));
  provider.setStorage(k.commitRevealWeightsVersion, scale("u16", 4));
  provider.setStorage(k.revealPeriodEpochs, scale("u64", 1));
  provider.setStorage(k.weightsSetRateLimit, scale("u64", 100));
  provider.setStorage(k.weightsVersionKey, scale("u64", 21_706));
  provider.setStorage(k.tempo, scale("u16", 99));
  provider.setStorage(k.timestampNow, scale("u64", 1_760_000_000_000));
  provider.setStorage(
    k.systemEvents,
    encodeEventRecords(api, [{ pallet: "SubtensorModule", event: "IncentiveAlphaEmittedToMiners", args: [1, Array.from({ length: 1_024 }, (_, uid) => (uid === 3 ? 41_000_000_000 : 0))] }]),
  );
  return api;
}

async function check(api: ApiPromise, options: { key?: string; hotkey?: string; json?: boolean } = {}) {
  let out = "";
  let err = "";
  const code = await runChainCheck({ chainUrl: "wss://recorded.example", netuid: 1, ...options }, { api, out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("propnet chain check over the recorded chain", () => {
  let api: ApiPromise;
  let dir: string;
  beforeAll(async () => {
    api = await recordedSubnet1();
    dir = mkdtempSync(join(tmpdir(), "propnet-chain-check-"));
  });
  afterAll(async () => {
    await api.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints what the node would do: neurons, weights path, rate limit, version key, last epoch", async () => {
    const { code, out, err } = await check(api, { hotkey: UID0 });
    expect(err).toBe("");
    expect(code).toBe(0);
    const line = (label: string) => out.split("\n").find((l) => l.startsWith(label)) ?? "";
    expect(line("chain")).toMatch(/Bittensor at wss:\/\/recorded\.example, genesis 0x2f05…6c03, runtime node-subtensor 343/);
    expect(line("at block")).toMatch(/6,852,690/);
    expect(line("subnet")).toMatch(/1: 1,024 neurons of 1,024, owner 5HCFWvRqzSHWRPecN7q8J6c7aKQnrCZTMHstPv39xL1wgDHh/);
    expect(line("pool")).toMatch(/SubnetTAO 22,079\.400556774 TAO, SubnetAlphaIn 2,316,467\.425363654 alpha/);
    expect(line("last epoch")).toMatch(/block 6,852,597 \(LastMechansimStepBlock\), 93 blocks ago; tempo 99/);
    expect(line("scheduler")).toMatch(/fixed tempo .* fits/);
    expect(line("next epoch")).toMatch(/6,852,697/);
    expect(line("epoch read")).toBe("epoch read    block 6,852,597 at 2025-10-09T08:53:20.000Z: 1,024 uids, 41 alpha paid (IncentiveAlphaEmittedToMiners), as the node would record it");
    expect(line("node key")).toBe(`node key      ${UID0} is uid 0, validator permit no, stake 2.557172316 alpha`);
    expect(line("weights path")).toMatch(/^weights path +commit_timelocked_weights \(CommitRevealWeightsEnabled on; commit-reveal version 4, the chain expects 4; revealed after 1 epoch\)/);
    expect(line("rate limit")).toMatch(/100 blocks \(WeightsSetRateLimit\); this uid last set weights at block 2,543,521: may set weights now/);
    expect(line("version key")).toMatch(/^version key +21706 /);
    expect(line("sent")).toMatch(/nothing/);
    expect(out).not.toMatch(/warning/);
  });

  it("--json prints one object with the same answers", async () => {
    const { code, out } = await check(api, { hotkey: UID0, json: true });
    expect(code).toBe(0);
    expect(out.trim().split("\n")).toHaveLength(1);
    const report = JSON.parse(out) as ChainCheckReport;
    expect(report).toMatchObject({
      chain: { name: "Bittensor", specVersion: 343, block: 6_852_690, blockHash: "0xdb13c066e2c63969f140164fb3bfe7a0aaa7b71407fc0fe525d68e57329ef9d0" },
      subnet: { netuid: 1, neurons: 1_024, maxUids: 1_024 },
      pool: { subnetTaoRao: "22079400556774", subnetAlphaInRao: "2316467425363654" },
      epochs: {
        tempo: 99,
        lastEpochBlock: 6_852_597,
        scheduler: "fixed",
        consistent: true,
        nextEpochBlock: 6_852_697,
        alphaPaidSource: "IncentiveAlphaEmittedToMiners",
        lastEpochRead: { ok: true, block: 6_852_597, timestampMs: 1_760_000_000_000, uids: 1_024, source: "IncentiveAlphaEmittedToMiners", alphaPaidRao: "41000000000" },
      },
      node: { hotkey: UID0, uid: 0, registered: true, lastWeightsBlock: 2_543_521, stakeRao: "2557172316" },
      weights: { path: "commit_timelocked_weights", commitRevealVersion: { node: 4, chain: 4 }, rateLimitBlocks: 100, versionKey: "21706", blocksUntilAllowed: 0 },
      warnings: [],
      sent: "nothing",
    });
  });

  it("a key file whose hotkey holds no uid: not registered, and it says the node would set no weights", async () => {
    const keyFile = join(dir, "node-key");
    writeFileSync(keyFile, "bottom drive obey lake curtain smoke basket hold race lonely fit walk\n", { mode: 0o600 });
    const { code, out } = await check(api, { key: keyFile });
    expect(code).toBe(0);
    expect(out).toMatch(/^node key +5\w{47} not registered on subnet 1$/m);
    expect(out).toMatch(/warning: hotkey 5\w{47} is not registered on subnet 1: the node would set no weights/);
  });

  it("with no key it says how to give one", async () => {
    const { out } = await check(api);
    expect(out).toMatch(/^node key +none given/m);
  });

  it("commit-reveal off: set_weights, and a metagraph that disagrees with storage is a warning", async () => {
    const off = await recordedSubnet1({ commitReveal: false });
    try {
      const { code, out } = await check(off);
      expect(code).toBe(0);
      expect(out).toMatch(/^weights path +set_weights \(CommitRevealWeightsEnabled off\)$/m);
      expect(out).toMatch(/warning: CommitRevealWeightsEnabled: the metagraph says true, storage says false/);
    } finally {
      await off.disconnect();
    }
  });

  it("a node that has pruned the last epoch's state: the rest is read, and it says to use an archive", async () => {
    const pruned = await recordedSubnet1({ prunedBefore: LAST_EPOCH + 1 });
    try {
      const { code, out } = await check(pruned);
      expect(code).toBe(0);
      expect(out).toMatch(/^epoch read +the last epoch could not be read as the node would: .*State already discarded/m);
      expect(out).toMatch(/^warning: could not read the last epoch as the node would .*; this node has pruned that state: check against an archive node to see it$/m);
      expect(out).toMatch(/^weights path +commit_timelocked_weights/m);
    } finally {
      await pruned.disconnect();
    }
  });

  it("a subnet that does not exist: exit 1 and a one-line reason", async () => {
    // As a node answers for subnet 77 when it does not exist: no metagraph, empty storage.
    const provider = new ReplayProvider("metagraph");
    const empty = await openReplayApi("metagraph", provider);
    try {
      const k = subnetStorageKeys(empty, 77);
      for (const key of [k.commitRevealWeightsEnabled, k.commitRevealWeightsVersion, k.revealPeriodEpochs, k.weightsSetRateLimit, k.weightsVersionKey, k.tempo]) provider.setStorage(key, null);
      provider.setStateCall("SubnetInfoRuntimeApi_get_selective_mechagraph", `4d00${selectiveRequestTail(empty)}`, "0x00");
      let err = "";
      const code = await runChainCheck({ chainUrl: "wss://recorded.example", netuid: 77 }, { api: empty, out: () => undefined, err: (t) => (err += t) });
      expect(err).toMatch(/^propnet: subnet 77 does not exist at block 0xdb13/);
      expect(code).toBe(1);
      expect(err.trim().split("\n")).toHaveLength(1);
    } finally {
      await empty.disconnect();
    }
  });
});

/** The selective-mechagraph request after its netuid: mechanism 0, every field index (SCALE). */
function selectiveRequestTail(api: ApiPromise): string {
  const indexes = Array.from({ length: 74 }, (_, i) => i);
  return u8aToHex(api.createType("(u8,Vec<u16>)", [0, indexes]).toU8a(), -1, false);
}

describe("propnet chain check against a URL nothing answers", () => {
  it("fails within a few seconds with exit code 2 and a clear message (function form)", async () => {
    let err = "";
    const started = Date.now();
    const code = await runChainCheck({ chainUrl: "ws://127.0.0.1:1", netuid: 1 }, { err: (t) => (err += t), out: () => undefined });
    expect(code).toBe(2);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(err).toMatch(/^propnet: cannot reach the chain at ws:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
    expect(err.trim().split("\n")).toHaveLength(1);
  });

  it("the same from the command line, with no stack trace", async () => {
    const started = Date.now();
    const ran = await cli(["chain", "check", "--chain-url", "ws://127.0.0.1:1", "--netuid", "1"], ROOT, { ...process.env, NODE_NO_WARNINGS: "1" });
    const seconds = (Date.now() - started) / 1_000;
    expect(ran.code).toBe(2);
    expect(ran.stdout).toBe("");
    expect(ran.stderr).toMatch(/^propnet: cannot reach the chain at ws:\/\/127\.0\.0\.1:1: /m);
    expect(ran.stderr).not.toMatch(/\bat .*\.(ts|js):\d+/);
    // a process start (tsx) and the attempt: a few seconds at most
    expect(seconds).toBeLessThan(10);
  });
});
