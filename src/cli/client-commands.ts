import type { KeyringPair } from "@polkadot/keyring/types";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  type ApiError,
  type ChainEvent,
  ClientError,
  type ClientResponse,
  type Entity,
  type OrderType,
  type Position,
  PropnetClient,
  type Subaccount,
  type TradePairInfo,
} from "../client/propnet-client.ts";
import { cryptoReady, isSs58, KeyError, loadKey } from "../keys/keys.ts";

/**
 * The user-facing commands over the HTTP API: `entity register`, `subaccount create|list|eliminate`,
 * `order`, `pairs`, `status`, and the devnet extrinsics a new entity needs first: `chain register`,
 * `collateral deposit`, `transfer`. Exit codes: 0 done, 1 refused (by the server, or locally
 * before sending), 2 the node could not be reached. Under `--json` stdout holds exactly one JSON
 * document either way: the answer's body, or `{ "error": { code, message, details } }` (the
 * server's envelope, or one made here: VALIDATION_FAILED, KEY_INVALID, NODE_UNREACHABLE), so a
 * script parses stdout and reads the exit code. (Bad flags that commander rejects stay text.)
 */

export const DEFAULT_URL = "http://127.0.0.1:8091";
const SUBACCOUNT_ID = /^(0|[1-9][0-9]{0,8})$/;

interface CommonOptions {
  url: string;
  key?: string;
  json: boolean;
}

/** A refusal, by the server or here before sending: the text to print, the error body for --json, the exit code. */
class CommandFailed extends Error {
  override readonly name = "CommandFailed";
  constructor(
    message: string,
    readonly exitCode: number,
    readonly error: ApiError,
  ) {
    super(message);
  }
}

/** A refusal here, before anything is sent. */
function refuse(message: string): CommandFailed {
  return new CommandFailed(`propnet: ${message}`, 1, { code: "VALIDATION_FAILED", message });
}

// ---- argument parsers (commander prints their message and exits 1) --------------------------------

function parseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("must be a URL such as http://127.0.0.1:8091");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidArgumentError("must be an http:// or https:// URL");
  return value;
}

