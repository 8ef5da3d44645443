import { Command, Option } from "commander";
import { CODE_VERSION } from "../version.ts";
import { registerChainCheck } from "./chain-check.ts";
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

function positiveOrZeroInt(value: string): number {
  if (!/^(0|[1-9]\d*)$/.test(value) || Number(value) > 65_535) throw new Error("must be an integer in [0, 65535]");
  return Number(value);
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
  .option("--pg-schema <name>", "PostgreSQL schema holding the log (with --store postgres; default propnet): every process of one validator names the same")
  .option("--root <ss58>", "root hotkey (default //Alice on the devnet)")
  .option("--oracle <ss58>", "price oracle hotkey (default: root)")
  .option("--mothership <ss58>", "hotkey of the mothership validator")
  .option("--key <file-or-uri>", "this node's signing key: a key file (mode 0600) or //Uri on the devnet")
  .option("--peers <urls>", "comma-separated peer validator URLs", parsePeers, [])
  .option("--rate-limit <on|off>", "rate limits", parseChoice(["on", "off"] as const), "on")
  .option("--snapshot-every <events>", "write a snapshot after this many events", positiveInt, 100_000)
  .option("--genesis <file>", "devnet genesis JSON (endowments, root, tempo, subnets with their owner and validators); used for an empty log only")
  .option("--payout-period <period>", "payout period: month (calendar month UTC; the default, 1m with the demo), 1d, 1h, 10m or 1m (one minute)", parsePayoutPeriod)
  .option("--min-free-mb <mb>", "free space kept on the data directory's disk; below it writes answer 503 STORAGE_FULL", (v: string) => (v === "0" ? 0 : positiveInt(v)), 64)
  .option("--chain <kind>", "devnet (a chain of its own, the default) or subtensor (follow a real subnet)", parseChoice(["devnet", "subtensor"] as const), "devnet")
  .option("--chain-url <url>", "Subtensor node websocket URL (with --chain subtensor), e.g. wss://entrypoint-finney.opentensor.ai:443")
  .option("--archive-url <url>", "an archive node to fill epochs missed while down (with --chain subtensor); without it they are recorded as gaps")
  .option("--netuid <n>", "the subnet to follow (with --chain subtensor)", positiveOrZeroInt)
  .option("--weights-version-key <n>", "version_key sent with weights (with --chain subtensor; default: the subnet's WeightsVersionKey)", positiveOrZeroInt)
  // Literal lists (as in src/api/logging.ts): importing it here would load pino-pretty for every client command.
  .addOption(new Option("--log-level <level>", "JSON log level on stdout: fatal, error, warn, info, debug, trace or silent").env("PROPNET_LOG_LEVEL").default("info").argParser(parseChoice(["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const)))
  .addOption(new Option("--log-format <format>", "json (one object a line, the default) or pretty (for a terminal)").env("PROPNET_LOG_FORMAT").default("json").argParser(parseChoice(["json", "pretty"] as const)))
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
  .description("check a node's event log (read-only, also beside a running node): hashes, invariants, snapshots, acknowledged head")
  .option("--data <dir>", "the node's data directory", "./data")
  .option("--full", "replay from genesis rather than from the last verified anchor", false)
  .option("--truncate-to <seq>", "keep events 1..seq (the sound prefix verify names), set the rest aside, then verify; asks first", (v: string) => (v === "0" ? 0 : positiveInt(v)))
  .option("--yes", "with --truncate-to: do not ask (scripts)", false)
  .action(async (options) => {
    const { runVerify } = await import("./verify.ts");
    process.exitCode = await runVerify(options);
  });

program
  .command("backup")
  .description("copy a node's event log (and its newest snapshot) into one file, consistently, while the node runs")
  .option("--data <dir>", "the node's data directory", "./data")
  .requiredOption("--out <file>", "the backup file to write (must not exist)")
  .action(async (options) => {
    const { runBackup } = await import("./backup.ts");
    process.exitCode = await runBackup(options);
  });

program
  .command("restore")
  .description("restore a backup into a new, empty data directory, after checking every hash and replaying it")
  .requiredOption("--from <file>", "the backup file")
  .option("--data <dir>", "the data directory to create (must not exist or be empty)", "./data")
  .action(async (options) => {
    const { runRestore } = await import("./backup.ts");
    process.exitCode = await runRestore(options);
  });

registerKeysCommands(program);
registerClientCommands(program);
registerChainCheck(program);

await program.parseAsync(process.argv);
