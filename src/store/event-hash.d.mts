export declare const GENESIS_HASH: string;
export declare function hashEventFields(
  prevHash: string,
  seq: number,
  block: number,
  ts: number,
  type: string,
  signer: string | null,
  signature: string | null,
  payload: string,
): string;
export declare const PREIMAGE_SUFFIX_SQL: string;
export declare function hashWithSuffix(prevHash: string, suffix: string): string;
