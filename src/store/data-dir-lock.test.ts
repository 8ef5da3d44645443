import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DataDirectoryLocked, DataDirLock, lockPath } from "./data-dir-lock.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "propnet-lock-unit-"));
  dirs.push(d);
  return d;
}

describe("DataDirLock", () => {
  it("refuses a second holder at once, naming the first; free again after release", () => {
    const dir = tempDir();
    const lock = DataDirLock.acquire(dir, { address: "http://127.0.0.1:8091" });
    const started = performance.now();
    let error: unknown = null;
    try {
      DataDirLock.acquire(dir, { address: "http://127.0.0.1:9999" });
    } catch (e) {
      error = e;
    }
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(DataDirectoryLocked);
    const locked = error as DataDirectoryLocked;
    expect(locked.code).toBe("DATA_DIR_LOCKED");
    expect(locked.holder).toMatchObject({ pid: process.pid, address: "http://127.0.0.1:8091" });
    expect(locked.message).toContain(`pid ${process.pid} serving on http://127.0.0.1:8091`);
    lock.release();
    expect(lock.held).toBe(false);
    DataDirLock.acquire(dir, { address: "x" }).release();
  });

  it("a holder killed with SIGKILL leaves no lock behind (the OS releases it)", async () => {
    const dir = tempDir();
    // Another process holds the lock the same way a node does, then dies of SIGKILL.
    const script = `const D = require("better-sqlite3"); const db = new D(${JSON.stringify(lockPath(dir))}, { timeout: 0 }); db.exec("BEGIN EXCLUSIVE"); process.stdout.write("held\\n"); setInterval(() => {}, 1e6);`;
    const child = spawn(process.execPath, ["-e", script], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    expect(() => DataDirLock.acquire(dir, { address: "x" })).toThrow(DataDirectoryLocked);
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const lock = DataDirLock.acquire(dir, { address: "x" });
    expect(lock.held).toBe(true);
    lock.release();
  });
});
