import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EFFECT_KINDS } from "../../src/core/chain/effects.ts";
import { EVENTS } from "../../src/core/machine/events.ts";
import { logPath } from "../../src/node/node.ts";
import { verifyLog } from "../../src/node/verify.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { GENESIS_HASH, type StoredEvent } from "../../src/store/stored-event.ts";

const GOLDEN = join(import.meta.dirname, "../../fixtures/golden");
const dir = mkdtempSync(join(tmpdir(), "propnet-golden-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type GoldenRow = Omit<StoredEvent, "prevHash">;

function goldenLog(name: string): { rows: GoldenRow[]; expected: { last_seq: number; head_hash: string; state_hash: string } } {
  return {
    expected: JSON.parse(readFileSync(join(GOLDEN, `${name}expected.json`), "utf8")),
    rows: readFileSync(join(GOLDEN, `${name}events.jsonl`), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as GoldenRow),
  };
}

/** Writes the rows into a fresh log and verifies it from genesis, every hash and invariant checked. */
async function replayed(rows: GoldenRow[], into: string) {
  const store = SqliteStore.open(logPath(into));
  let prev = GENESIS_HASH;
  const chained = rows.map((r) => {
    const row = { ...r, prevHash: prev };
    prev = r.hash;
    return row;
  });
  for (let i = 0; i < chained.length; i += 500) store.appendSync(chained.slice(i, i + 500));
  store.closeSync();
  return verifyLog(into, { full: true });
}

/**
 * The golden log was written by an earlier version of this code. Replaying it must still give the
 * recorded state hash: if it does not, an event's meaning changed, and old logs would replay into
 * a different state. Change an event's meaning only with a new version and an upcaster.
 */
describe("golden log fixture", () => {
  const { rows, expected } = goldenLog("");
  // A log follows a real chain from its start or never: its facts live in a golden log of their own.
  const followed = goldenLog("followed-");
  // A follower validator's log: the mothership's fact batches, a conflict, a rotation (issue 10).
  const synced = goldenLog("synced-");

  it("holds a few thousand events of every event type the code knows (with the followed-chain and synced logs)", () => {
    expect(rows.length).toBeGreaterThanOrEqual(3_000);
    const types = new Set([...rows, ...followed.rows, ...synced.rows].map((r) => r.type.split("@")[0]));
    expect([...types].sort()).toEqual(Object.keys(EVENTS).sort());
    expect(followed.rows.some((r) => r.type.startsWith("EmissionAttributed@") && r.payload.includes('"shares":[[0,'))).toBe(true);
    expect(rows.some((r) => r.payload.includes('"remainders"'))).toBe(true);
    expect(rows.some((r) => r.type.startsWith("BlockProduced@") && r.payload.includes('"attributions"'))).toBe(true);
    const kinds = new Set(
      rows.filter((r) => r.type.startsWith("BlockProduced@")).flatMap((r) => (JSON.parse(r.payload).effects as Array<{ k: string }>).map((e) => e.k)),
    );
    const genesisKinds = rows[0]?.payload.includes('"k":"subnet"') ? ["subnet"] : [];
    expect([...kinds, ...genesisKinds].sort()).toEqual([...EFFECT_KINDS].sort());
  });

  it("replays to the recorded state hash with every hash checked", async () => {
    const report = await replayed(rows, dir);
    expect(report.lastSeq).toBe(expected.last_seq);
    expect(report.stateHash).toBe(expected.state_hash);
    expect(rows.at(-1)?.hash).toBe(expected.head_hash);
  });

  it("the followed-chain log replays to its recorded state hash, never asking a chain", async () => {
    const into = join(dir, "followed");
    mkdirSync(into);
    const report = await replayed(followed.rows, into);
    expect(report.lastSeq).toBe(followed.expected.last_seq);
    expect(report.stateHash).toBe(followed.expected.state_hash);
    expect(followed.rows.at(-1)?.hash).toBe(followed.expected.head_hash);
  });

  it("the synced log (a follower: batches, a duplicate, a conflict, a pending elimination, rotations) replays to its recorded state hash", async () => {
    const payloads = synced.rows.filter((r) => r.type.startsWith("SyncBatchApplied@")).map((r) => JSON.parse(r.payload) as { ref: { duplicates: number; conflicts: number } });
    expect(payloads.some((p) => p.ref.duplicates > 0)).toBe(true);
    expect(payloads.some((p) => p.ref.conflicts > 0)).toBe(true);
    expect(synced.rows.some((r) => r.payload.includes('"PENDING:'))).toBe(true);
    expect(synced.rows.some((r) => r.type.startsWith("MothershipRotated@"))).toBe(true);
    const into = join(dir, "synced");
    mkdirSync(into);
    const report = await replayed(synced.rows, into);
    expect(report.lastSeq).toBe(synced.expected.last_seq);
    expect(report.stateHash).toBe(synced.expected.state_hash);
    expect(synced.rows.at(-1)?.hash).toBe(synced.expected.head_hash);
  });
});
