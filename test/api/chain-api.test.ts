// The chain HTTP API over real HTTP: a real node on a temp dir, a block producer making a block
// per extrinsic, and requests signed with real sr25519 keys (Epistula v2).
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../src/api/server.ts";
import { head } from "../../src/core/chain/chain-state.ts";
import { TAO } from "../../src/core/ledger/asset.ts";
import type { PropnetNode } from "../../src/node/node.ts";
import { api, devKeyring, epistula, expectError, type SignOptions } from "../support/http.ts";
import { type DevnetApi, startDevnetApi } from "../support/devnet-api.ts";

const TAO_RAO = 1_000_000_000n;
const ENDOWMENT_RAO = 1_000_000n * TAO_RAO;

let devnet: DevnetApi;
let node: PropnetNode;
let base: string;
const keys: Record<string, KeyringPair> = {};

beforeAll(async () => {
  const keyring = await devKeyring();
  for (const name of ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"]) keys[name] = keyring.addFromUri(`//${name}`);
  keys.BobHot = keyring.addFromUri("//Bob//hot");
  keys.Pauper = keyring.addFromUri("//Pauper");
  const alice = (keys.Alice as KeyringPair).address;
  devnet = await startDevnetApi({
    prefix: "chain-api",
    root: alice,
    genesis: ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"].map((n) => ({ owner: (keys[n] as KeyringPair).address, amount_rao: ENDOWMENT_RAO })),
    chainGenesis: { root: alice, subnets: [{ netuid: 1, ownerHotkey: alice, ownerColdkey: alice }] },
  });
  ({ node, base } = devnet);
});

afterAll(async () => {
  await devnet?.close();
});

function key(name: string): KeyringPair {
  return keys[name] as KeyringPair;
}

const { request, get, post } = api(() => base);

const extrinsic = (by: KeyringPair, call: string, args: Record<string, unknown>, o: SignOptions = {}) =>
  post("/v1/chain/extrinsics", by, { call, args }, o);

const balance = (address: string) => node.read((s) => s.ledger.balanceOf(TAO, address));

describe("Idempotency-Key on extrinsics", () => {
  it("a retry with the same key and body answers as the first time and moves nothing again; another body is 409", async () => {
    const eve = key("Eve").address;
    const before = await balance(eve);
    const first = await extrinsic(key("Bob"), "balances.transfer", { dest: eve, amount_rao: "7" }, { idempotencyKey: "retry-7" });
    expect(first.status, first.text).toBe(200);
    const again = await extrinsic(key("Bob"), "balances.transfer", { dest: eve, amount_rao: "7" }, { idempotencyKey: "retry-7" });
    expect(again.json).toEqual(first.json);
    expect(await balance(eve)).toBe(before + 7n);
    expectError(await extrinsic(key("Bob"), "balances.transfer", { dest: eve, amount_rao: "8" }, { idempotencyKey: "retry-7" }), 409, "IDEMPOTENCY_KEY_REUSED");
    // Keys are per signer: Charlie's "retry-7" is his own.
    expect((await extrinsic(key("Charlie"), "balances.transfer", { dest: eve, amount_rao: "8" }, { idempotencyKey: "retry-7" })).status).toBe(200);
  });
});

describe("chain reads", () => {
  it("GET /v1/chain/head", async () => {
    const a = await get("/v1/chain/head");
    expect(a.status).toBe(200);
    expect(Object.keys(a.json).sort()).toEqual(["block", "block_emission_rao", "timestamp_ms", "total_issuance_rao"]);
    expect(a.json.total_issuance_rao).toMatch(/^[0-9]+$/);
    expect(BigInt(a.json.total_issuance_rao)).toBeGreaterThanOrEqual(6n * ENDOWMENT_RAO);
  });

  it("GET /v1/chain/subnets and /v1/chain/subnets/1 (exact Subnet shape)", async () => {
    const all = await get("/v1/chain/subnets");
    expect(all.status).toBe(200);
    expect(all.json.subnets.map((s: { netuid: number }) => s.netuid)).toEqual([1]);
    const one = await get("/v1/chain/subnets/1");
    expect(one.status).toBe(200);
    const s = one.json.subnet;
    expect(Object.keys(s).sort()).toEqual(
      [
        "netuid",
        "tempo",
        "owner_hotkey",
        "tao_in_rao",
        "alpha_in_rao",
        "alpha_out_rao",
        "price",
        "emission_paused",
        "pending_server_rao",
        "pending_validator_rao",
        "pending_owner_cut_rao",
        "blocks_since_last_step",
      ].sort(),
    );
    expect(s).toMatchObject({ netuid: 1, owner_hotkey: key("Alice").address, emission_paused: false });
    for (const f of ["tao_in_rao", "alpha_in_rao", "alpha_out_rao", "pending_server_rao", "pending_validator_rao", "pending_owner_cut_rao"]) {
      expect(s[f], f).toMatch(/^[0-9]+$/);
    }
    expect(typeof s.price).toBe("number");
    expect(s.price).toBeCloseTo(Number(s.tao_in_rao) / Number(s.alpha_in_rao), 12);
    expect(Array.isArray(one.json.neurons)).toBe(true);
  });

  it("GET /v1/chain/subnets/{netuid}: 404 for an unknown subnet, 400 for a non-integer", async () => {
    expectError(await get("/v1/chain/subnets/7"), 404, "NOT_FOUND");
    expectError(await get("/v1/chain/subnets/abc"), 400, "VALIDATION_FAILED");
    expectError(await get("/v1/chain/subnets/01"), 400, "VALIDATION_FAILED");
    expectError(await get("/v1/chain/subnets/70000"), 400, "VALIDATION_FAILED");
  });

  it("GET /v1/chain/invariants: every TAO and subnet identity, all ok", async () => {
    await extrinsic(key("Bob"), "balances.transfer", { dest: key("Eve").address, amount_rao: "1" });
    const a = await get("/v1/chain/invariants");
    expect(a.status).toBe(200);
    expect(a.json.checked_at_block).toBeGreaterThanOrEqual(1);
    const names = a.json.invariants.map((i: { scope: string; name: string }) => `${i.scope} ${i.name}`);
    for (const n of [
      "tao tao_issuance_equals_balances",
      "tao tao_minted_equals_issuance_recycled_burned",
      "tao tao_no_live_credit",
      "subnet:1 alpha_issuance_equals_balances",
      "subnet:1 alpha_issuance_equals_in_plus_out",
      "subnet:1 alpha_out_equals_staked_plus_pending",
      "subnet:1 staked_alpha_recount",
      "subnet:1 stake_pool_equals_ledger",
    ]) {
      expect(names).toContain(n);
    }
    for (const i of a.json.invariants) {
      expect(i.ok, `${i.scope} ${i.name}`).toBe(true);
      expect(i.expected).toMatch(/^[0-9]+$/);
      expect(i.actual).toMatch(/^[0-9]+$/);
    }
    expect(a.json.unresolved_violations).toEqual([]);
  });

  it("/healthz reports the chain head block", async () => {
    await extrinsic(key("Bob"), "balances.transfer", { dest: key("Eve").address, amount_rao: "1" });
    const h = await get("/healthz");
    const chainHead = await get("/v1/chain/head");
    expect(h.json.block).toBe(chainHead.json.block);
    expect(h.json.block).toBe(await node.read((s) => head(s.chain).block));
    expect(h.json.block).toBeGreaterThan(0);
  });
});

describe("extrinsics", () => {
  it("a transfer moves balance and is visible to reads issued after the answer", async () => {
    const bob = key("Bob").address;
    const charlie = key("Charlie").address;
    const [bobBefore, charlieBefore] = [await balance(bob), await balance(charlie)];
    const a = await extrinsic(key("Bob"), "balances.transfer", { dest: charlie, amount_rao: (5n * TAO_RAO).toString() });
    expect(a.status, a.text).toBe(200);
    expect(a.json.included_in_block).toBeGreaterThan(0);
    expect(a.json.events).toEqual([
      { block: a.json.included_in_block, type: "Transfer", data: { from: bob, to: charlie, amount: (5n * TAO_RAO).toString() } },
    ]);
    expect(await balance(bob)).toBe(bobBefore - 5n * TAO_RAO);
    expect(await balance(charlie)).toBe(charlieBefore + 5n * TAO_RAO);
    const h = await get("/v1/chain/head");
    expect(h.json.block).toBeGreaterThanOrEqual(a.json.included_in_block);
  });

  it("register + stake: the neuron is listed with its stake; remove_stake, weights and collateral work", async () => {
    const bob = key("Bob");
    const hot = key("BobHot");
    const reg = await extrinsic(bob, "subtensor.burned_register", { netuid: 1, hotkey: hot.address });
    expect(reg.status, reg.text).toBe(200);
    expect(reg.json.events).toEqual([
      expect.objectContaining({ type: "NeuronRegistered", data: expect.objectContaining({ netuid: 1, uid: 0, hotkey: hot.address, coldkey: bob.address }) }),
    ]);

    const stake = await extrinsic(bob, "subtensor.add_stake", { hotkey: hot.address, netuid: 1, amount_rao: (10n * TAO_RAO).toString() });
    expect(stake.status, stake.text).toBe(200);
    expect(stake.json.events[0]).toMatchObject({ type: "StakeAdded", data: { netuid: 1, hotkey: hot.address, coldkey: bob.address, tao: "10000000000" } });
    const alphaBought = BigInt(stake.json.events[0].data.alpha);
    expect(alphaBought).toBeGreaterThan(0n);

    const view = await get("/v1/chain/subnets/1");
    expect(view.status).toBe(200);
    expect(view.json.neurons).toEqual([
      {
        uid: 0,
        hotkey: hot.address,
        coldkey: bob.address,
        stake_alpha_rao: alphaBought.toString(),
        incentive: 0,
        dividends: 0,
        emission_rao: "0",
        is_entity: false,
      },
    ]);
    expect(BigInt(view.json.subnet.alpha_out_rao)).toBeGreaterThanOrEqual(alphaBought);

    const unstake = await extrinsic(bob, "subtensor.remove_stake", { hotkey: hot.address, netuid: 1, amount_alpha: (alphaBought / 2n).toString() });
    expect(unstake.status, unstake.text).toBe(200);
    expect(unstake.json.events[0]).toMatchObject({ type: "StakeRemoved", data: { hotkey: hot.address, alpha: (alphaBought / 2n).toString() } });

    // set_weights is signed by the validator hotkey.
    const weights = await extrinsic(hot, "subtensor.set_weights", { netuid: 1, uids: [0], weights: [65_535] });
    expect(weights.status, weights.text).toBe(200);
    expect(weights.json.events[0]).toMatchObject({ type: "WeightsSet", data: { netuid: 1, uid: 0, uids: [0], values: [65_535] } });

    const deposit = await extrinsic(bob, "collateral.deposit", { hotkey: hot.address, amount_rao: (3n * TAO_RAO).toString() });
    expect(deposit.status, deposit.text).toBe(200);
    expect(deposit.json.events[0]).toMatchObject({ type: "CollateralDeposited", data: { hotkey: hot.address, amount: "3000000000" } });
    const withdraw = await extrinsic(bob, "collateral.withdraw", { hotkey: hot.address, amount_rao: TAO_RAO.toString() });
    expect(withdraw.status, withdraw.text).toBe(200);
    expect(withdraw.json.events[0]).toMatchObject({ type: "CollateralWithdrawn", data: { amount: "1000000000" } });
    // Withdrawing more collateral than there is: refused inside the block with the core's code.
    const over = await extrinsic(bob, "collateral.withdraw", { hotkey: hot.address, amount_rao: (100n * TAO_RAO).toString() });
    expectError(over, 422, "INSUFFICIENT_COLLATERAL");
    expect(over.json.error.details.included_in_block).toBeGreaterThan(0);
  });

  it("422 INSUFFICIENT_BALANCE from a failing transfer, after its block, with nothing changed", async () => {
    const pauper = key("Pauper").address;
    const dave = key("Dave").address;
    const before = [await balance(pauper), await balance(dave)];
    const a = await extrinsic(key("Pauper"), "balances.transfer", { dest: dave, amount_rao: TAO_RAO.toString() });
    expectError(a, 422, "INSUFFICIENT_BALANCE");
    expect(a.json.error.details.included_in_block).toBeGreaterThan(0);
    expect(await node.read((s) => head(s.chain).block)).toBeGreaterThanOrEqual(a.json.error.details.included_in_block);
    expect([await balance(pauper), await balance(dave)]).toEqual(before);

    // More than an endowed account holds: the same, and its balance is unchanged.
    const bob = key("Bob").address;
    const bobBefore = await balance(bob);
    expectError(await extrinsic(key("Bob"), "balances.transfer", { dest: dave, amount_rao: (2n * ENDOWMENT_RAO).toString() }), 422, "INSUFFICIENT_BALANCE");
    expect(await balance(bob)).toBe(bobBefore);
  });

  it("root calls: set_parameter by root, 403 FORBIDDEN for anyone else", async () => {
    const ok = await extrinsic(key("Alice"), "root.set_parameter", { name: "minStakeRao", value: "2000000" });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json.events).toEqual([expect.objectContaining({ type: "ParameterSet", data: { name: "minStakeRao", value: "2000000" } })]);
    expectError(await extrinsic(key("Bob"), "root.set_parameter", { name: "minStakeRao", value: "1" }), 403, "FORBIDDEN");
    expectError(await extrinsic(key("Bob"), "root.unpause_subnet_emission", { netuid: 1 }), 403, "FORBIDDEN");
    // The role is checked before the body's schema.
    expectError(await extrinsic(key("Bob"), "root.set_parameter", { name: "minStakeRao", value: "1", extra: 1 }), 403, "FORBIDDEN");
  });

  it("unpause: 200 with the subnet on an unpaused subnet (REST and extrinsic); 403 for non-root; 404 unknown", async () => {
    const a = await post("/v1/chain/subnets/1/unpause", key("Alice"), {});
    expect(a.status, a.text).toBe(200);
    expect(a.json.subnet).toMatchObject({ netuid: 1, emission_paused: false });
    const noBody = await post("/v1/chain/subnets/1/unpause", key("Alice"), undefined);
    expect(noBody.status, noBody.text).toBe(200);
    const forced = await post("/v1/chain/subnets/1/unpause", key("Alice"), { force: true });
    expect(forced.status, forced.text).toBe(200);
    const viaCall = await extrinsic(key("Alice"), "root.unpause_subnet_emission", { netuid: 1 });
    expect(viaCall.status, viaCall.text).toBe(200);
    expect(viaCall.json.events).toEqual([]);
    expectError(await post("/v1/chain/subnets/1/unpause", key("Bob"), {}), 403, "FORBIDDEN");
    expectError(await post("/v1/chain/subnets/9/unpause", key("Alice"), {}), 404, "NOT_FOUND");
    expectError(await post("/v1/chain/subnets/1/unpause", key("Alice"), { force: "yes" }), 400, "VALIDATION_FAILED");
  });

  it("epochs run once the tempo is short: EpochRan in the events, emission on the neuron", async () => {
    const set = await extrinsic(key("Alice"), "root.set_parameter", { name: "tempo", value: 2 });
    expect(set.status, set.text).toBe(200);
    for (let i = 0; i < 4; i++) await extrinsic(key("Bob"), "balances.transfer", { dest: key("Eve").address, amount_rao: "1" });
    const epochs = await get("/v1/chain/events?type=EpochRan&limit=1000");
    expect(epochs.status).toBe(200);
    expect(epochs.json.events.length).toBeGreaterThan(0);
    const e = epochs.json.events[0];
    expect(e).toMatchObject({ type: "EpochRan", data: { netuid: 1 } });
    expect(e.data.bonds).toBeUndefined();
    const view = await get("/v1/chain/subnets/1");
    expect(view.json.subnet.tempo).toBe(2);
    // A lone validator's self-weight is masked (no incentive); the pending emission still pays it by stake.
    expect(BigInt(view.json.neurons[0].emission_rao)).toBeGreaterThan(0n);
    expect(e.data.pays[0]).toMatchObject({ uid: 0, incentive_rao: expect.any(String), validator_take_rao: expect.any(String) });
    const inv = await get("/v1/chain/invariants");
    expect(inv.json.invariants.every((i: { ok: boolean }) => i.ok)).toBe(true);
  });
});

