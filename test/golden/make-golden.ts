/**
 * Writes the golden log fixture: `node --import tsx test/golden/make-golden.ts`.
 * Deterministic (seeded, fixed clock), so running it again on unchanged code gives the same bytes.
 * Regenerate only when an event's meaning changes on purpose, and say so in the commit.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Extrinsic } from "../../src/core/chain/block.ts";
import { TAO } from "../../src/core/ledger/asset.ts";
import { type Command, HANDLERS } from "../../src/core/machine/commands.ts";
import { stateHash } from "../../src/core/machine/state.ts";
import { NodeClock } from "../../src/node/clock.ts";
import { PropnetNode } from "../../src/node/node.ts";
import { forgetsLastLeg, prng } from "../support/faulty-handlers.ts";

import { GOLDEN_DIR } from "./golden-dir.ts";
const OWNERS = ["alice", "bob", "charlie", "dave", "eve", "ferdie"].map((n) => `5${n.padEnd(47, "x")}`);

const HOTKEYS = Array.from({ length: 8 }, (_, i) => `5hotkey${i}`.padEnd(48, "h"));

function chainCall(random: () => number, pick: () => string): Extrinsic {
  const netuid = 1 + Math.floor(random() * 2);
  const hotkey = HOTKEYS[Math.floor(random() * HOTKEYS.length)] as string;
  const coldkey = OWNERS[HOTKEYS.indexOf(hotkey) % OWNERS.length] as string;
  switch (Math.floor(random() * 7)) {
    case 0:
      return { call: "subtensor.burned_register", signer: coldkey, args: { netuid, hotkey } };
    case 1:
      return { call: "subtensor.add_stake", signer: pick(), args: { netuid, hotkey, amount_rao: String(1 + Math.floor(random() * 100)) + "000000000" } };
    case 2:
      return { call: "subtensor.set_weights", signer: hotkey, args: { netuid, uids: [0, 1], weights: [Math.floor(random() * 65_535), 1_000] } };
    case 3:
      return { call: "balances.transfer", signer: pick(), args: { dest: pick(), amount_rao: String(1 + Math.floor(random() * 1e9)) } };
    case 4:
      return { call: "collateral.deposit", signer: coldkey, args: { hotkey, amount_rao: "5000000000" } };
    case 5:
      return { call: "collateral.withdraw", signer: coldkey, args: { hotkey, amount_rao: "1000000000" } };
    default:
      return { call: "subtensor.remove_stake", signer: pick(), args: { netuid, hotkey, amount_alpha: "1000000" } };
  }
}

/**
 * Entities, subaccounts, orders and prices after the chain part (so the chain prefix stays byte
 * for byte): creations, an order through a challenge pass, drawdown and time eliminations with
 * slashes, a manual elimination, a reinstatement, a held price applied and one discarded, and
 * requests carrying Epistula uuids and Idempotency-Keys.
 */
