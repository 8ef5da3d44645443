/**
 * A verdict recorded on a follower for a subaccount that broke a rule: "PENDING:" + the reason.
 * It freezes the subaccount; the mothership's elimination fact eliminates it (DESIGN.md §4.1).
 */
export const PENDING_PREFIX = "PENDING:";

export function isPendingVerdict(verdict: string): boolean {
  return verdict.startsWith(PENDING_PREFIX);
}

/** The rule a verdict names, pending or not. */
export function verdictReason(verdict: string): string {
  return isPendingVerdict(verdict) ? verdict.slice(PENDING_PREFIX.length) : verdict;
}
