/**
 * The single-writer lock (issue #11) on the real PostgreSQL (database `test`, a schema of this
 * run's own, dropped after): one holder at a time; the published address is handed out only while
 * its session holds the lock; a session that ends (terminated here as a killed process's would
 * be) releases the lock, its holder hears it lost the lock, and another process takes it.
 */
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { currentWriter, WriterLock } from "./writer-lock.ts";

const PG_URL = process.env.PROPNET_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = `writer_lock_${process.pid}_${Date.now()}`;
const admin = new pg.Client({ connectionString: PG_URL });

afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await admin.end();
});

describe("the writer lock on PostgreSQL", () => {
  it("has one holder; its address counts only while its session lives; a dead session's lock passes on", async () => {
    await admin.connect();
    const [a, b] = await Promise.all([WriterLock.connect(PG_URL, SCHEMA), WriterLock.connect(PG_URL, SCHEMA)]);
    // No log yet: a starting process may write at once (the genesis).
    expect(await a.logIsEmpty()).toBe(true);
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    // A second try by the holder holds it still (and does not stack a second lock).
    expect(await a.tryAcquire()).toBe(true);
    expect(await currentWriter(admin, SCHEMA)).toBeNull();
    await a.publish("http://127.0.0.1:1111", "t1", 1);
    expect(await currentWriter(admin, SCHEMA)).toMatchObject({ address: "http://127.0.0.1:1111", token: "t1", sinceMs: 1 });
    await expect(b.publish("http://127.0.0.1:2222", "t2", 2)).rejects.toThrow(/does not hold/);

    const lost: Error[] = [];
    a.onLost((e) => lost.push(e));
    await admin.query("SELECT pg_terminate_backend($1)", [await a.backendPid()]);
    const deadline = Date.now() + 5_000;
    while (lost.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(lost).toHaveLength(1);
    expect(a.held).toBe(false);
    // The old record is not handed out once its session is gone.
    expect(await currentWriter(admin, SCHEMA)).toBeNull();
    expect(await b.tryAcquire()).toBe(true);
    await b.publish("http://127.0.0.1:2222", "t2", 2);
    expect(await currentWriter(admin, SCHEMA)).toMatchObject({ address: "http://127.0.0.1:2222" });
    await expect(a.tryAcquire()).rejects.toThrow(/lost|ended|terminat/);
    // Closing the session releases the lock too (a clean shutdown hands over at once).
    await b.close();
    const c = await WriterLock.connect(PG_URL, SCHEMA);
    expect(await c.tryAcquire()).toBe(true);
    await Promise.all([a.close(), c.close()]);
  });
});
