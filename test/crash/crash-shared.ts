/** Shared by the crash-test child and parent (kept apart so importing it starts nothing). */
export const OWNERS = ["crash-alice", "crash-bob"] as const;
export const ENDOWMENT_RAO = 10n ** 15n; // twice this stays under MAX_ISSUANCE
/** Small, so snapshots are written often and kills land during snapshot writes too. */
export const SNAPSHOT_EVERY = 300;

/** Command i moves i + 1 rao (its amount identifies it) from OWNERS[i % 2] to the other owner. */
export function senderOf(i: number): string {
  return OWNERS[i % 2] as string;
}

export function recipientOf(i: number): string {
  return OWNERS[(i + 1) % 2] as string;
}

export function amountOf(i: number): bigint {
  return BigInt(i + 1);
}
