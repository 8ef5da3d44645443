import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { u8aToHex } from "@polkadot/util";
import type { Command } from "commander";
import { cryptoReady, KeyError, loadKey, newMnemonicKeyFile } from "../keys/keys.ts";

/** `propnet keys new|inspect`: secrets go to files, never to the terminal unless asked for. */
export function registerKeysCommands(program: Command): void {
  const keys = program.command("keys").description("create and inspect sr25519 signing keys");

  keys
    .command("new")
    .description("write a new key (a 12-word mnemonic) to a file with mode 0600; prints only its address")
    .option("--out <file>", "where to write the key; never overwritten", "./propnet-key")
    .action(async (options: { out: string }) => {
      process.exitCode = await run(async () => {
        await cryptoReady();
        const pair = newMnemonicKeyFile(options.out);
        process.stdout.write(`address ${pair.address}\nkey file ${resolve(options.out)} (mode 0600; keep it secret, back it up)\n`);
      });
    });

  keys
    .command("inspect")
    .description("print a key's SS58 address and public key")
    .argument("<key>", "a key file (mode 0600) or //Uri (devnet)")
    .option("--show-secret", "also print the secret URI", false)
    .action(async (spec: string, options: { showSecret: boolean }) => {
      process.exitCode = await run(async () => {
        await cryptoReady();
        const pair = loadKey(spec);
        process.stdout.write(`address ${pair.address}\npublic key ${u8aToHex(pair.publicKey)}\ntype sr25519\n`);
        if (options.showSecret) {
          // loadKey has checked the file's mode; a //Uri is its own secret.
          const secret = spec.startsWith("//") ? spec : readFileSync(spec, "utf8").trim();
          process.stdout.write(`secret ${secret}\n`);
        }
      });
    });
}

async function run(body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (error) {
    if (!(error instanceof KeyError)) throw error;
    process.stderr.write(`propnet: ${error.message}\n`);
    return 1;
  }
}
