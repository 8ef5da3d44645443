import { readFileSync } from "node:fs";
import { z } from "zod";
import type { ChainGenesis } from "../core/chain/chain-state.ts";
import type { Endowment } from "../core/machine/commands.ts";

const rao = z.string().regex(/^[1-9][0-9]{0,16}$/, "a positive string of integer rao");
const address = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{46,48}$/, "an SS58 address");

const GenesisFile = z.strictObject({
  endowments: z.array(z.strictObject({ owner: address, amount_rao: rao })).min(1),
  root: address.optional(),
  tempo: z.number().int().min(1).max(65_535).optional(),
  subnets: z
    .array(
      z.strictObject({
        netuid: z.number().int().min(1).max(65_535),
        owner_hotkey: address,
        owner_coldkey: address,
        pool_tao_rao: rao.optional(),
        pool_alpha_rao: rao.optional(),
        tempo: z.number().int().min(1).max(65_535).optional(),
      }),
    )
    .min(1),
});

export class GenesisFileError extends Error {
  override readonly name = "GenesisFileError";
}

/**
 * A devnet genesis from JSON: endowments, root, default tempo and subnets with their pools.
 * Applied only to an empty log; the log's first event records it.
 */
export function readGenesisFile(path: string, defaultRoot: string): { endowments: Endowment[]; chain: ChainGenesis } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new GenesisFileError(`genesis file ${path} is not readable JSON: ${(error as Error).message}`);
  }
  const parsed = GenesisFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GenesisFileError(`genesis file ${path}: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  const g = parsed.data;
  if (new Set(g.subnets.map((s) => s.netuid)).size !== g.subnets.length) throw new GenesisFileError(`genesis file ${path}: netuids repeat`);
  return {
    endowments: g.endowments.map((e) => ({ owner: e.owner, amount_rao: BigInt(e.amount_rao) })),
    chain: {
      root: g.root ?? defaultRoot,
      tempo: g.tempo,
      subnets: g.subnets.map((s) => ({
        netuid: s.netuid,
        ownerHotkey: s.owner_hotkey,
        ownerColdkey: s.owner_coldkey,
        poolTaoRao: s.pool_tao_rao === undefined ? undefined : BigInt(s.pool_tao_rao),
        poolAlphaRao: s.pool_alpha_rao === undefined ? undefined : BigInt(s.pool_alpha_rao),
        tempo: s.tempo,
      })),
    },
  };
}