describe("GET /v1/chain/events", () => {
  it("pages over the log's blocks with after/limit/next and filters by type", async () => {
    const all = await get("/v1/chain/events?limit=1000");
    expect(all.status).toBe(200);
    const types = new Set(all.json.events.map((e: { type: string }) => e.type));
    for (const t of ["Coinbase", "Transfer", "NeuronRegistered", "StakeAdded", "ParameterSet", "ExtrinsicFailed"]) expect(types).toContain(t);
    for (const e of all.json.events) expect(Object.keys(e).sort()).toEqual(["block", "data", "type"]);

    // Walk in pages of 2 and find the same events in the same order.
    const walked: unknown[] = [];
    let after = 0;
    for (let pages = 0; pages < 1000; pages++) {
      const page = await get(`/v1/chain/events?after=${after}&limit=2`);
      expect(page.status).toBe(200);
      walked.push(...page.json.events);
      if (page.json.next === null) break;
      expect(page.json.next).toBeGreaterThan(after);
      after = page.json.next;
    }
    expect(walked).toEqual(all.json.events);

    const transfers = await get("/v1/chain/events?type=Transfer&limit=3");
    expect(transfers.json.events).toHaveLength(3);
    expect(transfers.json.events.every((e: { type: string }) => e.type === "Transfer")).toBe(true);
    expect(transfers.json.next).toEqual(expect.any(Number));
    const failed = await get("/v1/chain/events?type=ExtrinsicFailed");
    expect(failed.json.events[0].data).toMatchObject({ call: expect.any(String), code: expect.any(String) });
  });

  it("refuses bad query parameters", async () => {
    for (const q of ["limit=0", "limit=1001", "limit=abc", "after=-1", "type=Nope", "foo=1", "limit=1&limit=2"]) {
      expectError(await get(`/v1/chain/events?${q}`), 400, "VALIDATION_FAILED");
    }
  });
});

