import { readFileSync } from "node:fs";
import { z } from "zod";
import { type ChainGenesis, encodeChainGenesis, genesisCosts } from "../core/chain/chain-state.ts";
import { DomainError } from "../core/errors/errors.ts";
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
        /** The owner hotkey as uid 0 (the uid that receives what debts do not need). */
        register_owner: z.boolean().optional(),
        /** Registered next and staked through the pool; each coldkey's endowment pays the 1 TAO burn and the stake. */
        validators: z.array(z.strictObject({ hotkey: address, coldkey: address, stake_rao: rao })).optional(),
      }),
    )
    .min(1),
});

export class GenesisFileError extends Error {
  override readonly name = "GenesisFileError";
}

/**
 * A devnet genesis from JSON: endowments, root, default tempo and subnets with their pools, their
 * owner registered or not, and their genesis validators.
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
  const genesis = {
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
        registerOwner: s.register_owner,
        validators: s.validators?.map((v) => ({ hotkey: v.hotkey, coldkey: v.coldkey, stake_rao: BigInt(v.stake_rao) })),
      })),
    },
  };
  // Refused here, naming the file, rather than by the genesis command once the node opens.
  try {
    encodeChainGenesis(genesis.chain);
  } catch (error) {
    if (error instanceof DomainError) throw new GenesisFileError(`genesis file ${path}: ${error.message}`);
    throw error;
  }
  const endowed = new Map<string, bigint>();
  for (const e of genesis.endowments) endowed.set(e.owner, (endowed.get(e.owner) ?? 0n) + e.amount_rao);
  for (const [coldkey, need] of genesisCosts(genesis.chain)) {
    const have = endowed.get(coldkey) ?? 0n;
    if (have < need) {
      throw new GenesisFileError(`genesis file ${path}: ${coldkey} is endowed with ${have} rao, but its validators' registration burns and stake need ${need}`);
    }
  }
  return genesis;
}
