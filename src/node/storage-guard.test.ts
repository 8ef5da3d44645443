import { describe, expect, it } from "vitest";
import { DomainError } from "../core/errors/errors.ts";
import { RESUME_MARGIN_BYTES, StorageGuard } from "./storage-guard.ts";

const MB = 1024 * 1024;

describe("StorageGuard", () => {
  it("refuses below the reserve and says so once per change; resumes above it", () => {
    let free = 100 * MB;
    const said: string[] = [];
    const guard = new StorageGuard("/data", 64 * MB, () => free, (m) => said.push(m));
    expect(guard.refusal()).toBeNull();
    expect(guard.condition()).toBeNull();
    free = 63 * MB;
    guard.refresh();
    guard.refresh();
    const refusal = guard.refusal();
    expect(refusal).toBeInstanceOf(DomainError);
    expect(refusal?.code).toBe("STORAGE_FULL");
    expect(refusal?.status).toBe(503);
    expect(guard.condition()).toEqual({ problem: expect.stringContaining("63.0 MiB free on /data, below the reserve of 64.0 MiB"), degraded: true, code: "STORAGE_FULL" });
    free = 64 * MB;
    guard.refresh();
    expect(guard.full).toBe(false);
    expect(said).toHaveLength(2);
    expect(said[0]).toMatch(/^storage full: .*writes are refused with 503 STORAGE_FULL/);
    expect(said[1]).toMatch(/writes resume/);
  });

  it("after a failed commit, resumes only with clearly more space than then (no loop of failed commits)", () => {
    let free = 200 * MB;
    const guard = new StorageGuard("/data", 0, () => free);
    free = 3 * MB;
    guard.commitFailed();
    expect(guard.full).toBe(true);
    free = 3 * MB + RESUME_MARGIN_BYTES - 1;
    guard.refresh();
    expect(guard.full).toBe(true);
    free = 3 * MB + RESUME_MARGIN_BYTES;
    guard.refresh();
    expect(guard.full).toBe(false);
  });

  it("an SQLITE_IOERR counts as full only while the disk is in fact nearly full; a probe that fails refuses nothing", () => {
    let free = 500 * MB;
    let broken = false;
    const guard = new StorageGuard("/data", 64 * MB, () => {
      if (broken) throw new Error("EIO");
      return free;
    });
    const ioerr = Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_WRITE" });
    expect(guard.explains(ioerr)).toBe(false);
    free = 1 * MB;
    expect(guard.explains(ioerr)).toBe(true);
    expect(guard.explains(Object.assign(new Error("x"), { code: "SQLITE_FULL" }))).toBe(true);
    broken = true;
    guard.refresh();
    expect(guard.full).toBe(false);
  });
});