describe("Epistula over HTTP", () => {
  const transfer = { call: "balances.transfer", args: { dest: "", amount_rao: "1" } };
  beforeAll(() => {
    transfer.args.dest = key("Eve").address;
  });

  it("401 SIGNATURE_MISSING without the headers (or with one missing)", async () => {
    expectError(await request("POST", "/v1/chain/extrinsics", { body: JSON.stringify(transfer) }), 401, "SIGNATURE_MISSING");
    const raw = JSON.stringify(transfer);
    const headers = epistula(key("Bob"), raw);
    delete headers["Epistula-Uuid"];
    expectError(await request("POST", "/v1/chain/extrinsics", { body: raw, headers }), 401, "SIGNATURE_MISSING");
  });

  it("401 SIGNATURE_INVALID for a bad signature and for a signature by another key than Signed-By", async () => {
    const raw = JSON.stringify(transfer);
    const headers = epistula(key("Bob"), raw);
    const sig = headers["Epistula-Request-Signature"] as string;
    headers["Epistula-Request-Signature"] = `${sig.slice(0, -2)}${sig.endsWith("00") ? "01" : "00"}`;
    expectError(await request("POST", "/v1/chain/extrinsics", { body: raw, headers }), 401, "SIGNATURE_INVALID");
    expectError(await extrinsic(key("Bob"), "balances.transfer", transfer.args, { key: key("Charlie") }), 401, "SIGNATURE_INVALID");
    // The body is signed byte for byte: the same JSON re-spaced does not verify.
    const spaced = JSON.stringify(transfer, null, 1);
    expectError(await request("POST", "/v1/chain/extrinsics", { body: spaced, headers: epistula(key("Bob"), raw) }), 401, "SIGNATURE_INVALID");
  });

  it("accepts the <Bytes> wrapping", async () => {
    const a = await extrinsic(key("Bob"), "balances.transfer", transfer.args, { wrap: true });
    expect(a.status, a.text).toBe(200);
  });

  it("401 SIGNATURE_EXPIRED 60 s in the past and in the future, with details.server_time_ms", async () => {
    for (const skew of [-60_000, 60_000]) {
      const before = Date.now();
      const a = await extrinsic(key("Bob"), "balances.transfer", transfer.args, { ts: Date.now() + skew });
      expectError(a, 401, "SIGNATURE_EXPIRED");
      expect(a.json.error.details.server_time_ms).toBeGreaterThanOrEqual(before);
      expect(a.json.error.details.server_time_ms).toBeLessThanOrEqual(Date.now());
    }
  });

  it("401 REQUEST_REPLAYED for the same uuid twice, whatever the first outcome", async () => {
    const raw = JSON.stringify(transfer);
    const headers = epistula(key("Bob"), raw);
    const eve = key("Eve").address;
    const first = await request("POST", "/v1/chain/extrinsics", { body: raw, headers });
    expect(first.status, first.text).toBe(200);
    const eveAfterFirst = await balance(eve);
    expectError(await request("POST", "/v1/chain/extrinsics", { body: raw, headers }), 401, "REQUEST_REPLAYED");
    expect(await balance(eve)).toBe(eveAfterFirst);

    // A uuid spent on a refused request (403) is spent too.
    const uuid = randomUUID();
    expectError(await extrinsic(key("Bob"), "root.set_parameter", { name: "tempo", value: 3 }, { uuid }), 403, "FORBIDDEN");
    expectError(await extrinsic(key("Bob"), "balances.transfer", transfer.args, { uuid }), 401, "REQUEST_REPLAYED");
  });
});

