/**
 * The data directory is locked for the node's life (issue 14): a second `propnet serve` on the same
 * --data is refused at start (exit 2) naming the holder's pid and address, and never touches the
 * log; the first keeps serving and writing; after a kill -9 the stale lock blocks no restart.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { children, freePort } from "../support/processes.ts";
import { postPrice, ServeProcess } from "./serve-process.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function fingerprint(path: string): string {
  try {
    const s = statSync(path);
    return `${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  } catch {
    return "absent";
  }
}

describe("the data directory lock", () => {
  it("refuses a second serve (exit 2, holder pid and address), which never touches the log; kill -9 leaves no stale lock", { timeout: 90_000 }, async () => {
    const data = mkdtempSync(join(tmpdir(), "propnet-lock-"));
    dirs.push(data);
    const first = new ServeProcess(data, await freePort());
    await first.ready();
    expect((await postPrice(first)).answer.status).toBe(200);

    const log = join(data, "events.sqlite");
    const files = [log, `${log}-wal`, `${log}-shm`, join(data, "head")];
    // Let the first node's checkpoint thread fold its WAL back: then nothing of the log moves by itself.
    let before = files.map(fingerprint);
    for (let settled = 0; settled < 3; ) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const now = files.map(fingerprint);
      settled = JSON.stringify(now) === JSON.stringify(before) ? settled + 1 : 0;
      before = now;
    }
    const second = new ServeProcess(data, await freePort());
    const exit = await second.exited;
    expect(exit.code, second.stderr).toBe(2);
    expect(second.stderr).toContain(`pid ${first.pid}`);
    expect(second.stderr).toContain(`http://127.0.0.1:${first.port}`);
    expect(second.stderr).toMatch(/is in use by propnet node/);
    expect(second.stderr).not.toMatch(/listening on/);
    // Nothing of the log changed: not opened for write, not even checkpointed.
    expect(files.map(fingerprint)).toEqual(before);

    // The first node goes on serving and writing.
    for (let i = 0; i < 5; i++) expect((await postPrice(first)).answer.status).toBe(200);
    const health = await first.healthz();
    expect(health.json.status, health.text).toBe("ok");

    // kill -9: the OS lets the lock go; a restart on the same directory is not blocked.
    await first.kill();
    const third = new ServeProcess(data, await freePort());
    await third.ready();
    expect((await postPrice(third)).answer.status).toBe(200);
    await third.stop();
  });
});
