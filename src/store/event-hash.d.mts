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
