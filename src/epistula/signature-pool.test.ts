import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignaturePool } from "./signature-pool.ts";

let pool: SignaturePool;
const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });

beforeAll(async () => {
  await cryptoWaitReady();
  pool = await SignaturePool.start(2);
});
afterAll(async () => {
  await pool?.close();
});

describe("signature threads", () => {
  it("verify many signatures in batches, each answered for itself: raw, <Bytes>-wrapped, wrong key, changed message", async () => {
    const alice = keyring.addFromUri("//Alice");
    const bob = keyring.addFromUri("//Bob");
    const cases = Array.from({ length: 200 }, (_, i) => {
      const message = Buffer.from(`message ${i} ${"x".repeat(i)}`);
      const kind = i % 4;
      const signer = kind === 2 ? bob : alice;
      const signed = kind === 1 ? Buffer.concat([Buffer.from("<Bytes>"), message, Buffer.from("</Bytes>")]) : message;
      const signature = signer.sign(signed);
      const checked = kind === 3 ? Buffer.from(`${message.toString()}!`) : message;
      return { signature, message: checked, expected: kind === 0 || kind === 1 };
    });
    const results = await Promise.all(cases.map((c) => pool.verify(c.signature, c.message, alice.publicKey)));
    expect(results).toEqual(cases.map((c) => c.expected));
  });

  it("a malformed public key is a failed signature, not a crash", async () => {
    const alice = keyring.addFromUri("//Alice");
    expect(await pool.verify(alice.sign("m"), Buffer.from("m"), new Uint8Array(32).fill(255))).toBe(false);
    expect(await pool.verify(alice.sign("m"), Buffer.from("m"), alice.publicKey)).toBe(true);
  });
});