describe("request checks and their order", () => {
  it("400 VALIDATION_FAILED for an unknown field, a number sent as a string, a string sent as a number, an unknown call", async () => {
    const bob = key("Bob");
    const eve = key("Eve").address;
    const cases: Array<[string, unknown]> = [
      ["unknown arg", { call: "balances.transfer", args: { dest: eve, amount_rao: "1", memo: "x" } }],
      ["unknown top-level field", { call: "balances.transfer", args: { dest: eve, amount_rao: "1" }, nonce: 1 }],
      ["number as string", { call: "subtensor.burned_register", args: { netuid: "1", hotkey: eve } }],
      ["amount as number", { call: "balances.transfer", args: { dest: eve, amount_rao: 1 } }],
      ["non-integer", { call: "subtensor.burned_register", args: { netuid: 1.5, hotkey: eve } }],
      ["bad SS58", { call: "balances.transfer", args: { dest: "5abc", amount_rao: "1" } }],
      ["zero amount", { call: "balances.transfer", args: { dest: eve, amount_rao: "0" } }],
      ["unknown call", { call: "balances.mint", args: {} }],
      ["no args", { call: "balances.transfer" }],
    ];
    for (const [label, body] of cases) {
      const a = await post("/v1/chain/extrinsics", bob, body);
      expect(a.status, `${label}: ${a.text}`).toBe(400);
      expectError(a, 400, "VALIDATION_FAILED");
      expect(a.json.error.message, label).toMatch(/^body/);
    }
    const unknown = await post("/v1/chain/extrinsics", bob, cases[0]?.[1]);
    expect(unknown.json.error.message).toBe('body.args: Unrecognized key: "memo"');
    const asString = await post("/v1/chain/extrinsics", bob, cases[2]?.[1]);
    expect(asString.json.error.message).toBe("body.args.netuid: Invalid input: expected number, received string");
  });

  it("root.set_parameter: numeric parameters are bounded at the edge (400 VALIDATION_FAILED, no block); the bounds show in OpenAPI", async () => {
    const alice = key("Alice");
    const outside: Array<[string, unknown]> = [
      ["maxNeurons", 0],
      ["maxNeurons", 4_097],
      ["maxNeurons", 65_535],
      ["recountPerBlock", 0],
      ["recountPerBlock", 257],
      ["tempo", 0],
      ["tempo", 65_536],
      ["defaultTempo", 0],
      ["defaultTempo", 65_536],
      ["maxNeurons", "256"],
      ["registrationBurnRao", 5],
      ["minStakeRao", "-1"],
    ];
    const headBefore = (await get("/v1/chain/head")).json.block;
    for (const [name, value] of outside) {
      const a = await extrinsic(alice, "root.set_parameter", { name, value });
      expectError(a, 400, "VALIDATION_FAILED");
      // Refused by the schema, not by the chain: no block holds it.
      expect(a.json.error.details?.included_in_block, `${name}=${String(value)}: ${a.text}`).toBeUndefined();
      expect(a.json.error.message, `${name}=${String(value)}`).toMatch(/^body\.args/);
    }
    expect((await get("/v1/chain/head")).json.block).toBe(headBefore);
    // The bounds themselves are accepted (values the chain has already, so nothing else changes).
    for (const [name, value] of [["maxNeurons", 256], ["recountPerBlock", 8], ["defaultTempo", 360]] as const) {
      const a = await extrinsic(alice, "root.set_parameter", { name, value });
      expect(a.status, `${name}=${value}: ${a.text}`).toBe(200);
    }
    const doc = JSON.stringify((await get("/openapi.json")).json.paths["/v1/chain/extrinsics"].post.requestBody);
    expect(doc).toContain('"maximum":4096');
    expect(doc).toContain('"maximum":256');
  });

  it("400 VALIDATION_FAILED for bad JSON, before the signature is looked at", async () => {
    expectError(await request("POST", "/v1/chain/extrinsics", { body: '{"call": "balances.transfer",' }), 400, "VALIDATION_FAILED");
    const raw = '{"call": ';
    expectError(await request("POST", "/v1/chain/extrinsics", { body: raw, headers: epistula(key("Bob"), raw) }), 400, "VALIDATION_FAILED");
  });

  it("413 PAYLOAD_TOO_LARGE for a body over 64 KiB, before anything else", async () => {
    const raw = JSON.stringify({ call: "balances.transfer", args: { dest: "x".repeat(70 * 1024), amount_rao: "1" } });
    expectError(await request("POST", "/v1/chain/extrinsics", { body: raw }), 413, "PAYLOAD_TOO_LARGE");
  });

  it("401 comes before 400 schema errors", async () => {
    expectError(await request("POST", "/v1/chain/extrinsics", { body: JSON.stringify({ call: 1 }) }), 401, "SIGNATURE_MISSING");
  });
});

