// Entities, subaccounts, orders, prices and sessions over real HTTP (API.md "Entities and
// subaccounts", "Orders, positions, prices", "Authentication"): one real node on a temp dir, a
// block producer making a block per extrinsic (so state changes only when a test asks), a server
// on a real port, and requests signed with real sr25519 keys (Epistula v2). The rate limits run on
// a clock the tests move: every test starts a minute later, with full buckets.
import type { SyncAgent } from "../../src/node/sync/sync-agent.ts";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RateLimits } from "../../src/api/rate-limit.ts";
import { buildServer } from "../../src/api/server.ts";
import { isSs58 } from "../../src/keys/keys.ts";
import { BlockProducer } from "../../src/node/block-producer.ts";
import { PropnetNode } from "../../src/node/node.ts";
import { type Answer, api, devSigners, epistula, expectError as expectErrorEnvelope, listen, type PostOptions, type Signer } from "../support/http.ts";

const TAO_RAO = 1_000_000_000n;
const ENDOWMENT_RAO = 1_000_000n * TAO_RAO;
const DEFAULT_RESERVE_RAO = 4n * TAO_RAO;

let dir: string;
let node: PropnetNode;
let producer: BlockProducer;
let app: FastifyInstance;
let base: string;
/** The rate limiter's clock (ms); moved by a minute before every test. */
let limitClock = 1_000_000;
/** Development keys signing with WASM sr25519 (devSigners): about ten times faster than the keyring's. */
const keys: Record<string, Signer> = {};

/** Hotkeys registered on subnet 1 (in this order: Frz holds uid 0), all owned by //Bob. */
const NEURONS = ["Frz", "E1", "E2", "Lim", "Poor", "Lst", "Miner", "Fresh"] as const;
/** Collateral deposited for each entity hotkey, in TAO. */
const COLLATERAL_TAO: Record<string, bigint> = { Frz: 10n, E1: 300n, E2: 10n, Lim: 4n, Poor: 1n, Lst: 10n };

function key(name: string): Signer {
  const k = keys[name];
  if (!k) throw new Error(`no key ${name}`);
  return k;
}
const addr = (name: string): string => key(name).address;

const { request, get, post, postRaw } = api(() => base);

/** The shared error checks, and `details` an object. */
function expectError(a: Answer, status: number, code: string): void {
  expectErrorEnvelope(a, status, code);
  expect(a.json.error.details).toBeTypeOf("object");
}

function expectStatus(a: Answer, status: number): void {
  expect(a.status, a.text).toBe(status);
}

const extrinsic = (by: Signer, call: string, args: Record<string, unknown>) => post("/v1/chain/extrinsics", by, { call, args });

/** A ts_ms for prices: later than any handed out before, never ahead of the server clock. */
let lastPriceTs = 0;
function priceTs(): number {
  lastPriceTs = Math.max(Date.now(), lastPriceTs + 1);
  return lastPriceTs;
}

async function postPrices(prices: Array<{ trade_pair: string; price: number; ts_ms?: number }>, by = key("Oracle")): Promise<Answer> {
  return post("/v1/prices", by, { prices: prices.map((p) => ({ trade_pair: p.trade_pair, price: p.price, ts_ms: p.ts_ms ?? priceTs() })) });
}

async function entity(name: string) {
  const a = await get(`/v1/entities/${addr(name)}`, key("Alice"));
  expectStatus(a, 200);
  return a.json.entity;
}

async function createSubaccount(name: string, body: unknown = {}) {
  const a = await post(`/v1/entities/${addr(name)}/subaccounts`, key(name), body);
  expectStatus(a, 201);
  return a.json.subaccount as { synthetic_hotkey: string; subaccount_id: number; collateral_reserved_rao: string };
}

async function order(by: string, body: Record<string, unknown>, o: PostOptions = {}): Promise<Answer> {
  return post("/v1/orders", key(by), body, o);
}

async function seq(): Promise<number> {
  const h = await get("/healthz");
  return h.json.seq;
}

beforeAll(async () => {
  Object.assign(keys, await devSigners(["Alice", "Bob", ...NEURONS, "Oracle", "Stranger", "Newcomer"]));
  const alice = addr("Alice");
  dir = mkdtempSync(join(tmpdir(), "propnet-entities-api-"));
  node = await PropnetNode.open({
    dataDir: dir,
    genesis: ["Alice", "Bob"].map((n) => ({ owner: addr(n), amount_rao: ENDOWMENT_RAO })),
    chainGenesis: { root: alice, subnets: [{ netuid: 1, ownerHotkey: alice, ownerColdkey: alice }] },
  });
  producer = new BlockProducer(node, 0);
  producer.start();
  app = buildServer({
    node: () => node,
    producer: () => producer,
    root: alice,
    oracle: addr("Oracle"),
    startupStatus: () => "starting",
    version: "test",
    limits: new RateLimits({ now: () => limitClock }),
  });
  base = await listen(app);

  const must = (a: Answer, status: number, what: string) => {
    if (a.status !== status) throw new Error(`setup: ${what}: ${a.status} ${a.text}`);
  };
  for (const n of NEURONS) must(await extrinsic(key("Bob"), "subtensor.burned_register", { netuid: 1, hotkey: addr(n) }), 200, `register ${n}`);
  for (const [n, tao] of Object.entries(COLLATERAL_TAO)) {
    must(await extrinsic(key("Bob"), "collateral.deposit", { hotkey: addr(n), amount_rao: (tao * TAO_RAO).toString() }), 200, `deposit ${n}`);
  }
  for (const n of Object.keys(COLLATERAL_TAO)) {
    must(await post("/v1/entities", key(n), n === "Lim" ? { max_subaccounts: 1 } : {}), 201, `entity ${n}`);
  }
  must(
    await postPrices([
      { trade_pair: "BTCUSD", price: 50_000 },
      { trade_pair: "ETHUSD", price: 2_000 },
      { trade_pair: "XRPUSD", price: 0.5 },
      { trade_pair: "ADAUSD", price: 1 },
      { trade_pair: "DOGEUSD", price: 0.1 },
    ]),
    200,
    "prices",
  );
});

afterAll(async () => {
  await app?.close();
  await producer?.stop();
  await node?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  limitClock += 60_000;
});

// ---- entities ----------------------------------------------------------------------------------

describe("POST /v1/entities", () => {
  it("201 registers a neuron with the Entity shape; 409 ENTITY_EXISTS the second time", async () => {
    const before = Date.now();
    const a = await post("/v1/entities", key("Fresh"), { max_subaccounts: 7 });
    expectStatus(a, 201);
    expect(a.json.entity).toEqual({
      entity_hotkey: addr("Fresh"),
      registered_at_ms: expect.any(Number),
      max_subaccounts: 7,
      next_subaccount_id: 0,
      active_subaccounts: 0,
      eliminated_subaccounts: 0,
      frozen: false,
      collateral: { deposited_rao: "0", free_rao: "0", reserved_rao: "0", slashed_rao: "0" },
      subaccounts: [],
    });
    expect(a.json.entity.registered_at_ms).toBeGreaterThanOrEqual(before);
    expect(a.json.entity.registered_at_ms).toBeLessThanOrEqual(Date.now());
    // Visible to a read issued after the answer.
    expect(await entity("Fresh")).toEqual(a.json.entity);
    expectError(await post("/v1/entities", key("Fresh"), {}), 409, "ENTITY_EXISTS");
    expect(await entity("Fresh")).toEqual(a.json.entity);
  });

  it("defaults max_subaccounts to 500 and takes an empty body", async () => {
    const e1 = await entity("E1");
    expect(e1.max_subaccounts).toBe(500);
    expect(e1.collateral.deposited_rao).toBe((300n * TAO_RAO).toString());
    expect((await entity("Lim")).max_subaccounts).toBe(1);
  });

  it("403 NOT_A_NEURON for a hotkey that is not a neuron on subnet 1", async () => {
    const before = await seq();
    expectError(await post("/v1/entities", key("Stranger"), {}), 403, "NOT_A_NEURON");
    expectError(await get(`/v1/entities/${addr("Stranger")}`, key("Alice")), 404, "ENTITY_NOT_FOUND");
    expect(await seq()).toBe(before);
  });

  it("400 VALIDATION_FAILED for max_subaccounts out of 1..500, not an integer, a string, or an unknown field", async () => {
    for (const body of [{ max_subaccounts: 0 }, { max_subaccounts: 501 }, { max_subaccounts: 1.5 }, { max_subaccounts: "3" }, { max: 3 }, []]) {
      expectError(await post("/v1/entities", key("Stranger"), body), 400, "VALIDATION_FAILED");
    }
  });

  it("401 without a signature", async () => {
    expectError(await post("/v1/entities", null, {}), 401, "SIGNATURE_MISSING");
  });
});

describe("entities on the chain view", () => {
  it("GET /v1/chain/subnets/1 marks an entity's neuron is_entity: true", async () => {
    const a = await get("/v1/chain/subnets/1");
    expectStatus(a, 200);
    const neuron = (name: string) => a.json.neurons.find((n: { hotkey: string }) => n.hotkey === addr(name));
    expect(neuron("Miner")).toMatchObject({ is_entity: false });
    expect(neuron("E1")).toMatchObject({ is_entity: true });
  });

  it("GET /v1/chain/invariants reports each entity's reserve, limit and id invariants, all holding", async () => {
    const a = await get("/v1/chain/invariants");
    expectStatus(a, 200);
    const rows = a.json.invariants.filter((r: { scope: string }) => r.scope === `entity:${addr("E1")}`);
    expect(rows.map((r: { name: string }) => r.name).sort()).toEqual([
      "active_within_limit",
      "attributed_plus_unattributed_equals_paid",
      "deposited_less_withdrawn_and_slashed_equals_free_plus_reserved",
      "ids_below_next_id",
      "reserve_equals_sum_of_reserves",
    ]);
    expect(a.json.invariants.every((r: { ok: boolean }) => r.ok)).toBe(true);
  });
});

describe("GET /v1/entities/{hotkey}", () => {
  it("200 for the entity itself and for root; 403 FORBIDDEN for another entity or a stranger", async () => {
    const self = await get(`/v1/entities/${addr("E1")}`, key("E1"));
    expectStatus(self, 200);
    const root = await get(`/v1/entities/${addr("E1")}`, key("Alice"));
    expectStatus(root, 200);
    expect(self.json).toEqual(root.json);
    expect(self.json.entity.entity_hotkey).toBe(addr("E1"));
    expectError(await get(`/v1/entities/${addr("E1")}`, key("E2")), 403, "FORBIDDEN");
    expectError(await get(`/v1/entities/${addr("E1")}`, key("Stranger")), 403, "FORBIDDEN");
    // The oracle is not root.
    expectError(await get(`/v1/entities/${addr("E1")}`, key("Oracle")), 403, "FORBIDDEN");
  });

  it("404 ENTITY_NOT_FOUND for a valid hotkey that is not an entity; 400 INVALID_HOTKEY for a bad one; 401 unsigned", async () => {
    expectError(await get(`/v1/entities/${addr("Miner")}`, key("Alice")), 404, "ENTITY_NOT_FOUND");
    // A neuron asking about itself: allowed, and not an entity.
    expectError(await get(`/v1/entities/${addr("Miner")}`, key("Miner")), 404, "ENTITY_NOT_FOUND");
    expectError(await get("/v1/entities/5notanaddress", key("Alice")), 400, "INVALID_HOTKEY");
    expectError(await get(`/v1/entities/${badChecksum(addr("E1"))}`, key("Alice")), 400, "INVALID_HOTKEY");
    expectError(await get(`/v1/entities/${addr("E1")}`), 401, "SIGNATURE_MISSING");
  });
});

