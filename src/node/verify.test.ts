import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { applyEntityRegistered, applySubaccountCreated } from "../core/entities/entity-commands.ts";
import { HANDLERS, type Handlers } from "../core/machine/commands.ts";
import { stateHash } from "../core/machine/state.ts";
import { encodeSnapshot } from "../store/snapshot-files.ts";
import { LogIntegrityError } from "../store/stored-event.ts";
import { PropnetNode, snapshotDir } from "./node.ts";
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

describe("verify names a damaged snapshot and still verifies the log", () => {
  /** A node with three snapshots kept (events in between), stopped. */
  async function withSnapshots(): Promise<{ dir: string; files: string[]; hash: string; seq: number }> {
    const dir = mkdtempSync(join(tmpdir(), "propnet-verify-snap-"));
    dirs.push(dir);
    const node = await PropnetNode.open({ dataDir: dir, genesis: [{ owner: "alice", amount_rao: 1_000_000n }] });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5; i++) {
        expect((await node.submit({ command: { kind: "transfer", asset: 0 as never, from: "alice", to: `b${i}`, amount_rao: BigInt(round * 10 + i + 1) } })).ok).toBe(true);
      }
      await node.snapshot();
    }
    for (let i = 0; i < 3; i++) expect((await node.submit({ command: { kind: "transfer", asset: 0 as never, from: "alice", to: "c", amount_rao: 7n } })).ok).toBe(true);
    const hash = await node.read((state) => stateHash(state));
    const seq = node.head.seq;
    await node.close({ snapshot: false });
    const files = readdirSync(snapshotDir(dir)).sort().map((n) => join(snapshotDir(dir), n));
    expect(files).toHaveLength(2);
    return { dir, files, hash, seq };
  }

  it("a torn snapshot (cut mid-JSON): named with why; the log verifies from the other one", async () => {
    const { dir, files, hash, seq } = await withSnapshots();
    const [older, newer] = files as [string, string];
    writeFileSync(older, readFileSync(older, "utf8").slice(0, 100));
    const report = await verifyLog(dir);
    expect(report.snapshotProblems).toEqual([{ path: older, problem: expect.stringMatching(/checksum mismatch/) }]);
    expect(report.from).toBe(`snapshot at seq ${/(\d{12})/.exec(newer)?.[1]?.replace(/^0+/, "")}`);
    expect(report.stateHash).toBe(hash);
    expect(report.lastSeq).toBe(seq);
  });

  it("a snapshot whose state does not hash to its recorded hash: named; falls back to genesis", async () => {
    const { dir, files, hash } = await withSnapshots();
    for (const path of files) {
      const snap = JSON.parse(readFileSync(path, "utf8").split("\n")[0] as string) as { state_hash: string };
      snap.state_hash = "f".repeat(64);
      writeFileSync(path, encodeSnapshot(snap as never));
    }
    const report = await verifyLog(dir);
    expect(report.snapshotProblems.map((p) => [p.path, p.problem])).toEqual(files.map((f) => [f, "its state does not hash to its recorded state hash"]));
    expect(report.from).toBe("genesis");
    expect(report.stateHash).toBe(hash);
  });

  it("a snapshot of another format: named with both formats", async () => {
    const { dir, files, hash } = await withSnapshots();
    const path = files[1] as string;
    const snap = JSON.parse(readFileSync(path, "utf8").split("\n")[0] as string) as { format: number };
    snap.format = 99;
    writeFileSync(path, encodeSnapshot(snap as never));
    const report = await verifyLog(dir);
    expect(report.snapshotProblems).toEqual([{ path, problem: "format 99, this code reads format 1" }]);
    expect(report.stateHash).toBe(hash);
  });

  it("runs beside a running node: a consistent read of the log as it was, while commits go on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "propnet-verify-live-"));
    dirs.push(dir);
    const node = await PropnetNode.open({ dataDir: dir, genesis: [{ owner: "alice", amount_rao: 1_000_000n }] });
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        await node.submit({ command: { kind: "transfer", asset: 0 as never, from: "alice", to: `w${i % 5}`, amount_rao: 1n } });
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const report = await verifyLog(dir, { full: true });
    writing = false;
    await writer;
    expect(report.lastSeq).toBeGreaterThan(1);
    expect(report.lastSeq).toBeLessThanOrEqual(node.head.seq);
    await node.close({ snapshot: false });
  });
});
