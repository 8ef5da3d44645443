// The economic loop end to end over real HTTP on the devnet: an entity registers, creates
// subaccounts, trades on scripted prices; one passes, one is eliminated; the node's validator
// scores and sets weights; the epoch pays the entity's uid; the alpha is attributed to the funded
// subaccount and shows in its ledger and the entity's; a replay of the log reproduces every figure.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { head, isEpochBlock } from "../../src/core/chain/chain-state.ts";
import { stateHash } from "../../src/core/machine/state.ts";
import { NodeClock } from "../../src/node/clock.ts";
import type { PropnetNode } from "../../src/node/node.ts";
import { verifyLog } from "../../src/node/verify.ts";
import { devnetWeights, WeightSetter } from "../../src/node/weight-setter.ts";
import { type DevnetApi, startDevnetApi } from "../support/devnet-api.ts";
import { api, devSigners, type Signer } from "../support/http.ts";

const TAO_RAO = 1_000_000_000n;
const TEMPO = 10;

let devnet: DevnetApi;
let node: PropnetNode;
let weights: WeightSetter;
let keys: Record<"Alice" | "Bob" | "Validator", Signer>;
let wall = 1_767_225_600_000; // the node's clock: moved by the test (payout periods of a minute)

beforeAll(async () => {
  keys = await devSigners(["Alice", "Bob", "Validator"] as const);
  const alice = keys.Alice.address;
  devnet = await startDevnetApi({
    prefix: "economic-loop",
    root: alice,
    oracle: alice,
    clock: new NodeClock(() => wall),
    payoutPeriod: "1m",
    genesis: [keys.Alice, keys.Bob, keys.Validator].map((k) => ({ owner: k.address, amount_rao: 1_000_000n * TAO_RAO })),
    chainGenesis: {
      root: alice,
      subnets: [
        {
          netuid: 1,
          ownerHotkey: alice,
          ownerColdkey: alice,
          tempo: TEMPO,
          registerOwner: true,
          validators: [{ hotkey: keys.Validator.address, coldkey: keys.Validator.address, stake_rao: 1_000n * TAO_RAO }],
        },
      ],
    },
  });
  node = devnet.node;
  weights = new WeightSetter(node, devnetWeights(devnet.producer), keys.Validator.address, 12_000);
});

afterAll(async () => {
  await devnet?.close();
});

const { get, post } = api(() => devnet.base);

async function ok(answer: Promise<{ status: number; text: string; json: unknown }>, status = 200) {
  const a = await answer;
  expect(a.status, a.text).toBe(status);
  return a.json as Record<string, unknown>;
}

const extrinsic = (by: Signer, call: string, args: Record<string, unknown>) => ok(post("/v1/chain/extrinsics", by, { call, args }));

let priceTs = 0;
const prices = (btc: number, eth: number) => {
  priceTs = Math.max(priceTs + 1, wall);
  return ok(post("/v1/prices", keys.Alice, { prices: [
    { trade_pair: "BTCUSD", price: btc, ts_ms: priceTs },
    { trade_pair: "ETHUSD", price: eth, ts_ms: priceTs },
    { trade_pair: "TAOUSD", price: 400, ts_ms: priceTs },
  ] }));
};
const order = (id: number, pair: string, type: "LONG" | "FLAT") =>
  ok(post("/v1/orders", keys.Bob, { subaccount_id: id, trade_pair: pair, order_type: type, ...(type === "LONG" ? { leverage: 0.5 } : {}) }), 201);

/** Empty blocks until the one holding subnet 1's next epoch is committed. */
async function toNextEpoch(): Promise<void> {
  for (let i = 0; i <= TEMPO + 1; i++) {
    wall += 12_000;
    const next = await node.read((s) => head(s.chain).block + 1);
    const outcome = await node.submit({ command: { kind: "block", ts: wall, extrinsics: [] } });
    if (!outcome.ok) throw outcome.error;
    if (isEpochBlock(next, 1, TEMPO)) return;
  }
  throw new Error("no epoch");
}

