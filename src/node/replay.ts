import { AssertionFailure } from "../core/errors/errors.ts";
import { parseEventType } from "../core/machine/event.ts";
import { applyEvent } from "../core/machine/execute.ts";
import type { State } from "../core/machine/state.ts";
import type { LogHead, Store } from "../store/store.ts";
import { checkLink, LogIntegrityError, type StoredEvent } from "../store/stored-event.ts";

export interface ReplayOptions {
  /** Called every `progressEvery` events and at the end. */
  onProgress?: (seq: number) => void;
  progressEvery?: number;
  /** Called after each event is applied (verify compares state hashes at snapshot seqs). */
  afterEvent?: (row: StoredEvent) => void;
  /** Check the O(1) ledger identities after every event (verify), not just at the end. */
  checkEveryEvent?: boolean;
}

/**
 * Applies the log's rows after `from` to `state`, checking every hash link, and yields to the
 * event loop between pages so a node replaying at start still answers /readyz.
 */
export async function replay(state: State, store: Store, from: LogHead, options: ReplayOptions = {}): Promise<LogHead> {
  let head = from;
  const every = options.progressEvery ?? 50_000;
  let sinceProgress = 0;
  for (;;) {
    let page: StoredEvent[];
    try {
      page = store.read(head.seq, 10_000);
    } catch (error) {
      throw new LogIntegrityError(head.seq + 1, `event log is unreadable after seq ${head.seq}: ${(error as Error).message}`);
    }
    if (page.length === 0) break;
    for (const row of page) {
      checkLink(row, head.seq + 1, head.hash);
      applyRow(state, row);
      if (options.checkEveryEvent) {
        const broken = state.ledger.checkTotals();
        if (broken.length > 0) {
          const v = broken[0] as (typeof broken)[number];
          throw new LogIntegrityError(
            row.seq,
            `ledger identity ${v.invariant} fails after seq ${row.seq}: expected ${v.expected}, actual ${v.actual}`,
          );
        }
      }
      options.afterEvent?.(row);
      head = { seq: row.seq, hash: row.hash };
      if (++sinceProgress >= every) {
        sinceProgress = 0;
        options.onProgress?.(head.seq);
      }
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  options.onProgress?.(head.seq);
  return head;
}

export function applyRow(state: State, row: StoredEvent): void {
  const [type, version] = parseEventType(row.type);
  let payload: unknown;
  try {
    payload = JSON.parse(row.payload);
  } catch {
    throw new LogIntegrityError(row.seq, `event at seq ${row.seq} holds malformed JSON`);
  }
  try {
    applyEvent(state, { type, version, payload: payload as Record<string, never> });
  } catch (error) {
    if (error instanceof AssertionFailure)
      throw new LogIntegrityError(row.seq, `event at seq ${row.seq} cannot be applied: ${error.message}`);
    throw error;
  }
}
