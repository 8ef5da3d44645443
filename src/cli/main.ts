import { Command, Option } from "commander";
import { CODE_VERSION } from "../version.ts";
import { registerClientCommands } from "./client-commands.ts";
import { registerKeysCommands } from "./keys-command.ts";
import { parseBlockTime, parseChoice, parsePayoutPeriod, parsePeers, parsePort } from "./serve-options.ts";

// serve, simulate and verify load the node, the store and the server: imported when run, so the
// client commands start quickly.

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^[1-9]\d*$/.test(value)) throw new Error("must be a positive integer");
  return n;
}

const program = new Command()
  .name("propnet")
  .description("Validator for a Bittensor prop-trading subnet with entity miners")
  .version(CODE_VERSION)
  .showHelpAfterError("(run with --help for usage)");

program
  .command("serve")
  .description("run a validator node: devnet chain, event log, HTTP API and dashboard")
  .addOption(new Option("--host <host>", "address to listen on").env("PROPNET_HOST").default("127.0.0.1"))
  .addOption(new Option("--port <port>", "port to listen on").env("PROPNET_PORT").default(8091).argParser(parsePort))
  .option("--data <dir>", "directory holding the event log, snapshots and node key", "./data")
  .option("--no-demo", "no demo entities and no generated prices")
  .option("--strict", "treat any invariant violation as fatal (tests)", false)
  .option("--block-time <ms>", "block interval in ms; 0 = a block only when an extrinsic arrives", parseBlockTime, 12_000)
  .option("--store <kind>", "event store: sqlite or postgres", parseChoice(["sqlite", "postgres"] as const), "sqlite")
  .option("--pg-url <url>", "PostgreSQL connection URL (with --store postgres)")
  .option("--root <ss58>", "root hotkey (default //Alice on the devnet)")
  .option("--oracle <ss58>", "price oracle hotkey (default: root)")
  .option("--mothership <ss58>", "hotkey of the mothership validator")
  .option("--key <file-or-uri>", "this node's signing key: a key file (mode 0600) or //Uri on the devnet")
  .option("--peers <urls>", "comma-separated peer validator URLs", parsePeers, [])
  .option("--rate-limit <on|off>", "rate limits", parseChoice(["on", "off"] as const), "on")
  .option("--snapshot-every <events>", "write a snapshot after this many events", positiveInt, 100_000)
  .option("--genesis <file>", "devnet genesis JSON (endowments, root, tempo, subnets with their owner and validators); used for an empty log only")
  .option("--payout-period <period>", "payout period: month (calendar month UTC), 1d, 1h, 10m or 1m (one minute)", parsePayoutPeriod, "month")
  .action(async (options) => {
    const { runServe } = await import("./serve.ts");
    process.exit(await runServe(options));
  });

program
  .command("simulate")
  .description("run the devnet chain as fast as it can, persisting nothing per block")
  .option("--blocks <n>", "blocks to produce", positiveInt, 10_000)
  .option("--subnets <k>", "subnets", positiveInt, 1)
  .option("--neurons <m>", "neurons per subnet (at most 256)", positiveInt, 64)
  .option("--seed <s>", "seed for staking, weights and registrations", positiveInt, 1)
  .option("--tempo <t>", "blocks per epoch", positiveInt, 360)
  .option("--out <dir>", "write a CSV per subnet into this directory")
  .action(async (options) => {
    const { runSimulate } = await import("./simulate.ts");
    process.exitCode = runSimulate(options);
  });

program
  .command("verify")
  .description("check a stopped node's event log: hashes, invariants and snapshots")
  .option("--data <dir>", "the node's data directory", "./data")
  .option("--full", "replay from genesis rather than from the last verified anchor", false)
  .action(async (options) => {
    const { runVerify } = await import("./verify.ts");
    process.exitCode = await runVerify(options);
  });

registerKeysCommands(program);
registerClientCommands(program);

await program.parseAsync(process.argv);
