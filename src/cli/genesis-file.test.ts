import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { key } from "../core/chain/chain-state.ts";
import { report } from "../core/invariants/report.ts";
import { TAO } from "../core/ledger/asset.ts";
import { execute } from "../core/machine/execute.ts";
import { createState } from "../core/machine/state.ts";
import { GenesisFileError, readGenesisFile } from "./genesis-file.ts";

const dir = mkdtempSync(join(tmpdir(), "propnet-genesis-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";

let files = 0;
function file(content: unknown): string {
  const path = join(dir, `g${++files}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("genesis file", () => {
  it("builds the genesis it describes: endowments, root, tempo, subnets and their pools", () => {
    const g = readGenesisFile(
      file({
        endowments: [{ owner: BOB, amount_rao: "5000000000000" }],
        root: BOB,
        tempo: 99,
        subnets: [
          { netuid: 1, owner_hotkey: ALICE, owner_coldkey: ALICE },
          { netuid: 7, owner_hotkey: BOB, owner_coldkey: BOB, pool_tao_rao: "2000000000000", pool_alpha_rao: "1000000000000", tempo: 10 },
        ],
      }),
      ALICE,
    );
    const state = createState();
    expect(execute(state, { kind: "genesis", endowments: g.endowments, chain: g.chain }).error).toBeUndefined();
    expect(state.ledger.balanceOf(TAO, BOB)).toBe(5_000_000_000_000n);
    expect(state.chain.params.get("params")?.root).toBe(BOB);
    expect(state.chain.subnets.get(1)?.tempo).toBe(99);
    expect(state.chain.subnets.get(7)?.tempo).toBe(10);
    expect(state.ledger.balanceOf(TAO, "subnet:7:tao")).toBe(2_000_000_000_000n);
  });

  it("registers the owner as uid 0 and stakes the validators it lists, from their coldkeys' endowments", () => {
    const g = readGenesisFile(
      file({
        endowments: [{ owner: BOB, amount_rao: "10000000000000" }],
        subnets: [{ netuid: 1, owner_hotkey: ALICE, owner_coldkey: ALICE, register_owner: true, validators: [{ hotkey: BOB, coldkey: BOB, stake_rao: "1000000000000" }] }],
      }),
      ALICE,
    );
    expect(g.chain.subnets[0]).toMatchObject({ registerOwner: true, validators: [{ hotkey: BOB, coldkey: BOB, stake_rao: 1_000_000_000_000n }] });
    const state = createState({ strict: true });
    expect(execute(state, { kind: "genesis", endowments: g.endowments, chain: g.chain }).error).toBeUndefined();
    expect(state.chain.uids.get(key.hotkey(1, ALICE))).toBe(0);
    expect(state.chain.uids.get(key.hotkey(1, BOB))).toBe(1);
    expect(state.chain.pools.get(key.hotkey(1, BOB))?.value).toBeGreaterThan(0n);
    // 10,000 TAO less the 1 TAO burn and the 1,000 TAO stake.
    expect(state.ledger.balanceOf(TAO, BOB)).toBe(8_999_000_000_000n);
    expect(report(state).invariants.filter((r) => !r.ok)).toEqual([]);
  });

  const subnet = { netuid: 1, owner_hotkey: ALICE, owner_coldkey: ALICE };
  it.each([
    ["not JSON", "{", /not readable JSON/],
    ["no endowments", { endowments: [], subnets: [{ netuid: 1, owner_hotkey: ALICE, owner_coldkey: ALICE }] }, /endowments/],
    ["amount as a number", { endowments: [{ owner: ALICE, amount_rao: 5 }], subnets: [{ netuid: 1, owner_hotkey: ALICE, owner_coldkey: ALICE }] }, /amount_rao/],
    ["unknown field", { endowments: [{ owner: ALICE, amount_rao: "5" }], subnets: [{ netuid: 1, owner_hotkey: ALICE, owner_coldkey: ALICE }], extra: 1 }, /extra|Unrecognized/],
    ["bad address", { endowments: [{ owner: "alice", amount_rao: "5" }], subnets: [{ netuid: 1, owner_hotkey: ALICE, owner_coldkey: ALICE }] }, /SS58/],
    ["register_owner as a string", { endowments: [{ owner: ALICE, amount_rao: "5" }], subnets: [{ ...subnet, register_owner: "yes" }] }, /register_owner/],
    ["a validator with an unknown field", { endowments: [{ owner: BOB, amount_rao: "5000000000000" }], subnets: [{ ...subnet, validators: [{ hotkey: BOB, coldkey: BOB, stake_rao: "1000000000", take: 1 }] }] }, /take|Unrecognized/],
    ["a validator whose coldkey cannot pay", { endowments: [{ owner: BOB, amount_rao: "1000000000000" }], subnets: [{ ...subnet, validators: [{ hotkey: BOB, coldkey: BOB, stake_rao: "1000000000000" }] }] }, /endowed with 1000000000000 rao.*need 1001000000000/],
    ["a validator staking below the minimum", { endowments: [{ owner: BOB, amount_rao: "5000000000000" }], subnets: [{ ...subnet, validators: [{ hotkey: BOB, coldkey: BOB, stake_rao: "1000" }] }] }, /at least/],
    ["a hotkey registered twice", { endowments: [{ owner: ALICE, amount_rao: "5000000000000" }], subnets: [{ ...subnet, register_owner: true, validators: [{ hotkey: ALICE, coldkey: ALICE, stake_rao: "1000000000" }] }] }, /registered twice/],
    ["repeated netuid", { endowments: [{ owner: ALICE, amount_rao: "5" }], subnets: [1, 1].map((netuid) => ({ netuid, owner_hotkey: ALICE, owner_coldkey: ALICE })) }, /netuids repeat/],
  ])("refuses %s with a message naming the file", (_name, content, message) => {
    const path = file(content);
    expect(() => readGenesisFile(path, ALICE)).toThrow(GenesisFileError);
    expect(() => readGenesisFile(path, ALICE)).toThrow(message);
    expect(() => readGenesisFile(path, ALICE)).toThrow(path);
  });
});
