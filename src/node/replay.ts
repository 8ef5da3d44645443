import { stateInvariants } from "../core/invariants/chain-invariants.ts";
import { AssertionFailure } from "../core/errors/errors.ts";
import { type EventDraft, parseEventType } from "../core/machine/event.ts";
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

const PAGE = 10_000;

/**
 * Applies the log's rows after `from` to `state`, checking every hash link on this thread, and
 * yields to the event loop between pages. This is `verify`'s path: thorough rather than fast.
 */
export async function replay(state: State, store: Store, from: LogHead, options: ReplayOptions = {}): Promise<LogHead> {
  let head = from;
  const progress = progressEvery(options);
  for (;;) {
    let page: StoredEvent[];
    try {
      page = await store.read(head.seq, PAGE);
    } catch (error) {
      throw new LogIntegrityError(head.seq + 1, `event log is unreadable after seq ${head.seq}: ${(error as Error).message}`);
    }
    if (page.length === 0) break;
    for (const row of page) {
      checkLink(row, head.seq + 1, head.hash);
      applyStored(state, row.seq, row.type, row.payload);
      if (options.checkEveryEvent) checkIdentities(state, row.seq);
      options.afterEvent?.(row);
      head = { seq: row.seq, hash: row.hash };
      progress(head.seq);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  options.onProgress?.(head.seq);
  return head;
}

/**
 * Restart's path: the hash chain through `until` is checked on another thread while this one
 * reads only (seq, type, payload) and applies. Resolves with the verified head; a broken chain
 * rejects with LogIntegrityError naming the first bad seq, whichever thread saw trouble first.
 */
export async function replayWithParallelCheck(
  state: State,
  store: Store,
  from: LogHead,
  until: number,
  options: Pick<ReplayOptions, "onProgress" | "progressEvery"> = {},
): Promise<LogHead> {
  if (until === from.seq) return from;
  let broken: unknown = null;
  const chain = store.checkChain(from, until);
  chain.catch((error: unknown) => {
    broken = error;
  });
  const progress = progressEvery(options);
  let seq = from.seq;
  try {
    while (seq < until) {
      if (broken) throw broken;
      const page = await store.readPayloads(seq, Math.min(PAGE, until - seq));
      if (page.length === 0) throw new LogIntegrityError(seq + 1, `event log is missing seq ${seq + 1}`);
      for (const [s, type, payload] of page) {
        if (s !== seq + 1) throw new LogIntegrityError(seq + 1, `event log is missing seq ${seq + 1}`);
        applyStored(state, s, type, payload);
        seq = s;
        progress(seq);
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } catch (error) {
    // A tampered row may fail to apply before the chain check reaches it: report the chain's
    // verdict (the first bad seq) when it has one.
    const verdict = await chain.then(
      () => null,
      (e: unknown) => e,
    );
    throw verdict ?? error;
  }
  const head = await chain;
  options.onProgress?.(head.seq);
  return head;
}

function progressEvery(options: Pick<ReplayOptions, "onProgress" | "progressEvery">): (seq: number) => void {
  const every = options.progressEvery ?? 50_000;
  const report = options.onProgress;
  if (!report) return () => {};
  let since = 0;
  return (seq) => {
    if (++since >= every) {
      since = 0;
      report(seq);
    }
  };
}

/** Every O(1) ledger and chain identity (TAO and each subnet's alpha), after each event. */
function checkIdentities(state: State, seq: number): void {
  const v = stateInvariants(state)[0];
  if (v) throw new LogIntegrityError(seq, `invariant ${v.invariant} in ${v.scope} fails after seq ${seq}: expected ${v.expected}, actual ${v.actual}`);
}

const typeCache = new Map<string, [string, number]>();

/** Applies one stored event; a payload that cannot be parsed or applied is named by its seq. */
export function applyStored(state: State, seq: number, storedType: string, payload: string): void {
  let type = typeCache.get(storedType);
  if (!type) {
    type = parseEventType(storedType);
    typeCache.set(storedType, type);
  }
  let parsed: EventDraft["payload"];
  try {
    parsed = JSON.parse(payload);
  } catch {
    throw new LogIntegrityError(seq, `event at seq ${seq} holds malformed JSON`);
  }
  try {
    applyEvent(state, { type: type[0], version: type[1], payload: parsed });
  } catch (error) {
    if (error instanceof AssertionFailure)
      throw new LogIntegrityError(seq, `event at seq ${seq} cannot be applied: ${error.message}`);
    throw error;
  }
}
