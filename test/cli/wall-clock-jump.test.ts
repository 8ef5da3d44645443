// The wall clock of a real `propnet serve` process moved back an hour and forward 91 days, while it
// runs and across restarts (issue 14, "Real processes"), with eight subaccounts mid-challenge. The
// process's wall clock is shifted with libfaketime (Debian package `faketime`): LD_PRELOAD, a
// timestamp file the test rewrites (read on every clock call: FAKETIME_NO_CACHE), and
// DONT_FAKE_MONOTONIC so that only the wall clock moves, as when an operator or a bad NTP server
// sets it. This process, the client, keeps the real clock: a correctly-timed client and oracle.
// Checked over HTTP: no elimination, time-out or slash; recorded time never leaves
// [test start, real now]; Epistula's window and price stamps are judged against node time;
// /healthz says CLOCK_JUMP while the wall clock is off, and root's acknowledgement is refused
// for a wall clock behind node time.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Answer, api, devSigners, expectError, type Signer } from "../support/http.ts";
import { children, freePort, ROOT, spawnCli } from "../support/processes.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const TAO_RAO = 1_000_000_000n;
const SUBACCOUNTS = 8;
const READY_TIMEOUT_MS = 30_000;

/** Where Debian and Ubuntu put libfaketime (the multi-threaded build: node runs threads); PROPNET_LIBFAKETIME overrides. */
function libfaketime(): string {
  const candidates = [
    process.env.PROPNET_LIBFAKETIME,
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
  ].filter((c): c is string => c !== undefined && c !== "");
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`libfaketime is not installed (looked in ${candidates.join(", ")}): apt-get install -y faketime`);
  return found;
}

let dir = "";
let port = 0;
let faketimeFile = "";
let keys: Record<"Alice" | "Bob" | "Ent", Signer>;
let server: ReturnType<typeof spawnCli> | null = null;
const testStart = Date.now();

const { get, post } = api(() => `http://127.0.0.1:${port}`);
const ent = () => keys.Ent.address;

/** Sets the server's wall clock: "+0", "-1h", "+91d" from the real one. */
function shiftWallClock(offset: string): void {
  writeFileSync(faketimeFile, `${offset}\n`);
}

