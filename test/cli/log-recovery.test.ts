// A damaged log, as an operator meets it: `serve` and `verify` name the last sound seq and the two
// ways back (a backup, or `verify --truncate-to N`), and `--truncate-to` keeps exactly that prefix.
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { TAO } from "../../src/core/ledger/asset.ts";
import { logPath, PropnetNode, snapshotDir } from "../../src/node/node.ts";
import { readHeadFile } from "../../src/store/head-file.ts";
import { findSoundPrefix } from "../../src/node/truncate-log.ts";
import { verifyLog } from "../../src/node/verify.ts";
import { children, cli as runCli, cliEnv, freePort } from "../support/processes.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "propnet-log-recovery-"));
  dirs.push(d);
  return d;
}

const cli = (args: string[], cwd: string) => runCli(args, cwd, cliEnv());

const genesis = [
  { owner: "alice", amount_rao: 1_000_000_000_000n },
  { owner: "bob", amount_rao: 1_000_000_000_000n },
];

/** A closed node's data directory: `n` transfers, a snapshot after the first half. */
async function build(dir: string, n: number): Promise<{ seq: number; snapshotSeq: number }> {
  const node = await PropnetNode.open({ dataDir: dir, genesis });
  const half = Math.floor(n / 2);
  const send = (from: number, to: number) =>
    Promise.all(
      Array.from({ length: to - from }, (_, i) =>
        node.submit({ command: { kind: "transfer", asset: TAO, from: i % 2 ? "alice" : "bob", to: `acct${(from + i) % 17}`, amount_rao: BigInt(i + 1) } }),
      ),
    );
  await send(0, half);
  await node.snapshot();
  const snapshotSeq = node.head.seq;
  await send(half, n);
  const seq = node.head.seq;
  await node.close({ snapshot: false });
  return { seq, snapshotSeq };
}

describe("a log cut short on disk", () => {
  it("verify names the last sound seq and both recoveries; --truncate-to asks, then keeps that prefix and verifies", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    const { seq } = await build(data, 3_000);
    const path = logPath(data);
    const original = join(dir, "original.sqlite");
    copyFileSync(path, original);
    const cutTo = Math.floor(statSync(path).size * 0.6);
    truncateSync(path, cutTo);
    const sound = findSoundPrefix(path);
    expect(sound.lastSoundSeq).toBeGreaterThan(0);
    expect(sound.lastSoundSeq).toBeLessThan(seq);
    const n = sound.lastSoundSeq;

    const failed = await cli(["verify", "--data", data], dir);
    expect(failed.code).toBe(1);
    expect(failed.stderr).not.toMatch(/\(seq 0\)/);
    expect(failed.stderr).toContain(`the last sound event is seq ${n}: events 1..${n} are intact and chained`);
    expect(failed.stderr).toContain("propnet restore --from BACKUP_FILE --data NEW_DIR");
    expect(failed.stderr).toContain(`propnet verify --data ${data} --truncate-to ${n}`);

    // Past the sound prefix: refused. Not on a terminal and no --yes: refused, nothing moved.
    const past = await cli(["verify", "--data", data, "--truncate-to", String(n + 1), "--yes"], dir);
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(new RegExp(`seq ${n + 1} is past the last sound event \\(seq ${n}\\)`));
    const unasked = await cli(["verify", "--data", data, "--truncate-to", String(n)], dir);
    expect(unasked.code).toBe(1);
    expect(unasked.stderr).toMatch(/not on a terminal: add --yes/);
    expect(readdirSync(data).some((f) => f.startsWith("truncated-"))).toBe(false);

    const truncated = await cli(["verify", "--data", data, "--truncate-to", String(n), "--yes"], dir);
    expect(truncated.code, truncated.stderr).toBe(0);
    expect(truncated.stderr).toMatch(new RegExp(`truncated to seq ${n}; set aside in .*truncated-`));
    expect(truncated.stdout).toMatch(new RegExp(`last seq ${n};`));
    // The kept head becomes the acknowledged head: verify checks against it, no "no head file" note.
    expect(truncated.stdout).not.toMatch(/no head file/);
    expect(readHeadFile(data)).toMatchObject({ head: { seq: n } });
    const aside = readdirSync(data).find((f) => f.startsWith("truncated-")) as string;
    // Set aside as it was, not deleted.
    expect(statSync(join(data, aside, "events.sqlite")).size).toBe(cutTo);
    const report = await verifyLog(data, { full: true });
    expect(report.lastSeq).toBe(n);
    // Every kept row is the original's (same hash, so same bytes); nothing after n is kept.
    const kept = new Database(path, { readonly: true });
    const old = new Database(original, { readonly: true });
    const q = "SELECT hash FROM events WHERE seq = ?";
    for (const s of [1, Math.floor(n / 2), n]) expect((kept.prepare(q).get(s) as { hash: string }).hash).toBe((old.prepare(q).get(s) as { hash: string }).hash);
    expect(kept.prepare("SELECT max(seq) AS m FROM events").get()).toEqual({ m: n });
    kept.close();
    old.close();
  }, 60_000);

  it("serve refuses with the same advice, not `(seq 0)`; after truncating it starts from the kept prefix", async () => {
    const dir = tempDir();
    const data = join(dir, "data");
    const { seq, snapshotSeq } = await build(data, 3_000);
    const path = logPath(data);
    truncateSync(path, Math.floor(statSync(path).size * 0.6));
    const n = findSoundPrefix(path).lastSoundSeq;
    const port = await freePort();
    const refused = await cli(["serve", "--data", data, "--port", String(port), "--no-demo", "--block-time", "0"], dir);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/refusing to start: .*truncated/);
    expect(refused.stderr).not.toMatch(/\(seq 0\)/);
    expect(refused.stderr).toContain(`--truncate-to ${n}`);

    const truncated = await cli(["verify", "--data", data, "--truncate-to", String(n), "--yes"], dir);
    expect(truncated.code, truncated.stderr).toBe(0);
    // The snapshot was past the kept prefix (or not): set aside only when it was.
    const snapshots = readdirSync(snapshotDir(data)).length;
    expect(snapshots).toBe(snapshotSeq <= n ? 1 : 0);
    expect(n).toBeLessThan(seq);
    const node = await PropnetNode.open({ dataDir: data, genesis });
    expect(node.head.seq).toBe(n);
    await node.close({ snapshot: false });
  }, 60_000);
});
