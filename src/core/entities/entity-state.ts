import { type Journal, JournaledMap } from "../machine/journal.ts";

/**
 * Entities and their subaccounts (DESIGN.md §3.3) as journaled maps of immutable records.
 * Collateral lives in the ledger: the entity's free collateral is the chain's `collateral:HOTKEY`
 * account, its reserves are `collateral_reserved:HOTKEY`; `reservedRao` here is the running sum
 * of its active subaccounts' reserves, which the entity invariant compares with that account.
 */
export interface EntityRecord {
  hotkey: string;
  registeredAtMs: number;
  maxSubaccounts: number;
  /** Ids are never reused: the next id is always the number ever created. */
  nextId: number;
  active: number;
  eliminated: number;
  reservedRao: bigint;
  slashedRao: bigint;
  /** Set by an entity-scoped invariant violation until root clears it. */
  frozenByViolation: boolean;
}

export type SubaccountStatus = "active" | "eliminated";

export interface SubaccountRecord {
  entity: string;
  id: number;
  uuid: string;
  createdAtMs: number;
  eliminatedAtMs: number | null;
  accountSizeUsd: number;
  reservedRao: bigint;
  status: SubaccountStatus;
}

export interface EntitiesState {
  entities: JournaledMap<string, EntityRecord>;
  /** synthetic hotkey -> subaccount */
  subaccounts: JournaledMap<string, SubaccountRecord>;
}

export function createEntitiesState(journal: Journal): EntitiesState {
  return { entities: new JournaledMap(journal), subaccounts: new JournaledMap(journal) };
}

export const reservedAccount = (() => {
  const cache = new Map<string, string>();
  return (hotkey: string): string => {
    let name = cache.get(hotkey);
    if (name === undefined) cache.set(hotkey, (name = `collateral_reserved:${hotkey}`));
    return name;
  };
})();

// ---- canonical encoding --------------------------------------------------------------------------

type EncodedEntity = Omit<EntityRecord, "reservedRao" | "slashedRao"> & { reservedRao: string; slashedRao: string };
type EncodedSubaccount = Omit<SubaccountRecord, "reservedRao"> & { reservedRao: string };

export interface EncodedEntities {
  entities: EncodedEntity[];
  subaccounts: Array<[string, EncodedSubaccount]>;
}

export function exportEntities(s: EntitiesState): EncodedEntities {
  return {
    entities: s.entities.sortedEntries().map(([, e]) => ({
      hotkey: e.hotkey,
      registeredAtMs: e.registeredAtMs,
      maxSubaccounts: e.maxSubaccounts,
      nextId: e.nextId,
      active: e.active,
      eliminated: e.eliminated,
      reservedRao: e.reservedRao.toString(),
      slashedRao: e.slashedRao.toString(),
      frozenByViolation: e.frozenByViolation,
    })),
    subaccounts: s.subaccounts.sortedEntries().map(([k, a]) => [
      k,
      {
        entity: a.entity,
        id: a.id,
        uuid: a.uuid,
        createdAtMs: a.createdAtMs,
        eliminatedAtMs: a.eliminatedAtMs,
        accountSizeUsd: a.accountSizeUsd,
        reservedRao: a.reservedRao.toString(),
        status: a.status,
      },
    ]),
  };
}

export function importEntities(encoded: EncodedEntities, journal: Journal): EntitiesState {
  const s = createEntitiesState(journal);
  for (const e of encoded.entities) {
    s.entities.set(e.hotkey, { ...e, reservedRao: BigInt(e.reservedRao), slashedRao: BigInt(e.slashedRao) });
  }
  for (const [k, a] of encoded.subaccounts) s.subaccounts.set(k, { ...a, reservedRao: BigInt(a.reservedRao) });
  return s;
}
