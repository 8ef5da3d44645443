import type { PropnetNode } from "./node.ts";

/**
 * Shares the alpha an epoch paid to entities' uids among their subaccounts: one command per
 * entity (each O(its subaccounts)), so no writer task grows with the whole subnet. Run after each
 * epoch, whether the devnet produced it or a real chain's was observed.
 */
export async function attributePending(node: PropnetNode): Promise<void> {
  const entities = await node.read((state) => [...state.debt.pendingAttribution.sortedKeys()]).catch(() => []);
  for (const entity of entities) {
    await node.submit({ command: { kind: "attribute_entity", ts: node.clock.now(), entity } }).catch(() => undefined);
  }
}
