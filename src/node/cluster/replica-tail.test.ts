/**
 * A reader's replica (issue #11): two nodes on one PostgreSQL log (database `test` at
 * 127.0.0.1:5432, a schema of this run's own, dropped after). The reader tails what the writer
 * commits, checking every hash link, and reaches the writer's state hash; it refuses writes; a
 * tampered row stops it at the row before; promoted, it writes on from the log's head and the old
 * writer is fenced.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { TAO } from "../../core/ledger/asset.ts";
import { stateHash } from "../../core/machine/state.ts";
import { openStore } from "../../store/open-store.ts";
import { PropnetNode } from "../node.ts";
import { ConsistentHeadStore } from "./consistent-head-store.ts";
import { ReplicaTail } from "./replica-tail.ts";

const PG_URL = process.env.PROPNET_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const RUN = `replica_tail_${process.pid}_${Date.now()}`;
const schemas: string[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  } finally {
    await admin.end();
  }
});

async function pair() {
  const schema = `${RUN}_${schemas.length}`;
  schemas.push(schema);
  const dir = (name: string) => {
    const d = mkdtempSync(join(tmpdir(), `propnet-replica-${name}-`));
    dirs.push(d);
    return d;
  };
  const fatal: unknown[] = [];
  const writer = await PropnetNode.open({
    dataDir: dir("w"),
    openStore: () => openStore({ backend: "postgres", url: PG_URL, schema }),
    genesis: [{ owner: "alice", amount_rao: 1_000_000n }],
    onFatal: (e) => fatal.push(e),
  });
  const reader = await PropnetNode.open({
    dataDir: dir("r"),
    replica: true,
    openStore: async () => new ConsistentHeadStore(await openStore({ backend: "postgres", url: PG_URL, schema })),
    genesis: [{ owner: "alice", amount_rao: 1_000_000n }],
  });
  return { schema, writer, reader, fatal };
}

const transfer = (to: string, amount: bigint) => ({ command: { kind: "transfer" as const, asset: TAO, from: "alice", to, amount_rao: amount } });

describe("a reader's replica on PostgreSQL", () => {
  it("follows every commit with its hash links checked, reaches the writer's state hash, and refuses writes", async () => {
    const { writer, reader } = await pair();
    expect(reader.role).toBe("reader");
    expect(writer.role).toBe("writer");
    const tail = new ReplicaTail(reader, { pollMs: 20 });
    tail.start();
    // Concurrent submissions commit in groups; the reader sees each group whole.
    const outcomes = await Promise.all(Array.from({ length: 300 }, (_, i) => writer.submit(transfer(`u${i % 7}`, BigInt(1 + i)))));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const seq = writer.committedHead.seq;
    expect(await tail.waitFor(seq, 5_000)).toBe(true);
    expect(reader.head).toEqual(writer.head);
    expect(stateHash(reader.state)).toBe(stateHash(writer.state));
    await expect(reader.submit(transfer("x", 1n))).rejects.toMatchObject({ code: "UNAVAILABLE" });
    // Reads on the reader go through the same barrier as on a writer.
    expect(await reader.read((s, h) => [s.ledger.balanceOf(TAO, "u3"), h.seq])).toEqual([await writer.read((s) => s.ledger.balanceOf(TAO, "u3")), seq]);
    await tail.stop();
    await reader.close({ snapshot: false });
    await writer.close({ snapshot: false });
  });

  it("stops at the row before a tampered one, naming its seq, and does not apply it", async () => {
    const { schema, writer, reader } = await pair();
    const tail = new ReplicaTail(reader, { pollMs: 20 });
    tail.start();
    expect((await writer.submit(transfer("bob", 5n))).ok).toBe(true);
    expect(await tail.waitFor(writer.committedHead.seq, 5_000)).toBe(true);
    await tail.stop();
    const good = stateHash(reader.state);
    const before = reader.head;
    expect((await writer.submit(transfer("bob", 7n))).ok).toBe(true);
    const bad = writer.committedHead.seq;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`UPDATE ${schema}.events SET payload = replace(payload, '"7"', '"70"') WHERE seq = $1`, [bad]);
    await admin.end();
    const broken: number[] = [];
    const tail2 = new ReplicaTail(reader, { pollMs: 20, onBroken: (e) => broken.push(e.seq) });
    tail2.start();
    expect(await tail2.waitFor(bad, 1_000)).toBe(false);
    expect(broken).toEqual([bad]);
    expect(tail2.broken?.message).toMatch(new RegExp(`seq ${bad}`));
    expect(reader.head).toEqual(before);
    expect(stateHash(reader.state)).toBe(good);
    await tail2.stop();
    await reader.close({ snapshot: false });
    await writer.close({ snapshot: false });
  });

  it("promoted after catching up, writes on from the log's head; the old writer's next append is fenced", async () => {
    const { schema, writer, reader, fatal } = await pair();
    const tail = new ReplicaTail(reader, { pollMs: 20 });
    tail.start();
    expect((await writer.submit(transfer("bob", 5n))).ok).toBe(true);
    await tail.stop({ keepWaiters: true });
    const head = await tail.catchUp();
    expect(head).toEqual(writer.committedHead);
    await reader.promote(await openStore({ backend: "postgres", url: PG_URL, schema }));
    expect(reader.role).toBe("writer");
    const written = await reader.submit(transfer("carol", 9n));
    expect(written.ok && written.seq).toBe(head.seq + 1);
    // The old writer still believes it writes: its append collides with the new writer's row.
    await expect(writer.submit(transfer("dave", 1n))).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ code: "STORE_FENCED" });
    await reader.close({ snapshot: false });
    await writer.close({ snapshot: false });
  });
});
