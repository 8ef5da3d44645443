import { describe, expect, it } from "vitest";
import { firstRevealBlockFixedTempo, firstRevealBlockScheduled, QUICKNET, RevealBlockNotFound, revealRound } from "./timelock-reveal-round.ts";

const GENESIS_MS = QUICKNET.genesisSeconds * 1000;

describe("the fixed-tempo reveal block (runtimes up to v3.3.x)", () => {
  it("is the first block of the epoch `reveal period` epochs after the current one", () => {
    // netuid 1, tempo 360: epoch(b) = floor((b + 2) / 361). Block 1000 is in epoch 2 (1002/361 = 2.78);
    // epoch 3 starts at 3 * 361 - 2 = 1081 (1083/361 = 3, while 1082/361 < 3).
    expect(firstRevealBlockFixedTempo({ netuid: 1, tempo: 360, currentBlock: 1000 }, 1)).toBe(1081);
    // two epochs later: 4 * 361 - 2 = 1442
    expect(firstRevealBlockFixedTempo({ netuid: 1, tempo: 360, currentBlock: 1000 }, 2)).toBe(1442);
    // the first block of an epoch counts as in it: block 1081 is in epoch 3, reveal in epoch 4
    expect(firstRevealBlockFixedTempo({ netuid: 1, tempo: 360, currentBlock: 1081 }, 1)).toBe(1442);
    // netuid 8, tempo 99: epoch(b) = floor((b + 9) / 100); block 91 -> epoch 1; epoch 2 starts at 200 - 9 = 191
    expect(firstRevealBlockFixedTempo({ netuid: 8, tempo: 99, currentBlock: 91 }, 1)).toBe(191);
    // block 90 -> 99/100 = epoch 0: epoch 1 starts at 100 - 9 = 91
    expect(firstRevealBlockFixedTempo({ netuid: 8, tempo: 99, currentBlock: 90 }, 1)).toBe(91);
  });
});

describe("the stateful reveal block (dynamic tempo, runtimes from v3.4.8)", () => {
  const state = { lastEpochBlock: 10, pendingEpochAt: 0, subnetEpochIndex: 0, tempo: 50, blocksSinceLastStep: 0, currentBlock: 10 };

  it("reveals when `tempo` blocks have passed since the last epoch (bittensor-drand's own vectors)", () => {
    // commit lands in block 11, epoch 0; epoch 1 fires at 10 + 50 = 60
    expect(firstRevealBlockScheduled(state, 1)).toBe(60);
    // a pending epoch at 95 fires before 80 + 20 = 100
    expect(firstRevealBlockScheduled({ lastEpochBlock: 80, pendingEpochAt: 95, subnetEpochIndex: 0, tempo: 20, blocksSinceLastStep: 0, currentBlock: 91 }, 1)).toBe(95);
  });

  it("counts epochs from the one the commit lands in", () => {
    // period 2: epoch 1 at 60, then 60 + 50 = 110
    expect(firstRevealBlockScheduled(state, 2)).toBe(110);
    // head 59: the commit lands in 60, after that block's epoch ran, so it is in epoch 1 and reveals at 110
    expect(firstRevealBlockScheduled({ ...state, currentBlock: 59 }, 1)).toBe(110);
    // head 58: lands in 59, still epoch 0: reveals at 60
    expect(firstRevealBlockScheduled({ ...state, currentBlock: 58 }, 1)).toBe(60);
  });

  it("fires at once when the last step is more than MAX_TEMPO blocks old", () => {
    // blocks since last step 50,401 > 50,400: block 11 fires an epoch; the commit is in epoch 1,
    // and epoch 2 comes 50 blocks after 11
    expect(firstRevealBlockScheduled({ ...state, blocksSinceLastStep: 50_401 }, 1)).toBe(61);
  });

  it("refuses a subnet that runs no epochs", () => {
    expect(() => firstRevealBlockScheduled({ ...state, tempo: 0 }, 1)).toThrow(RevealBlockNotFound);
  });
});

describe("the quicknet round of the reveal", () => {
  it("is the round current 3 blocks after the first reveal block, rounded down", () => {
    // 1081 + 3 - 1000 = 84 blocks of 12 s = 1008 s; now = genesis + 3000 s: (4008) / 3 = 1336
    expect(revealRound(1081, 1000, 12, GENESIS_MS + 3_000_000)).toBe(1336);
    // 1 s later: 4009 / 3 = 1336.33 -> 1336; 2 s later: 4010 / 3 -> 1336; 3 s later -> 1337
    expect(revealRound(1081, 1000, 12, GENESIS_MS + 3_001_000)).toBe(1336);
    expect(revealRound(1081, 1000, 12, GENESIS_MS + 3_002_999)).toBe(1336);
    expect(revealRound(1081, 1000, 12, GENESIS_MS + 3_003_000)).toBe(1337);
    // 0.25 s blocks (a fast localnet): 84 * 0.25 = 21 s -> (3000 + 21) / 3 = 1007
    expect(revealRound(1081, 1000, 0.25, GENESIS_MS + 3_000_000)).toBe(1007);
  });

  it("never aims before the chain head, and never below round 1", () => {
    // a reveal block already passed counts as 0 blocks away
    expect(revealRound(900, 1000, 12, GENESIS_MS + 30_000)).toBe(10);
    expect(revealRound(1081, 1000, 12, GENESIS_MS - 10_000_000)).toBe(1);
  });

  it("on a mainnet-sized example: netuid 8, tempo 360, 12 s blocks, 2026-01-01T00:00:00Z", () => {
    // epoch(6_852_690) = floor(6_852_699 / 361) = 18_982 (18_982 * 361 = 6_852_502); reveal epoch 18_983
    // starts at 18_983 * 361 - 9 = 6_852_854; +3 - 6_852_690 = 167 blocks = 2004 s.
    const first = firstRevealBlockFixedTempo({ netuid: 8, tempo: 360, currentBlock: 6_852_690 }, 1);
    expect(first).toBe(6_852_854);
    const now = Date.UTC(2026, 0, 1); // 1_767_225_600 s
    // (1_767_225_600 + 2004 - 1_692_803_367) / 3 = 74_424_237 / 3 = 24_808_079
    expect(revealRound(first, 6_852_690, 12, now)).toBe(24_808_079);
  });
});
