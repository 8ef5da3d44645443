// Idempotency-Key and Epistula uuid of `POST /v1/chain/extrinsics` across restarts (API.md
// "Conventions", "Authentication"): the key and uuid travel in the extrinsic, its block records
// them (a `request` effect), so they are state and survive a restart whether it replays the log or
// loads a snapshot. A real node on a temp dir, a real server, real sr25519 signatures; the node
// is closed and opened again on the same directory, with a new server and a new Epistula verifier
// primed the way `serve` primes it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BLOCK_EVENT_TYPE } from "../../src/api/chain-events.ts";
import { EPISTULA_FUTURE_MS, EPISTULA_PAST_MS, EpistulaVerifier } from "../../src/epistula/epistula.ts";
import { buildServer } from "../../src/api/server.ts";
import type { Effect } from "../../src/core/chain/effects.ts";
import { TAO } from "../../src/core/ledger/asset.ts";
import { IDEMPOTENCY_TTL_MS } from "../../src/core/machine/idempotency.ts";
import { BlockProducer } from "../../src/node/block-producer.ts";
import { NodeClock } from "../../src/node/clock.ts";
import { PropnetNode } from "../../src/node/node.ts";
import { api, devSigners, epistula, expectError, listen, type Signer } from "../support/http.ts";

const ENDOWMENT_RAO = 1_000_000n * 1_000_000_000n;

let dir: string;
let keys: Record<"Alice" | "Bob" | "Eve", Signer>;
/** Added to the wall clock by the node's clock: moves chain time a day on without waiting. */
let offsetMs = 0;
/** When the first request was sent: a restarted verifier counts as started before it (a fast restart). */
let firstSentAt = 0;

interface Running {
  node: PropnetNode;
  producer: BlockProducer;
  app: FastifyInstance;
  base: string;
}
let running: Running | null = null;

async function start(): Promise<Running> {
  const alice = keys.Alice.address;
  const node = await PropnetNode.open({
    dataDir: dir,
    clock: new NodeClock(() => Date.now() + offsetMs),
    genesis: (["Alice", "Bob", "Eve"] as const).map((n) => ({ owner: keys[n].address, amount_rao: ENDOWMENT_RAO })),
    chainGenesis: { root: alice, subnets: [{ netuid: 1, ownerHotkey: alice, ownerColdkey: alice }] },
  });
  // As `serve` does on start (src/cli/serve.ts), for a restart fast enough that replays are in the window.
  const verifier = new EpistulaVerifier({ startedAt: firstSentAt === 0 ? Date.now() : firstSentAt });
  for (const [uuid, ts] of await node.requestUuidsSince(verifier.startedAt - EPISTULA_PAST_MS - EPISTULA_FUTURE_MS)) verifier.remember(uuid, ts + EPISTULA_FUTURE_MS);
  const producer = new BlockProducer(node, 0);
  producer.start();
  const app = buildServer({ node: () => node, producer: () => producer, root: alice, startupStatus: () => "starting", version: "test", epistula: verifier });
  running = { node, producer, app, base: await listen(app) };
  return running;
}

async function stop(options: { snapshot: boolean }): Promise<void> {
  if (!running) return;
  const r = running;
  running = null;
  await r.app.close();
  await r.producer.stop();
  await r.node.close({ snapshot: options.snapshot });
}

beforeAll(async () => {
  keys = await devSigners(["Alice", "Bob", "Eve"] as const);
  dir = mkdtempSync(join(tmpdir(), "propnet-extrinsic-idem-"));
});