describe("GET /openapi.json", () => {
  it("lists the chain paths", async () => {
    const a = await get("/openapi.json");
    expect(a.status).toBe(200);
    expect(a.json.openapi).toMatch(/^3\./);
    for (const p of [
      "/v1/chain/head",
      "/v1/chain/subnets",
      "/v1/chain/subnets/{netuid}",
      "/v1/chain/invariants",
      "/v1/chain/events",
      "/v1/chain/extrinsics",
      "/v1/chain/subnets/{netuid}/unpause",
    ]) {
      expect(Object.keys(a.json.paths), p).toContain(p);
    }
    expect(a.json.paths["/v1/chain/extrinsics"].post.requestBody).toBeDefined();
  });
});

describe("before the node is ready", () => {
  it("chain routes answer 503 UNAVAILABLE", async () => {
    const early = buildServer({ node: () => null, producer: () => null, startupStatus: () => "replaying the event log", version: "test" });
    await early.listen({ port: 0, host: "127.0.0.1" });
    try {
      const url = `http://127.0.0.1:${(early.server.address() as AddressInfo).port}`;
      for (const path of ["/v1/chain/head", "/v1/chain/subnets", "/v1/chain/invariants", "/v1/chain/events"]) {
        const res = await fetch(`${url}${path}`);
        expect(res.status, path).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UNAVAILABLE");
      }
      const raw = "{}";
      const res = await fetch(`${url}/v1/chain/extrinsics`, { method: "POST", body: raw, headers: { "content-type": "application/json", ...epistula(key("Bob"), raw) } });
      expect(res.status).toBe(503);
    } finally {
      await early.close();
    }
  });
});
