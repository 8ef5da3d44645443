import { type EventDraft, encodePayload, formatEventType } from "../core/machine/event.ts";
import { hashEventFields } from "../store/event-hash.mjs";
import type { AppendReceipt, CheckpointRow, LogHead, Store } from "../store/store.ts";
import type { StoredEvent } from "../store/stored-event.ts";

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
    const seq = this.#head.seq + 1;
    const type = formatEventType(draft);
    const payload = encodePayload(draft);
    const signer = seal.signer ?? null;
    const signature = seal.signature ?? null;
    const prevHash = this.#head.hash;
    const hash = hashEventFields(prevHash, seq, seal.block, seal.ts, type, signer, signature, payload);
    this.#head = { seq, hash };
    return { seq, block: seal.block, ts: seal.ts, type, payload, signer, signature, prevHash, hash };
  }

  /** One transaction, one fsync for the whole batch; resolves once durable. A rejection is fatal. */
  append(rows: readonly StoredEvent[], checkpoints: readonly CheckpointRow[] = []): Promise<AppendReceipt> {
    return this.store.append(rows, checkpoints);
  }
}
