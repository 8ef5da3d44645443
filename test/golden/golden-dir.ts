import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stateHash } from "../../src/core/machine/state.ts";
import type { PropnetNode } from "../../src/node/node.ts";

export const GOLDEN_DIR = join(import.meta.dirname, "../../fixtures/golden");

/**
 * Writes a node's whole log as a golden fixture (`${prefix}events.jsonl` and the
 * `${prefix}expected.json` it must replay to), closes the node and removes its data directory.
 */
export async function writeGolden(node: PropnetNode, dataDir: string, prefix: "" | "followed-" | "synced-"): Promise<void> {
  const rows = await node.store.read(0, 1_000_000);
  const expected = { last_seq: node.head.seq, head_hash: node.head.hash, state_hash: stateHash(node.state) };
  await node.close({ snapshot: false });
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(GOLDEN_DIR, { recursive: true });
  writeFileSync(
    join(GOLDEN_DIR, `${prefix}events.jsonl`),
    `${rows.map(({ seq, block, ts, type, payload, signer, signature, hash }) => JSON.stringify({ seq, block, ts, type, payload, signer, signature, hash })).join("\n")}\n`,
  );
  writeFileSync(join(GOLDEN_DIR, `${prefix}expected.json`), `${JSON.stringify(expected, null, 2)}\n`);
  const types = new Map<string, number>();
  for (const r of rows) types.set(r.type, (types.get(r.type) ?? 0) + 1);
  process.stdout.write(`wrote ${rows.length} events (${JSON.stringify(Object.fromEntries(types))}); state hash ${expected.state_hash}\n`);
}