function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^-?[0-9]+$/.test(value)) throw new InvalidArgumentError("must be an integer");
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max}`);
    return n;
  };
}

function parseLeverage(value: string): number {
  // Decimal notation only: Number() would also take "", "0x10" and "Infinity".
  if (!/^([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?$/i.test(value)) throw new InvalidArgumentError("must be a positive number");
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive finite number");
  return n;
}

const RAO_PER_TAO = 1_000_000_000n;
/** The most TAO there can ever be (21,000,000), in rao. */
const MAX_RAO = 21_000_000n * RAO_PER_TAO;

/**
 * A decimal amount of TAO ("5000", "0.5", ".25") as a string of integer rao, exactly (no floats):
 * at most 9 decimal places (1 rao = 0.000000001 TAO), more than 0, at most the 21,000,000 TAO supply.
 */
export function parseTao(value: string): string {
  const m = /^([0-9]*)(?:\.([0-9]*))?$/.exec(value);
  if (!m || !/[0-9]/.test(value)) throw new InvalidArgumentError("must be an amount of TAO such as 5000 or 0.5");
  const whole = m[1] ?? "";
  const frac = (m[2] ?? "").replace(/0+$/, "");
  if (frac.length > 9) throw new InvalidArgumentError("must be a whole number of rao (at most 9 decimal places)");
  const rao = BigInt(whole || "0") * RAO_PER_TAO + BigInt(frac.padEnd(9, "0"));
  if (rao === 0n) throw new InvalidArgumentError("must be more than 0");
  if (rao > MAX_RAO) throw new InvalidArgumentError("must be at most 21000000 (the TAO supply)");
  return rao.toString();
}

function parseSs58(value: string): string {
  if (!isSs58(value)) throw new InvalidArgumentError("must be an SS58 address (prefix 42)");
  return value;
}

function parseSubaccountId(value: string): number {
  if (!SUBACCOUNT_ID.test(value)) throw new InvalidArgumentError("must be a subaccount id (0, 1, 2, ...)");
  return Number(value);
}

// ---- shared plumbing ---------------------------------------------------------------------------------

function withCommon(command: Command, key: "required" | "optional"): Command {
  const keyOption = new Option("--key <file-or-uri>", "signing key: a key file (mode 0600) or //Uri (devnet)").env("PROPNET_KEY");
  if (key === "required") keyOption.makeOptionMandatory();
  return command
    .addOption(keyOption)
    .addOption(new Option("--url <url>", "the node's URL").env("PROPNET_URL").default(DEFAULT_URL).argParser(parseUrl))
    .option("--json", "print the raw response body", false);
}

interface Context {
  client: PropnetClient;
  pair: KeyringPair | undefined;
  json: boolean;
  /** The flags as given, to spell out a command that fixes a refusal. */
  flags: { key?: string; url: string };
}

/** Runs a command body with a client; maps every failure to its message (or JSON body) and exit code. */
async function run(options: CommonOptions, body: (ctx: Context) => Promise<void>): Promise<number> {
  const fail = (exitCode: number, text: string, error: ApiError): number => {
    if (options.json) process.stdout.write(`${JSON.stringify({ error }, null, 2)}\n`);
    else if (text) process.stderr.write(`${text}\n`);
    return exitCode;
  };
  try {
    let pair: KeyringPair | undefined;
    if (options.key !== undefined) {
      await cryptoReady();
      pair = loadKey(options.key);
    }
    const client = new PropnetClient({ baseUrl: options.url, signer: pair });
    await body({ client, pair, json: options.json, flags: { key: options.key, url: options.url } });
    return 0;
  } catch (error) {
    if (error instanceof CommandFailed) return fail(error.exitCode, error.message, error.error);
    if (error instanceof KeyError) return fail(1, `propnet: ${error.message}`, { code: "KEY_INVALID", message: error.message });
    if (error instanceof ClientError) {
      return fail(2, `propnet: ${error.message}; is the node running? (--url or PROPNET_URL)`, { code: "NODE_UNREACHABLE", message: error.message });
    }
    throw error;
  }
}

/**
 * The body of a success; on an error answer fails with exit 1, printing `error CODE: message`
 * and, where one exists, the next step (the command that fixes it).
 */
function unwrap<T>(ctx: Context, response: ClientResponse<T>): T {
  if (response.ok) return response.body;
  const { code, message, details } = response.error;
  const lines = [`error ${code}: ${message}`, ...nextSteps(ctx, response.error)];
  if (details && Object.keys(details).length > 0) lines.push(`  details: ${JSON.stringify(details)}`);
  throw new CommandFailed(lines.join("\n"), 1, response.error);
}

/** `--key K --url U` as the user gave them (the URL only when not the default), for a command to copy. */
function flagsText(ctx: Context): string {
  const key = ctx.flags.key === undefined ? " --key <key file>" : ` --key ${shellWord(ctx.flags.key)}`;
  return `${key}${ctx.flags.url === DEFAULT_URL ? "" : ` --url ${shellWord(ctx.flags.url)}`}`;
}

function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

/** What the user can do about a refusal, in commands they can run. */
function nextSteps(ctx: Context, error: ApiError): string[] {
  const d = error.details ?? {};
  switch (error.code) {
    case "INSUFFICIENT_COLLATERAL": {
      if (typeof d.free_rao !== "string" || typeof d.required_rao !== "string") return [];
      const missing = BigInt(d.required_rao) - BigInt(d.free_rao);
      if (missing <= 0n) return [];
      return [
        `  ${formatRao(d.free_rao)} free, ${formatRao(d.required_rao)} needed: deposit at least ${formatRao(missing.toString())} more:`,
        `    propnet collateral deposit ${formatRao(missing.toString()).replace(/ TAO$/, "")}${flagsText(ctx)}`,
      ];
    }
    case "UNKNOWN_TRADE_PAIR":
    case "PAIR_NOT_TRADABLE": {
      const pairs = Array.isArray(d.trade_pairs) ? ` ${d.trade_pairs.join(", ")};` : "";
      return [`  trade pairs:${pairs} \`propnet pairs\` lists them with their leverage and fees`];
    }
    case "LEVERAGE_OUT_OF_RANGE":
      return ["  `propnet pairs` lists each pair's leverage range"];
    case "NOT_A_NEURON":
      return [`  register the hotkey as a neuron first (devnet): propnet chain register${flagsText(ctx)}`];
    case "ENTITY_NOT_FOUND":
      return [`  register the entity first: propnet entity register${flagsText(ctx)}`];
    default:
      return [];
  }
}

function printJson(body: unknown): void {
  process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
}