async function entityMiners(node: PropnetNode, now: () => number, random: () => number): Promise<void> {
  const root = OWNERS[0] as string;
  const entities = ["5entityone", "5entitytwo"].map((e) => e.padEnd(48, "e"));
  const miner = "5regularminer".padEnd(48, "m");
  const run = async (command: Command): Promise<void> => {
    const outcome = await node.submit({ command });
    if (!outcome.ok) throw new Error(`golden: ${command.kind} refused: ${outcome.error.message}`);
  };
  const block = (extrinsics: Extrinsic[]) => run({ kind: "block", ts: now(), extrinsics });
  await block([...entities, miner].map((hotkey) => ({ call: "subtensor.burned_register", signer: root, args: { netuid: 1, hotkey } })));
  await block(entities.map((hotkey) => ({ call: "collateral.deposit", signer: root, args: { hotkey, amount_rao: "100000000000" } })));
  let price = 100_000;
  const prices = async (p: number): Promise<number> => {
    const ts = now();
    await run({ kind: "post_prices", ts, prices: [{ trade_pair: "BTCUSD", price: p, ts_ms: ts }] });
    return ts;
  };
  await prices(price);
  for (const [i, hotkey] of entities.entries()) {
    await run({ kind: "register_entity", ts: now(), hotkey, max_subaccounts: 5, request: { signer: hotkey, uuid: `00000000-0000-4000-8000-00000000000${i}` } });
  }
  for (let n = 0; n < 8; n++) {
    const entity = entities[n % 2] as string;
    await run({
      kind: "create_subaccount",
      ts: now(),
      entity,
      account_size_usd: n === 3 ? 50_000 : undefined,
      uuid: `golden-sub-${n}`,
      request: { signer: entity, uuid: `10000000-0000-4000-8000-00000000000${n}`, idempotency: { key: `create-${n}`, fingerprint: `fp-${n}` } },
    });
  }
  let orders = 0;
  const order = (signer: string, id: number, type: "LONG" | "SHORT" | "FLAT", leverage?: number) =>
    run({
      kind: "place_order",
      ts: now(),
      signer,
      subaccount_id: id < 0 ? undefined : id,
      trade_pair: "BTCUSD",
      order_type: type,
      leverage,
      order_uuid: `golden-order-${orders++}`,
      fingerprint: `${type}:${leverage}`,
      position_uuid: `golden-position-${orders}`,
    });
  const [one, two] = entities as [string, string];
  await order(one, 0, "LONG", 0.5);
  await order(one, 1, "SHORT", 0.3);
  await order(two, 0, "LONG", 0.2);
  await order(miner, -1, "LONG", 0.1);
  for (let k = 0; k < 12; k++) {
    price = Math.round(price * (1 + (random() - 0.45) * 0.04));
    await prices(price);
  }
  const discarded = await prices(price * 1.3); // held
  await run({ kind: "resolve_held_price", ts: now(), trade_pair: "BTCUSD", ts_ms: discarded, action: "discard" });
  await prices(price * 1.07); // passes the long
  await order(one, 0, "SHORT", 0.2);
  for (const p of [0.9, 0.82, 0.74]) await prices(Math.round(price * p)); // drawdown eliminations
  const applied = await prices(Math.round(price * 0.74 * 1.25)); // held
  await run({ kind: "resolve_held_price", ts: now(), trade_pair: "BTCUSD", ts_ms: applied, action: "apply" });
  await run({ kind: "eliminate_subaccount", ts: now(), synthetic: `${two}_1`, reason: "golden", by: two });
  await run({ kind: "reinstate_subaccount", ts: now(), synthetic: `${two}_1`, reason: "golden reinstatement", by: root });
  const later = now() + 91 * 86_400_000;
  await run({ kind: "post_prices", ts: later, prices: [{ trade_pair: "BTCUSD", price: Math.round(price * 0.925), ts_ms: later }] }); // 90-day failures
  // A challenge that runs out with no price: the node's block-time sweep fails it.
  await run({ kind: "create_subaccount", ts: now(), entity: one, uuid: "golden-sub-late" });
  const swept = now() + 91 * 86_400_000;
  await run({ kind: "sweep_challenges", ts: swept });
  // A bug moves entity one's running reserve behind the ledger's back: the next block freezes it;
  // after the repair root unfreezes it.
  const e = node.state.entities.entities.get(one);
  if (!e) throw new Error("golden: no entity");
  node.state.entities.entities.set(one, { ...e, reservedRao: e.reservedRao + 1n });
  await block([]);
  node.state.entities.entities.set(one, { ...(node.state.entities.entities.get(one) ?? e), reservedRao: e.reservedRao });
  await run({ kind: "unfreeze_entity", ts: now(), hotkey: one, reason: "golden repair", by: root });
  // The economic loop: a payout period, the subnet owner and a staked validator on subnet 1, the
  // validator's scores and weights, and epochs whose alpha to the entities' uids is attributed.
  await run({ kind: "set_payout_period", ts: now(), period: "1h" });
  const validator = "5goldenvalidator".padEnd(48, "v");
  await block([
    { call: "subtensor.burned_register", signer: root, args: { netuid: 1, hotkey: "5owner1" } },
    { call: "subtensor.burned_register", signer: root, args: { netuid: 1, hotkey: validator } },
    { call: "subtensor.add_stake", signer: root, args: { netuid: 1, hotkey: validator, amount_rao: "500000000000000" } },
  ]);
  /** Empty blocks as the producer logs them: ranges, and each epoch block on its own. */
  const advance = async (blocks: number) => {
    for (let left = blocks; left > 0; ) {
      const ts = Array.from({ length: Math.min(left, 8) }, () => now());
      if ((await node.submit({ command: { kind: "block_range", ts } })).ok) left -= ts.length;
      else {
        await block([]);
        left--;
      }
    }
  };
  const setWeights = async () => {
    // As the node's weight setter does: each entity's debt assessed, then the scores.
    for (const entity of entities) await run({ kind: "assess_entity", ts: now(), entity });
    await run({ kind: "score_weights", ts: now(), validator, block_time_ms: 12_000 });
    const scored = node.state.debt.scored.get("last");
    if (!scored) throw new Error("golden: nothing scored");
    await block([{ call: "subtensor.set_weights", signer: validator, args: { netuid: 1, uids: scored.uids, weights: scored.weights } }]);
  };
  // The random validators' weights age out (activityCutoff); the golden validator's then decide.
  await setWeights();
  await advance(340);
  await setWeights();
  await advance(60);
  // As the node does right after an epoch: each entity's alpha shared among its subaccounts.
  for (const entity of node.state.debt.pendingAttribution.sortedKeys()) await run({ kind: "attribute_entity", ts: now(), entity });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "propnet-golden-"));
  let t = 1_767_225_600_000; // 2026-01-01T00:00:00Z
  const handlers = { ...HANDLERS };
  const node = await PropnetNode.open({
    dataDir: dir,
    strict: false,
    clock: new NodeClock(() => (t += 1_000)),
    handlers,
    genesis: OWNERS.map((owner) => ({ owner, amount_rao: 1_000_000n * 1_000_000_000n })),
    chainGenesis: {
      root: OWNERS[0] as string,
      tempo: 19,
      subnets: [1, 2].map((netuid) => ({ netuid, ownerHotkey: `5owner${netuid}`, ownerColdkey: OWNERS[0] as string })),
    },
  });
  const random = prng(20_260_101);
  const pick = () => OWNERS[Math.floor(random() * OWNERS.length)] as string;
  const amount = () => BigInt(1 + Math.floor(random() * 1e9)) * BigInt(1 + Math.floor(random() * 1000));
  const root = OWNERS[0] as string;
  const rootCall = (call: string, args: Record<string, unknown>) =>
    node.submit({ command: { kind: "block", ts: t, extrinsics: [{ call, signer: root, args }] } });
  for (let i = 0; i < 3_200; i++) {
    // Root changes a parameter; later a simulated bug corrupts subnet 2's AlphaOut behind every
    // check's back: the next block pauses it, a forced unpause is paused again, and after the
    // repair a plain unpause resumes it. The fixture so holds every kind of block effect.
    if (i === 800) await rootCall("root.set_parameter", { name: "registrationBurnRao", value: "2000000000" });
    // A signed transfer with an Idempotency-Key: its block records the request.
    if (i === 900) {
      const request = { uuid: "20000000-0000-4000-8000-000000000000", idempotency: { key: "golden-transfer", fingerprint: "fp-transfer" }, ts: t };
      await node.submit({ command: { kind: "block", ts: t, extrinsics: [{ call: "balances.transfer", signer: root, args: { dest: OWNERS[1] as string, amount_rao: "1000" }, request }] } });
    }
    const subnet2 = node.state.chain.subnets.get(2);
    if (i === 1_600 && subnet2) node.state.chain.subnets.set(2, { ...subnet2, alphaOut: subnet2.alphaOut + 1n });
    if (i === 1_700) await rootCall("root.unpause_subnet_emission", { netuid: 2, force: true });
    if (i === 1_800 && subnet2) node.state.chain.subnets.set(2, { ...subnet2, alphaOut: subnet2.alphaOut - 1n });
    if (i === 1_801) await rootCall("root.unpause_subnet_emission", { netuid: 2 });
    const r = random();
    // A few commands run through a deliberately leaky handler, so the fixture holds recycled
    // remainders and CriticalInvariantViolation events as production would record them.
    handlers.batch_transfer = r > 0.995 ? forgetsLastLeg.batch_transfer : HANDLERS.batch_transfer;
    if (r < 0.08) {
      // A run of empty blocks, logged as one range (refused, and so absent, if it holds an epoch).
      const count = 1 + Math.floor(random() * 6);
      await node.submit({ command: { kind: "block_range", ts: Array.from({ length: count }, (_, k) => t + k) } });
    } else if (r < 0.3) {
      // A block with a few extrinsics: registrations, stake, weights, transfers, collateral.
      const extrinsics = Array.from({ length: Math.floor(random() * 4) }, () => chainCall(random, pick));
      await node.submit({ command: { kind: "block", ts: t, extrinsics } });
    } else if (r < 0.75) {
      await node.submit({ command: { kind: "transfer", asset: TAO, from: pick(), to: pick(), amount_rao: amount() } });
    } else {
      const legs = Array.from({ length: 2 + Math.floor(random() * 5) }, () => ({ owner: pick(), amount_rao: amount() }));
      await node.submit({ command: { kind: "batch_transfer", asset: TAO, from: pick(), to: legs } });
    }
  }
  await entityMiners(node, () => t, random);
  const rows = await node.store.read(0, 1_000_000);
  const expected = { last_seq: node.head.seq, head_hash: node.head.hash, state_hash: stateHash(node.state) };
  await node.close({ snapshot: false });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(GOLDEN_DIR, { recursive: true });
  writeFileSync(
    join(GOLDEN_DIR, "events.jsonl"),
    `${rows.map(({ seq, block, ts, type, payload, signer, signature, hash }) => JSON.stringify({ seq, block, ts, type, payload, signer, signature, hash })).join("\n")}\n`,
  );
  writeFileSync(join(GOLDEN_DIR, "expected.json"), `${JSON.stringify(expected, null, 2)}\n`);
  const types = new Map<string, number>();
  for (const r of rows) types.set(r.type, (types.get(r.type) ?? 0) + 1);
  process.stdout.write(
    `wrote ${rows.length} events (${JSON.stringify(Object.fromEntries(types))}); state hash ${expected.state_hash}\n`,
  );
}

await main();
