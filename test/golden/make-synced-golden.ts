/**
 * Writes the golden log of a follower validator (issue 10): `node --import tsx test/golden/make-synced-golden.ts`.
 * The follower's node takes the mothership's fact batches (applied, duplicated, a conflict, a
 * pending verdict ended by the mothership's elimination, a reinstatement), then the mothership hands
 * it the office (MothershipChanged): it issues facts of its own and finally rotates the office on
 * (MothershipRotated). With the devnet and followed-chain golden logs it covers every event type.
 *
 * Fixed clock and scripted commands; the heads are signed with real sr25519 keys (dev derivations),
 * and sr25519 signatures are randomised, so a second run differs in the signatures and the hashes
 * that cover them: regenerate only when an event's meaning changes on purpose.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { Extrinsic } from "../../src/core/chain/block.ts";
import type { Command } from "../../src/core/machine/commands.ts";
import { execute } from "../../src/core/machine/execute.ts";
import { createState } from "../../src/core/machine/state.ts";
import type { SyncFact } from "../../src/core/sync/sync-fact.ts";
import { chainFact } from "../../src/core/sync/sync-fact.ts";
import { epistulaReady, signMessage, verifySignature } from "../../src/epistula/epistula.ts";
import { NodeClock } from "../../src/node/clock.ts";
import { PropnetNode } from "../../src/node/node.ts";
import { writeGolden } from "./golden-dir.ts";

const COLD = "5syncedcold".padEnd(48, "c");
const ENTITIES = ["5syncedentityone", "5syncedentitytwo"].map((e) => e.padEnd(48, "e"));
const GENESIS = {
  endowments: [{ owner: COLD, amount_rao: 1_000_000n * 1_000_000_000n }],
  chain: { root: COLD, subnets: [{ netuid: 1, ownerHotkey: "5syncedowner".padEnd(48, "o"), ownerColdkey: COLD }] },
};
/** Both entities are neurons on subnet 1 with 1,000 TAO of collateral, on every node's devnet chain. */
const NEURONS: Extrinsic[][] = [
  ENTITIES.map((hotkey) => ({ call: "subtensor.burned_register", signer: COLD, args: { netuid: 1, hotkey } })),
  ENTITIES.map((hotkey) => ({ call: "collateral.deposit", signer: COLD, args: { hotkey, amount_rao: "1000000000000" } })),
];

