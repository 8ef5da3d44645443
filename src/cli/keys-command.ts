import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
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
        // Advice goes to stderr: stdout stays the address and the file, for scripts.
        process.stderr.write(`${keepOutOfGit(resolve(options.out))}\n`);
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

/** The git work tree holding `path` (the nearest directory up with a .git), or null. */
function gitWorkTree(path: string): string | null {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (existsSync(join(dir, ".git"))) return dir;
    if (dirname(dir) === dir) return null;
  }
}

/**
 * A key file written inside a git work tree is one `git add .` away from being published: add it
 * to the work tree's .gitignore (unless git already ignores it). Says what it did, or reminds.
 */
export function keepOutOfGit(path: string): string {
  const top = gitWorkTree(path);
  if (top === null) return `note: ${path} is not inside a git work tree; never commit or share it (add it to .gitignore if you move it into one)`;
  const gitignore = join(top, ".gitignore");
  const entry = `/${relative(top, path).split(sep).join("/")}`;
  try {
    // Exit 0: some pattern already ignores it. Any failure (git missing, not ignored) falls through.
    execFileSync("git", ["check-ignore", "-q", path], { cwd: top, stdio: "ignore" });
    return `note: ${path} is already ignored by git (${gitignore} or another ignore file)`;
  } catch {
    // not ignored yet, or no git binary: add the entry
  }
  const existing = existsSync(gitignore) ? readFileSync(gitignore, "utf8") : "";
  if (existing.split(/\r?\n/).includes(entry)) return `note: ${entry} is already in ${gitignore}`;
  const separator = existing === "" || existing.endsWith("\n") ? "" : "\n";
  appendFileSync(gitignore, `${separator}# a propnet signing key: never commit it\n${entry}\n`);
  return `added ${entry} to ${gitignore} so git never commits the key`;
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
