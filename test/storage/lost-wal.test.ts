/**
 * A lost WAL after a crash is detected at start (issue 14): serve, write prices over HTTP, kill -9,
 * delete `events.sqlite-wal`, start again => refused (exit 3) with a message naming the seq the log
 * ends at and the seq the node acknowledged; `propnet verify` reports the same (exit 1).
 *
 * So that the deleted WAL certainly holds acknowledged commits, another process keeps a read
 * transaction open on the log while the writes happen: the node's checkpoint thread cannot fold
 * frames past that reader into the main file (it is killed with the server).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { children, cli, freePort, ROOT } from "../support/processes.ts";
import { postPrice, ServeProcess, serveEnv } from "./serve-process.ts";

const dirs: string[] = [];
const holders: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  for (const h of holders) h.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A process holding a read transaction on the log (as a long report or a backup would). */
async function holdReader(logFile: string): Promise<ChildProcess> {
  const script =
    `const D = require("better-sqlite3"); const db = new D(${JSON.stringify(logFile)}, { readonly: true });` +
    `db.exec("BEGIN"); db.prepare("SELECT count(*) FROM events").get(); process.stdout.write("holding\\n"); setInterval(() => {}, 1e6);`;
  const child = spawn(process.execPath, ["-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  holders.push(child);
  await new Promise<void>((resolve) => child.stdout?.once("data", () => resolve()));
  return child;
}

describe("a lost WAL after a crash", () => {
  it("is refused at start naming both seqs, and verify reports it", { timeout: 90_000 }, async () => {
    const data = mkdtempSync(join(tmpdir(), "propnet-lost-wal-"));
    dirs.push(data);
    const log = join(data, "events.sqlite");
    const port = await freePort();
    const server = new ServeProcess(data, port);
    await server.ready();
    for (let i = 0; i < 5; i++) expect((await postPrice(server)).answer.status).toBe(200);
    const reader = await holdReader(log);
    for (let i = 0; i < 17; i++) {
      const { answer } = await postPrice(server);
      expect(answer.status, answer.text).toBe(200);
      expect(answer.json.accepted).toBe(1);
    }
    const acked = (await server.healthz()).json.seq as number;
    await server.kill();
    reader.kill("SIGKILL");
    expect(statSync(`${log}-wal`).size).toBeGreaterThan(0);
    rmSync(`${log}-wal`);

    const again = new ServeProcess(data, port);
    const exit = await again.exited;
    expect(exit.code, again.stderr).toBe(3);
    const message = /event log ends at seq (\d+), but this node acknowledged writes up to seq (\d+)/.exec(again.stderr);
    expect(message, again.stderr).not.toBeNull();
    const [endsAt, ackedAt] = [Number(message?.[1]), Number(message?.[2])];
    expect(ackedAt).toBe(acked);
    expect(endsAt).toBeLessThan(acked - 16);
    expect(again.stderr).toContain("propnet restore");
    expect(again.stderr).not.toMatch(/ready at seq/);
    expect(existsSync(`${log}-wal`) ? statSync(`${log}-wal`).size : 0, "the refused start wrote to the log").toBe(0);

    const verified = await cli(["verify", "--data", data], ROOT, serveEnv());
    expect(verified.code, verified.stderr).toBe(1);
    expect(verified.stderr).toContain(`acknowledged writes up to seq ${acked}`);
    console.log(`lost WAL: the log ends at seq ${endsAt}, the node acknowledged up to seq ${acked}; start refused (exit 3), verify exit 1`);
  });
});
