import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cryptoReady, KeyError, loadKey, secretProblem } from "./keys.ts";

const VALID = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
const dir = mkdtempSync(join(tmpdir(), "propnet-keys-"));

beforeAll(async () => {
  await cryptoReady();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, secret: string): string {
  const path = join(dir, name);
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

describe("key files: only secrets a wallet would have made", () => {
  it("accepts a BIP39 mnemonic (with a derivation path or password), a 32-byte 0x seed and a //dev account", () => {
    for (const secret of [VALID, `${VALID}//hard/soft`, `${VALID}///password`, `0x${"ab".repeat(32)}`, "//Alice"]) {
      expect(secretProblem(secret), secret).toBeNull();
    }
    expect(loadKey(keyFile("good", VALID)).address).toBe("5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV");
  });

  it("refuses random words, a wrong word count, a word not in the list, a bad checksum and a short seed, without quoting the secret", () => {
    const cases: [string, RegExp][] = [
      // Up to 32 bytes of anything: the keyring alone took these as a raw seed, i.e. some other account.
      ["hello world", /holds 2 word\(s\); a BIP39 mnemonic has 12, 15, 18, 21 or 24/],
      ["correct horse battery staple", /holds 4 word\(s\)/],
      [VALID.split(" ").slice(0, 11).join(" "), /holds 11 word/],
      [VALID.replace("lake", "lakes"), /word 4 is not in the BIP39 English word list/],
      // Real words in an order no wallet writes: refused before too, now saying why.
      [Array(12).fill("abandon").join(" "), /BIP39 checksum does not match/],
      [VALID.split(" ").reverse().join(" "), /BIP39 checksum does not match/],
      ["0x1234", /0x seed that is not 32 bytes/],
    ];
    for (const [secret, pattern] of cases) {
      expect(secretProblem(secret), secret).toMatch(pattern);
      const path = keyFile("bad", secret);
      let thrown: unknown;
      try {
        loadKey(path);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, secret).toBeInstanceOf(KeyError);
      const message = (thrown as Error).message;
      expect(message).toContain(`key file ${path}`);
      expect(message).toMatch(/refusing it rather than signing as some other account/);
      for (const word of secret.split(" ").filter((w) => w.length > 3)) expect(message).not.toContain(` ${word} `);
      rmSync(path);
    }
  });
});