describe("GET /v1/entities (root)", () => {
  it("lists every entity, pages with limit and cursor, and is root only", async () => {
    const all = await get("/v1/entities?limit=1000", key("Alice"));
    expectStatus(all, 200);
    const hotkeys = all.json.entities.map((e: { entity_hotkey: string }) => e.entity_hotkey);
    for (const n of Object.keys(COLLATERAL_TAO)) expect(hotkeys).toContain(addr(n));
    expect(hotkeys).not.toContain(addr("Miner"));
    expect(all.json.next_cursor).toBeNull();
    expect([...hotkeys].sort()).toEqual(hotkeys);

    const walked: unknown[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page: Answer = await get(`/v1/entities?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`, key("Alice"));
      expectStatus(page, 200);
      expect(page.json.entities.length).toBeLessThanOrEqual(2);
      walked.push(...page.json.entities.map((e: { entity_hotkey: string }) => e.entity_hotkey));
      cursor = page.json.next_cursor;
      if (cursor === null) break;
    }
    expect(walked).toEqual(hotkeys);

    expectError(await get("/v1/entities", key("E1")), 403, "FORBIDDEN");
    expectError(await get("/v1/entities", key("Oracle")), 403, "FORBIDDEN");
    expectError(await get("/v1/entities"), 401, "SIGNATURE_MISSING");
    for (const q of ["limit=0", "limit=1001", "limit=abc", "foo=1"]) expectError(await get(`/v1/entities?${q}`, key("Alice")), 400, "VALIDATION_FAILED");
  });
});

// ---- subaccounts ---------------------------------------------------------------------------------

describe("POST /v1/entities/{hotkey}/subaccounts", () => {
  it("201 with the Subaccount shape; ids count up from the entity's next id; the reserve moves from free to reserved", async () => {
    const before = await entity("E1");
    const a = await post(`/v1/entities/${addr("E1")}/subaccounts`, key("E1"), {});
    expectStatus(a, 201);
    const id = before.next_subaccount_id;
    const synthetic = `${addr("E1")}_${id}`;
    expect(a.json.subaccount).toEqual({
      entity_hotkey: addr("E1"),
      subaccount_id: id,
      subaccount_uuid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      synthetic_hotkey: synthetic,
      status: "active",
      created_at_ms: expect.any(Number),
      eliminated_at_ms: null,
      account_size_usd: 10_000,
      collateral_reserved_rao: DEFAULT_RESERVE_RAO.toString(),
      challenge: {
        state: "in_challenge",
        started_at_ms: a.json.subaccount.created_at_ms,
        ends_at_ms: a.json.subaccount.created_at_ms + 90 * 86_400_000,
        return: 0,
        max_drawdown: 0,
      },
    });
    const after = await entity("E1");
    expect(after.next_subaccount_id).toBe(id + 1);
    expect(after.active_subaccounts).toBe(before.active_subaccounts + 1);
    expect(BigInt(after.collateral.free_rao)).toBe(BigInt(before.collateral.free_rao) - DEFAULT_RESERVE_RAO);
    expect(BigInt(after.collateral.reserved_rao)).toBe(BigInt(before.collateral.reserved_rao) + DEFAULT_RESERVE_RAO);
    expect(after.collateral.deposited_rao).toBe(before.collateral.deposited_rao);
    expect(after.subaccounts.at(-1)).toEqual(a.json.subaccount);

    const second = await createSubaccount("E1");
    expect(second.subaccount_id).toBe(id + 1);
    const status = await get(`/v1/subaccounts/${synthetic}/status`);
    expect(status.json).toEqual({ synthetic_hotkey: synthetic, status: "active" });
  });

  it("reserves ceil(size * 1e9 / cost): 2,500 USD per theta up to 10,000 USD, 5,000 above", async () => {
    for (const [size, rao] of [
      [1_000, 400_000_000n],
      [3_333, 1_333_200_000n],
      [10_000, 4_000_000_000n],
      [10_001, 2_000_200_000n],
      [100_000, 20_000_000_000n],
    ] as const) {
      const sub = await createSubaccount("E1", { account_size_usd: size });
      expect(sub.collateral_reserved_rao, String(size)).toBe(rao.toString());
    }
  });

  it("409 SUBACCOUNT_LIMIT_REACHED at max_subaccounts (checked before collateral); 422 INSUFFICIENT_COLLATERAL", async () => {
    // Lim: limit 1, collateral for exactly one default subaccount.
    const first = await createSubaccount("Lim");
    expect(first.subaccount_id).toBe(0);
    const limited = await post(`/v1/entities/${addr("Lim")}/subaccounts`, key("Lim"), {});
    expectError(limited, 409, "SUBACCOUNT_LIMIT_REACHED");
    expect(limited.json.error.details).toMatchObject({ active_subaccounts: 1, max_subaccounts: 1 });
    // Poor: 1 TAO, a default subaccount needs 4; a 2,500 USD one needs exactly 1.
    const poor = await post(`/v1/entities/${addr("Poor")}/subaccounts`, key("Poor"), {});
    expectError(poor, 422, "INSUFFICIENT_COLLATERAL");
    expect(poor.json.error.details).toMatchObject({ free_rao: TAO_RAO.toString(), required_rao: DEFAULT_RESERVE_RAO.toString() });
    expect((await entity("Poor")).next_subaccount_id).toBe(0);
    const exact = await createSubaccount("Poor", { account_size_usd: 2_500 });
    expect(exact.collateral_reserved_rao).toBe(TAO_RAO.toString());
    expect((await entity("Poor")).collateral).toEqual({ deposited_rao: TAO_RAO.toString(), free_rao: "0", reserved_rao: TAO_RAO.toString(), slashed_rao: "0" });
    expectError(await post(`/v1/entities/${addr("Poor")}/subaccounts`, key("Poor"), { account_size_usd: 1_000 }), 422, "INSUFFICIENT_COLLATERAL");
  });

  it("404 ENTITY_NOT_FOUND for a neuron that is not an entity; 403 FORBIDDEN for anyone but the entity (root included)", async () => {
    expectError(await post(`/v1/entities/${addr("Miner")}/subaccounts`, key("Miner"), {}), 404, "ENTITY_NOT_FOUND");
    const before = await entity("E1");
    expectError(await post(`/v1/entities/${addr("E1")}/subaccounts`, key("E2"), {}), 403, "FORBIDDEN");
    expectError(await post(`/v1/entities/${addr("E1")}/subaccounts`, key("Alice"), {}), 403, "FORBIDDEN");
    expectError(await post(`/v1/entities/${addr("E1")}/subaccounts`, key("Stranger"), {}), 403, "FORBIDDEN");
    expect(await entity("E1")).toEqual(before);
  });
});

describe("subaccount reads: status, detail, ledgers, list", () => {
  let synthetic: string;
  beforeAll(async () => {
    synthetic = (await createSubaccount("E1")).synthetic_hotkey;
  });

  it("GET /v1/subaccounts/{synthetic}/status: anyone; unknown for a well-formed id never created", async () => {
    expect((await get(`/v1/subaccounts/${synthetic}/status`)).json).toEqual({ synthetic_hotkey: synthetic, status: "active" });
    const never = `${addr("E1")}_999999999`;
    const unknown = await get(`/v1/subaccounts/${never}/status`);
    expectStatus(unknown, 200);
    expect(unknown.json).toEqual({ synthetic_hotkey: never, status: "unknown" });
    // An entity that does not exist at all: still well formed, still unknown.
    expect((await get(`/v1/subaccounts/${addr("Stranger")}_0/status`)).json.status).toBe("unknown");
  });

  it("GET /v1/subaccounts/{synthetic}: owner or root; 403 for others; 404 never created", async () => {
    const a = await get(`/v1/subaccounts/${synthetic}`, key("E1"));
    expectStatus(a, 200);
    expect(Object.keys(a.json).sort()).toEqual(["elimination", "ledger", "positions", "subaccount"]);
    expect(a.json.subaccount.synthetic_hotkey).toBe(synthetic);
    expect(a.json.positions).toEqual([]);
    expect(a.json.elimination).toBeNull();
    expect(a.json.ledger).toEqual({ return: 0, max_drawdown: 0, checkpoints: expect.any(Number) });
    expect((await get(`/v1/subaccounts/${synthetic}`, key("Alice"))).json).toEqual(a.json);
    expectError(await get(`/v1/subaccounts/${synthetic}`, key("E2")), 403, "FORBIDDEN");
    expectError(await get(`/v1/subaccounts/${synthetic}`, key("Oracle")), 403, "FORBIDDEN");
    expectError(await get(`/v1/subaccounts/${synthetic}`), 401, "SIGNATURE_MISSING");
    expectError(await get(`/v1/subaccounts/${addr("E1")}_999999999`, key("E1")), 404, "SUBACCOUNT_NOT_FOUND");
  });

  it("GET /v1/subaccounts/{synthetic}/ledger and /v1/entities/{hotkey}/ledger", async () => {
    const a = await get(`/v1/subaccounts/${synthetic}/ledger`, key("E1"));
    expectStatus(a, 200);
    expect(a.json.debt).toEqual([]);
    expect(a.json.perf).toHaveLength(1);
    expect(Object.keys(a.json.perf[0]).sort()).toEqual(
      ["ts_ms", "return", "max_drawdown", "max_portfolio_value", "realized_pnl_usd", "unrealized_pnl_usd", "spread_fee_loss", "carry_fee_loss", "open_ms", "accum_ms"].sort(),
    );
    expect(a.json.perf[0]).toMatchObject({ return: 0, max_drawdown: 0, max_portfolio_value: 1, realized_pnl_usd: 0 });
    expectStatus(await get(`/v1/subaccounts/${synthetic}/ledger`, key("Alice")), 200);
    expectError(await get(`/v1/subaccounts/${synthetic}/ledger`, key("E2")), 403, "FORBIDDEN");
    expectError(await get(`/v1/subaccounts/${addr("E1")}_999999999/ledger`, key("E1")), 404, "SUBACCOUNT_NOT_FOUND");

    const e = await get(`/v1/entities/${addr("E1")}/ledger`, key("E1"));
    expectStatus(e, 200);
    // Nothing funded, nothing paid yet (test/api/economic-loop.test.ts covers the loop).
    expect(e.json).toEqual({ debt: [], attribution: { paid_alpha_rao: "0", attributed_alpha_rao: "0", unattributed_alpha_rao: "0" } });
    expectStatus(await get(`/v1/entities/${addr("E1")}/ledger`, key("Alice")), 200);
    expectError(await get(`/v1/entities/${addr("E1")}/ledger`, key("E2")), 403, "FORBIDDEN");
    expectError(await get(`/v1/entities/${addr("Miner")}/ledger`, key("Alice")), 404, "ENTITY_NOT_FOUND");
    expectError(await get("/v1/entities/5nope/ledger", key("Alice")), 400, "INVALID_HOTKEY");
  });

  it("INVALID_SYNTHETIC_HOTKEY on every route that takes one", async () => {
    const e1 = addr("E1");
    for (const bad of [`${e1}_01`, `${e1}_-1`, `${e1}_1234567890`, `${e1}_`, `${e1}_1_2`, "5notanaddress_0", `${badChecksum(e1)}_0`, `${e1}_+1`, `${e1}_%201`]) {
      expectError(await get(`/v1/subaccounts/${bad}/status`), 400, "INVALID_SYNTHETIC_HOTKEY");
      expectError(await get(`/v1/subaccounts/${bad}`, key("Alice")), 400, "INVALID_SYNTHETIC_HOTKEY");
      expectError(await get(`/v1/subaccounts/${bad}/ledger`, key("Alice")), 400, "INVALID_SYNTHETIC_HOTKEY");
      expectError(await get(`/v1/subaccounts/${bad}/positions`, key("Alice")), 400, "INVALID_SYNTHETIC_HOTKEY");
      expectError(await get(`/v1/subaccounts/${bad}/orders`, key("Alice")), 400, "INVALID_SYNTHETIC_HOTKEY");
      expectError(await post(`/v1/subaccounts/${bad}/eliminate`, key("Alice"), {}), 400, "INVALID_SYNTHETIC_HOTKEY");
      expectError(await post(`/v1/subaccounts/${bad}/reinstate`, key("Alice"), { reason: "x" }), 400, "INVALID_SYNTHETIC_HOTKEY");
    }
  });

  it("GET /v1/entities/{hotkey}/subaccounts filters by status and challenge_state and pages by id", async () => {
    // Lst: 0 active in challenge, 1 eliminated (failed), 2 active and passed (ADAUSD +7% at 0.5x).
    const subs = [await createSubaccount("Lst", { account_size_usd: 1_000 }), await createSubaccount("Lst", { account_size_usd: 1_000 }), await createSubaccount("Lst", { account_size_usd: 1_000 })];
    expect(subs.map((s) => s.subaccount_id)).toEqual([0, 1, 2]);
    expectStatus(await post(`/v1/subaccounts/${subs[1]?.synthetic_hotkey}/eliminate`, key("Lst"), {}), 200);
    expectStatus(await order("Lst", { subaccount_id: 2, trade_pair: "ADAUSD", order_type: "LONG", leverage: 0.5 }), 201);
    const ada = await postPrices([{ trade_pair: "ADAUSD", price: 1.07 }]);
    expect(ada.json).toEqual({ accepted: 1, held: 0, skipped: 0 });

    const ids = async (q: string, by = key("Lst")) => {
      const a = await get(`/v1/entities/${addr("Lst")}/subaccounts${q}`, by);
      expectStatus(a, 200);
      return [a.json.subaccounts.map((s: { subaccount_id: number }) => s.subaccount_id), a.json.next_cursor];
    };
    expect(await ids("")).toEqual([[0, 1, 2], null]);
    expect(await ids("", key("Alice"))).toEqual([[0, 1, 2], null]);
    expect(await ids("?status=active")).toEqual([[0, 2], null]);
    expect(await ids("?status=eliminated")).toEqual([[1], null]);
    expect(await ids("?challenge_state=passed")).toEqual([[2], null]);
    expect(await ids("?challenge_state=failed")).toEqual([[1], null]);
    expect(await ids("?challenge_state=in_challenge")).toEqual([[0], null]);
    expect(await ids("?status=eliminated&challenge_state=passed")).toEqual([[], null]);
    expect(await ids("?limit=1")).toEqual([[0], "0"]);
    expect(await ids("?limit=1&cursor=0")).toEqual([[1], "1"]);
    expect(await ids("?limit=1&cursor=1")).toEqual([[2], null]);
    expect(await ids("?limit=2")).toEqual([[0, 1], "1"]);
    expect(await ids("?status=active&limit=1")).toEqual([[0], "0"]);
    expect(await ids("?status=active&limit=1&cursor=0")).toEqual([[2], null]);

    // Entity counts follow, and Entity.subaccounts lists every subaccount ever created.
    const e = await entity("Lst");
    expect(e).toMatchObject({ next_subaccount_id: 3, active_subaccounts: 2, eliminated_subaccounts: 1 });
    expect(e.subaccounts.map((s: { status: string }) => s.status)).toEqual(["active", "eliminated", "active"]);
    expect(e.subaccounts[2].challenge.state).toBe("passed");

    expectError(await get(`/v1/entities/${addr("Lst")}/subaccounts`, key("E1")), 403, "FORBIDDEN");
    expectError(await get(`/v1/entities/${addr("Miner")}/subaccounts`, key("Miner")), 404, "ENTITY_NOT_FOUND");
    for (const q of ["status=bogus", "challenge_state=won", "limit=0", "limit=1001", "cursor=-1", "cursor=01", "foo=1"]) {
      expectError(await get(`/v1/entities/${addr("Lst")}/subaccounts?${q}`, key("Lst")), 400, "VALIDATION_FAILED");
    }
  });
});

