/**
 * Disk full on a real disk (issue 14): the data directory is a small tmpfs filled with a filler
 * file while `propnet serve` runs.
 * - Below the reserve (`--min-free-mb 4`): price posts answer 503 STORAGE_FULL, reads answer,
 *   /healthz is degraded with STORAGE_FULL; the filler deleted, writes resume by themselves.
 * - No reserve (`--min-free-mb 0`) and the disk filled to the last byte: the commit itself fails
 *   (SQLite's SQLITE_FULL), its caller gets 503 STORAGE_FULL, the node rebuilds its state in-process
 *   and stays up; the filler deleted, writes resume.
 * The process never exits on its own; after a restart every acknowledged price is in the log and no
 * refused one is.
 */
import { closeSync, openSync, rmSync, statfsSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { children, cli, freePort, ROOT } from "../support/processes.ts";
import { loggedPriceTimes, mountTmpfs, postPrice, ServeProcess, serveEnv, unmountTmpfs } from "./serve-process.ts";

const MOUNT = join(tmpdir(), `propnet-disk-full-${process.pid}`);
let mountProblem: string | null = null;

beforeAll(() => {
  mountProblem = mountTmpfs(MOUNT, 24);
});

afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  if (mountProblem === null) unmountTmpfs(MOUNT);
});

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Writes zeros into `path` until only `leave` bytes are free (0: until the disk refuses). */
function fill(path: string, leave: number): void {
  const fd = openSync(path, "a");
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) {
      const room = freeBytes(MOUNT) - leave;
      if (room <= 0) break;
      try {
        writeSync(fd, chunk, 0, Math.min(chunk.length, Math.max(room, 1)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOSPC") break;
        throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
}

async function until<T>(what: string, probe: () => Promise<T | null>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== null) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("disk full on a small tmpfs", () => {
  it("503 STORAGE_FULL on writes, reads and /healthz go on, writes resume; nothing acknowledged lost", { timeout: 120_000 }, async (ctx) => {
    if (mountProblem !== null) {
      // The injected-ENOSPC tests (src/node/storage-full.test.ts) cover the behaviour then.
      ctx.skip(`${mountProblem}; covered by src/node/storage-full.test.ts with injected ENOSPC`);
    }
    const data = join(MOUNT, "data");
    const filler = join(MOUNT, "filler");
    const port = await freePort();
    const acked: number[] = [];
    const refused: number[] = [];
    const lines: string[] = [];

    // ---- below the reserve -----------------------------------------------------------------------
    let server = new ServeProcess(data, port, ["--min-free-mb", "4"]);
    await server.ready();
    for (let i = 0; i < 10; i++) {
      const { answer, ts } = await postPrice(server);
      expect(answer.status, answer.text).toBe(200);
      acked.push(ts);
    }
    fill(filler, 2 * 1024 * 1024);
    const full = await until("a 503 STORAGE_FULL", async () => {
      const { answer, ts } = await postPrice(server);
      if (answer.status === 200) {
        acked.push(ts);
        return null;
      }
      refused.push(ts);
      return answer;
    });
    expect(full.status, full.text).toBe(503);
    expect(full.json.error.code).toBe("STORAGE_FULL");
    const prices = await server.api.get("/v1/prices");
    expect(prices.status, prices.text).toBe(200);
    expect(prices.json.prices.BTCUSD.ts_ms).toBe(acked[acked.length - 1]);
    const degraded = await server.healthz();
    expect(degraded.json.status, degraded.text).toBe("degraded");
    expect(degraded.json.problems.join("\n")).toMatch(/storage full: .* below the reserve of 4\.0 MiB/);
    lines.push(`reserve: refused at ${(freeBytes(MOUNT) / 1024 / 1024).toFixed(1)} MiB free`);

    rmSync(filler);
    await until("writes to resume", async () => {
      const { answer, ts } = await postPrice(server);
      if (answer.status === 200) {
        acked.push(ts);
        return answer;
      }
      refused.push(ts);
      return null;
    });
    expect((await server.healthz()).json.status).toBe("ok");
    await server.stop();

    // ---- no reserve: the commit itself fails ------------------------------------------------------
    server = new ServeProcess(data, port, ["--min-free-mb", "0"]);
    await server.ready();
    for (let i = 0; i < 5; i++) {
      const { answer, ts } = await postPrice(server);
      expect(answer.status, answer.text).toBe(200);
      acked.push(ts);
    }
    fill(filler, 0);
    const crashed = server.exited.then((exit) => {
      if (exit.code !== 0) console.error(`server exited ${JSON.stringify(exit)}:\n${server.stderr}`);
    });
    void crashed;
    let posts = 0;
    const failed = await until(
      "a commit to fail for lack of space",
      async () => {
        posts++;
        const { answer, ts } = await postPrice(server);
        if (answer.status === 200) {
          acked.push(ts);
          return null;
        }
        refused.push(ts);
        return answer;
      },
      60_000,
    );
    expect(failed.status, failed.text).toBe(503);
    expect(failed.json.error.code).toBe("STORAGE_FULL");
    expect(server.stderr).toMatch(/a commit failed for lack of disk space/);
    // The node stays up: after its rebuild it reads the committed state, and says it is full.
    const read = await until("reads after the rebuild", async () => {
      const a = await server.api.get("/v1/prices");
      return a.status === 200 ? a : null;
    });
    expect(read.json.prices.BTCUSD.ts_ms).toBe(acked[acked.length - 1]);
    const health = await server.healthz();
    expect(health.json.status, health.text).toBe("degraded");
    expect(health.json.problems.join("\n")).toMatch(/storage full: .*a commit failed for lack of space/);
    expect((await postPrice(server).then((r) => (refused.push(r.ts), r.answer))).json.error.code).toBe("STORAGE_FULL");
    expect(server.run.child.exitCode).toBeNull();
    lines.push(`no reserve: the commit failed after ${posts} posts on a full disk; rebuilt in-process (${/state rebuilt at seq \d+ in \d+ ms/.exec(server.stderr)?.[0] ?? "?"})`);

    rmSync(filler);
    await until("writes to resume after the failed commit", async () => {
      const { answer, ts } = await postPrice(server);
      if (answer.status === 200) {
        acked.push(ts);
        return answer;
      }
      refused.push(ts);
      return null;
    });
    for (let i = 0; i < 5; i++) {
      const { answer, ts } = await postPrice(server);
      expect(answer.status, answer.text).toBe(200);
      acked.push(ts);
    }
    expect((await server.healthz()).json.status).toBe("ok");
    await server.stop();

    // ---- after a restart: every acknowledged price, no refused one -----------------------------------
    server = new ServeProcess(data, port);
    await server.ready();
    expect((await server.api.get("/v1/prices")).json.prices.BTCUSD.ts_ms).toBe(acked[acked.length - 1]);
    await server.stop();
    const logged = loggedPriceTimes(join(data, "events.sqlite"));
    expect(acked.filter((ts) => !logged.has(ts)), "acknowledged prices lost").toEqual([]);
    expect(refused.filter((ts) => logged.has(ts)), "refused prices in the log").toEqual([]);
    const verified = await cli(["verify", "--data", data, "--full"], ROOT, serveEnv());
    expect(verified.code, verified.stderr).toBe(0);
    console.log(`disk full: ${acked.length} prices acknowledged and found after restart, ${refused.length} refused and absent; ${lines.join("; ")}`);
  });
});
