/**
 * Writes the golden log fixture: `node --import tsx test/golden/make-golden.ts`.
 * Deterministic (seeded, fixed clock), so running it again on unchanged code gives the same bytes.
 * Regenerate only when an event's meaning changes on purpose, and say so in the commit.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TAO } from "../../src/core/ledger/asset.ts";
import { HANDLERS } from "../../src/core/machine/commands.ts";
import { stateHash } from "../../src/core/machine/state.ts";
import { NodeClock } from "../../src/node/clock.ts";
import { PropnetNode } from "../../src/node/node.ts";
import { forgetsLastLeg, prng } from "../support/faulty-handlers.ts";

export const GOLDEN_DIR = join(import.meta.dirname, "../../fixtures/golden");
const OWNERS = ["alice", "bob", "charlie", "dave", "eve", "ferdie"].map((n) => `5${n.padEnd(47, "x")}`);

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
  });
  const random = prng(20_260_101);
  const pick = () => OWNERS[Math.floor(random() * OWNERS.length)] as string;
  const amount = () => BigInt(1 + Math.floor(random() * 1e9)) * BigInt(1 + Math.floor(random() * 1000));
  for (let i = 0; i < 3_000; i++) {
    const r = random();
    // A few commands run through a deliberately leaky handler, so the fixture holds recycled
    // remainders and CriticalInvariantViolation events as production would record them.
    handlers.batch_transfer = r > 0.995 ? forgetsLastLeg.batch_transfer : HANDLERS.batch_transfer;
    if (r < 0.75) {
      await node.submit({ command: { kind: "transfer", asset: TAO, from: pick(), to: pick(), amount_rao: amount() } });
    } else {
      const legs = Array.from({ length: 2 + Math.floor(random() * 5) }, () => ({ owner: pick(), amount_rao: amount() }));
      await node.submit({ command: { kind: "batch_transfer", asset: TAO, from: pick(), to: legs } });
    }
  }
  const rows = node.store.read(0, 1_000_000);
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
