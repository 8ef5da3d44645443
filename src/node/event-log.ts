import { type EventDraft, formatEventType } from "../core/machine/event.ts";
import type { LogHead, Store } from "../store/store.ts";
import { hashEvent, type StoredEvent } from "../store/stored-event.ts";

export interface Seal {
  block: number;
  ts: number;
  signer?: string | null;
  signature?: string | null;
}

/** Turns event drafts into hash-chained rows and appends them; knows the head. */
export class EventLog {
  #head: LogHead;

  constructor(
    readonly store: Store,
    head: LogHead,
  ) {
    this.#head = head;
  }

  get head(): LogHead {
    return this.#head;
  }

  /** Assigns the next seq and chains the hash. The row exists only once `append` returns. */
  seal(draft: EventDraft, seal: Seal): StoredEvent {
    const partial = {
      seq: this.#head.seq + 1,
      block: seal.block,
      ts: seal.ts,
      type: formatEventType(draft),
      payload: JSON.stringify(draft.payload),
      signer: seal.signer ?? null,
      signature: seal.signature ?? null,
      prevHash: this.#head.hash,
    };
    const row = { ...partial, hash: hashEvent(partial) };
    this.#head = { seq: row.seq, hash: row.hash };
    return row;
  }

  /** One transaction, one fsync for the whole batch; resolves once durable. A rejection is fatal. */
  append(rows: readonly StoredEvent[]): Promise<void> {
    return this.store.append(rows);
  }
}
