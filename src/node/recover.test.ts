import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { TAO } from "../core/ledger/asset.ts";
import { stateHash } from "../core/machine/state.ts";
import { headFilePath, readHeadFile } from "../store/head-file.ts";
import { LogIntegrityError } from "../store/stored-event.ts";
import { logPath, PropnetNode, snapshotDir } from "./node.ts";
import { AcknowledgedWritesLost } from "./recover.ts";
import { verifyLog } from "./verify.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "propnet-recover-"));
  dirs.push(d);
  return d;
}

const genesis = [
  { owner: "alice", amount_rao: 1_000_000_000_000n },
  { owner: "bob", amount_rao: 1_000_000_000_000n },
];

async function transfers(node: PropnetNode, n: number, offset = 0): Promise<void> {
  const outcomes = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      node.submit({
        command: {
          kind: "transfer",
          asset: TAO,
          from: i % 2 ? "alice" : "bob",
          to: `acct${(i + offset) % 17}`,
          amount_rao: BigInt(i + 1),
        },
      }),
    ),
  );
  expect(outcomes.every((o) => o.ok)).toBe(true);
}

/** A node with `before` events, a snapshot, then `after` more events; closed without a final snapshot. */
async function build(dir: string, before: number, after: number): Promise<{ hash: string; seq: number; snapshotSeq: number }> {
  const node = await PropnetNode.open({ dataDir: dir, genesis });
  await transfers(node, before);
  await node.snapshot();
  const snapshotSeq = node.head.seq;
  await transfers(node, after, before);
  const result = { hash: stateHash(node.state), seq: node.head.seq, snapshotSeq };
  await node.close({ snapshot: false });
  return result;
}

function tamper(dir: string, sql: string): void {
  const db = new Database(logPath(dir));
  db.exec(sql);
  db.close();
}

async function refusal(dir: string): Promise<LogIntegrityError> {
  const error = await PropnetNode.open({ dataDir: dir }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LogIntegrityError);
  return error as LogIntegrityError;
}

describe("restart", () => {
  it("restores the latest snapshot plus the tail: same head, same state hash", async () => {
    const dir = tempDir();
    const built = await build(dir, 300, 120);
    const node = await PropnetNode.open({ dataDir: dir });
    expect(node.head.seq).toBe(built.seq);
    expect(stateHash(node.state)).toBe(built.hash);
    await node.close();
    const report = await verifyLog(dir, { full: true });
    expect(report).toMatchObject({ lastSeq: built.seq, stateHash: built.hash, from: "genesis" });
    const anchored = await verifyLog(dir);
    expect(anchored.from).toMatch(/^snapshot at seq/);
    expect(anchored.stateHash).toBe(built.hash);
  });

  it("keeps two snapshots, and ignores an incompatible or damaged one with a message", async () => {
    const dir = tempDir();
    const node = await PropnetNode.open({ dataDir: dir, genesis });
    for (let i = 0; i < 3; i++) {
      await transfers(node, 50, i * 50);
      await node.snapshot();
    }
    const hash = stateHash(node.state);
    await node.close({ snapshot: false });
    const files = readdirSync(snapshotDir(dir)).sort();
    expect(files).toHaveLength(2);

    const [older, newer] = files.map((f) => join(snapshotDir(dir), f)) as [string, string];
    const text = readFileSync(newer, "utf8");
    writeFileSync(newer, text.replace('"format":1', '"format":99').replace(/\n[0-9a-f]{64}\n$/, "\nbad\n"));
    const said: string[] = [];
    let reopened = await PropnetNode.open({ dataDir: dir, say: (m) => said.push(m) });
    expect(stateHash(reopened.state)).toBe(hash);
    expect(said.join("\n")).toMatch(/ignoring snapshot .*checksum mismatch/);
    await reopened.close({ snapshot: false });

    // A snapshot from a format this code does not read (checksum intact) is skipped too.
    const body = JSON.parse(readFileSync(older, "utf8").split("\n")[0] as string);
    const { encodeSnapshot } = await import("../store/snapshot-files.ts");
    writeFileSync(older, encodeSnapshot({ ...body, format: 99 }));
    said.length = 0;
    reopened = await PropnetNode.open({ dataDir: dir, say: (m) => said.push(m) });
    expect(stateHash(reopened.state)).toBe(hash);
    expect(said.join("\n")).toMatch(/format 99, this code reads format 1/);
    await reopened.close({ snapshot: false });
  });
});

