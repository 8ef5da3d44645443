/**
 * Assets are small integers so that account cells can be addressed without strings:
 * 0 is TAO, netuid + 1 is ALPHA(netuid).
 */
export type AssetId = number & { readonly __asset: unique symbol };

export const TAO = 0 as AssetId;
export const MAX_NETUID = 65_535;

export function alpha(netuid: number): AssetId {
  if (!Number.isInteger(netuid) || netuid < 0 || netuid > MAX_NETUID) {
    throw new RangeError(`netuid out of range: ${netuid}`);
  }
  return (netuid + 1) as AssetId;
}

export function netuidOf(asset: AssetId): number | null {
  return asset === TAO ? null : asset - 1;
}

export function assetName(asset: AssetId): string {
  return asset === TAO ? "TAO" : `ALPHA(${asset - 1})`;
}

const ALPHA_NAME = /^ALPHA\((0|[1-9][0-9]{0,4})\)$/;

/** Parses `TAO` or `ALPHA(n)`; null for anything else. */
export function parseAsset(name: string): AssetId | null {
  if (name === "TAO") return TAO;
  const m = ALPHA_NAME.exec(name);
  if (!m) return null;
  const netuid = Number(m[1]);
  return netuid <= MAX_NETUID ? alpha(netuid) : null;
}
