// A fault inside the state machine over real HTTP (DESIGN.md §2 rule 2): a block whose event cannot
// be applied. The node stays up read-only: /healthz names the fault, every write answers 503
// UNAVAILABLE, reads answer 200 from the committed state.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockApplyFails } from "../support/faulty-handlers.ts";
import { api, devSigners, expectError, type Signer } from "../support/http.ts";
import { type DevnetApi, startDevnetApi } from "../support/devnet-api.ts";

const TAO_RAO = 1_000_000_000n;

let devnet: DevnetApi;
let keys: Record<"Alice" | "Bob" | "Eve", Signer>;
const fatal: unknown[] = [];

beforeAll(async () => {
  keys = await devSigners(["Alice", "Bob", "Eve"] as const);
  const alice = keys.Alice.address;
  devnet = await startDevnetApi({
    prefix: "fatal-fault",
    root: alice,
    oracle: alice,
    // The block holding a transfer of 13 rao records an effect its appliers cannot apply.
    handlers: blockApplyFails((c) => c.extrinsics.some((x) => x.args.amount_rao === "13")),
    genesis: [keys.Alice, keys.Bob].map((k) => ({ owner: k.address, amount_rao: 1_000n * TAO_RAO })),
    chainGenesis: { root: alice, subnets: [{ netuid: 1, ownerHotkey: alice, ownerColdkey: alice }] },
    onFatal: (error) => fatal.push(error),
  });
});

afterAll(async () => {
  await devnet?.close();
});

const { get, post } = api(() => devnet.base);
const transfer = (by: Signer, amount: string) => post("/v1/chain/extrinsics", by, { call: "balances.transfer", args: { dest: keys.Eve.address, amount_rao: amount } });

describe("an exception in apply over HTTP", () => {
  it("leaves the node up read-only: /healthz degraded naming the fault, writes 503 UNAVAILABLE, reads 200", async () => {
    expect((await transfer(keys.Bob, "7")).status).toBe(200);
    const healthy = (await get("/healthz")).json;
    expect(healthy).toMatchObject({ status: "ok", problems: [] });
    const chainHead = (await get("/v1/chain/head")).json;

    expectError(await transfer(keys.Bob, "13"), 503, "UNAVAILABLE");

    const health = await get("/healthz");
    expect(health.status).toBe(200);
    expect(health.json.status).toBe("degraded");
    expect(health.json.seq).toBe(healthy.seq);
    expect(health.json.problems).toHaveLength(1);
    expect(health.json.problems[0]).toMatch(/^execution fault: block: applying its event BlockProduced threw: .*writes are refused until the node restarts/);

    // Every write (an extrinsic, a price, an entity) is refused, saying that a restart is needed.
    for (const refused of [
      await transfer(keys.Bob, "7"),
      await post("/v1/prices", keys.Alice, { prices: [{ trade_pair: "BTCUSD", price: 100_000, ts_ms: Date.now() }] }),
      await post("/v1/entities", keys.Bob, {}),
    ]) {
      expectError(refused, 503, "UNAVAILABLE");
      expect(refused.json.error.message).toMatch(/until the node restarts/);
    }

    // Reads answer from the committed state: the failed block left nothing behind.
    const after = await get("/v1/chain/head");
    expect(after.status, after.text).toBe(200);
    expect(after.json).toEqual(chainHead);
    expect((await get("/v1/prices")).status).toBe(200);
    expect((await get("/healthz")).json.seq).toBe(healthy.seq);
    expect(fatal).toEqual([]);
  });
});