async function startServer(): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NO_COLOR: "1",
    LD_PRELOAD: libfaketime(),
    FAKETIME_TIMESTAMP_FILE: faketimeFile,
    FAKETIME_NO_CACHE: "1",
    DONT_FAKE_MONOTONIC: "1",
    PROPNET_SIGNATURE_THREADS: "1",
  };
  delete env.PROPNET_HOST;
  delete env.PROPNET_PORT;
  server = spawnCli(["serve", "--no-demo", "--block-time", "50", "--rate-limit", "off", "--data", dir, "--port", String(port)], ROOT, env);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`serve exited ${server.child.exitCode}: ${server.stderr()}`);
    const ready = await get("/readyz").catch(() => null);
    if (ready?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`serve not ready in ${READY_TIMEOUT_MS} ms: ${server.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopServer(): Promise<string> {
  const s = server;
  server = null;
  if (!s) return "";
  s.child.kill("SIGTERM");
  const ran = await s.done;
  expect(ran.code, ran.stderr).toBe(0);
  return ran.stderr;
}

function ok(a: Answer, status: number): Answer {
  expect(a.status, a.text).toBe(status);
  return a;
}

/** The server's clock as a client learns it (GET /v1/time): node time. */
async function serverTime(): Promise<number> {
  return ok(await get("/v1/time"), 200).json.server_time_ms as number;
}

let lastPriceTs = 0;
/** A price stamp: now by `clock`, later than any before. */
function stamp(clock: number): number {
  lastPriceTs = Math.max(clock, lastPriceTs + 1);
  return lastPriceTs;
}

async function postPrice(price: number, ts_ms: number, signAt?: number): Promise<Answer> {
  return post("/v1/prices", keys.Alice, { prices: [{ trade_pair: "BTCUSD", price, ts_ms }] }, { ts: signAt });
}

async function health(): Promise<{ status: string; problems: string[] }> {
  return ok(await get("/healthz"), 200).json;
}

/** Several block times pass (each block sweeps the challenges that ran out of time), then: all eight in their challenge, nothing slashed. */
async function expectAllInChallenge(signAt?: number): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
  const e = ok(await get(`/v1/entities/${ent()}`, keys.Ent, { ts: signAt ?? (await serverTime()) }), 200).json.entity;
  expect(e.active_subaccounts).toBe(SUBACCOUNTS);
  expect(e.eliminated_subaccounts).toBe(0);
  expect(e.collateral.slashed_rao).toBe("0");
  expect(e.subaccounts.map((s: { status: string; challenge: { state: string } }) => `${s.status}/${s.challenge.state}`)).toEqual(
    Array.from({ length: SUBACCOUNTS }, () => "active/in_challenge"),
  );
}

beforeAll(async () => {
  keys = await devSigners(["Alice", "Bob", "Ent"] as const);
  dir = mkdtempSync(join(tmpdir(), "propnet-wall-clock-"));
  faketimeFile = join(dir, "faketime");
  shiftWallClock("+0");
  port = await freePort();
  await startServer();
  const extrinsic = (call: string, args: Record<string, unknown>) => post("/v1/chain/extrinsics", keys.Bob, { call, args });
  ok(await extrinsic("subtensor.burned_register", { netuid: 1, hotkey: ent() }), 200);
  ok(await extrinsic("collateral.deposit", { hotkey: ent(), amount_rao: (100n * TAO_RAO).toString() }), 200);
  ok(await post("/v1/entities", keys.Ent, {}), 201);
  for (let i = 0; i < SUBACCOUNTS; i++) ok(await post(`/v1/entities/${ent()}/subaccounts`, keys.Ent, {}), 201);
  ok(await postPrice(50_000, stamp(Date.now())), 200);
  for (let i = 0; i < SUBACCOUNTS; i++) {
    ok(await post("/v1/orders", keys.Ent, { subaccount_id: i, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 201);
  }
}, 60_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("propnet serve with its wall clock moved (libfaketime)", () => {
  it("an hour back while running: time goes on, correctly-timed clients and prices are accepted, root cannot take time back", async () => {
    await expectAllInChallenge(Date.now());
    shiftWallClock("-1h");
    const h = await health();
    expect(h.status).toBe("degraded");
    expect(h.problems).toEqual([expect.stringMatching(/^CLOCK_JUMP: the wall clock is (59 min 5\d s|1 h) behind node time/)]);
    // Epistula's window is node time: a request signed by the real clock goes through.
    expect(Math.abs((await serverTime()) - Date.now())).toBeLessThan(1_000);
    expect(ok(await postPrice(50_100, stamp(Date.now())), 200).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    expectError(await post("/v1/clock/acknowledge", keys.Alice, {}), 409, "WALL_CLOCK_BEHIND");
    await expectAllInChallenge(Date.now());
  });

  it("91 days forward while running: no challenge times out; a price stamped by the wrong clock is refused", async () => {
    shiftWallClock("+91d");
    const h = await health();
    expect(h.problems).toEqual([expect.stringMatching(/^CLOCK_JUMP: the wall clock is 91 d ahead of node time; node time keeps to the monotonic clock/)]);
    const clock = ok(await get("/v1/clock"), 200).json;
    expect(clock.wall_lead_ms).toBeGreaterThan(91 * DAY - 2_000);
    const wrong = Date.now() + 91 * DAY;
    expectError(await postPrice(60_000, wrong), 400, "VALIDATION_FAILED");
    expectError(await postPrice(50_150, stamp(Date.now()), wrong), 401, "SIGNATURE_EXPIRED");
    expect(ok(await postPrice(50_200, stamp(Date.now())), 200).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    ok(await post("/v1/orders", keys.Ent, { subaccount_id: 0, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 201);
    await expectAllInChallenge(Date.now());
  });

  it("across a restart 91 days ahead, then an hour behind: time goes on from the log, nothing is judged at the wrong time", async () => {
    const said = await stopServer();
    expect(said).toMatch(/clock: CLOCK_JUMP: the wall clock is 91 d ahead of node time/);
    await startServer(); // still +91d
    const h = await health();
    expect(h.status).toBe("degraded");
    expect(h.problems).toEqual([expect.stringMatching(/^CLOCK_JUMP: the wall clock is 91 d ahead of node time; at start it was more than 1 d past the last recorded event/)]);
    // Node time went on from the last event: behind real time by the restart. A client that
    // learnt the server's time (as the client library does from /v1/time or an expired answer) signs by it.
    const t = await serverTime();
    expect(t).toBeLessThanOrEqual(Date.now());
    expect(t).toBeGreaterThan(Date.now() - 60_000);
    expect(ok(await postPrice(50_250, stamp(t), t), 200).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    await expectAllInChallenge();

    await stopServer();
    shiftWallClock("-1h");
    await startServer();
    expect((await health()).problems).toEqual([expect.stringMatching(/^CLOCK_JUMP: the wall clock is .* behind node time/)]);
    const t2 = await serverTime();
    expect(t2).toBeGreaterThanOrEqual(t);
    expectError(await post("/v1/clock/acknowledge", keys.Alice, {}, { ts: t2 }), 409, "WALL_CLOCK_BEHIND");
    expect(ok(await postPrice(50_300, stamp(t2), t2), 200).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    await expectAllInChallenge();
  });

  it("back on the real clock: nothing left degraded; every recorded time lies between the test's start and now, in order", async () => {
    await stopServer();
    shiftWallClock("+0");
    await startServer();
    // Within a day of the last event: the node resumes on the wall clock, as after any restart.
    expect(await health()).toMatchObject({ status: "ok", problems: [] });
    expect(Math.abs((await serverTime()) - Date.now())).toBeLessThan(1_000);
    expect(ok(await postPrice(50_350, stamp(Date.now())), 200).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    await expectAllInChallenge(Date.now());
    await stopServer();

    const db = new Database(join(dir, "events.sqlite"), { readonly: true });
    try {
      const rows = db.prepare("SELECT seq, ts, type FROM events ORDER BY seq").all() as Array<{ seq: number; ts: number; type: string }>;
      const realNow = Date.now();
      expect(rows.length).toBeGreaterThan(20);
      for (let i = 1; i < rows.length; i++) expect((rows[i] as { ts: number }).ts, `seq ${(rows[i] as { seq: number }).seq}`).toBeGreaterThanOrEqual((rows[i - 1] as { ts: number }).ts);
      const ts = rows.slice(1).map((r) => r.ts); // genesis carries no time
      expect(Math.min(...ts)).toBeGreaterThanOrEqual(testStart - 1_000);
      expect(Math.max(...ts)).toBeLessThanOrEqual(realNow);
      expect(realNow - testStart).toBeLessThan(HOUR);
      expect(rows.filter((r) => /Swept|Eliminat/.test(r.type))).toEqual([]);
    } finally {
      db.close();
    }
  });
});
