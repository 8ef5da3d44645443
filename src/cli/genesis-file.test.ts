import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
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

  it.each([
    ["not JSON", "{", /not readable JSON/],
    ["no endowments", { endowments: [], subnets: [{ netuid: 1, owner_hotkey: ALICE, owner_coldkey: ALICE }] }, /endowments/],
    ["amount as a number", { endowments: [{ owner: ALICE, amount_rao: 5 }], subnets: [{ netuid: 1, owner_hotkey: ALICE, owner_coldkey: ALICE }] }, /amount_rao/],
    ["unknown field", { endowments: [{ owner: ALICE, amount_rao: "5" }], subnets: [{ netuid: 1, owner_hotkey: ALICE, owner_coldkey: ALICE }], extra: 1 }, /extra|Unrecognized/],
    ["bad address", { endowments: [{ owner: "alice", amount_rao: "5" }], subnets: [{ netuid: 1, owner_hotkey: ALICE, owner_coldkey: ALICE }] }, /SS58/],
    ["repeated netuid", { endowments: [{ owner: ALICE, amount_rao: "5" }], subnets: [1, 1].map((netuid) => ({ netuid, owner_hotkey: ALICE, owner_coldkey: ALICE })) }, /netuids repeat/],
  ])("refuses %s with a message naming the file", (_name, content, message) => {
    const path = file(content);
    expect(() => readGenesisFile(path, ALICE)).toThrow(GenesisFileError);
    expect(() => readGenesisFile(path, ALICE)).toThrow(message);
    expect(() => readGenesisFile(path, ALICE)).toThrow(path);
  });
});