describe("tamper and loss are refused at start, naming the seq", () => {
  it("a flipped byte in a payload after the snapshot", async () => {
    const dir = tempDir();
    const { snapshotSeq } = await build(dir, 100, 40);
    const target = snapshotSeq + 7;
    tamper(dir, `UPDATE events SET payload = replace(payload, '"amount_rao":"', '"amount_rao":"9') WHERE seq = ${target}`);
    const error = await refusal(dir);
    expect(error.seq).toBe(target);
    expect(error.message).toContain(`seq ${target}`);
  });

  it("a flipped byte before the snapshot: start is fast, the background audit finds it and writes stop", async () => {
    const dir = tempDir();
    await build(dir, 100, 40);
    tamper(dir, "UPDATE events SET payload = replace(payload, 'acct', 'acce') WHERE seq = 9");
    await expect(verifyLog(dir, { full: true })).rejects.toThrow(/seq 9/);
    const node = await PropnetNode.open({ dataDir: dir });
    await node.audit;
    expect(node.problems.join()).toMatch(/altered at seq 9/);
    expect(node.writable).toBe(false);
    await expect(
      node.submit({ command: { kind: "transfer", asset: TAO, from: "alice", to: "bob", amount_rao: 1n } }),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(await node.read((state) => state.ledger.balanceOf(TAO, "alice"))).toBeGreaterThan(0n);
    await node.close({ snapshot: false });
  });

  it("an intact log passes the background audit", async () => {
    const dir = tempDir();
    await build(dir, 100, 40);
    const node = await PropnetNode.open({ dataDir: dir });
    await node.audit;
    expect(node.problems).toEqual([]);
    expect(node.writable).toBe(true);
    await node.close({ snapshot: false });
  });

  it("a deleted last row", async () => {
    const dir = tempDir();
    const { seq } = await build(dir, 60, 20);
    tamper(dir, `DELETE FROM events WHERE seq = ${seq}`);
    const error = await refusal(dir);
    expect(error.seq).toBe(seq);
    expect(error.message).toMatch(new RegExp(`committed at seq ${seq}.*last stored event is seq ${seq - 1}`));
  });

  it("a truncated database file", async () => {
    const dir = tempDir();
    await build(dir, 2_000, 10);
    const path = logPath(dir);
    truncateSync(path, Math.floor(statSync(path).size / 2));
    const error = await refusal(dir);
    expect(error.message).toMatch(/truncated/);
  });

  it("a log head behind the snapshot (an old copy of the log restored)", async () => {
    const dir = tempDir();
    const node = await PropnetNode.open({ dataDir: dir, genesis });
    await transfers(node, 30);
    await node.close({ snapshot: false });
    copyFileSync(logPath(dir), join(dir, "old.sqlite"));
    const again = await PropnetNode.open({ dataDir: dir });
    await transfers(again, 30, 30);
    const seq = again.head.seq;
    await again.close(); // writes a snapshot at `seq`
    copyFileSync(join(dir, "old.sqlite"), logPath(dir));
    // The head file names the loss first (see below); without it the snapshot still catches it.
    const withHeadFile = await refusal(dir);
    expect(withHeadFile.message).toMatch(new RegExp(`ends at seq 31, but this node acknowledged writes up to seq ${seq}`));
    rmSync(headFilePath(dir));
    const error = await refusal(dir);
    expect(error.message).toMatch(new RegExp(`head at seq 31 is behind the snapshot at seq ${seq}`));
  });
});

describe("the acknowledged head (DIR/head) catches a log that lost acknowledged writes", () => {
  it("a log cut back to an older copy, no snapshot: refused naming both seqs; verify says the same", async () => {
    const dir = tempDir();
    const node = await PropnetNode.open({ dataDir: dir, genesis });
    await transfers(node, 20);
    const old = node.head.seq;
    await node.close({ snapshot: false });
    copyFileSync(logPath(dir), join(dir, "old.sqlite"));
    const again = await PropnetNode.open({ dataDir: dir });
    await transfers(again, 17, 20);
    const acked = again.head.seq;
    expect(readHeadFile(dir)).toEqual({ head: again.head });
    await again.close({ snapshot: false });
    copyFileSync(join(dir, "old.sqlite"), logPath(dir));
    const error = await refusal(dir);
    expect(error).toBeInstanceOf(AcknowledgedWritesLost);
    expect(error.seq).toBe(old + 1);
    expect(error.message).toContain(`event log ends at seq ${old}, but this node acknowledged writes up to seq ${acked}`);
    expect(error.message).toContain("17 acknowledged events are missing");
    await expect(verifyLog(dir)).rejects.toThrow(`acknowledged writes up to seq ${acked}`);
  });

  it("another log of the same length put in place: refused, the event at the acknowledged seq differs", async () => {
    const a = tempDir();
    const b = tempDir();
    for (const [dir, offset] of [[a, 0], [b, 5]] as const) {
      const node = await PropnetNode.open({ dataDir: dir, genesis });
      await transfers(node, 10, offset);
      await node.close({ snapshot: false });
    }
    copyFileSync(logPath(b), logPath(a));
    const error = await refusal(a);
    expect(error.message).toMatch(/is not the one this node acknowledged there/);
  });

  it("a damaged head file is reported and rewritten, never trusted", async () => {
    const dir = tempDir();
    const node = await PropnetNode.open({ dataDir: dir, genesis });
    await transfers(node, 5);
    const head = node.head;
    await node.close({ snapshot: false });
    writeFileSync(headFilePath(dir), "garbage");
    const said: string[] = [];
    const again = await PropnetNode.open({ dataDir: dir, say: (m) => said.push(m) });
    expect(said.join("\n")).toMatch(/head is damaged/);
    expect(readHeadFile(dir)).toEqual({ head });
    await again.close({ snapshot: false });
  });
});