afterAll(async () => {
  await stop({ snapshot: false });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const { post, get, request } = api(() => running?.base ?? "");
const balance = (address: string) => (running as Running).node.read((s) => s.ledger.balanceOf(TAO, address));
const headBlock = async () => (await get("/v1/chain/head")).json.block as number;

describe("Idempotency-Key on POST /v1/chain/extrinsics survives restarts", () => {
  it("the same key and body answer the first answer after a restart (log replay, then snapshot) and move nothing; another body is 409; after 24 h the key is free", async () => {
    await start();
    const eve = keys.Eve.address;
    const transfer = { call: "balances.transfer", args: { dest: eve, amount_rao: "7" } };
    const other = { call: "balances.transfer", args: { dest: eve, amount_rao: "8" } };
    const eveStart = await balance(eve);

    firstSentAt = Date.now();
    const firstBody = JSON.stringify(transfer);
    const firstHeaders = epistula(keys.Bob, firstBody, { idempotencyKey: "pay-eve-7" });
    // Sent by hand, so that the very same bytes and headers can be sent again after the restart.
    const sent = await request("POST", "/v1/chain/extrinsics", { body: firstBody, headers: firstHeaders });
    expect(sent.status, sent.text).toBe(200);
    const block = sent.json.included_in_block as number;
    expect(sent.json.events).toEqual([{ block, type: "Transfer", data: { from: keys.Bob.address, to: eve, amount: "7" } }]);
    expect(await balance(eve)).toBe(eveStart + 7n);

    // The block holding it is logged on its own, with the request recorded as one of its effects.
    const rows = (await (running as Running).node.store.read(0, 10_000)).filter((r) => r.type === BLOCK_EVENT_TYPE);
    const row = rows.find((r) => JSON.parse(r.payload).n === block);
    expect(row, "the extrinsic's block is a BlockProduced row").toBeDefined();
    const effects = JSON.parse(row?.payload ?? "{}").effects as Effect[];
    expect(effects.filter((e) => e.k === "request")).toEqual([
      expect.objectContaining({ k: "request", signer: keys.Bob.address, uuid: firstHeaders["Epistula-Uuid"], key: "pay-eve-7", x: 0 }),
    ]);
    expect((await (running as Running).node.requestUuidsSince(0)).map(([u]) => u)).toContain(firstHeaders["Epistula-Uuid"]);

    // ---- restart 1: no snapshot, so the state comes from replaying the log ------------------------
    await stop({ snapshot: false });
    await start();
    const repeatAfterReplay = await post("/v1/chain/extrinsics", keys.Bob, transfer, { idempotencyKey: "pay-eve-7" });
    expect(repeatAfterReplay.status, repeatAfterReplay.text).toBe(200);
    expect(repeatAfterReplay.json).toEqual(sent.json);
    expect(await balance(eve)).toBe(eveStart + 7n);
    const headAfterRepeat = await headBlock();
    expectError(await post("/v1/chain/extrinsics", keys.Bob, other, { idempotencyKey: "pay-eve-7" }), 409, "IDEMPOTENCY_KEY_REUSED");
    // The very same request again (same uuid): the stored answer; without its key, the uuid is used.
    const exact = await request("POST", "/v1/chain/extrinsics", { body: firstBody, headers: firstHeaders });
    expect(exact.status, exact.text).toBe(200);
    expect(exact.json).toEqual(sent.json);
    const { "Idempotency-Key": _key, ...withoutKey } = firstHeaders;
    expectError(await request("POST", "/v1/chain/extrinsics", { body: firstBody, headers: withoutKey }), 401, "REQUEST_REPLAYED");
    expect(await balance(eve)).toBe(eveStart + 7n);
    expect(await headBlock()).toBe(headAfterRepeat);

    // ---- restart 2: with a snapshot, 23 h 59 min later by the node's clock -------------------------
    await stop({ snapshot: true });
    offsetMs = IDEMPOTENCY_TTL_MS - 60_000;
    await start();
    const repeatAfterSnapshot = await post("/v1/chain/extrinsics", keys.Bob, transfer, { idempotencyKey: "pay-eve-7" });
    expect(repeatAfterSnapshot.status, repeatAfterSnapshot.text).toBe(200);
    expect(repeatAfterSnapshot.json).toEqual(sent.json);
    expectError(await post("/v1/chain/extrinsics", keys.Bob, other, { idempotencyKey: "pay-eve-7" }), 409, "IDEMPOTENCY_KEY_REUSED");
    expect(await balance(eve)).toBe(eveStart + 7n);

    // ---- 24 hours after its block, the key is forgotten: the same request moves again -------------
    offsetMs = IDEMPOTENCY_TTL_MS + 1_000;
    const afterDay = await post("/v1/chain/extrinsics", keys.Bob, transfer, { idempotencyKey: "pay-eve-7" });
    expect(afterDay.status, afterDay.text).toBe(200);
    expect(afterDay.json.included_in_block).toBeGreaterThan(block);
    expect(await balance(eve)).toBe(eveStart + 14n);
    await stop({ snapshot: false });
  });

  it("a refused extrinsic's key answers with the same refusal after a restart; concurrent repeats run once", async () => {
    await start();
    const eve = keys.Eve.address;
    const tooMuch = { call: "balances.transfer", args: { dest: eve, amount_rao: (2n * ENDOWMENT_RAO).toString() } };
    const refused = await post("/v1/chain/extrinsics", keys.Bob, tooMuch, { idempotencyKey: "too-much" });
    expectError(refused, 422, "INSUFFICIENT_BALANCE");
    const refusedIn = refused.json.error.details.included_in_block as number;
    expect(refusedIn).toBeGreaterThan(0);

    // Several copies at once, before any is in a block: one transfer, every answer the same.
    const eveBefore = await balance(eve);
    const once = { call: "balances.transfer", args: { dest: eve, amount_rao: "3" } };
    const copies = await Promise.all(Array.from({ length: 5 }, () => post("/v1/chain/extrinsics", keys.Bob, once, { idempotencyKey: "at-once" })));
    for (const c of copies) expect(c.status, c.text).toBe(200);
    expect(new Set(copies.map((c) => JSON.stringify(c.json))).size).toBe(1);
    expect(await balance(eve)).toBe(eveBefore + 3n);

    await stop({ snapshot: false });
    await start();
    const again = await post("/v1/chain/extrinsics", keys.Bob, tooMuch, { idempotencyKey: "too-much" });
    expectError(again, 422, "INSUFFICIENT_BALANCE");
    expect(again.json).toEqual(refused.json);
    const onceAgain = await post("/v1/chain/extrinsics", keys.Bob, once, { idempotencyKey: "at-once" });
    expect(onceAgain.json).toEqual(copies[0]?.json);
    expect(await balance(eve)).toBe(eveBefore + 3n);
    // Keys are per signer and shared with the entity routes: the same key on another route is another request.
    expectError(await post("/v1/entities", keys.Bob, {}, { idempotencyKey: "at-once" }), 409, "IDEMPOTENCY_KEY_REUSED");
    // The REST unpause is an extrinsic too: its key answers again after a restart.
    const unpause = await post("/v1/chain/subnets/1/unpause", keys.Alice, {}, { idempotencyKey: "unpause-1" });
    expect(unpause.status, unpause.text).toBe(200);
    await stop({ snapshot: false });
    await start();
    const unpauseAgain = await post("/v1/chain/subnets/1/unpause", keys.Alice, {}, { idempotencyKey: "unpause-1" });
    expect(unpauseAgain.status, unpauseAgain.text).toBe(200);
    expectError(await post("/v1/chain/subnets/1/unpause", keys.Alice, { force: true }, { idempotencyKey: "unpause-1" }), 409, "IDEMPOTENCY_KEY_REUSED");
    await stop({ snapshot: false });
  });
});
