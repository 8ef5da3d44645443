/**
 * Disk full, in-process with injected faults (the real disk is in test/storage/disk-full.test.ts):
 * writes are refused with STORAGE_FULL before they execute while free space is below the reserve;
 * a commit that fails for lack of space anyway is answered STORAGE_FULL (never acknowledged), the
 * node rebuilds its state from snapshot + log while it stays up, and writes resume by themselves
 * once space returns. Nothing acknowledged is lost, nothing unacknowledged is visible.
 */
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mountTmpfs, unmountTmpfs } from "../../test/storage/serve-process.ts";
import { DomainError } from "../core/errors/errors.ts";
import { TAO } from "../core/ledger/asset.ts";
import { stateHash } from "../core/machine/state.ts";
import { StorageFullError } from "../store/storage-full.ts";
import type { Store } from "../store/store.ts";
import { openStore } from "../store/open-store.ts";
import { PropnetNode, snapshotDir } from "./node.ts";
import { freeBytes, RESUME_MARGIN_BYTES } from "./storage-guard.ts";
import { verifyLog } from "./verify.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "propnet-storage-full-"));
  dirs.push(d);
  return d;
}

const genesis = [
  { owner: "alice", amount_rao: 1_000_000_000_000n },
  { owner: "bob", amount_rao: 1_000_000_000_000n },
];
const MB = 1024 * 1024;

