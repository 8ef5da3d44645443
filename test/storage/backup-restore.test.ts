/**
 * Backup and restore (issue 14), with real processes: `propnet backup` takes a consistent online
 * copy while `propnet serve` runs and writes; `propnet restore` refuses a backup whose hashes do not
 * verify and a non-empty target; a restored node replays to the running node's state hash at the
 * backup's seq. `propnet verify` runs beside the running node too.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { children, cli, freePort, ROOT } from "../support/processes.ts";
import { postPrice, ServeProcess, serveEnv } from "./serve-process.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const run = (args: string[]) => cli(args, ROOT, serveEnv());

function stateHashOf(verifyOut: string): { seq: number; hash: string } {
  const m = /last seq (\d+); state hash ([0-9a-f]{64})/.exec(verifyOut);
  if (!m) throw new Error(`no state hash in: ${verifyOut}`);
  return { seq: Number(m[1]), hash: m[2] as string };
}

describe("propnet backup and restore", () => {
  it("an online backup restores to the running node's state hash at its seq; a tampered backup and a non-empty target are refused", { timeout: 120_000 }, async () => {
    const work = mkdtempSync(join(tmpdir(), "propnet-backup-"));
    dirs.push(work);
    const data = join(work, "data");
    const server = new ServeProcess(data, await freePort(), ["--snapshot-every", "20"]);
    await server.ready();
    for (let i = 0; i < 30; i++) expect((await postPrice(server)).answer.status).toBe(200);

    // ---- while writes go on: backup and verify beside the running node ------------------------------
    let writing = true;
    let written = 0;
    const load = (async () => {
      while (writing) {
        const { answer } = await postPrice(server);
        expect(answer.status, answer.text).toBe(200);
        written++;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const during = await run(["backup", "--data", data, "--out", join(work, "during.backup")]);
    const verifiedLive = await run(["verify", "--data", data]);
    writing = false;
    await load;
    expect(during.code, during.stderr).toBe(0);
    expect(during.stdout).toMatch(/backup written to .*during\.backup: log head seq \d+ .*snapshot at seq \d+/);
    expect(during.stderr).toMatch(/node key .* is not part of a backup/);
    expect(verifiedLive.code, verifiedLive.stderr).toBe(0);
    expect(written).toBeGreaterThan(0);
    expect(existsSync(join(work, "during.backup-wal"))).toBe(false);

    // ---- the node idle (still running): a backup whose seq is the node's head ------------------------
    const idleSeq = (await server.healthz()).json.seq as number;
    const idle = await run(["backup", "--data", data, "--out", join(work, "idle.backup")]);
    expect(idle.code, idle.stderr).toBe(0);
    expect(idle.stdout).toContain(`log head seq ${idleSeq} `);
    const again = await run(["backup", "--data", data, "--out", join(work, "idle.backup")]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
    // Stopping writes a snapshot at the head: the running node's own state hash at that seq.
    await server.stop();
    const name = `snapshot-${String(idleSeq).padStart(12, "0")}.json`;
    const running = JSON.parse(readFileSync(join(data, "snapshots", name), "utf8").split("\n")[0] as string) as { seq: number; state_hash: string };
    expect(running.seq).toBe(idleSeq);

    // ---- restore: same state hash as the running node at the backup's seq -----------------------------
    const restored = join(work, "restored");
    const r = await run(["restore", "--from", join(work, "idle.backup"), "--data", restored]);
    expect(r.code, r.stderr).toBe(0);
    expect(stateHashOf(r.stdout)).toEqual({ seq: idleSeq, hash: running.state_hash });
    const verified = await run(["verify", "--data", restored, "--full"]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(stateHashOf(verified.stdout)).toEqual({ seq: idleSeq, hash: running.state_hash });
    // (SQLite's -wal/-shm beside the log are left by verify's read-only connection.)
    expect(readdirSync(restored).filter((n) => !/-(wal|shm)$/.test(n)).sort()).toEqual(["events.sqlite", "head", "snapshots"]);

    // The backup taken under load restores and verifies too (a consistent cut at its own seq).
    const underLoad = await run(["restore", "--from", join(work, "during.backup"), "--data", join(work, "restored-during")]);
    expect(underLoad.code, underLoad.stderr).toBe(0);

    // A restored directory serves: it starts at the backup's seq.
    const served = new ServeProcess(restored, await freePort());
    await served.ready();
    expect(served.stderr).toContain(`ready at seq ${idleSeq}`);
    expect((await postPrice(served)).answer.status).toBe(200);
    await served.stop();

    // ---- refusals --------------------------------------------------------------------------------------
    const notEmpty = await run(["restore", "--from", join(work, "idle.backup"), "--data", restored]);
    expect(notEmpty.code).toBe(2);
    expect(notEmpty.stderr).toMatch(/not empty/);
    const occupied = join(work, "occupied");
    mkdirSync(occupied);
    writeFileSync(join(occupied, "something"), "x");
    expect((await run(["restore", "--from", join(work, "idle.backup"), "--data", occupied])).code).toBe(2);

    const tampered = join(work, "tampered.backup");
    copyFileSync(join(work, "idle.backup"), tampered);
    const db = new Database(tampered);
    db.prepare("UPDATE events SET payload = replace(payload, '60', '61') WHERE seq = (SELECT max(seq) - 3 FROM events WHERE payload LIKE '%60%')").run();
    db.close();
    const refused = await run(["restore", "--from", tampered, "--data", join(work, "from-tampered")]);
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/refusing to restore .* does not verify at seq \d+/);
    expect(existsSync(join(work, "from-tampered"))).toBe(false);
    expect(readdirSync(work).filter((n) => n.includes(".restoring-"))).toEqual([]);
  });
});