async function main(): Promise<void> {
  await epistulaReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const [mothershipKey, followerKey, nextKey] = ["//SyncedMothership", "//SyncedFollower", "//SyncedNext"].map((uri) => keyring.addFromUri(uri)) as [KeyringPair, KeyringPair, KeyringPair];
  const M = mothershipKey.address;
  const F = followerKey.address;
  let t = 1_767_225_600_000; // 2026-01-01T00:00:00Z
  const now = () => (t += 1_000);

  // The mothership: the core state machine alone (its own log is not the fixture).
  const m = createState({ strict: true });
  m.identity = { hotkey: M, mothership: M };
  const onMothership = (command: Command): void => {
    const r = execute(m, command);
    if (r.error) throw new Error(`synced golden (mothership): ${command.kind} refused: ${r.error.message}`);
  };
  onMothership({ kind: "genesis", ...GENESIS });
  for (const extrinsics of NEURONS) onMothership({ kind: "block", ts: now(), extrinsics });
  const facts = () => m.sync.stream.sortedEntries().map(([, f]) => f);

  // The follower: the node whose log is written.
  const dir = mkdtempSync(join(tmpdir(), "propnet-synced-golden-"));
  const node = await PropnetNode.open({ dataDir: dir, strict: true, clock: new NodeClock(now) });
  node.state.identity = { hotkey: F, mothership: M };
  const run = async (command: Command): Promise<void> => {
    const outcome = await node.submit({ command });
    if (!outcome.ok) throw new Error(`synced golden: ${command.kind} refused: ${outcome.error.message}`);
  };
  await run({ kind: "genesis", ...GENESIS });
  for (const extrinsics of NEURONS) await run({ kind: "block", ts: node.clock.now(), extrinsics });
  /** A batch as the node's sync transport submits it: the head's signature checked first. */
  const deliver = async (batch: SyncFact[], key: KeyringPair = mothershipKey): Promise<void> => {
    const last = batch[batch.length - 1] as SyncFact;
    const signature = signMessage(key, last.hash);
    if (!verifySignature(key.address, last.hash, signature)) throw new Error("synced golden: a head signature does not verify");
    await run({ kind: "apply_sync_batch", ts: node.clock.now(), facts: batch, head: { stream_seq: last.stream_seq, hash: last.hash, signature }, signer: key.address });
  };
  const both = async (command: (ts: number) => Command): Promise<void> => {
    onMothership(command(now()));
    await run(command(node.clock.now()));
  };
  const prices = (p: number) => both((ts) => ({ kind: "post_prices", ts, prices: [{ trade_pair: "BTCUSD", price: p, ts_ms: ts }] }));
  const order = (entity: string, id: number, type: "LONG" | "FLAT", leverage?: number) =>
    both((ts) => ({ kind: "place_order", ts, signer: entity, subaccount_id: id, trade_pair: "BTCUSD", order_type: type, leverage, order_uuid: `synced-order-${type}-${id}`, fingerprint: `${type}:${id}`, position_uuid: `synced-position-${id}` }));

  await prices(100_000);
  // Registrations and creations, delivered in batches of different sizes; one overlaps the last.
  for (const hotkey of ENTITIES) onMothership({ kind: "register_entity", ts: now(), hotkey, max_subaccounts: 40 });
  for (let n = 0; n < 60; n++) {
    const entity = ENTITIES[n % 2] as string;
    onMothership({ kind: "create_subaccount", ts: now(), entity, account_size_usd: n % 5 === 0 ? 25_000 : 10_000, uuid: `synced-sub-${String(n).padStart(3, "0")}` });
  }
  let delivered = 0;
  for (const size of [1, 3, 7, 2, 12, 5, 1, 9, 4, 8, 10]) {
    const from = Math.max(0, delivered - (size > 4 ? 2 : 0)); // a few facts it holds already, counted as duplicates
    await deliver(facts().slice(from, delivered + size));
    delivered += size;
  }
  // A fork (another mothership restored from a backup, say): id 5 of entity one with another uuid at the same stream_seq.
  const at = facts()[12] as SyncFact;
  const forked = chainFact({ stream_seq: at.stream_seq - 1, hash: at.prev_hash }, at.type, { ...at.payload, uuid: "synced-sub-forked" }, at.ts_ms);
  await deliver([forked]);

  // Trading runs on every node: a breach is judged everywhere, eliminated only by the mothership.
  const [one, two] = ENTITIES as [string, string];
  await order(one, 0, "LONG", 0.5);
  await order(two, 1, "LONG", 0.2);
  await order(one, 2, "LONG", 0.1);
  await prices(88_000); // -6% on subaccount 0: a failed challenge; the others hold
  await order(one, 2, "FLAT");
  for (let k = 0; k < 20; k++) await prices(88_000 + ((k * 37) % 400));
  // The mothership also eliminates one by hand and reinstates another it had eliminated.
  onMothership({ kind: "eliminate_subaccount", ts: now(), synthetic: `${one}_4`, by: one, reason: "MANUAL" });
  onMothership({ kind: "eliminate_subaccount", ts: now(), synthetic: `${two}_3`, by: two, reason: "MANUAL" });
  onMothership({ kind: "reinstate_subaccount", ts: now(), synthetic: `${two}_3`, reason: "appeal granted", by: COLD });
  await deliver(facts().slice(delivered));
  delivered = facts().length;
  for (let k = 0; k < 10; k++) await prices(88_500 + k * 10);

  // Root hands the office to the follower: the rotation ends its batch, signed by the old mothership.
  onMothership({ kind: "change_mothership", ts: now(), to: F, at_stream_seq: delivered, authorization: { signed_by: COLD, reason: "mothership host retired" } });
  await deliver(facts().slice(delivered));
  // The follower is the mothership now: it issues facts of its own, then rotates the office on.
  const third = "5syncedentitythree".padEnd(48, "e");
  await run({ kind: "block", ts: node.clock.now(), extrinsics: [{ call: "subtensor.burned_register", signer: COLD, args: { netuid: 1, hotkey: third } }] });
  await run({ kind: "register_entity", ts: node.clock.now(), hotkey: third, max_subaccounts: 2 });
  for (let n = 0; n < 3; n++) await run({ kind: "create_subaccount", ts: node.clock.now(), entity: one, uuid: `synced-sub-after-${n}` });
  await run({ kind: "eliminate_subaccount", ts: node.clock.now(), synthetic: `${two}_5`, by: two, reason: "MANUAL" });
  const head = node.state.sync.stream.size;
  await run({ kind: "change_mothership", ts: node.clock.now(), to: nextKey.address, at_stream_seq: head, authorization: { signed_by: COLD, reason: "key rotation" } });
  await writeGolden(node, dir, "synced-" as "followed-"); // golden-dir.ts names the prefixes it knows; this one is new
}

await main();