/** The real threaded store, whose next `failNext` appends reject with `fault` (as ENOSPC would, after SQLite rolled back). */
function faultyStores(fault: () => Error) {
  let failNext = 0;
  let opened = 0;
  const open = async (path: string): Promise<Store> => {
    opened++;
    const inner = await openStore({ backend: "sqlite", path });
    return new Proxy(inner, {
      get(target, key) {
        if (key === "append") {
          return (...args: Parameters<Store["append"]>) => {
            if (failNext > 0) {
              failNext--;
              return Promise.reject(fault());
            }
            return target.append(...args);
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  return { open, fail: (n = 1) => (failNext = n), opened: () => opened };
}

function transfer(node: PropnetNode, n: number) {
  return node.submit({ command: { kind: "transfer", asset: TAO, from: "alice", to: `acct${n % 7}`, amount_rao: BigInt(n + 1) } });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (error) {
    return error instanceof DomainError ? error.code : `thrown: ${(error as Error).message}`;
  }
}

describe("disk full", () => {
  it("below the reserve: writes refused before they execute, reads and /healthz go on, writes resume when space returns", async () => {
    const dir = tempDir();
    let free = 10_000 * MB;
    const node = await PropnetNode.open({ dataDir: dir, genesis, minFreeBytes: 64 * MB, freeBytes: () => free });
    for (let i = 0; i < 10; i++) expect((await transfer(node, i)).ok).toBe(true);
    const head = node.head;
    const hash = await node.read((state) => stateHash(state));

    free = 10 * MB;
    expect(node.checkStorage()).toBe(true);
    const refused = await transfer(node, 99).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DomainError);
    expect((refused as DomainError).code).toBe("STORAGE_FULL");
    expect((refused as DomainError).status).toBe(503);
    expect((refused as DomainError).details).toMatchObject({ free_bytes: 10 * MB, min_free_bytes: 64 * MB });
    // Nothing executed: same head, same state; reads answer.
    expect(node.head).toEqual(head);
    expect(await node.read((state) => stateHash(state))).toBe(hash);
    expect(node.conditions()).toEqual([expect.objectContaining({ code: "STORAGE_FULL", degraded: true, problem: expect.stringMatching(/storage full: 10\.0 MiB free/) })]);
    expect(node.writable).toBe(true);

    free = 500 * MB;
    expect(node.checkStorage()).toBe(false);
    expect(node.conditions()).toEqual([]);
    expect((await transfer(node, 100)).ok).toBe(true);
    await node.close();
  });

  it("a commit that fails for lack of space: callers get STORAGE_FULL, the node rebuilds in-process, writes resume once space returns; nothing acknowledged lost", async () => {
    const dir = tempDir();
    let free = 1_000 * MB;
    const stores = faultyStores(() => Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" }));
    const said: string[] = [];
    const fatal: unknown[] = [];
    const node = await PropnetNode.open({
      dataDir: dir,
      genesis,
      minFreeBytes: 64 * MB,
      freeBytes: () => free,
      openStore: stores.open,
      snapshotEvery: 15,
      say: (m) => said.push(m),
      onFatal: (e) => fatal.push(e),
    });
    const acked: number[] = [];
    for (let i = 0; i < 20; i++) {
      expect((await transfer(node, i)).ok).toBe(true);
      acked.push(i);
    }
    await node.snapshot();
    for (let i = 20; i < 25; i++) {
      expect((await transfer(node, i)).ok).toBe(true);
      acked.push(i);
    }
    const committed = node.head;
    const committedHash = await node.read((state) => stateHash(state));

    // The disk fills behind the reserve's back (another process), and a batch of 30 fails to commit.
    free = 100 * MB;
    stores.fail(1);
    const failed = await Promise.all(Array.from({ length: 30 }, (_, k) => codeOf(transfer(node, 1_000 + k))));
    expect(new Set(failed)).toEqual(new Set(["STORAGE_FULL"]));
    expect(fatal).toEqual([]);
    // Reads during the rebuild answer UNAVAILABLE (never the uncommitted state); afterwards the committed state.
    if (node.rebuilds === 0) expect(await codeOf(node.read((state) => stateHash(state)))).toBe("UNAVAILABLE");
    await node.rebuilt;
    expect(node.rebuilds).toBe(1);
    expect(stores.opened()).toBe(2);
    expect(node.head).toEqual(committed);
    expect(await node.read((state) => stateHash(state))).toBe(committedHash);
    expect(said.join("\n")).toMatch(/a commit failed for lack of disk space.*rebuilding/);
    expect(said.join("\n")).toMatch(/state rebuilt at seq \d+/);

    // Still refused: no more space than when it failed.
    expect(node.checkStorage()).toBe(true);
    expect(await codeOf(transfer(node, 2_000))).toBe("STORAGE_FULL");
    expect(node.conditions()[0]).toMatchObject({ code: "STORAGE_FULL", degraded: true });
    // Space returns: writes resume by themselves (the node's own probe).
    free = 100 * MB + RESUME_MARGIN_BYTES + 1;
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(node.storageFull).toBe(false);
    for (let i = 25; i < 35; i++) {
      expect((await transfer(node, i)).ok).toBe(true);
      acked.push(i);
    }
    const finalHash = await node.read((state) => stateHash(state));
    const finalHead = node.head;
    await node.close({ snapshot: false });

    // After a restart: exactly the acknowledged transfers, the same state; verify agrees.
    const reopened = await PropnetNode.open({ dataDir: dir });
    expect(reopened.head).toEqual(finalHead);
    expect(await reopened.read((state) => stateHash(state))).toBe(finalHash);
    const amounts = (await reopened.store.read(0, 10_000))
      .filter((r) => r.type.startsWith("Transferred") || r.payload.includes('"amount_rao"'))
      .map((r) => r.payload);
    for (const k of [1_000, 1_029, 2_000]) expect(amounts.some((p) => p.includes(`"amount_rao":"${k + 1}"`)), `unacknowledged transfer ${k} is in the log`).toBe(false);
    for (const i of acked) expect(amounts.some((p) => p.includes(`"amount_rao":"${i + 1}"`)), `acknowledged transfer ${i} lost`).toBe(true);
    await reopened.close({ snapshot: false });
    const report = await verifyLog(dir, { full: true });
    expect(report.stateHash).toBe(finalHash);
  });

  it("any other commit failure stays fatal (no rebuild)", async () => {
    const dir = tempDir();
    const stores = faultyStores(() => Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_WRITE" }));
    const fatal: unknown[] = [];
    const node = await PropnetNode.open({ dataDir: dir, genesis, freeBytes: () => 1_000 * MB, openStore: stores.open, onFatal: (e) => fatal.push(e) });
    stores.fail(1);
    expect(await codeOf(transfer(node, 1))).toBe("UNAVAILABLE");
    expect(fatal).toHaveLength(1);
    expect(node.rebuilds).toBe(0);
    expect(node.readable).toBe(false);
    await node.close({ snapshot: false });
  });

  it("an SQLITE_IOERR while the disk is in fact full counts as full; a StorageFullError too", async () => {
    const dir = tempDir();
    let free = 1_000 * MB;
    let kind = 0;
    const stores = faultyStores(() => (kind === 0 ? Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_WRITE" }) : new StorageFullError("injected")));
    const fatal: unknown[] = [];
    const node = await PropnetNode.open({ dataDir: dir, genesis, freeBytes: () => free, openStore: stores.open, minFreeBytes: 0, onFatal: (e) => fatal.push(e) });
    free = 0;
    stores.fail(1);
    expect(await codeOf(transfer(node, 1))).toBe("STORAGE_FULL");
    await node.rebuilt;
    free = 10 * MB;
    node.checkStorage();
    kind = 1;
    stores.fail(1);
    expect(await codeOf(transfer(node, 2))).toBe("STORAGE_FULL");
    await node.rebuilt;
    expect(node.rebuilds).toBe(2);
    expect(fatal).toEqual([]);
    await node.close({ snapshot: false });
  });
});

describe("a snapshot on a full disk (tmpfs)", () => {
  const MOUNT = join(tmpdir(), `propnet-node-snapshot-full-${process.pid}`);
  let mountProblem: string | null = null;
  beforeAll(() => {
    mountProblem = mountTmpfs(MOUNT, 8);
  });
  afterAll(() => {
    if (mountProblem === null) unmountTmpfs(MOUNT);
  });

  it("is reported (said and in /healthz), leaves no file, the node goes on; written once space returns", async (ctx) => {
    if (mountProblem !== null) ctx.skip(mountProblem);
    const dir = join(MOUNT, "data");
    const said: string[] = [];
    const node = await PropnetNode.open({ dataDir: dir, genesis, minFreeBytes: 0, say: (m) => said.push(m) });
    for (let i = 0; i < 5; i++) expect((await transfer(node, i)).ok).toBe(true);
    const filler = join(MOUNT, "filler");
    const fd = openSync(filler, "a");
    const chunk = Buffer.alloc(64 * 1024);
    try {
      while (freeBytes(MOUNT) > 0) writeSync(fd, chunk, 0, Math.min(chunk.length, freeBytes(MOUNT)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
    } finally {
      closeSync(fd);
    }
    await expect(node.snapshot()).rejects.toMatchObject({ code: "ENOSPC" });
    expect(readdirSync(snapshotDir(dir))).toEqual([]);
    expect(node.conditions()).toContainEqual({ problem: expect.stringMatching(/snapshot at seq \d+ could not be written \(ENOSPC.*retries in 30 s/), degraded: false });
    // Reads go on.
    expect(await node.read((state) => stateHash(state))).toMatch(/^[0-9a-f]{64}$/);
    rmSync(filler);
    node.checkStorage();
    const written = await node.snapshot();
    expect(written).toMatch(/snapshot-\d{12}\.json$/);
    expect(node.conditions()).toEqual([]);
    await node.close();
  });
});
