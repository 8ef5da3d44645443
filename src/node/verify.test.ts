import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { applyEntityRegistered, applySubaccountCreated } from "../core/entities/entity-commands.ts";
import { HANDLERS, type Handlers } from "../core/machine/commands.ts";
import { LogIntegrityError } from "../store/stored-event.ts";
import { PropnetNode } from "./node.ts";
import { verifyLog } from "./verify.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A build whose entity rules have a bug: it registers without checking the chain and numbers a
 * subaccount past the next id, and records exactly what it did. The log's hashes are sound; what
 * it means breaks `ids_below_next_id`, which only a check of the replayed state can see.
 */
const skipsIds = withIdsFrom(3);
/** The same build with the numbering fixed. */
const countsIds = withIdsFrom(0);

function withIdsFrom(skip: number): Handlers {
  return {
    ...HANDLERS,
    register_entity(state, c) {
      const payload = { hotkey: c.hotkey, max_subaccounts: 500, ts: c.ts };
      applyEntityRegistered(state, payload);
      return { type: "EntityRegistered", version: 1, payload };
    },
    create_subaccount(state, c) {
      const e = state.entities.entities.get(c.entity);
      const payload = { entity: c.entity, id: (e?.nextId ?? 0) + skip, uuid: c.uuid, account_size_usd: 10_000, reserved_rao: "0", ts: c.ts };
      applySubaccountCreated(state, payload);
      return { type: "SubaccountCreated", version: 1, payload };
    },
  };
}

async function logWith(handlers: Handlers, snapshotInBetween: boolean): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "propnet-verify-"));
  dirs.push(dir);
  const node = await PropnetNode.open({ dataDir: dir, genesis: [{ owner: "alice", amount_rao: 1_000n }], handlers });
  expect((await node.submit({ command: { kind: "register_entity", ts: 1, hotkey: "entity" } })).ok).toBe(true);
  if (snapshotInBetween) await node.snapshot();
  expect((await node.submit({ command: { kind: "create_subaccount", ts: 2, entity: "entity", uuid: "u-1" } })).ok).toBe(true);
  if (snapshotInBetween) await node.snapshot();
  expect((await node.submit({ command: { kind: "transfer", asset: 0 as never, from: "alice", to: "bob", amount_rao: 1n } })).ok).toBe(true);
  await node.close({ snapshot: false });
  return dir;
}

describe("verify checks every invariant of the replayed state", () => {
  it("a sound log of a state that breaks an entity invariant is refused, naming the invariant and the seq", async () => {
    const dir = await logWith(skipsIds, false);
    const error = await verifyLog(dir, { full: true }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LogIntegrityError);
    expect((error as Error).message).toMatch(/invariant ids_below_next_id in entity:entity fails after seq 4/);
  });

  it("and at the first snapshot after the event that broke it", async () => {
    const dir = await logWith(skipsIds, true);
    await expect(verifyLog(dir, { full: true })).rejects.toThrow(/ids_below_next_id in entity:entity fails after seq 3/);
  });

  it("the same log written by sound rules passes", async () => {
    const dir = await logWith(countsIds, true);
    const report = await verifyLog(dir, { full: true });
    expect(report.lastSeq).toBe(4);
    expect(report.snapshotsCompared).toBe(2);
  });
});
