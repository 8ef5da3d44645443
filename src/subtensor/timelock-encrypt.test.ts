import { hexToU8a, u8aToHex } from "@polkadot/util";
import { sha256AsU8a } from "@polkadot/util-crypto";
import { describe, expect, it } from "vitest";
import { parseTimelockCiphertext, TimelockCiphertextMalformed } from "./timelock-ciphertext.ts";
import { quicknetIdentity, TimelockFailed, timelockDecrypt, timelockEncrypt } from "./timelock-encrypt.ts";
import { decodeWeightsTlockPayload, encodeWeightsTlockPayload } from "./timelock-payload.ts";

// drand quicknet's published signature of round 1000 (api.drand.sh/52db9ba7…/public/1000), the one
// Subtensor's own tests decrypt with (pallets/subtensor/src/tests/weights.rs).
const ROUND_1000_SIGNATURE = hexToU8a("0xb44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39");

const hotkey = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const payload = { hotkey, uids: [0, 3, 7], values: [65_535, 1, 32_768], versionKey: 9_012_001n };

describe("WeightsTlockPayload", () => {
  it("is SCALE { hotkey: Vec<u8>, uids: Vec<u16>, values: Vec<u16>, version_key: u64 }", () => {
    const bytes = encodeWeightsTlockPayload(payload);
    // worked by hand: compact(32) = 0x80, the 32 bytes; compact(3) = 0x0c then 3 u16 LE, twice; u64 LE
    const expected =
      "0x80" +
      u8aToHex(hotkey).slice(2) +
      "0c" + "0000" + "0300" + "0700" +
      "0c" + "ffff" + "0100" + "0080" +
      "21838900" + "00000000"; // 9_012_001 = 0x00898321
    expect(u8aToHex(bytes)).toBe(expected);
    expect(decodeWeightsTlockPayload(bytes)).toEqual(payload);
  });
});

describe("timelock encryption to drand quicknet", () => {
  it("derives the round's identity as sha256 of the round as a big-endian u64", () => {
    expect(quicknetIdentity(1000)).toEqual(sha256AsU8a(hexToU8a("0x00000000000003e8")));
  });

  it("encrypts a payload to round 1000 that quicknet's round-1000 signature opens, in the chain's layout", async () => {
    const plaintext = encodeWeightsTlockPayload(payload);
    const ciphertext = await timelockEncrypt(plaintext, 1000);

    const parts = parseTimelockCiphertext(ciphertext);
    expect(parts.u.length).toBe(96);
    expect(parts.v.length).toBe(32);
    expect(parts.w.length).toBe(32);
    expect(parts.cipherSuite).toBe("AES_GCM_");
    expect(parts.aes.nonce.length).toBe(12);
    expect(parts.aes.ciphertext.length).toBe(plaintext.length + 16); // AES-GCM tag
    // 96 + (8 + 32) * 2 + 8 + body + 8 + 8
    expect(ciphertext.length).toBe(96 + 80 + 8 + parts.body.length + 16);
    expect(u8aToHex(parts.aes.ciphertext)).not.toContain(u8aToHex(plaintext).slice(2));

    const opened = timelockDecrypt(ciphertext, ROUND_1000_SIGNATURE);
    expect(u8aToHex(opened)).toBe(u8aToHex(plaintext));
    expect(decodeWeightsTlockPayload(opened)).toEqual(payload);
  });

  it("does not open with another round's signature, and every commit is fresh", async () => {
    const plaintext = encodeWeightsTlockPayload(payload);
    const [a, b] = await Promise.all([timelockEncrypt(plaintext, 1001), timelockEncrypt(plaintext, 1001)]);
    expect(u8aToHex(a)).not.toBe(u8aToHex(b));
    expect(() => timelockDecrypt(a, ROUND_1000_SIGNATURE)).toThrow(TimelockFailed);
  });

  it("rejects bytes that are not a ciphertext", () => {
    expect(() => parseTimelockCiphertext(new Uint8Array(95))).toThrow(TimelockCiphertextMalformed);
    const huge = new Uint8Array(96 + 8);
    huge[96] = 0xff; // v claims 255 bytes
    expect(() => parseTimelockCiphertext(huge)).toThrow(/v: length 255 exceeds/);
  });
});