function needKey(ctx: Context, what: string): KeyringPair {
  if (!ctx.pair) throw refuse(`${what} needs --key (a key file or //Uri)`);
  return ctx.pair;
}

/** `<entity>_<id>` from an id (of the signer's entity) or a synthetic hotkey given whole. */
function syntheticOf(value: string, pair: KeyringPair | undefined): string {
  if (SUBACCOUNT_ID.test(value)) {
    if (!pair) throw refuse(`a bare subaccount id needs --key (the entity's key)`);
    return `${pair.address}_${value}`;
  }
  if (!isSynthetic(value)) throw refuse(`${value} is neither a subaccount id nor a synthetic hotkey (<entity SS58>_<id>)`);
  return value;
}

function isSynthetic(value: string): boolean {
  const at = value.lastIndexOf("_");
  return at > 0 && isSs58(value.slice(0, at)) && SUBACCOUNT_ID.test(value.slice(at + 1));
}

// ---- formatting --------------------------------------------------------------------------------------

/** "4000000000" rao -> "4 TAO"; exact, whatever the size. */
export function formatRao(rao: string): string {
  const n = BigInt(rao);
  const sign = n < 0n ? "-" : "";
  const abs = n < 0n ? -n : n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return `${sign}${abs / 1_000_000_000n}${frac ? `.${frac}` : ""} TAO`;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
/** -2.234 -> "-$2.23"; a sign, then the dollar sign; never "-$0.00". */
export function usd(x: number): string {
  const cents = Math.round(x * 100);
  return `${cents < 0 ? "-" : ""}$${(Math.abs(cents) / 100).toFixed(2)}`;
}
const when = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

function entityLines(e: Entity): string {
  const lines = [
    `entity ${e.entity_hotkey}${e.frozen ? " (FROZEN: its hotkey lost its uid)" : ""}, registered ${when(e.registered_at_ms)}`,
    `  subaccounts: ${e.active_subaccounts} active, ${e.eliminated_subaccounts} eliminated, at most ${e.max_subaccounts} active, next id ${e.next_subaccount_id}`,
  ];
  const c = e.collateral;
  if (c) {
    lines.push(
      `  collateral: ${formatRao(c.deposited_rao)} deposited, ${formatRao(c.free_rao)} free, ${formatRao(c.reserved_rao)} reserved, ${formatRao(c.slashed_rao)} slashed`,
    );
  }
  return lines.join("\n");
}

/** One position: side and size as a trader says them, PnL, fees charged, return. */
export function positionLine(p: Position): string {
  const side = p.is_closed
    ? "closed"
    : p.net_leverage === 0
      ? "flat"
      : `${p.net_leverage < 0 ? "short" : "long"} at leverage ${Math.abs(p.net_leverage)}, average entry ${p.average_entry_price}`;
  const fees = p.spread_fee_usd + p.carry_fee_usd;
  return (
    `${p.trade_pair}: ${side}, realized ${usd(p.realized_pnl_usd)}, unrealized ${usd(p.unrealized_pnl_usd)}, ` +
    `fees ${usd(fees)} (spread ${usd(p.spread_fee_usd)}, carry ${usd(p.carry_fee_usd)}), return ${pct(p.return)}`
  );
}

/** An order as the user typed it: SHORT with leverage 2, not leverage -2 (the API's signed delta). */
export function orderText(o: { order_type: string; trade_pair: string; leverage: number }): string {
  return `${o.order_type} ${o.trade_pair}${o.order_type === "FLAT" ? "" : ` leverage ${Math.abs(o.leverage)}`}`;
}

function pairLine(p: TradePairInfo): string {
  if (!p.tradable) return `${p.id.padEnd(8)} ${p.category.padEnd(9)} not tradable: priced only (values emissions in USD)`;
  const fee = `${+(p.fee * 100).toPrecision(6)}%`;
  const carry = `${+(p.carry_per_year * 100).toPrecision(6)}%`;
  return `${p.id.padEnd(8)} ${p.category.padEnd(9)} leverage ${p.min_leverage} to ${p.max_leverage}, fee ${fee} per unit of leverage traded, carry ${carry} a year`;
}

function subaccountLine(s: Subaccount): string {
  const c = s.challenge;
  return `${s.synthetic_hotkey}  ${s.status}  ${c.state}  return ${pct(c.return)}  max drawdown ${pct(c.max_drawdown)}  account ${usd(s.account_size_usd)}`;
}

// ---- commands ----------------------------------------------------------------------------------------

export function registerClientCommands(program: Command): void {
  const entity = program.command("entity").description("entity miners");
  withCommon(entity.command("register"), "required")
    .description("register the key's hotkey as an entity (it must be a neuron on subnet 1)")
    .option("--max-subaccounts <n>", "the entity's own limit of active subaccounts (1..500)", integerIn(1, 500))
    .action(async (options: CommonOptions & { maxSubaccounts?: number }) => {
      process.exitCode = await run(options, async (ctx) => {
        const body = unwrap(ctx, await ctx.client.registerEntity(options.maxSubaccounts));
        if (ctx.json) return printJson(body);
        process.stdout.write(`registered\n${entityLines(body.entity)}\n`);
      });
    });

  const subaccount = program.command("subaccount").description("an entity's subaccounts");
  withCommon(subaccount.command("create"), "required")
    .description("create a subaccount of the key's entity; reserves collateral")
    .option("--account-size <usd>", "account size in USD (1000..100000; default 10000)", integerIn(1, Number.MAX_SAFE_INTEGER))
    .action(async (options: CommonOptions & { accountSize?: number }) => {
      process.exitCode = await run(options, async (ctx) => {
        const pair = needKey(ctx, "subaccount create");
        const body = unwrap(ctx, await ctx.client.createSubaccount(pair.address, options.accountSize));
        if (ctx.json) return printJson(body);
        const s = body.subaccount;
        process.stdout.write(
          `created ${s.synthetic_hotkey} (id ${s.subaccount_id}): account ${usd(s.account_size_usd)}, ` +
            `reserved ${formatRao(s.collateral_reserved_rao)}, challenge ends ${when(s.challenge.ends_at_ms)}\n`,
        );
      });
    });

  withCommon(subaccount.command("list"), "required")
    .description("list an entity's subaccounts (every page)")
    .addOption(new Option("--status <status>", "only these").choices(["active", "eliminated"]))
    .option("--entity <ss58>", "another entity's (root only); default: the key's")
    .action(async (options: CommonOptions & { status?: string; entity?: string }) => {
      process.exitCode = await run(options, async (ctx) => {
        const pair = needKey(ctx, "subaccount list");
        const hotkey = options.entity ?? pair.address;
        if (!isSs58(hotkey)) throw refuse(`--entity ${hotkey} is not an SS58 address`);
        const all: Subaccount[] = [];
        let cursor: string | undefined;
        do {
          const page = unwrap(ctx, await ctx.client.listSubaccounts(hotkey, { status: options.status, cursor }));
          all.push(...page.subaccounts);
          // A cursor that does not move would loop forever; stop rather than trust it.
          cursor = page.next_cursor !== null && page.next_cursor !== cursor ? page.next_cursor : undefined;
        } while (cursor !== undefined);
        if (ctx.json) return printJson({ subaccounts: all, next_cursor: null });
        for (const s of all) process.stdout.write(`${subaccountLine(s)}\n`);
        process.stdout.write(`${all.length} subaccount(s)\n`);
      });
    });

  withCommon(subaccount.command("eliminate"), "required")
    .description("eliminate a subaccount: closes its positions and releases its reserve")
    .argument("<subaccount>", "an id of the key's entity, or a synthetic hotkey <entity>_<id>")
    .option("--reason <text>", "why (recorded)")
    .action(async (target: string, options: CommonOptions & { reason?: string }) => {
      process.exitCode = await run(options, async (ctx) => {
        const body = unwrap(ctx, await ctx.client.eliminate(syntheticOf(target, ctx.pair), options.reason));
        if (ctx.json) return printJson(body);
        process.stdout.write(`${body.subaccount.synthetic_hotkey} ${body.subaccount.status} at ${when(body.subaccount.eliminated_at_ms)}\n`);
      });
    });

  withCommon(program.command("order"), "required")
    .description("place an order: an entity for one of its subaccounts (--subaccount), a regular miner for itself")
    .argument("<trade_pair>", "e.g. BTCUSD")
    .argument("<order_type>", "LONG, SHORT or FLAT")
    .option("--leverage <x>", "leverage (LONG and SHORT)", parseLeverage)
    .option("--subaccount <id>", "the entity's subaccount id", parseSubaccountId)
    .action(async (pair: string, type: string, options: CommonOptions & { leverage?: number; subaccount?: number }) => {
      process.exitCode = await run(options, async (ctx) => {
        const orderType = type.toUpperCase();
        if (orderType !== "LONG" && orderType !== "SHORT" && orderType !== "FLAT") {
          throw refuse(`order type must be LONG, SHORT or FLAT, not ${type}`);
        }
        if (orderType !== "FLAT" && options.leverage === undefined) throw refuse(`${orderType} needs --leverage`);
        const body = unwrap(
          ctx,
          await ctx.client.placeOrder({
            subaccount_id: options.subaccount,
            trade_pair: pair.toUpperCase(),
            order_type: orderType as OrderType,
            leverage: options.leverage,
          }),
        );
        if (ctx.json) return printJson(body);
        const { order: o, position: p } = body;
        process.stdout.write(
          `order ${o.order_uuid}${body.duplicate ? " (duplicate: the original order)" : ""}: ${orderText(o)} ` +
            `at ${o.price} for ${o.synthetic_hotkey}\nposition ${positionLine(p)}\n`,
        );
      });
    });

  withCommon(program.command("pairs"), "optional")
    .description("list the trade pairs: leverage range and fees (GET /v1/trade-pairs)")
    .action(async (options: CommonOptions) => {
      process.exitCode = await run(options, async (ctx) => {
        const body = unwrap(ctx, await ctx.client.tradePairs());
        if (ctx.json) return printJson(body);
        for (const p of body.trade_pairs) process.stdout.write(`${pairLine(p)}\n`);
      });
    });

  withCommon(program.command("status"), "optional")
    .description("no argument: the node's health and chain head; a synthetic hotkey: its status (details with --key); an entity hotkey: the entity (with --key)")
    .argument("[hotkey]", "a synthetic hotkey <entity>_<id> or an entity hotkey")
    .action(async (target: string | undefined, options: CommonOptions) => {
      process.exitCode = await run(options, async (ctx) => {
        if (target === undefined) return nodeStatus(ctx);
        if (isSynthetic(target)) return subaccountStatus(ctx, target);
        if (!isSs58(target)) throw refuse(`${target} is neither an SS58 hotkey nor a synthetic hotkey (<entity SS58>_<id>)`);
        needKey(ctx, "reading an entity (the entity's or root's key)");
        const body = unwrap(ctx, await ctx.client.getEntity(target));
        if (ctx.json) return printJson(body);
        process.stdout.write(`${entityLines(body.entity)}\n`);
        for (const s of body.entity.subaccounts) process.stdout.write(`  ${subaccountLine(s)}\n`);
      });
    });

  registerChainCommands(program);
}

/** A devnet extrinsic signed by the key (the coldkey); prints `<what happened> in block N` or --json. */
async function extrinsic(ctx: Context, call: string, args: Record<string, unknown>, describe: (events: ChainEvent[]) => string): Promise<void> {
  const body = unwrap(ctx, await ctx.client.chainExtrinsic(call, args));
  if (ctx.json) return printJson(body);
  process.stdout.write(`${describe(body.events)} in block ${body.included_in_block}\n`);
}

/** The data of the first event of `type`, if the answer carries one. */
function eventData(events: ChainEvent[], type: string): Record<string, unknown> | undefined {
  const data = events.find((e) => e.type === type)?.data;
  return data !== null && typeof data === "object" ? (data as Record<string, unknown>) : undefined;
}

function registerChainCommands(program: Command): void {
  const chain = program.command("chain").description("the devnet chain");
  withCommon(chain.command("register"), "required")
    .description("register a hotkey as a neuron (subtensor.burned_register), signed by --key as its coldkey")
    .option("--hotkey <ss58>", "the hotkey to register (default: the key's own address)", parseSs58)
    .option("--netuid <n>", "the subnet", integerIn(0, 65_535), 1)
    .action(async (options: CommonOptions & { hotkey?: string; netuid: number }) => {
      process.exitCode = await run(options, async (ctx) => {
        const pair = needKey(ctx, "chain register");
        const hotkey = options.hotkey ?? pair.address;
        await extrinsic(ctx, "subtensor.burned_register", { netuid: options.netuid, hotkey }, (events) => {
          const r = eventData(events, "NeuronRegistered");
          const uid = r?.uid === undefined ? "" : ` as uid ${String(r.uid)}`;
          const burn = typeof r?.burn === "string" && r.burn !== "0" ? `, burned ${formatRao(r.burn)}` : "";
          const replaced = typeof r?.replaced === "string" ? `, replacing ${r.replaced}` : "";
          return `registered ${hotkey} on subnet ${options.netuid}${uid} (coldkey ${pair.address}${burn}${replaced})`;
        });
      });
    });

  const collateral = program.command("collateral").description("an entity's collateral");
  withCommon(collateral.command("deposit"), "required")
    .description("deposit collateral for a hotkey from the key's balance (collateral.deposit)")
    .argument("<tao>", "amount in TAO, e.g. 5000 or 0.5", parseTao)
    .option("--hotkey <ss58>", "the hotkey the collateral backs (default: the key's own address)", parseSs58)
    .action(async (rao: string, options: CommonOptions & { hotkey?: string }) => {
      process.exitCode = await run(options, async (ctx) => {
        const pair = needKey(ctx, "collateral deposit");
        const hotkey = options.hotkey ?? pair.address;
        await extrinsic(ctx, "collateral.deposit", { hotkey, amount_rao: rao }, () => `deposited ${formatRao(rao)} of collateral for ${hotkey}`);
      });
    });

  withCommon(program.command("transfer"), "required")
    .description("transfer TAO from the key's balance to another account (balances.transfer)")
    .argument("<dest>", "the receiving SS58 address", parseSs58)
    .argument("<tao>", "amount in TAO, e.g. 100 or 0.5", parseTao)
    .action(async (dest: string, rao: string, options: CommonOptions) => {
      process.exitCode = await run(options, async (ctx) => {
        const pair = needKey(ctx, "transfer");
        await extrinsic(ctx, "balances.transfer", { dest, amount_rao: rao }, () => `transferred ${formatRao(rao)} from ${pair.address} to ${dest}`);
      });
    });
}

async function nodeStatus(ctx: Context): Promise<void> {
  const [health, head] = await Promise.all([ctx.client.health(), ctx.client.chainHead()]);
  const h = unwrap(ctx, health);
  const c = unwrap(ctx, head);
  if (ctx.json) return printJson({ health: h, chain_head: c });
  process.stdout.write(
    `node ${ctx.client.baseUrl}: ${h.status}, version ${h.version}, seq ${h.seq}, stream seq ${h.stream_seq}\n` +
      `chain: block ${c.block}${c.block > 0 ? ` at ${when(c.timestamp_ms)}` : " (genesis)"}, issuance ${formatRao(c.total_issuance_rao)}, block emission ${formatRao(c.block_emission_rao)}\n`,
  );
  if (h.sync) {
    const s = h.sync;
    process.stdout.write(`sync: ${s.role}${s.role === "follower" ? ` of ${s.mothership}` : ""}, ${s.conflicts} conflicts, ${s.pending_eliminations} pending eliminations\n`);
    for (const p of s.peers) {
      const where = p.stream_seq === null ? "stream seq unknown" : `stream seq ${p.stream_seq} (${p.lag === 0 ? "in step" : p.lag !== null && p.lag > 0 ? `${p.lag} behind` : `${-(p.lag ?? 0)} ahead`})`;
      process.stdout.write(`  peer ${p.url}: ${p.reachable ? where : `unreachable${p.last_error ? ` (${p.last_error})` : ""}`}\n`);
    }
  }
  for (const p of h.problems) process.stdout.write(`problem: ${typeof p === "string" ? p : JSON.stringify(p)}\n`);
}

async function subaccountStatus(ctx: Context, synthetic: string): Promise<void> {
  if (!ctx.pair) {
    // Without a key only the public status can be read.
    const body = unwrap(ctx, await ctx.client.subaccountStatus(synthetic));
    if (ctx.json) return printJson(body);
    process.stdout.write(`${body.synthetic_hotkey} ${body.status}\n`);
    return;
  }
  const body = unwrap(ctx, await ctx.client.getSubaccount(synthetic));
  if (ctx.json) return printJson(body);
  process.stdout.write(`${subaccountLine(body.subaccount)}\n`);
  for (const p of body.positions.filter((p) => !p.is_closed)) {
    process.stdout.write(`  ${positionLine(p)}\n`);
  }
  const e = body.elimination;
  if (e) process.stdout.write(`  eliminated ${when(e.at_ms)}: ${e.reason}; max drawdown ${pct(e.max_drawdown)}, slashed ${formatRao(e.slashed_rao)}\n`);
}