describe("the economic loop over HTTP", () => {
  it("weights set by the node's validator pay the entity's uid; the alpha is attributed to its funded subaccount and shown in the ledgers", async () => {
    const bob = keys.Bob.address;
    await extrinsic(keys.Bob, "subtensor.burned_register", { netuid: 1, hotkey: bob });
    await extrinsic(keys.Bob, "collateral.deposit", { hotkey: bob, amount_rao: (100n * TAO_RAO).toString() });
    await ok(post("/v1/entities", keys.Bob, {}), 201);
    for (let n = 0; n < 2; n++) await ok(post(`/v1/entities/${bob}/subaccounts`, keys.Bob, {}), 201);
    await prices(100_000, 4_000);
    await order(0, "BTCUSD", "LONG");
    await order(1, "ETHUSD", "LONG");
    await prices(107_000, 3_400); // +3.5% passes subaccount 0; -7.5% eliminates subaccount 1
    expect((await ok(get(`/v1/subaccounts/${bob}_1/status`))).status).toBe("eliminated");
    await prices(110_000, 3_400);
    await order(0, "BTCUSD", "FLAT"); // closed while funded: owed once this minute ends

    wall += 60_000;
    const round = await weights.setNow();
    expect(round.set, JSON.stringify(round)).toBe(true);
    const w = await ok(get("/v1/weights"));
    const uid = await node.read((s) => s.chain.uids.get(`1/${bob}`));
    const entityRow = (w.weights as Array<Record<string, unknown>>).find((r) => r.uid === uid);
    expect(w).toMatchObject({ netuid: 1, payout_period: "1m", set_at_block: round.set ? round.block : -1 });
    expect(entityRow).toMatchObject({ hotkey: bob, bucket: "entity", paid_usd: 0 });
    const owedUsd = entityRow?.owed_usd as number;
    expect(owedUsd).toBeGreaterThan(480);
    expect(entityRow?.remaining_usd).toBe(owedUsd);
    expect((w.weights as Array<Record<string, unknown>>).find((r) => r.uid === 0)).toMatchObject({ bucket: "owner" });

    await toNextEpoch();
    // Right after the epoch, the node shares each entity's alpha among its subaccounts.
    await devnet.producer.attributePending();
    const paid = await node.read((s) => s.chain.stats.get(1)?.emission[uid as number] ?? 0n);
    expect(paid).toBeGreaterThan(0n);
    const entityLedger = await ok(get(`/v1/entities/${bob}/ledger`, keys.Bob));
    expect(entityLedger.attribution).toMatchObject({ paid_alpha_rao: paid.toString() });
    const attribution = entityLedger.attribution as Record<string, string>;
    expect(BigInt(attribution.attributed_alpha_rao as string) + BigInt(attribution.unattributed_alpha_rao as string)).toBe(paid);
    expect(BigInt(attribution.attributed_alpha_rao as string)).toBeGreaterThan(0n);

    const funded = await ok(get(`/v1/subaccounts/${bob}_0/ledger`, keys.Bob));
    const open = (funded.debt as Array<Record<string, unknown>>).at(-1);
    expect(open).toMatchObject({ status: "funded", emission_alpha_rao: attribution.attributed_alpha_rao, owed_usd: owedUsd });
    // Paid in full by the least alpha worth the debt: at most a rounding micro-dollar over.
    expect(open?.paid_usd as number).toBeGreaterThanOrEqual(owedUsd);
    expect((open?.paid_usd as number) - owedUsd).toBeLessThanOrEqual(0.000001 + 1e-9);
    const eliminated = await ok(get(`/v1/subaccounts/${bob}_1/ledger`, keys.Bob));
    expect(eliminated.debt).toEqual([]);
    const again = await ok(get("/v1/weights"));
    expect(again.set_at_block).toBe(round.set ? round.block : -1);

    // Every figure is in the log: a full replay reaches the same state.
    const hash = await node.read((s) => stateHash(s));
    const invariants = await ok(get("/v1/chain/invariants"));
    expect((invariants.invariants as Array<{ ok: boolean }>).every((r) => r.ok)).toBe(true);
    await devnet.app.close();
    await devnet.producer.stop();
    await node.close();
    const verified = await verifyLog(devnet.dir, { full: true });
    expect(verified.stateHash).toBe(hash);
  });
});
