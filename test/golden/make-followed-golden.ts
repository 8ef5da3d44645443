/**
 * Writes the golden log of a node that follows a real subnet (`serve --chain subtensor`):
 * `node --import tsx test/golden/make-followed-golden.ts`. Deterministic (fixed clock, scripted
 * chain facts), so running it again on unchanged code gives the same bytes. With the devnet golden
 * log it covers every event type; regenerate only when an event's meaning changes on purpose.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "../../src/core/machine/commands.ts";
import { stateHash } from "../../src/core/machine/state.ts";
import type { ObserveChainEpoch } from "../../src/core/observed-chain/observed-chain-commands.ts";
import { NodeClock } from "../../src/node/clock.ts";
import { PropnetNode } from "../../src/node/node.ts";
import { GOLDEN_DIR } from "./golden-dir.ts";

const NETUID = 8;
const GENESIS_HASH = "0x2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03";
const ENTITY = "5followedentity".padEnd(48, "e");
const VALIDATOR = "5followedvalidator".padEnd(48, "v");
const OWNER = "5followedowner".padEnd(48, "o");
const MINERS = Array.from({ length: 61 }, (_, i) => `5miner${i}`.padEnd(48, "m"));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "propnet-followed-golden-"));
  let t = 1_767_225_600_000; // 2026-01-01T00:00:00Z
  const node = await PropnetNode.open({
    dataDir: dir,
    strict: true,
    clock: new NodeClock(() => (t += 1_000)),
    follow: { netuid: NETUID, genesisHash: GENESIS_HASH },
  });
  const now = () => node.clock.now();
  const run = async (command: Command): Promise<void> => {
    const outcome = await node.submit({ command });
    if (!outcome.ok) throw new Error(`followed golden: ${command.kind} refused: ${outcome.error.message}`);
  };
  let hotkeys = [OWNER, VALIDATOR, ENTITY, ...MINERS];
  const epoch = (block: number, entityAlpha: bigint): ObserveChainEpoch => ({
    kind: "observe_chain_epoch",
    ts: now(),
    netuid: NETUID,
    block,
    block_hash: `0x${block.toString(16).padStart(64, "0")}`,
    timestamp_ms: t - 6_000,
    owner_hotkey: OWNER,
    hotkeys,
    alpha_paid: hotkeys.map((h, uid) => (h === ENTITY ? entityAlpha : BigInt(uid * 1_000_003)).toString()),
    source: "IncentiveAlphaEmittedToMiners",
    subnet_tao_rao: (22_079_400_556_774n + BigInt(block)).toString(),
    subnet_alpha_in_rao: "2316467425363654",
  });
  await run(epoch(6_852_690, 0n));
  const prices = (p: number) => run({ kind: "post_prices", ts: now(), prices: [{ trade_pair: "BTCUSD", price: p, ts_ms: now() }, { trade_pair: "TAOUSD", price: 412.5, ts_ms: now() }] });
  await prices(100_000);
  await run({ kind: "register_entity", ts: now(), hotkey: ENTITY, max_subaccounts: 4, request: { signer: ENTITY, uuid: "30000000-0000-4000-8000-000000000000" } });
  for (let n = 0; n < 3; n++) await run({ kind: "create_subaccount", ts: now(), entity: ENTITY, uuid: `followed-sub-${n}`, account_size_usd: 10_000 * (n + 1) });
  const order = (n: number, order_type: "LONG" | "FLAT", leverage?: number) =>
    run({
      kind: "place_order",
      ts: now(),
      signer: ENTITY,
      subaccount_id: n,
      trade_pair: "BTCUSD",
      order_type,
      leverage,
      order_uuid: `followed-order-${order_type}-${n}`,
      fingerprint: `${order_type}:${n}`,
      position_uuid: `followed-position-${n}`,
    });
  for (let n = 0; n < 3; n++) await order(n, "LONG", 0.3 + n * 0.1);
  await prices(115_000); // every long passes its challenge: funded, debts start
  await run({ kind: "set_payout_period", ts: now(), period: "1h" });
  t += 600_000;
  await prices(125_000);
  // Gains closed while funded are owed once their payout period ends.
  for (let n = 0; n < 3; n++) await order(n, "FLAT");
  t += 3_600_000;
  await prices(125_000);
  await run(epoch(6_853_050, 3_000_000_000n));
  await run({ kind: "attribute_entity", ts: now(), entity: ENTITY });
  await run({ kind: "record_chain_gap", ts: now(), netuid: NETUID, after_block: 6_853_050, before_block: 6_854_130, reason: "node down, no archive endpoint" });
  // A miner deregistered: its uid goes to a newcomer.
  hotkeys = hotkeys.map((h, uid) => (uid === 7 ? "5newcomer".padEnd(48, "n") : h));
  await run(epoch(6_854_130, 7_000_000_000n));
  await run({ kind: "attribute_entity", ts: now(), entity: ENTITY });
  await run({ kind: "assess_entity", ts: now(), entity: ENTITY });
  await run({ kind: "score_weights", ts: now(), validator: VALIDATOR, block_time_ms: 12_000 });
  const rows = await node.store.read(0, 1_000_000);
  const expected = { last_seq: node.head.seq, head_hash: node.head.hash, state_hash: stateHash(node.state) };
  await node.close({ snapshot: false });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(GOLDEN_DIR, { recursive: true });
  writeFileSync(
    join(GOLDEN_DIR, "followed-events.jsonl"),
    `${rows.map(({ seq, block, ts, type, payload, signer, signature, hash }) => JSON.stringify({ seq, block, ts, type, payload, signer, signature, hash })).join("\n")}\n`,
  );
  writeFileSync(join(GOLDEN_DIR, "followed-expected.json"), `${JSON.stringify(expected, null, 2)}\n`);
  const types = new Map<string, number>();
  for (const r of rows) types.set(r.type, (types.get(r.type) ?? 0) + 1);
  process.stdout.write(`wrote ${rows.length} events (${JSON.stringify(Object.fromEntries(types))}); state hash ${expected.state_hash}\n`);
}

await main();
