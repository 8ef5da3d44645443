// The node clock over HTTP (DESIGN.md §2 rule 6, issue 14): eight subaccounts mid-challenge while
// the wall clock jumps 91 days forward and an hour back, while running and across a restart. Only
// the wall clock moves (the monotonic clock is the real one), as when an operator or a bad NTP
// server sets it: no elimination, time-out or slash comes of it, recorded time never runs ahead,
// prices stamped ahead of node time are refused, Epistula's window is node time, and root's
// acknowledgement adopts a wall clock ahead (and only one ahead).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlockProducer } from "../../node/block-producer.ts";
import { NodeClock } from "../../node/clock.ts";
import { PropnetNode } from "../../node/node.ts";
import { type Answer, api, devSigners, expectError, listen, type Signer } from "../../../test/support/http.ts";
import { EpistulaVerifier } from "../../epistula/epistula.ts";
import { buildServer } from "../server.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const TAO_RAO = 1_000_000_000n;
const SUBACCOUNTS = 8;

let dir: string;
let keys: Record<"Alice" | "Bob" | "Ent", Signer>;
/** Added to the real wall clock: what the node's wall source reads. The monotonic source is real. */
let wallOffset = 0;

interface Running {
  node: PropnetNode;
  producer: BlockProducer;
  app: FastifyInstance;
  base: string;
}
let running: Running | null = null;

/** As `serve` wires it: the node's clock on a wall source and the monotonic clock; Epistula on node time. */
async function start(): Promise<Running> {
  const alice = keys.Alice.address;
  const node = await PropnetNode.open({
    dataDir: dir,
    clock: new NodeClock(() => Date.now() + wallOffset, { monotonic: () => performance.now() }),
    genesis: (["Alice", "Bob"] as const).map((n) => ({ owner: keys[n].address, amount_rao: 1_000_000n * TAO_RAO })),
    chainGenesis: { root: alice, subnets: [{ netuid: 1, ownerHotkey: alice, ownerColdkey: alice }] },
  });
  const epistula = new EpistulaVerifier({ now: () => node.clock.now() });
  epistula.markStarted(node.clock.now() - 60_000); // no start-up guard here: uuids are fresh
  // A block every 20 ms: every block sweeps the challenges that ran out of time.
  const producer = new BlockProducer(node, 20);
  producer.start();
  const app = buildServer({ node: () => node, producer: () => producer, root: alice, startupStatus: () => "starting", version: "test", epistula });
  running = { node, producer, app, base: await listen(app) };
  return running;
}

async function stop(): Promise<void> {
  const r = running;
  running = null;
  if (!r) return;
  await r.app.close();
  await r.producer.stop();
  await r.node.close();
}

const { get, post } = api(() => running?.base ?? "");
const node = () => (running as Running).node;
const ent = () => keys.Ent.address;
const synthetic = (id: number) => `${ent()}_${id}`;

/** Real time: what a correctly-timed oracle or client reads. */
let lastPriceTs = 0;
function realPriceTs(): number {
  lastPriceTs = Math.max(Date.now(), lastPriceTs + 1);
  return lastPriceTs;
}

function ok(a: Answer, status: number): Answer {
  expect(a.status, a.text).toBe(status);
  return a;
}

async function postPrice(price: number, ts_ms = realPriceTs(), signAt?: number): Promise<Answer> {
  return post("/v1/prices", keys.Alice, { prices: [{ trade_pair: "BTCUSD", price, ts_ms }] }, { ts: signAt });
}

async function entityView(signAt?: number) {
  return ok(await get(`/v1/entities/${ent()}`, keys.Ent, { ts: signAt }), 200).json.entity;
}

/** Several block times pass: a sweep that would fail anyone has had its chance. */
const blocksPass = () => new Promise((r) => setTimeout(r, 150));

/** No subaccount eliminated, none slashed, each still in its challenge. */
async function expectAllInChallenge(): Promise<void> {
  const e = await entityView();
  expect(e.active_subaccounts).toBe(SUBACCOUNTS);
  expect(e.eliminated_subaccounts).toBe(0);
  expect(e.collateral.slashed_rao).toBe("0");
  expect(e.subaccounts.map((s: { status: string; challenge: { state: string } }) => [s.status, s.challenge.state])).toEqual(
    Array.from({ length: SUBACCOUNTS }, () => ["active", "in_challenge"]),
  );
}