describe("POST /v1/subaccounts/{synthetic}/eliminate", () => {
  it("200 by the owner: closes positions with FLAT orders, releases the reserve less the slash; again: 200 unchanged", async () => {
    const sub = await createSubaccount("E1");
    const id = sub.subaccount_id;
    expectStatus(await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 201);
    const before = await entity("E1");
    const a = await post(`/v1/subaccounts/${sub.synthetic_hotkey}/eliminate`, key("E1"), { reason: "done with it" });
    expectStatus(a, 200);
    expect(a.json.subaccount).toMatchObject({ synthetic_hotkey: sub.synthetic_hotkey, status: "eliminated", collateral_reserved_rao: "0" });
    expect(a.json.subaccount.eliminated_at_ms).toEqual(expect.any(Number));

    const detail = await get(`/v1/subaccounts/${sub.synthetic_hotkey}`, key("E1"));
    expect(detail.json.elimination).toMatchObject({ reason: "done with it", price: 50_000, slashed_rao: expect.stringMatching(/^[0-9]+$/) });
    const slashed = BigInt(detail.json.elimination.slashed_rao);
    const [position] = detail.json.positions;
    expect(position).toMatchObject({ is_closed: true, net_leverage: 0 });
    expect(position.orders.at(-1)).toMatchObject({ order_type: "FLAT", src: "elimination", leverage: -0.1 });

    const after = await entity("E1");
    expect(after.active_subaccounts).toBe(before.active_subaccounts - 1);
    expect(after.eliminated_subaccounts).toBe(before.eliminated_subaccounts + 1);
    expect(BigInt(after.collateral.reserved_rao)).toBe(BigInt(before.collateral.reserved_rao) - DEFAULT_RESERVE_RAO);
    expect(BigInt(after.collateral.free_rao)).toBe(BigInt(before.collateral.free_rao) + DEFAULT_RESERVE_RAO - slashed);
    expect(BigInt(after.collateral.slashed_rao)).toBe(BigInt(before.collateral.slashed_rao) + slashed);
    expect((await get(`/v1/subaccounts/${sub.synthetic_hotkey}/status`)).json.status).toBe("eliminated");

    const again = await post(`/v1/subaccounts/${sub.synthetic_hotkey}/eliminate`, key("E1"), {});
    expectStatus(again, 200);
    expect(again.json).toEqual(a.json);
    expect(await entity("E1")).toEqual(after);

    // An eliminated subaccount cannot trade.
    expectError(await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 403, "SUBACCOUNT_NOT_ACTIVE");
    expect(await entity("E1")).toEqual(after);
  });

  it("200 by root, with no body; 403 for another entity or the oracle; 404 never created", async () => {
    const sub = await createSubaccount("E1");
    expectError(await post(`/v1/subaccounts/${sub.synthetic_hotkey}/eliminate`, key("E2"), {}), 403, "FORBIDDEN");
    expectError(await post(`/v1/subaccounts/${sub.synthetic_hotkey}/eliminate`, key("Oracle"), {}), 403, "FORBIDDEN");
    expectError(await post(`/v1/subaccounts/${sub.synthetic_hotkey}/eliminate`, null, {}), 401, "SIGNATURE_MISSING");
    expect((await get(`/v1/subaccounts/${sub.synthetic_hotkey}/status`)).json.status).toBe("active");
    const a = await post(`/v1/subaccounts/${sub.synthetic_hotkey}/eliminate`, key("Alice"), undefined);
    expectStatus(a, 200);
    expect(a.json.subaccount.status).toBe("eliminated");
    const detail = await get(`/v1/subaccounts/${sub.synthetic_hotkey}`, key("Alice"));
    expect(detail.json.elimination).toMatchObject({ reason: "MANUAL", slashed_rao: "0", price: null });
    expectError(await post(`/v1/subaccounts/${addr("E1")}_999999999/eliminate`, key("E1"), {}), 404, "SUBACCOUNT_NOT_FOUND");
    expectError(await post(`/v1/subaccounts/${sub.synthetic_hotkey}/eliminate`, key("E1"), { reason: "" }), 400, "VALIDATION_FAILED");
    expectError(await post(`/v1/subaccounts/${sub.synthetic_hotkey}/eliminate`, key("E1"), { reason: 5 }), 400, "VALIDATION_FAILED");
  });
});

