import { describe, expect, it } from "vitest";
import { weightsForEmit, WeightsNotEmittable } from "./weights-for-emit.ts";

// Expected values worked by hand from the SDK's rule: round(w / max(w) * 65535), half to even, zeros dropped.
describe("weightsForEmit (the SDK's convert_weights_and_uids_for_emit)", () => {
  it("max-upscales to 65535 and rounds", () => {
    // max 0.7: 0.1/0.7 * 65535 = 9362.14 -> 9362; 0.2/0.7 * 65535 = 18724.29 -> 18724; 0.7 -> 65535
    expect(weightsForEmit([0, 1, 2], [0.1, 0.2, 0.7])).toEqual({ uids: [0, 1, 2], values: [9362, 18724, 65535] });
    // only the ratios matter: [1, 2, 7] is the same vector
    expect(weightsForEmit([0, 1, 2], [1, 2, 7])).toEqual({ uids: [0, 1, 2], values: [9362, 18724, 65535] });
    // 1/4 * 65535 = 16383.75 -> 16384; 3/4 * 65535 = 49151.25 -> 49151
    expect(weightsForEmit([7, 8, 9], [1, 3, 4])).toEqual({ uids: [7, 8, 9], values: [16384, 49151, 65535] });
  });

  it("rounds ties to even, as Python's round does, and drops what rounds to 0 with its uid", () => {
    // max 131070 = 2 * 65535: 1 -> 0.5 -> 0 (dropped), 5 -> 2.5 -> 2, 3 -> 1.5 -> 2, 7 -> 3.5 -> 4
    expect(weightsForEmit([4, 5, 6, 7, 8], [1, 5, 3, 7, 131_070])).toEqual({ uids: [5, 6, 7, 8], values: [2, 2, 4, 65535] });
  });

  it("drops zero weights and keeps the uid order given", () => {
    // 1e-8 * 65535 = 0.00066 -> 0
    expect(weightsForEmit([9, 3, 5], [0, 1, 1e-8])).toEqual({ uids: [3], values: [65535] });
    expect(weightsForEmit([9, 3, 5], [2, 1, 2])).toEqual({ uids: [9, 3, 5], values: [65535, 32768, 65535] });
  });

  it("sets nothing when the weights sum to 0", () => {
    expect(weightsForEmit([1, 2], [0, 0])).toEqual({ uids: [], values: [] });
    expect(weightsForEmit([], [])).toEqual({ uids: [], values: [] });
  });

  it("refuses what cannot exist on chain", () => {
    expect(() => weightsForEmit([1, 2], [1])).toThrow(WeightsNotEmittable);
    expect(() => weightsForEmit([1], [-0.5])).toThrow(/negative/);
    expect(() => weightsForEmit([1], [Number.NaN])).toThrow(WeightsNotEmittable);
    expect(() => weightsForEmit([-1], [1])).toThrow(/u16/);
    expect(() => weightsForEmit([65_536], [1])).toThrow(/u16/);
  });

  it("leaves a vector the devnet scoring already normalised (largest 65535) unchanged, for every u16 value", () => {
    const values = Array.from({ length: 65_536 }, (_, v) => v);
    const out = weightsForEmit(values, values);
    expect(out.values).toEqual(values.slice(1));
    expect(out.uids).toEqual(values.slice(1));
  });
});