/** Every recorded ts: never before the one before it, never ahead of real time. */
async function expectRecordedTimeSane(): Promise<number[]> {
  const ts = (await node().store.read(0, 100_000)).map((r) => r.ts);
  const realNow = Date.now();
  for (let i = 1; i < ts.length; i++) expect(ts[i]).toBeGreaterThanOrEqual(ts[i - 1] as number);
  expect(Math.max(...ts)).toBeLessThanOrEqual(realNow);
  return ts;
}

async function health() {
  return ok(await get("/healthz"), 200).json as { status: string; problems: string[] };
}

beforeAll(async () => {
  keys = await devSigners(["Alice", "Bob", "Ent"] as const);
  dir = mkdtempSync(join(tmpdir(), "propnet-clock-"));
  await start();
  const extrinsic = (call: string, args: Record<string, unknown>) => post("/v1/chain/extrinsics", keys.Bob, { call, args });
  ok(await extrinsic("subtensor.burned_register", { netuid: 1, hotkey: ent() }), 200);
  ok(await extrinsic("collateral.deposit", { hotkey: ent(), amount_rao: (100n * TAO_RAO).toString() }), 200);
  ok(await post("/v1/entities", keys.Ent, {}), 201);
  for (let i = 0; i < SUBACCOUNTS; i++) ok(await post(`/v1/entities/${ent()}/subaccounts`, keys.Ent, {}), 201);
  ok(await postPrice(50_000), 200);
  for (let i = 0; i < SUBACCOUNTS; i++) {
    ok(await post("/v1/orders", keys.Ent, { subaccount_id: i, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 201);
  }
  ok(await postPrice(50_100), 200);
});

afterAll(async () => {
  await stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a wall clock that jumps never eliminates, times out or slashes anyone", () => {
  it("the clock routes are in the OpenAPI document; the acknowledgement takes no fields", async () => {
    const paths = ok(await get("/openapi.json"), 200).json.paths;
    expect(Object.keys(paths["/v1/clock"])).toEqual(["get"]);
    expect(Object.keys(paths["/v1/clock/acknowledge"])).toEqual(["post"]);
    expectError(await post("/v1/clock/acknowledge", keys.Alice, { to: 1 }), 400, "VALIDATION_FAILED");
    expectError(await post("/v1/clock/acknowledge", null, {}), 401, "SIGNATURE_MISSING");
  });

  it("91 days forward while running: node time keeps to the monotonic clock; CLOCK_JUMP in /healthz; prices stamped ahead are refused", async () => {
    await expectAllInChallenge();
    expect((await health()).status).toBe("ok");
    wallOffset = 91 * DAY;

    const h = await health();
    expect(h.status).toBe("degraded");
    expect(h.problems).toEqual([expect.stringMatching(/^CLOCK_JUMP: the wall clock is 91 d ahead of node time; node time keeps to the monotonic clock\. If the wall clock is right, root adopts it with POST \/v1\/clock\/acknowledge/)]);
    const clock = ok(await get("/v1/clock"), 200).json;
    expect(clock.wall_lead_ms).toBeGreaterThan(91 * DAY - 1_000);
    expect(Math.abs(clock.node_time_ms - Date.now())).toBeLessThan(1_000);
    expect(clock.jump).toBe(h.problems[0]);
    expect(Math.abs(ok(await get("/v1/time"), 200).json.server_time_ms - Date.now())).toBeLessThan(1_000);

    // The wrong time is refused wherever it comes in: a price stamped at it, a request signed at it.
    const wrongNow = Date.now() + wallOffset;
    const ahead = await postPrice(60_000, wrongNow);
    expectError(ahead, 400, "VALIDATION_FAILED");
    expect(ahead.json.error.message).toMatch(/^prices\[0\]\.ts_ms is \d+ ms ahead of the server clock \(at most 2000 ms\); the batch is refused whole$/);
    expect(ahead.json.error.details).toMatchObject({ index: 0, ts_ms: wrongNow, max_ahead_ms: 2_000 });
    const oneTooFar = await post("/v1/prices", keys.Alice, {
      prices: [
        { trade_pair: "BTCUSD", price: 50_200, ts_ms: realPriceTs() },
        { trade_pair: "BTCUSD", price: 50_300, ts_ms: Date.now() + 2_500 },
      ],
    });
    expectError(oneTooFar, 400, "VALIDATION_FAILED");
    expect(oneTooFar.json.error.details.index).toBe(1);
    const expired = await postPrice(50_200, realPriceTs(), wrongNow);
    expectError(expired, 401, "SIGNATURE_EXPIRED");
    expect(Math.abs(expired.json.error.details.server_time_ms - Date.now())).toBeLessThan(1_000);

    // Correctly-timed clients go on as before.
    expect(ok(await postPrice(50_200), 200).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    ok(await post("/v1/orders", keys.Ent, { subaccount_id: 0, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 201);
    await blocksPass();
    await expectAllInChallenge();
    await expectRecordedTimeSane();
  });

  it("still 91 days ahead across a restart: node time goes on from the last recorded event, and says why", async () => {
    const lastBefore = (await expectRecordedTimeSane()).at(-1) as number;
    await stop();
    await start();
    const h = await health();
    expect(h.status).toBe("degraded");
    expect(h.problems).toEqual([
      expect.stringMatching(/^CLOCK_JUMP: the wall clock is 91 d ahead of node time; at start it was more than 1 d past the last recorded event, so node time went on from that event\./),
    ]);
    const t = node().clock.now();
    expect(t).toBeGreaterThanOrEqual(lastBefore);
    expect(t).toBeLessThanOrEqual(Date.now());
    expect(ok(await postPrice(50_150), 200).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    await blocksPass();
    await expectAllInChallenge();
    await expectRecordedTimeSane();
  });

  it("an hour back, while running and across a restart: time never goes back, and root cannot make it (409 WALL_CLOCK_BEHIND)", async () => {
    wallOffset = -HOUR;
    const before = node().clock.now();
    const h = await health();
    expect(h.problems).toEqual([expect.stringMatching(/^CLOCK_JUMP: the wall clock is (59 min 5\d s|1 h) behind node time; node time keeps to the monotonic clock and never goes back: correct the wall clock/)]);
    const refused = await post("/v1/clock/acknowledge", keys.Alice, {});
    expectError(refused, 409, "WALL_CLOCK_BEHIND");
    expect(refused.json.error.message).toMatch(/^the wall clock is .* behind node time and cannot be adopted: recorded time never goes back/);
    expect(refused.json.error.details.wall_lead_ms).toBeLessThan(-HOUR + 2_000);
    expect(node().clock.now()).toBeGreaterThanOrEqual(before);
    // Only root acknowledges.
    expectError(await post("/v1/clock/acknowledge", keys.Ent, {}), 403, "FORBIDDEN");

    expect(ok(await postPrice(50_250), 200).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    await stop();
    await start();
    expect(node().clock.now()).toBeGreaterThanOrEqual(before);
    expect((await health()).problems).toEqual([expect.stringMatching(/behind node time/)]);
    expect(ok(await postPrice(50_300), 200).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    ok(await post("/v1/orders", keys.Ent, { subaccount_id: 1, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 201);
    await blocksPass();
    await expectAllInChallenge();

    // The wall clock corrected: the condition clears by itself (a restart's gap is slewed).
    wallOffset = 0;
    expect(await health()).toMatchObject({ status: "ok", problems: [] });
    await expectRecordedTimeSane();
  });

  it("root adopts a wall clock that is ahead: time steps forward once, by root's decision, and the challenges then end as they should", async () => {
    const before = node().clock.now();
    expect(ok(await post("/v1/clock/acknowledge", keys.Alice, {}), 200).json).toMatchObject({ adopted_ms: 0 });
    wallOffset = 91 * DAY;
    const adopted = ok(await post("/v1/clock/acknowledge", keys.Alice, {}), 200).json;
    expect(adopted.adopted_ms).toBeGreaterThan(91 * DAY - 2_000);
    expect(adopted.adopted_ms).toBeLessThan(91 * DAY + 2_000);
    expect(adopted.node_time_ms).toBe(adopted.wall_time_ms);
    expect(adopted.node_time_ms).toBeGreaterThan(before + 91 * DAY - 2_000);
    expect(await health()).toMatchObject({ status: "ok", problems: [] });

    // Node time is now the wall clock's: clients sign at it, and the 90-day challenges are over.
    const signAt = () => Date.now() + wallOffset;
    await blocksPass();
    const e = await entityView(signAt());
    expect(e.eliminated_subaccounts).toBe(SUBACCOUNTS);
    for (let i = 0; i < SUBACCOUNTS; i++) {
      const s = ok(await get(`/v1/subaccounts/${synthetic(i)}`, keys.Ent, { ts: signAt() }), 200).json;
      expect(s.elimination.reason).toBe("FAILED_CHALLENGE_PERIOD_TIME");
      expect(s.elimination.at_ms).toBeGreaterThanOrEqual(adopted.node_time_ms);
    }
  });
});