describe("POST /v1/subaccounts/{synthetic}/reinstate", () => {
  it("a drawdown elimination slashes; root's reinstate reserves the collateral again and gives the slash back", async () => {
    const before = await entity("E1");
    const sub = await createSubaccount("E1");
    const synthetic = sub.synthetic_hotkey;
    const created = await entity("E1");
    expectStatus(await order("E1", { subaccount_id: sub.subaccount_id, trade_pair: "ETHUSD", order_type: "LONG", leverage: 0.5 }), 201);
    // ETH 2,000 -> 1,800 -> 1,650: each step under the 20% guard; 0.5x long loses ~8.75% > 6%.
    expect((await postPrices([{ trade_pair: "ETHUSD", price: 1_800 }])).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    expect((await get(`/v1/subaccounts/${synthetic}/status`)).json.status).toBe("active");
    expect((await postPrices([{ trade_pair: "ETHUSD", price: 1_650 }])).json).toEqual({ accepted: 1, held: 0, skipped: 0 });

    const eliminated = await get(`/v1/subaccounts/${synthetic}`, key("Alice"));
    expect(eliminated.json.subaccount).toMatchObject({ status: "eliminated", collateral_reserved_rao: "0", challenge: { state: "failed" } });
    expect(eliminated.json.elimination).toMatchObject({ reason: "FAILED_CHALLENGE_PERIOD_DRAWDOWN", price: 1_650 });
    expect(eliminated.json.elimination.max_drawdown).toBeGreaterThanOrEqual(0.06);
    const slashed = BigInt(eliminated.json.elimination.slashed_rao);
    expect(slashed).toBeGreaterThan(0n);
    expect(slashed).toBeLessThanOrEqual(DEFAULT_RESERVE_RAO);
    expect(eliminated.json.positions[0]).toMatchObject({ is_closed: true, trade_pair: "ETHUSD" });
    expect(eliminated.json.positions[0].orders.at(-1)).toMatchObject({ order_type: "FLAT", src: "elimination", price: 1_650 });
    const afterSlash = await entity("E1");
    expect(BigInt(afterSlash.collateral.slashed_rao)).toBe(BigInt(before.collateral.slashed_rao) + slashed);
    expect(afterSlash.collateral.reserved_rao).toBe(before.collateral.reserved_rao);
    expect(BigInt(afterSlash.collateral.free_rao)).toBe(BigInt(before.collateral.free_rao) - slashed);
    expectError(await order("E1", { subaccount_id: sub.subaccount_id, trade_pair: "ETHUSD", order_type: "LONG", leverage: 0.1 }), 403, "SUBACCOUNT_NOT_ACTIVE");

    // Not root: refused, the role before the body.
    expectError(await post(`/v1/subaccounts/${synthetic}/reinstate`, key("E1"), { reason: "please" }), 403, "FORBIDDEN");
    expectError(await post(`/v1/subaccounts/${synthetic}/reinstate`, key("Oracle"), { reason: "please" }), 403, "FORBIDDEN");
    expectError(await post(`/v1/subaccounts/${synthetic}/reinstate`, key("E1"), {}), 403, "FORBIDDEN");
    // Root must give a reason.
    expectError(await post(`/v1/subaccounts/${synthetic}/reinstate`, key("Alice"), {}), 400, "VALIDATION_FAILED");
    expectError(await post(`/v1/subaccounts/${synthetic}/reinstate`, key("Alice"), undefined), 400, "VALIDATION_FAILED");
    expectError(await post(`/v1/subaccounts/${synthetic}/reinstate`, key("Alice"), { reason: "" }), 400, "VALIDATION_FAILED");
    expectError(await post(`/v1/subaccounts/${addr("E1")}_999999999/reinstate`, key("Alice"), { reason: "x" }), 404, "SUBACCOUNT_NOT_FOUND");
    expect(await entity("E1")).toEqual(afterSlash);

    const seqBefore = await seq();
    const r = await post(`/v1/subaccounts/${synthetic}/reinstate`, key("Alice"), { reason: "bad ETH feed" });
    expectStatus(r, 200);
    // Audited: the log holds who reinstated, why, and the slash given back.
    const audit = await get(`/v1/audit?after=${seqBefore}&limit=10`, key("Alice"));
    expectStatus(audit, 200);
    const row = audit.json.events.find((e: { type: string }) => e.type.startsWith("SubaccountReinstated"));
    expect(row).toMatchObject({ seq: seqBefore + 1, signer: addr("Alice") });
    expect(JSON.parse(row.payload)).toMatchObject({ synthetic_hotkey: synthetic, reason: "bad ETH feed", by: addr("Alice"), restored_rao: slashed.toString() });
    expectError(await get(`/v1/audit?after=${seqBefore}`, key("E1")), 403, "FORBIDDEN");
    expect(r.json.subaccount).toMatchObject({
      synthetic_hotkey: synthetic,
      status: "active",
      eliminated_at_ms: null,
      collateral_reserved_rao: DEFAULT_RESERVE_RAO.toString(),
      challenge: { state: "in_challenge", max_drawdown: 0 },
    });
    const reinstated = await entity("E1");
    expect(reinstated.collateral).toEqual(created.collateral);
    expect(reinstated.collateral.slashed_rao).toBe(before.collateral.slashed_rao);
    expect(reinstated.active_subaccounts).toBe(created.active_subaccounts);
    expect(reinstated.eliminated_subaccounts).toBe(created.eliminated_subaccounts);
    const detail = await get(`/v1/subaccounts/${synthetic}`, key("E1"));
    expect(detail.json.elimination).toBeNull();
    expect((await get(`/v1/subaccounts/${synthetic}/status`)).json.status).toBe("active");
    // It trades again; reinstating an active one is 200 and changes nothing.
    expectStatus(await order("E1", { subaccount_id: sub.subaccount_id, trade_pair: "ETHUSD", order_type: "LONG", leverage: 0.1 }), 201);
    const settled = await entity("E1");
    const again = await post(`/v1/subaccounts/${synthetic}/reinstate`, key("Alice"), { reason: "again" });
    expectStatus(again, 200);
    expect(again.json.subaccount.status).toBe("active");
    expect(await entity("E1")).toEqual(settled);
  });
});

describe("reinstate refusals", () => {
  it("409 SUBACCOUNT_LIMIT_REACHED when the entity is at its limit; 422 INSUFFICIENT_COLLATERAL without the reserve", async () => {
    // Lim (limit 1): its only subaccount eliminated, another created in its place.
    const lim0 = `${addr("Lim")}_0`;
    expectStatus(await post(`/v1/subaccounts/${lim0}/eliminate`, key("Lim"), {}), 200);
    expect((await createSubaccount("Lim")).subaccount_id).toBe(1);
    const lim = await entity("Lim");
    expectError(await post(`/v1/subaccounts/${lim0}/reinstate`, key("Alice"), { reason: "x" }), 409, "SUBACCOUNT_LIMIT_REACHED");
    expect(await entity("Lim")).toEqual(lim);
    // Poor (1 TAO): its 2,500 USD subaccount eliminated and the freed TAO reserved by another.
    const poor0 = `${addr("Poor")}_0`;
    expect((await get(`/v1/subaccounts/${poor0}`, key("Poor"))).json.subaccount).toMatchObject({ status: "active", account_size_usd: 2_500 });
    expectStatus(await post(`/v1/subaccounts/${poor0}/eliminate`, key("Poor"), {}), 200);
    expect((await createSubaccount("Poor", { account_size_usd: 2_500 })).subaccount_id).toBe(1);
    const poor = await entity("Poor");
    expect(poor.collateral.free_rao).toBe("0");
    const refused = await post(`/v1/subaccounts/${poor0}/reinstate`, key("Alice"), { reason: "x" });
    expectError(refused, 422, "INSUFFICIENT_COLLATERAL");
    expect(refused.json.error.details).toMatchObject({ free_rao: "0", required_rao: TAO_RAO.toString() });
    expect(await entity("Poor")).toEqual(poor);
  });
});

// ---- orders and positions ------------------------------------------------------------------------

describe("POST /v1/orders, positions and order history", () => {
  it("an entity trades through a subaccount: LONG grows, an opposite order reduces and never flips, FLAT closes", async () => {
    const sub = await createSubaccount("E1");
    const id = sub.subaccount_id;
    const s = sub.synthetic_hotkey;
    const a = await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1, order_uuid: "first-order" });
    expectStatus(a, 201);
    expect(a.json.order).toEqual({
      order_uuid: "first-order",
      synthetic_hotkey: s,
      trade_pair: "BTCUSD",
      order_type: "LONG",
      leverage: 0.1,
      price: 50_000,
      processed_ms: expect.any(Number),
      src: "organic",
    });
    expect(a.json.position).toMatchObject({ synthetic_hotkey: s, trade_pair: "BTCUSD", is_closed: false, net_leverage: 0.1, average_entry_price: 50_000, closed_at_ms: null });
    expect(a.json.position.orders).toEqual([a.json.order]);
    expect(Object.keys(a.json.position)).toEqual(expect.arrayContaining(["position_uuid", "realized_pnl_usd", "unrealized_pnl_usd", "return", "opened_at_ms"]));

    const grow = await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.2 });
    expectStatus(grow, 201);
    expect(grow.json.position.net_leverage).toBeCloseTo(0.3, 9);
    expect(grow.json.position.position_uuid).toBe(a.json.position.position_uuid);
    expectError(await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.3 }), 422, "LEVERAGE_OUT_OF_RANGE");
    // SHORT 0.5 against LONG 0.3: closes, does not flip to SHORT 0.2.
    const reduce = await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "SHORT", leverage: 0.5 });
    expectStatus(reduce, 201);
    expect(reduce.json.order.leverage).toBeCloseTo(-0.3, 9);
    expect(reduce.json.position).toMatchObject({ is_closed: true, net_leverage: 0 });
    expect(reduce.json.position.closed_at_ms).toEqual(expect.any(Number));

    const reopen = await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "SHORT", leverage: 0.2 });
    expectStatus(reopen, 201);
    expect(reopen.json.position.position_uuid).not.toBe(a.json.position.position_uuid);
    expect(reopen.json.position.net_leverage).toBeCloseTo(-0.2, 9);
    const partial = await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.05 });
    expect(partial.json.position.net_leverage).toBeCloseTo(-0.15, 9);
    const flat = await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "FLAT" });
    expectStatus(flat, 201);
    expect(flat.json.order.order_type).toBe("FLAT");
    expect(flat.json.order.leverage).toBeCloseTo(0.15, 9);
    expect(flat.json.position.is_closed).toBe(true);
    const open = await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 });
    expectStatus(open, 201);

    // Positions: the open one first, then closed ones newest first.
    const positions = await get(`/v1/subaccounts/${s}/positions`, key("E1"));
    expectStatus(positions, 200);
    expect(positions.json.positions.map((p: { position_uuid: string; is_closed: boolean }) => [p.position_uuid, p.is_closed])).toEqual([
      [open.json.position.position_uuid, false],
      [reopen.json.position.position_uuid, true],
      [a.json.position.position_uuid, true],
    ]);
    expect((await get(`/v1/subaccounts/${s}/positions`, key("Alice"))).json).toEqual(positions.json);
    expectError(await get(`/v1/subaccounts/${s}/positions`, key("E2")), 403, "FORBIDDEN");
    expectError(await get(`/v1/subaccounts/${s}/positions`), 401, "SIGNATURE_MISSING");
    expectError(await get(`/v1/subaccounts/${addr("E1")}_999999999/positions`, key("E1")), 404, "SUBACCOUNT_NOT_FOUND");

    // Order history, oldest first, paged with after/limit/next.
    const all = await get(`/v1/subaccounts/${s}/orders`, key("E1"));
    expectStatus(all, 200);
    const uuids = [a, grow, reduce, reopen, partial, flat, open].map((x) => x.json.order.order_uuid);
    expect(all.json.orders.map((o: { order_uuid: string }) => o.order_uuid)).toEqual(uuids);
    expect(all.json.next).toBeNull();
    const walked: string[] = [];
    let after: number | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const page: Answer = await get(`/v1/subaccounts/${s}/orders?limit=3${after === null ? "" : `&after=${after}`}`, key("E1"));
      expectStatus(page, 200);
      walked.push(...page.json.orders.map((o: { order_uuid: string }) => o.order_uuid));
      after = page.json.next;
      if (after === null) break;
    }
    expect(walked).toEqual(uuids);
    expectError(await get(`/v1/subaccounts/${s}/orders`, key("E2")), 403, "FORBIDDEN");
    expectError(await get(`/v1/subaccounts/${addr("E1")}_999999999/orders`, key("E1")), 404, "SUBACCOUNT_NOT_FOUND");
    for (const q of ["limit=0", "limit=1001", "after=-1", "after=x", "foo=1"]) expectError(await get(`/v1/subaccounts/${s}/orders?${q}`, key("E1")), 400, "VALIDATION_FAILED");

    // The subaccount's detail shows the same positions, and its challenge follows the trades.
    const detail = await get(`/v1/subaccounts/${s}`, key("E1"));
    expect(detail.json.positions).toEqual(positions.json.positions);
    expect(detail.json.subaccount.challenge.return).toBeLessThan(0);
  });

  it("a regular miner trades with its own hotkey and no subaccount_id", async () => {
    const a = await order("Miner", { trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 });
    expectStatus(a, 201);
    expect(a.json.order.synthetic_hotkey).toBe(addr("Miner"));
    expect(a.json.position.synthetic_hotkey).toBe(addr("Miner"));
    const positions = await get(`/v1/subaccounts/${addr("Miner")}/positions`, key("Miner"));
    expectStatus(positions, 200);
    expect(positions.json.positions.map((p: { position_uuid: string }) => p.position_uuid)).toEqual([a.json.position.position_uuid]);
    expectStatus(await get(`/v1/subaccounts/${addr("Miner")}/positions`, key("Alice")), 200);
    expectError(await get(`/v1/subaccounts/${addr("Miner")}/positions`, key("E1")), 403, "FORBIDDEN");
    const orders = await get(`/v1/subaccounts/${addr("Miner")}/orders`, key("Miner"));
    expect(orders.json.orders).toEqual([a.json.order]);
    // A neuron that is not an entity has no subaccounts.
    expectError(await order("Miner", { subaccount_id: 0, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 404, "ENTITY_NOT_FOUND");
    // Never traded and not a subaccount.
    expectError(await get(`/v1/subaccounts/${addr("Fresh")}/positions`, key("Fresh")), 404, "SUBACCOUNT_NOT_FOUND");
  });

  it("403 ENTITY_CANNOT_TRADE, NOT_A_NEURON; 404 SUBACCOUNT_NOT_FOUND; 422 UNKNOWN_TRADE_PAIR, LEVERAGE_OUT_OF_RANGE, NO_PRICE", async () => {
    const sub = await createSubaccount("E1");
    const id = sub.subaccount_id;
    const before = await seq();
    expectError(await order("E1", { trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 403, "ENTITY_CANNOT_TRADE");
    expectError(await order("Stranger", { trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 403, "NOT_A_NEURON");
    expectError(await order("Stranger", { subaccount_id: 0, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 403, "NOT_A_NEURON");
    // Root and the oracle are not neurons either.
    expectError(await order("Alice", { trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 403, "NOT_A_NEURON");
    expectError(await order("E1", { subaccount_id: 999_999_999, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 404, "SUBACCOUNT_NOT_FOUND");
    expectError(await order("E1", { subaccount_id: id, trade_pair: "BTCEUR", order_type: "LONG", leverage: 0.1 }), 422, "UNKNOWN_TRADE_PAIR");
    for (const [pair, leverage] of [
      ["BTCUSD", 0.6],
      ["BTCUSD", 0.009],
      ["BTCUSD", 5],
      ["EURUSD", 0.05],
      ["EURUSD", 5.5],
    ] as const) {
      const r = await order("E1", { subaccount_id: id, trade_pair: pair, order_type: "SHORT", leverage });
      expectError(r, 422, "LEVERAGE_OUT_OF_RANGE");
      expect(r.json.error.details).toMatchObject({ trade_pair: pair });
    }
    expectError(await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "LONG" }), 422, "LEVERAGE_OUT_OF_RANGE");
    // Never clamped: 0.5 is the top of the range and allowed.
    const top = await order("E1", { subaccount_id: id, trade_pair: "BTCUSD", order_type: "SHORT", leverage: 0.5 });
    expectStatus(top, 201);
    expect(top.json.position.net_leverage).toBe(-0.5);
    const noPrice = await order("E1", { subaccount_id: id, trade_pair: "SOLUSD", order_type: "LONG", leverage: 0.1 });
    expectError(noPrice, 422, "NO_PRICE");
    expect(noPrice.json.error.details).toMatchObject({ trade_pair: "SOLUSD" });
    // Only the 0.5 SHORT changed anything.
    expect(await seq()).toBe(before + 1);
  });

  it("TAOUSD is priced by the oracle like any pair, and an order on it is 422 PAIR_NOT_TRADABLE, whatever its leverage", async () => {
    const sub = await createSubaccount("E1");
    const posted = await postPrices([{ trade_pair: "TAOUSD", price: 400 }]);
    expectStatus(posted, 200);
    expect(posted.json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    expect((await get("/v1/prices")).json.prices.TAOUSD).toEqual({ price: 400, ts_ms: expect.any(Number) });
    const before = await seq();
    for (const [by, body] of [
      ["E1", { subaccount_id: sub.subaccount_id, trade_pair: "TAOUSD", order_type: "LONG", leverage: 0.1 }],
      ["E1", { subaccount_id: sub.subaccount_id, trade_pair: "TAOUSD", order_type: "SHORT", leverage: 100 }],
      ["Miner", { trade_pair: "TAOUSD", order_type: "FLAT" }],
    ] as const) {
      const r = await order(by, body);
      expectError(r, 422, "PAIR_NOT_TRADABLE");
      expect(r.json.error.details).toEqual({ trade_pair: "TAOUSD" });
    }
    expect(await seq()).toBe(before);
  });

  it("order_uuid: the same body again is 200 duplicate:true with the original; another body is 409 DUPLICATE_ORDER", async () => {
    const sub = await createSubaccount("E1");
    const s = sub.synthetic_hotkey;
    const body = { subaccount_id: sub.subaccount_id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1, order_uuid: "dup-1" };
    const first = await order("E1", body);
    expectStatus(first, 201);
    const positionsBefore = (await get(`/v1/subaccounts/${s}/positions`, key("E1"))).json;
    const head = await seq();
    const again = await order("E1", body);
    expectStatus(again, 200);
    expect(again.json.duplicate).toBe(true);
    expect(again.json.order).toEqual(first.json.order);
    expect(again.json.position.position_uuid).toBe(first.json.position.position_uuid);
    // Key order in the JSON does not matter, it is the same order.
    const reordered = await order("E1", { order_uuid: "dup-1", leverage: 0.1, order_type: "LONG", trade_pair: "BTCUSD", subaccount_id: sub.subaccount_id });
    expectStatus(reordered, 200);
    expect(reordered.json.order).toEqual(first.json.order);
    const other = await order("E1", { ...body, leverage: 0.2 });
    expectError(other, 409, "DUPLICATE_ORDER");
    expectError(await order("E1", { ...body, order_type: "SHORT" }), 409, "DUPLICATE_ORDER");
    expect(await seq()).toBe(head);
    expect((await get(`/v1/subaccounts/${s}/positions`, key("E1"))).json).toEqual(positionsBefore);
    expect((await get(`/v1/subaccounts/${s}/orders`, key("E1"))).json.orders).toHaveLength(1);
    // order_uuids are unique per signer: another subaccount of the same entity cannot reuse one (see "order_uuid is unique per signer").
    const otherSub = await createSubaccount("E1");
    expectError(await order("E1", { ...body, subaccount_id: otherSub.subaccount_id }), 409, "DUPLICATE_ORDER");
  });

  it("Idempotency-Key: the same key and body answers the first response and changes nothing; another body is 409", async () => {
    const sub = await createSubaccount("E1");
    const body = { subaccount_id: sub.subaccount_id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 };
    const k = `order-${randomUUID()}`;
    const first = await order("E1", body, { idempotencyKey: k });
    expectStatus(first, 201);
    const head = await seq();
    const again = await order("E1", body, { idempotencyKey: k });
    expectStatus(again, 201);
    expect(again.json).toEqual(first.json);
    expect(await seq()).toBe(head);
    expect((await get(`/v1/subaccounts/${sub.synthetic_hotkey}/orders`, key("E1"))).json.orders).toHaveLength(1);
    expectError(await order("E1", { ...body, leverage: 0.2 }, { idempotencyKey: k }), 409, "IDEMPOTENCY_KEY_REUSED");
    expect(await seq()).toBe(head);
    // Scoped per signer: another signer's same key is its own.
    expectStatus(await order("Miner", { trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.01 }, { idempotencyKey: k }), 201);
    expectError(await order("E1", body, { idempotencyKey: "has space" }), 400, "VALIDATION_FAILED");
    expectError(await order("E1", body, { idempotencyKey: "x".repeat(129) }), 400, "VALIDATION_FAILED");
  });

  it("Idempotency-Key on subaccount creation; a replayed uuid with the original key and body gets the stored response", async () => {
    const k = `sub-${randomUUID()}`;
    const raw = JSON.stringify({ account_size_usd: 5_000 });
    const path = `/v1/entities/${addr("E1")}/subaccounts`;
    const headers = epistula(key("E1"), raw, { idempotencyKey: k });
    const first = await request("POST", path, { body: raw, headers });
    expectStatus(first, 201);
    const after = await entity("E1");
    const again = await post(path, key("E1"), { account_size_usd: 5_000 }, { idempotencyKey: k });
    expectStatus(again, 201);
    expect(again.json).toEqual(first.json);
    expectError(await post(path, key("E1"), { account_size_usd: 6_000 }, { idempotencyKey: k }), 409, "IDEMPOTENCY_KEY_REUSED");
    // The very same request again (same uuid): with its Idempotency-Key, the stored response.
    const replay = await request("POST", path, { body: raw, headers });
    expectStatus(replay, 201);
    expect(replay.json).toEqual(first.json);
    // Without the key: refused as a replay. With another key: also refused.
    const { "Idempotency-Key": _, ...noKey } = headers;
    expectError(await request("POST", path, { body: raw, headers: noKey }), 401, "REQUEST_REPLAYED");
    expectError(await request("POST", path, { body: raw, headers: { ...noKey, "Idempotency-Key": `${k}-other` } }), 401, "REQUEST_REPLAYED");
    expect(await entity("E1")).toEqual(after);
  });

  it("a replayed uuid is 401 REQUEST_REPLAYED, whatever the first outcome", async () => {
    const sub = await createSubaccount("E1");
    const raw = JSON.stringify({ subaccount_id: sub.subaccount_id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 });
    const headers = epistula(key("E1"), raw);
    expectStatus(await request("POST", "/v1/orders", { body: raw, headers }), 201);
    const head = await seq();
    expectError(await request("POST", "/v1/orders", { body: raw, headers }), 401, "REQUEST_REPLAYED");
    // A uuid spent on a refused order is spent too.
    const uuid = randomUUID();
    expectError(await order("E1", { subaccount_id: sub.subaccount_id, trade_pair: "SOLUSD", order_type: "LONG", leverage: 0.1 }, { uuid }), 422, "NO_PRICE");
    expectError(await order("E1", { subaccount_id: sub.subaccount_id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }, { uuid }), 401, "REQUEST_REPLAYED");
    // Reads consume their uuids as well.
    const read = epistula(key("E1"), "");
    expectStatus(await request("GET", `/v1/entities/${addr("E1")}`, { headers: read }), 200);
    expectError(await request("GET", `/v1/entities/${addr("E1")}`, { headers: read }), 401, "REQUEST_REPLAYED");
    expect(await seq()).toBe(head);
  });

  it("429 RATE_LIMITED with Retry-After past 20 orders in a burst for one trader; other traders are not held back", async () => {
    const sub = await createSubaccount("E1");
    const other = await createSubaccount("E1");
    // Orders that pass the checks up to the rate limit but change nothing (no SOLUSD price).
    const body = { subaccount_id: sub.subaccount_id, trade_pair: "SOLUSD", order_type: "LONG", leverage: 0.1 };
    for (let i = 0; i < 20; i++) expectError(await order("E1", body), 422, "NO_PRICE");
    const limited = await order("E1", body);
    expectError(limited, 429, "RATE_LIMITED");
    expect(limited.headers.get("retry-after")).toBe("1");
    expect(limited.json.error.details).toMatchObject({ scope: "order", retry_after_ms: 100 });
    // Another subaccount of the same entity has its own bucket.
    expectError(await order("E1", { ...body, subaccount_id: other.subaccount_id }), 422, "NO_PRICE");
    // Reads by the same signer are not orders.
    expectStatus(await get(`/v1/entities/${addr("E1")}`, key("E1")), 200);
    // 100 ms later (10 orders/s) one more order goes through.
    limitClock += 100;
    expectError(await order("E1", body), 422, "NO_PRICE");
    expectError(await order("E1", body), 429, "RATE_LIMITED");
  });
});

describe("order_uuid is unique per signer", () => {
  it("reusing one under another subaccount of the same entity is 409 DUPLICATE_ORDER; the original still answers its duplicate", async () => {
    const a = await createSubaccount("E1");
    const b = await createSubaccount("E1");
    const uuid = `per-signer-${randomUUID()}`;
    const body = { subaccount_id: a.subaccount_id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1, order_uuid: uuid };
    const first = await order("E1", body);
    expectStatus(first, 201);
    const head = await seq();
    const reused = await order("E1", { ...body, subaccount_id: b.subaccount_id });
    expectError(reused, 409, "DUPLICATE_ORDER");
    expect(reused.json.error.details).toMatchObject({ same_body: false, trader: a.synthetic_hotkey });
    // The same body again is still the original's duplicate, found under the subaccount that placed it.
    const again = await order("E1", body);
    expectStatus(again, 200);
    expect(again.json).toMatchObject({ duplicate: true, order: first.json.order });
    expect(await seq()).toBe(head);
    expect((await get(`/v1/subaccounts/${b.synthetic_hotkey}/orders`, key("E1"))).json.orders).toHaveLength(0);
    // Another signer's order_uuids are its own.
    expectStatus(await order("Miner", { trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.01, order_uuid: uuid }), 201);
  });
});

// ---- prices and trade pairs -------------------------------------------------------------------

describe("prices", () => {
  it("POST /v1/prices counts accepted, held and skipped; held ticks are listed until root resolves them", async () => {
    const last = (await get("/v1/prices")).json.prices.XRPUSD;
    const t0 = last.ts_ms;
    const t1 = priceTs();
    const t2 = priceTs();
    const a = await postPrices([
      { trade_pair: "XRPUSD", price: 0.55, ts_ms: t1 }, // +10%: accepted
      { trade_pair: "XRPUSD", price: 0.9, ts_ms: t2 }, // +64%: held
      { trade_pair: "XRPUSD", price: 0.56, ts_ms: t0 }, // not later than the last accepted: skipped
      { trade_pair: "XRPUSD", price: -1, ts_ms: priceTs() }, // not positive: skipped
      { trade_pair: "XRPUSD", price: 0, ts_ms: priceTs() }, // not positive: skipped
      { trade_pair: "NOPEUSD", price: 1, ts_ms: priceTs() }, // unknown pair: skipped
      // (a tick more than 2 s ahead of the node clock refuses the whole batch with 400: src/api/routes/clock.test.ts)
    ]);
    expectStatus(a, 200);
    expect(a.json).toEqual({ accepted: 1, held: 1, skipped: 4 });

    const prices = await get("/v1/prices");
    expectStatus(prices, 200);
    expect(prices.json.prices.XRPUSD).toEqual({ price: 0.55, ts_ms: t1 });
    expect(prices.json.prices.BTCUSD).toEqual({ price: 50_000, ts_ms: expect.any(Number) });
    expect(prices.json.prices.NOPEUSD).toBeUndefined();
    expect(prices.json.held).toEqual([{ trade_pair: "XRPUSD", price: 0.9, ts_ms: t2, last_price: 0.55 }]);
    // The same held tick again is not held twice.
    expect((await postPrices([{ trade_pair: "XRPUSD", price: 0.9, ts_ms: t2 }])).json).toEqual({ accepted: 0, held: 0, skipped: 1 });

    // Only root resolves; an unknown tick is 404; a bad action is 400.
    expectError(await post("/v1/prices/held/resolve", key("Oracle"), { trade_pair: "XRPUSD", ts_ms: t2, action: "apply" }), 403, "FORBIDDEN");
    expectError(await post("/v1/prices/held/resolve", key("E1"), { trade_pair: "XRPUSD", ts_ms: t2, action: "apply" }), 403, "FORBIDDEN");
    expectError(await post("/v1/prices/held/resolve", key("Alice"), { trade_pair: "XRPUSD", ts_ms: t2 + 1, action: "apply" }), 404, "NOT_FOUND");
    expectError(await post("/v1/prices/held/resolve", key("Alice"), { trade_pair: "XRPUSD", ts_ms: t2, action: "maybe" }), 400, "VALIDATION_FAILED");
    expectError(await post("/v1/prices/held/resolve", key("Alice"), { trade_pair: "XRPUSD", ts_ms: String(t2), action: "apply" }), 400, "VALIDATION_FAILED");
    expect((await get("/v1/prices")).json.held).toHaveLength(1);

    const applied = await post("/v1/prices/held/resolve", key("Alice"), { trade_pair: "XRPUSD", ts_ms: t2, action: "apply" });
    expectStatus(applied, 200);
    expect(applied.json).toEqual({ resolved: 1 });
    const afterApply = await get("/v1/prices");
    expect(afterApply.json.prices.XRPUSD).toEqual({ price: 0.9, ts_ms: t2 });
    expect(afterApply.json.held).toEqual([]);
    expectError(await post("/v1/prices/held/resolve", key("Alice"), { trade_pair: "XRPUSD", ts_ms: t2, action: "apply" }), 404, "NOT_FOUND");

    // Held again, then discarded: the price stays.
    const t3 = priceTs();
    expect((await postPrices([{ trade_pair: "XRPUSD", price: 2, ts_ms: t3 }])).json).toEqual({ accepted: 0, held: 1, skipped: 0 });
    expect((await post("/v1/prices/held/resolve", key("Alice"), { trade_pair: "XRPUSD", ts_ms: t3, action: "discard" })).json).toEqual({ resolved: 1 });
    const afterDiscard = await get("/v1/prices");
    expect(afterDiscard.json.prices.XRPUSD).toEqual({ price: 0.9, ts_ms: t2 });
    expect(afterDiscard.json.held).toEqual([]);
  });

  it("the oracle and root may post prices; anyone else is 403 FORBIDDEN; bad bodies are 400", async () => {
    expect((await postPrices([{ trade_pair: "XRPUSD", price: 0.91 }], key("Alice"))).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    expect((await postPrices([{ trade_pair: "XRPUSD", price: 0.92 }], key("Oracle"))).json).toEqual({ accepted: 1, held: 0, skipped: 0 });
    for (const who of ["Bob", "E1", "Miner", "Stranger"]) expectError(await postPrices([{ trade_pair: "XRPUSD", price: 0.93 }], key(who)), 403, "FORBIDDEN");
    expectError(await post("/v1/prices", null, { prices: [{ trade_pair: "XRPUSD", price: 0.93, ts_ms: priceTs() }] }), 401, "SIGNATURE_MISSING");
    expect((await get("/v1/prices")).json.prices.XRPUSD.price).toBe(0.92);
    for (const body of [
      { prices: [] },
      { prices: [{ trade_pair: "XRPUSD", price: "0.93", ts_ms: priceTs() }] },
      { prices: [{ trade_pair: "XRPUSD", price: 0.93, ts_ms: 1.5 }] },
      { prices: [{ trade_pair: "XRPUSD", price: 0.93 }] },
      { prices: [{ trade_pair: "XRPUSD", price: 0.93, ts_ms: priceTs(), source: "x" }] },
      { prices: [], extra: 1 },
      {},
    ]) {
      expectError(await post("/v1/prices", key("Oracle"), body), 400, "VALIDATION_FAILED");
    }
    expectError(await postRaw("/v1/prices", key("Oracle"), `{"prices":[{"trade_pair":"XRPUSD","price":NaN,"ts_ms":${priceTs()}}]}`), 400, "VALIDATION_FAILED");
    expect((await get("/v1/prices")).json.prices.XRPUSD.price).toBe(0.92);
  });

  it("/healthz is degraded while a price is held, ok again once root resolves it", async () => {
    expect((await get("/healthz")).json.status).toBe("ok");
    const ts = priceTs();
    expect((await postPrices([{ trade_pair: "DOGEUSD", price: 0.5, ts_ms: ts }])).json).toEqual({ accepted: 0, held: 1, skipped: 0 });
    try {
      const degraded = await get("/healthz");
      expect(degraded.status).toBe(200);
      expect(degraded.json.status).toBe("degraded");
      expect(degraded.json.problems.join(" ")).toMatch(/DOGEUSD/);
    } finally {
      expectStatus(await post("/v1/prices/held/resolve", key("Alice"), { trade_pair: "DOGEUSD", ts_ms: ts, action: "discard" }), 200);
    }
    expect((await get("/healthz")).json.status).toBe("ok");
  });

  it("GET /v1/trade-pairs lists the crypto and forex pairs with their ranges and fees, and TAOUSD as valuation only", async () => {
    const a = await get("/v1/trade-pairs");
    expectStatus(a, 200);
    const byId = new Map(a.json.trade_pairs.map((p: { id: string }) => [p.id, p]));
    for (const id of ["BTCUSD", "ETHUSD", "SOLUSD", "XRPUSD", "DOGEUSD", "ADAUSD"]) {
      expect(byId.get(id), id).toMatchObject({ id, category: "crypto", min_leverage: 0.01, max_leverage: 0.5, fee: expect.any(Number), tradable: true });
    }
    for (const id of ["EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "USDCAD", "USDCHF"]) {
      expect(byId.get(id), id).toMatchObject({ id, category: "forex", min_leverage: 0.1, max_leverage: 5, fee: expect.any(Number), tradable: true });
    }
    expect(byId.get("TAOUSD")).toMatchObject({ id: "TAOUSD", category: "valuation", tradable: false });
    expect(a.json.trade_pairs).toHaveLength(13);
  });
});

// ---- sessions and time --------------------------------------------------------------------------

describe("POST /v1/sessions and GET /v1/time", () => {
  it("a session token reads as the signer (Bearer or cookie), is refused for writes and for others' data", async () => {
    const before = Date.now();
    const s = await post("/v1/sessions", key("E1"), undefined);
    expectStatus(s, 200);
    expect(s.json).toEqual({ token: expect.any(String), expires_at_ms: expect.any(Number) });
    const { token } = s.json;
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(s.json.expires_at_ms).toBeGreaterThanOrEqual(before + 15 * 60_000);
    expect(s.json.expires_at_ms).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    const cookie = s.headers.get("set-cookie") ?? "";
    expect(cookie).toContain(`propnet_session=${token}`);
    expect(cookie).toMatch(/HttpOnly/i);

    const path = `/v1/entities/${addr("E1")}`;
    const bearer = await request("GET", path, { headers: { Authorization: `Bearer ${token}` } });
    expectStatus(bearer, 200);
    expect(bearer.json.entity.entity_hotkey).toBe(addr("E1"));
    const viaCookie = await request("GET", path, { headers: { Cookie: `other=1; propnet_session=${token}` } });
    expectStatus(viaCookie, 200);
    expect(viaCookie.json).toEqual(bearer.json);
    // A token can be used many times (no uuid to consume).
    expectStatus(await request("GET", `${path}/subaccounts`, { headers: { Authorization: `Bearer ${token}` } }), 200);

    // Scoped to the signer.
    expectError(await request("GET", `/v1/entities/${addr("E2")}`, { headers: { Authorization: `Bearer ${token}` } }), 403, "FORBIDDEN");
    expectError(await request("GET", "/v1/entities", { headers: { Authorization: `Bearer ${token}` } }), 403, "FORBIDDEN");
    // Read-only: never accepted on a write.
    const sub = (await entity("E1")).subaccounts.find((x: { status: string }) => x.status === "active");
    const orderBody = JSON.stringify({ subaccount_id: sub.subaccount_id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 });
    const head = await seq();
    expectError(await request("POST", "/v1/orders", { body: orderBody, headers: { Authorization: `Bearer ${token}` } }), 401, "SIGNATURE_MISSING");
    expectError(await request("POST", "/v1/orders", { body: orderBody, headers: { Cookie: `propnet_session=${token}` } }), 401, "SIGNATURE_MISSING");
    expectError(await request("POST", `/v1/entities/${addr("E1")}/subaccounts`, { body: "{}", headers: { Authorization: `Bearer ${token}` } }), 401, "SIGNATURE_MISSING");
    expectError(await request("POST", "/v1/sessions", { headers: { Authorization: `Bearer ${token}` } }), 401, "SIGNATURE_MISSING");
    expect(await seq()).toBe(head);
    // An unknown token.
    expectError(await request("GET", path, { headers: { Authorization: "Bearer not-a-token" } }), 401, "SIGNATURE_INVALID");
    expectError(await request("GET", path, { headers: { Cookie: "propnet_session=not-a-token" } }), 401, "SIGNATURE_INVALID");
    // A root session reads everything.
    const rootToken = (await post("/v1/sessions", key("Alice"), undefined)).json.token;
    expectStatus(await request("GET", "/v1/entities", { headers: { Authorization: `Bearer ${rootToken}` } }), 200);
    expectStatus(await request("GET", path, { headers: { Authorization: `Bearer ${rootToken}` } }), 200);
  });

  // API.md "Authentication": a repeated uuid is 401 REQUEST_REPLAYED except for a repeat carrying the
  // original Idempotency-Key. signedWrite (src/api/access.ts) lets any replay that carries an
  // Idempotency-Key header through, trusting write() to refuse it; routes/sessions.ts never calls
  // write() nor looks at request.replayed, so a captured session request replayed within the
  // window with any Idempotency-Key header added mints a new token for the signer.
  it("a replayed POST /v1/sessions is refused, even with an Idempotency-Key header added", async () => {
    const headers = epistula(key("E1"), "");
    expectStatus(await request("POST", "/v1/sessions", { headers }), 200);
    expectError(await request("POST", "/v1/sessions", { headers }), 401, "REQUEST_REPLAYED");
    const replay = await request("POST", "/v1/sessions", { headers: { ...headers, "Idempotency-Key": "never-used" } });
    expectError(replay, 401, "REQUEST_REPLAYED");
  });

  it("POST /v1/sessions needs a signature and takes no fields", async () => {
    expectError(await post("/v1/sessions", null, undefined), 401, "SIGNATURE_MISSING");
    expectError(await post("/v1/sessions", key("E1"), { ttl: 60 }), 400, "VALIDATION_FAILED");
    expectStatus(await post("/v1/sessions", key("E1"), {}), 200);
  });

  it("GET /v1/time gives the server clock, unsigned", async () => {
    const before = Date.now();
    const a = await get("/v1/time");
    expectStatus(a, 200);
    expect(Object.keys(a.json)).toEqual(["server_time_ms"]);
    expect(a.json.server_time_ms).toBeGreaterThanOrEqual(before);
    expect(a.json.server_time_ms).toBeLessThanOrEqual(Date.now());
  });
});

// ---- a follower ------------------------------------------------------------------------------------

describe("on a follower (API.md \"Sync between validators\")", () => {
  it("entity writes answer 409 NOT_MOTHERSHIP with details.mothership and details.url; reads still work", async () => {
    const follower = buildServer({
      node: () => node,
      producer: () => producer,
      root: addr("Alice"),
      oracle: addr("Oracle"),
      startupStatus: () => "starting",
      version: "test",
      // The peer that answered as the mothership: where entity changes go.
      sync: () => ({ urlOf: (hotkey: string) => (hotkey === addr("Oracle") ? "http://127.0.0.1:9" : null) }) as unknown as SyncAgent,
      limits: new RateLimits({ enabled: false }),
    });
    // This node follows the Oracle's key: node configuration, which the writer enforces too.
    const identity = node.state.identity;
    node.state.identity = { hotkey: addr("Alice"), mothership: addr("Oracle") };
    await follower.listen({ port: 0, host: "127.0.0.1" });
    const main = base;
    base = `http://127.0.0.1:${(follower.server.address() as AddressInfo).port}`;
    try {
      const sub = (await entity("E1")).subaccounts.find((x: { status: string }) => x.status === "active");
      const head = await seq();
      for (const a of [
        await post("/v1/entities", key("Fresh"), {}),
        await post(`/v1/entities/${addr("E1")}/subaccounts`, key("E1"), {}),
        await post(`/v1/subaccounts/${sub.synthetic_hotkey}/eliminate`, key("E1"), {}),
        await post(`/v1/subaccounts/${sub.synthetic_hotkey}/reinstate`, key("Alice"), { reason: "x" }),
      ]) {
        expectError(a, 409, "NOT_MOTHERSHIP");
        expect(a.json.error.details).toEqual({ mothership: addr("Oracle"), url: "http://127.0.0.1:9" });
      }
      // The role still comes first.
      expectError(await post(`/v1/entities/${addr("E1")}/subaccounts`, key("E2"), {}), 403, "FORBIDDEN");
      expect(await seq()).toBe(head);
      expect((await get(`/v1/subaccounts/${sub.synthetic_hotkey}/status`)).json.status).toBe("active");
      // Not only a route guard: the writer itself refuses to issue ids.
      const direct = await node.submit({ command: { kind: "create_subaccount", ts: node.clock.now(), entity: addr("E1"), uuid: crypto.randomUUID() } });
      expect(direct.ok ? null : direct.error.code).toBe("NOT_MOTHERSHIP");
    } finally {
      node.state.identity = identity;
      base = main;
      await follower.close();
    }
  });
});

// ---- frozen entities ------------------------------------------------------------------------------

describe("ENTITY_FROZEN", () => {
  it("an entity whose hotkey loses its uid is frozen (403 ENTITY_FROZEN on orders); registering again unfreezes it", async () => {
    const sub = await createSubaccount("Frz");
    const body = { subaccount_id: sub.subaccount_id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 };
    const subnet = await get("/v1/chain/subnets/1");
    const frz = subnet.json.neurons.find((n: { hotkey: string }) => n.hotkey === addr("Frz"));
    expect(frz).toMatchObject({ uid: 0 });
    const count = subnet.json.neurons.length;
    // A full subnet: the next registration replaces the neuron with the least stake (ties: lowest uid).
    expectStatus(await extrinsic(key("Alice"), "root.set_parameter", { name: "maxNeurons", value: count }), 200);
    try {
      const reg = await extrinsic(key("Bob"), "subtensor.burned_register", { netuid: 1, hotkey: addr("Newcomer") });
      expectStatus(reg, 200);
      expect(reg.json.events[0]).toMatchObject({ type: "NeuronRegistered", data: { uid: 0, hotkey: addr("Newcomer"), replaced: addr("Frz") } });
    } finally {
      expectStatus(await extrinsic(key("Alice"), "root.set_parameter", { name: "maxNeurons", value: 256 }), 200);
    }
    const frozen = await entity("Frz");
    expect(frozen.frozen).toBe(true);
    const head = await seq();
    const refused = await order("Frz", body);
    expectError(refused, 403, "ENTITY_FROZEN");
    expect(refused.json.error.details).toMatchObject({ entity_hotkey: addr("Frz") });
    expect(await seq()).toBe(head);
    expect(await entity("Frz")).toEqual(frozen);

    expectStatus(await extrinsic(key("Bob"), "subtensor.burned_register", { netuid: 1, hotkey: addr("Frz") }), 200);
    expect((await entity("Frz")).frozen).toBe(false);
    expectStatus(await order("Frz", body), 201);
  });
});

// ---- the bad-input table ------------------------------------------------------------------------

/** An SS58 address with one character changed: still base58, the checksum no longer matches. */
function badChecksum(address: string): string {
  const i = 20;
  const c = address[i] === "a" ? "b" : "a";
  const bad = `${address.slice(0, i)}${c}${address.slice(i + 1)}`;
  if (isSs58(bad)) throw new Error("the altered address still checks");
  return bad;
}

const ONE_MIB = 1024 * 1024;

interface BadCase {
  name: string;
  /** Run before the "before" snapshot (what it changes is not the bad request's doing). */
  prepare?: () => Promise<void>;
  send: () => Promise<Answer>;
  status: number;
  code: string;
}

describe("bad inputs: each gets its code and changes nothing", () => {
  /** E1's subaccount with an open BTCUSD position. */
  let sub: { synthetic_hotkey: string; subaccount_id: number };
  /** An accepted order request, kept to replay (made by a case's `prepare`: a uuid is only remembered for 8 s). */
  let accepted: { raw: string; headers: Record<string, string> };

  /** An order that opens 0.1 then closes it, so the position is the same before and after; the FLAT is kept. */
  async function acceptOrder(): Promise<void> {
    expectStatus(await order("E1", { subaccount_id: id(), trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 201);
    const raw = JSON.stringify({ subaccount_id: id(), trade_pair: "BTCUSD", order_type: "SHORT", leverage: 0.1 });
    const headers = epistula(key("E1"), raw);
    expectStatus(await request("POST", "/v1/orders", { body: raw, headers }), 201);
    accepted = { raw, headers };
  }

  beforeAll(async () => {
    sub = await createSubaccount("E1");
    expectStatus(await order("E1", { subaccount_id: sub.subaccount_id, trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1 }), 201);
  });

  const e1 = () => addr("E1");
  const s = () => sub.synthetic_hotkey;
  const id = () => sub.subaccount_id;
  const long = (extra: Record<string, unknown> = {}) => ({ subaccount_id: id(), trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.1, ...extra });
  const orderAs = (by: string, body: unknown, o: PostOptions = {}) => post("/v1/orders", key(by), body, o);
  const orderRaw = (raw: string, o: PostOptions = {}) => postRaw("/v1/orders", key("E1"), raw, o);
  const createAs = (by: string, hotkey: string, body: unknown = {}) => post(`/v1/entities/${hotkey}/subaccounts`, key(by), body);
  const eliminate = (synthetic: string, by = "E1") => post(`/v1/subaccounts/${synthetic}/eliminate`, key(by), {});
  const cases: BadCase[] = [
    // hotkeys and synthetic hotkeys
    { name: "malformed SS58 in an entity path (read)", send: () => get("/v1/entities/5notanaddress", key("Alice")), status: 400, code: "INVALID_HOTKEY" },
    { name: "malformed SS58 in an entity path (create)", send: () => createAs("E1", "5notanaddress"), status: 400, code: "INVALID_HOTKEY" },
    { name: "bad checksum SS58 (create)", send: () => createAs("E1", badChecksum(e1())), status: 400, code: "INVALID_HOTKEY" },
    { name: "bad checksum SS58 in a synthetic hotkey", send: () => eliminate(`${badChecksum(e1())}_${id()}`), status: 400, code: "INVALID_SYNTHETIC_HOTKEY" },
    { name: "<entity>_01 (eliminate)", send: () => eliminate(`${e1()}_0${id()}`), status: 400, code: "INVALID_SYNTHETIC_HOTKEY" },
    { name: "<entity>_01 (positions)", send: () => get(`/v1/subaccounts/${e1()}_01/positions`, key("E1")), status: 400, code: "INVALID_SYNTHETIC_HOTKEY" },
    { name: "<entity>_-1 (eliminate)", send: () => eliminate(`${e1()}_-1`), status: 400, code: "INVALID_SYNTHETIC_HOTKEY" },
    { name: "ten-digit id (eliminate)", send: () => eliminate(`${e1()}_1000000000`), status: 400, code: "INVALID_SYNTHETIC_HOTKEY" },
    { name: "ten-digit id (reinstate, root)", send: () => post(`/v1/subaccounts/${e1()}_1000000000/reinstate`, key("Alice"), { reason: "x" }), status: 400, code: "INVALID_SYNTHETIC_HOTKEY" },
    { name: "ten-digit subaccount_id in an order", send: () => orderAs("E1", long({ subaccount_id: 1_000_000_000 })), status: 400, code: "VALIDATION_FAILED" },
    { name: "negative subaccount_id in an order", send: () => orderAs("E1", long({ subaccount_id: -1 })), status: 400, code: "VALIDATION_FAILED" },
    { name: "subaccount_id never created", send: () => orderAs("E1", long({ subaccount_id: 999_999_999 })), status: 404, code: "SUBACCOUNT_NOT_FOUND" },
    // leverage
    { name: "negative leverage", send: () => orderAs("E1", long({ leverage: -0.1 })), status: 400, code: "VALIDATION_FAILED" },
    { name: "zero leverage", send: () => orderAs("E1", long({ leverage: 0 })), status: 400, code: "VALIDATION_FAILED" },
    { name: "NaN leverage (raw JSON text, invalid JSON)", send: () => orderRaw(`{"subaccount_id":${id()},"trade_pair":"BTCUSD","order_type":"LONG","leverage":NaN}`), status: 400, code: "VALIDATION_FAILED" },
    { name: "Infinity leverage (raw JSON text)", send: () => orderRaw(`{"subaccount_id":${id()},"trade_pair":"BTCUSD","order_type":"LONG","leverage":Infinity}`), status: 400, code: "VALIDATION_FAILED" },
    { name: "leverage 1e309 (Infinity once parsed)", send: () => orderRaw(`{"subaccount_id":${id()},"trade_pair":"BTCUSD","order_type":"LONG","leverage":1e309}`), status: 400, code: "VALIDATION_FAILED" },
    { name: "string leverage", send: () => orderAs("E1", long({ leverage: "0.1" })), status: 400, code: "VALIDATION_FAILED" },
    { name: "huge leverage (1e9)", send: () => orderAs("E1", long({ leverage: 1e9 })), status: 400, code: "VALIDATION_FAILED" },
    { name: "leverage over the pair's max", send: () => orderAs("E1", long({ leverage: 10 })), status: 422, code: "LEVERAGE_OUT_OF_RANGE" },
    { name: "leverage under the pair's min", send: () => orderAs("E1", long({ leverage: 0.001 })), status: 422, code: "LEVERAGE_OUT_OF_RANGE" },
    { name: "net leverage past the max", send: () => orderAs("E1", long({ leverage: 0.45 })), status: 422, code: "LEVERAGE_OUT_OF_RANGE" },
    { name: "LONG without leverage", send: () => orderAs("E1", long({ leverage: undefined })), status: 422, code: "LEVERAGE_OUT_OF_RANGE" },
    // pairs, fields, types
    { name: "unknown trade pair", send: () => orderAs("E1", long({ trade_pair: "FOOUSD" })), status: 422, code: "UNKNOWN_TRADE_PAIR" },
    { name: "lower-case trade pair", send: () => orderAs("E1", long({ trade_pair: "btcusd" })), status: 422, code: "UNKNOWN_TRADE_PAIR" },
    { name: "pair without a price", send: () => orderAs("E1", long({ trade_pair: "SOLUSD" })), status: 422, code: "NO_PRICE" },
    { name: "unknown order_type", send: () => orderAs("E1", long({ order_type: "BUY" })), status: 400, code: "VALIDATION_FAILED" },
    { name: "unknown field in an order", send: () => orderAs("E1", long({ stop_loss: 1 })), status: 400, code: "VALIDATION_FAILED" },
    { name: "unknown field in a subaccount creation", send: () => createAs("E1", e1(), { account_size_usd: 5_000, tier: "gold" }), status: 400, code: "VALIDATION_FAILED" },
    { name: "number as string: subaccount_id", send: () => orderAs("E1", long({ subaccount_id: String(id()) })), status: 400, code: "VALIDATION_FAILED" },
    { name: "number as string: account_size_usd", send: () => createAs("E1", e1(), { account_size_usd: "5000" }), status: 400, code: "VALIDATION_FAILED" },
    { name: "account_size_usd below 1,000", send: () => createAs("E1", e1(), { account_size_usd: 999 }), status: 400, code: "VALIDATION_FAILED" },
    { name: "account_size_usd above 100,000", send: () => createAs("E1", e1(), { account_size_usd: 100_001 }), status: 400, code: "VALIDATION_FAILED" },
    { name: "boolean as number", send: () => orderAs("E1", long({ subaccount_id: true })), status: 400, code: "VALIDATION_FAILED" },
    { name: "missing trade_pair", send: () => orderAs("E1", long({ trade_pair: undefined })), status: 400, code: "VALIDATION_FAILED" },
    { name: "missing order_type", send: () => orderAs("E1", long({ order_type: undefined })), status: 400, code: "VALIDATION_FAILED" },
    { name: "empty order", send: () => orderAs("E1", {}), status: 400, code: "VALIDATION_FAILED" },
    { name: "order as an array", send: () => orderAs("E1", [long()]), status: 400, code: "VALIDATION_FAILED" },
    { name: "no body at all", send: () => orderAs("E1", undefined), status: 400, code: "VALIDATION_FAILED" },
    { name: "invalid JSON", send: () => orderRaw(`{"subaccount_id":${id()},`), status: 400, code: "VALIDATION_FAILED" },
    { name: "not JSON content", send: () => orderRaw(JSON.stringify(long()), { contentType: "application/x-www-form-urlencoded" }), status: 400, code: "VALIDATION_FAILED" },
    { name: "text/plain content", send: () => orderRaw(JSON.stringify(long()), { contentType: "text/plain" }), status: 400, code: "VALIDATION_FAILED" },
    { name: "bad Idempotency-Key", send: () => orderAs("E1", long(), { idempotencyKey: "two words" }), status: 400, code: "VALIDATION_FAILED" },
    // size
    { name: "1 MiB body, signed", send: () => orderRaw(JSON.stringify(long({ order_uuid: "x".repeat(ONE_MIB) }))), status: 413, code: "PAYLOAD_TOO_LARGE" },
    { name: "1 MiB body, unsigned", send: () => postRaw("/v1/orders", null, JSON.stringify(long({ order_uuid: "x".repeat(ONE_MIB) }))), status: 413, code: "PAYLOAD_TOO_LARGE" },
    // signatures
    { name: "no signature", send: () => post("/v1/orders", null, long()), status: 401, code: "SIGNATURE_MISSING" },
    { name: "bad signature", send: () => orderAs("E1", long(), { corrupt: true }), status: 401, code: "SIGNATURE_INVALID" },
    { name: "signature not matching Signed-By", send: () => orderAs("E1", long(), { key: key("E2") }), status: 401, code: "SIGNATURE_INVALID" },
    { name: "signature over another body", send: () => request("POST", "/v1/orders", { body: JSON.stringify(long()), headers: epistula(key("E1"), JSON.stringify(long({ leverage: 0.2 }))) }), status: 401, code: "SIGNATURE_INVALID" },
    { name: "Signed-By not an SS58", send: () => request("POST", "/v1/orders", { body: JSON.stringify(long()), headers: { ...epistula(key("E1"), JSON.stringify(long())), "Epistula-Signed-By": "5notanaddress" } }), status: 401, code: "SIGNATURE_INVALID" },
    { name: "Epistula-Version 1", send: () => request("POST", "/v1/orders", { body: JSON.stringify(long()), headers: { ...epistula(key("E1"), JSON.stringify(long())), "Epistula-Version": "1" } }), status: 401, code: "SIGNATURE_INVALID" },
    { name: "timestamp 60 s in the past", send: () => orderAs("E1", long(), { ts: Date.now() - 60_000 }), status: 401, code: "SIGNATURE_EXPIRED" },
    { name: "timestamp 60 s in the future", send: () => orderAs("E1", long(), { ts: Date.now() + 60_000 }), status: 401, code: "SIGNATURE_EXPIRED" },
    { name: "replayed uuid of an accepted order", prepare: acceptOrder, send: () => request("POST", "/v1/orders", { body: accepted.raw, headers: accepted.headers }), status: 401, code: "REQUEST_REPLAYED" },
    { name: "replayed uuid with an Idempotency-Key it never had", prepare: acceptOrder, send: () => request("POST", "/v1/orders", { body: accepted.raw, headers: { ...accepted.headers, "Idempotency-Key": "late" } }), status: 401, code: "REQUEST_REPLAYED" },
    // roles
    { name: "another entity creates a subaccount for E1", send: () => createAs("E2", e1()), status: 403, code: "FORBIDDEN" },
    { name: "another entity eliminates E1's subaccount", send: () => eliminate(s(), "E2"), status: 403, code: "FORBIDDEN" },
    { name: "another entity reads E1", send: () => get(`/v1/entities/${e1()}`, key("E2")), status: 403, code: "FORBIDDEN" },
    { name: "another entity reads E1's positions", send: () => get(`/v1/subaccounts/${s()}/positions`, key("E2")), status: 403, code: "FORBIDDEN" },
    { name: "the entity reinstates (not root)", send: () => post(`/v1/subaccounts/${s()}/reinstate`, key("E1"), { reason: "x" }), status: 403, code: "FORBIDDEN" },
    { name: "the entity posts prices (not the oracle)", send: () => post("/v1/prices", key("E1"), { prices: [{ trade_pair: "BTCUSD", price: 40_000, ts_ms: priceTs() }] }), status: 403, code: "FORBIDDEN" },
    { name: "a stranger orders", send: () => orderAs("Stranger", long()), status: 403, code: "NOT_A_NEURON" },
    { name: "an entity orders without a subaccount_id", send: () => orderAs("E1", long({ subaccount_id: undefined })), status: 403, code: "ENTITY_CANNOT_TRADE" },
    { name: "the entity registers again", send: () => post("/v1/entities", key("E1"), {}), status: 409, code: "ENTITY_EXISTS" },
  ];

  /** What a bad request must not change: E1 and E2 as root sees them, the subaccount's positions and orders, the log head. */
  async function snapshot() {
    const reads = await Promise.all([
      get(`/v1/entities/${e1()}`, key("Alice")),
      get(`/v1/entities/${addr("E2")}`, key("Alice")),
      get(`/v1/subaccounts/${s()}/positions`, key("Alice")),
      get(`/v1/subaccounts/${s()}/orders?limit=1000`, key("Alice")),
      get("/v1/prices"),
    ]);
    for (const r of reads) expectStatus(r, 200);
    return { reads: reads.map((r) => r.json), seq: await seq() };
  }

  it("the table is well formed", () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it.each(cases)("$name: $status $code", async ({ prepare, send, status, code }) => {
    await prepare?.();
    const before = await snapshot();
    expect(before.reads[2].positions[0]).toMatchObject({ is_closed: false, net_leverage: 0.1 });
    expectError(await send(), status, code);
    expect(await snapshot()).toEqual(before);
  });
});

// ---- the check order --------------------------------------------------------------------------

describe("check order: size (413), JSON (400), signature (401), role (403), schema (400), domain", () => {
  const big = () => JSON.stringify({ trade_pair: "x".repeat(ONE_MIB) });
  it("413 before anything else, signed or not, valid JSON or not", async () => {
    expectError(await postRaw("/v1/orders", null, big()), 413, "PAYLOAD_TOO_LARGE");
    expectError(await postRaw("/v1/orders", null, `{${"x".repeat(ONE_MIB)}`), 413, "PAYLOAD_TOO_LARGE");
    expectError(await postRaw("/v1/prices/held/resolve", key("Stranger"), big()), 413, "PAYLOAD_TOO_LARGE");
    expectError(await postRaw("/v1/entities", null, big(), { ts: Date.now() - 60_000 }), 413, "PAYLOAD_TOO_LARGE");
    // Just over 64 KiB.
    expectError(await postRaw("/v1/orders", key("E1"), JSON.stringify({ trade_pair: "x".repeat(64 * 1024) })), 413, "PAYLOAD_TOO_LARGE");
  });

  it("invalid JSON is 400 before the signature is looked at", async () => {
    expectError(await postRaw("/v1/orders", null, '{"trade_pair":'), 400, "VALIDATION_FAILED");
    expectError(await postRaw("/v1/orders", key("E1"), '{"trade_pair":', { corrupt: true }), 400, "VALIDATION_FAILED");
  });

  it("401 before role and schema", async () => {
    expectError(await post("/v1/orders", null, { leverage: "lots" }), 401, "SIGNATURE_MISSING");
    expectError(await post("/v1/orders", key("Stranger"), { leverage: "lots" }, { ts: Date.now() - 60_000 }), 401, "SIGNATURE_EXPIRED");
    expectError(await post("/v1/prices/held/resolve", key("E1"), { nope: 1 }, { corrupt: true }), 401, "SIGNATURE_INVALID");
    expectError(await post(`/v1/entities/${addr("E1")}/subaccounts`, null, { account_size_usd: "big" }), 401, "SIGNATURE_MISSING");
  });

  it("403 before the body's schema on root, oracle and entity routes", async () => {
    expectError(await post("/v1/prices/held/resolve", key("E1"), { action: "nuke" }), 403, "FORBIDDEN");
    expectError(await post("/v1/prices/held/resolve", key("Oracle"), { action: "nuke" }), 403, "FORBIDDEN");
    expectError(await post("/v1/prices", key("Bob"), { prices: "all of them" }), 403, "FORBIDDEN");
    const someSub = `${addr("E1")}_0`;
    expectError(await post(`/v1/subaccounts/${someSub}/reinstate`, key("E1"), { reason: 7, extra: true }), 403, "FORBIDDEN");
    expectError(await post(`/v1/subaccounts/${someSub}/eliminate`, key("E2"), { reason: 7 }), 403, "FORBIDDEN");
    expectError(await post(`/v1/entities/${addr("E1")}/subaccounts`, key("E2"), { account_size_usd: "big" }), 403, "FORBIDDEN");
    expectError(await post("/v1/orders", key("Stranger"), { leverage: "lots" }), 403, "NOT_A_NEURON");
  });

  it("400 schema before the domain's 404, 409 and 422", async () => {
    // Lim is at its limit (409) and has no free collateral (422): a bad body is still 400.
    expectError(await post(`/v1/entities/${addr("Lim")}/subaccounts`, key("Lim"), { account_size_usd: "big" }), 400, "VALIDATION_FAILED");
    expectError(await post(`/v1/entities/${addr("Poor")}/subaccounts`, key("Poor"), { account_size_usd: 50_000, x: 1 }), 400, "VALIDATION_FAILED");
    expectError(await post(`/v1/entities/${addr("Miner")}/subaccounts`, key("Miner"), { account_size_usd: 0 }), 400, "VALIDATION_FAILED");
    expectError(await post("/v1/orders", key("E1"), { subaccount_id: 999_999_999, trade_pair: "SOLUSD", order_type: "LONG", leverage: "0.1" }), 400, "VALIDATION_FAILED");
    expectError(await post("/v1/entities", key("E1"), { max_subaccounts: 0 }), 400, "VALIDATION_FAILED");
    expectError(await post(`/v1/subaccounts/${addr("E1")}_999999999/reinstate`, key("Alice"), { reason: 1 }), 400, "VALIDATION_FAILED");
  });

  it("domain rules in API.md's order: entity (404), limit (409), collateral (422); pair before leverage before price", async () => {
    // Lim is at its limit and could not pay for another: the limit comes first.
    const lim = await entity("Lim");
    expect(BigInt(lim.collateral.free_rao)).toBeLessThan(DEFAULT_RESERVE_RAO);
    expectError(await post(`/v1/entities/${addr("Lim")}/subaccounts`, key("Lim"), {}), 409, "SUBACCOUNT_LIMIT_REACHED");
    expectError(await post(`/v1/entities/${addr("Miner")}/subaccounts`, key("Miner"), {}), 404, "ENTITY_NOT_FOUND");
    const sub = (await entity("E1")).subaccounts.find((x: { status: string }) => x.status === "active");
    expectError(await order("E1", { subaccount_id: sub.subaccount_id, trade_pair: "NOPEUSD", order_type: "LONG", leverage: 50 }), 422, "UNKNOWN_TRADE_PAIR");
    expectError(await order("E1", { subaccount_id: sub.subaccount_id, trade_pair: "SOLUSD", order_type: "LONG", leverage: 50 }), 422, "LEVERAGE_OUT_OF_RANGE");
    expectError(await order("E1", { subaccount_id: 999_999_999, trade_pair: "NOPEUSD", order_type: "LONG", leverage: 50 }), 404, "SUBACCOUNT_NOT_FOUND");
  });
});
