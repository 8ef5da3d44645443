import type { AppendReceipt, CheckpointRow, LogHead, Store } from "../../store/store.ts";
import type { StoredEvent } from "../../store/stored-event.ts";

/**
 * A reader's view of a log another process is appending to: `lastEvent` is the row at the head
 * read last by `recordedHead`, so the two agree although commits land between the two reads
 * (recovery compares them; on a log nobody else writes they are the same thing). Everything else
 * goes to the store unchanged.
 */
export class ConsistentHeadStore implements Store {
  readonly backend: Store["backend"];
  readonly #store: Store;
  #head: LogHead | null = null;

  constructor(store: Store) {
    this.#store = store;
    this.backend = store.backend;
  }

  async recordedHead(): Promise<LogHead> {
    this.#head = await this.#store.recordedHead();
    return this.#head;
  }

  async lastEvent(): Promise<StoredEvent | null> {
    const head = this.#head ?? (await this.recordedHead());
    return head.seq === 0 ? null : this.#store.eventAt(head.seq);
  }

  eventAt(seq: number): Promise<StoredEvent | null> {
    return this.#store.eventAt(seq);
  }

  append(rows: readonly StoredEvent[], checkpoints?: readonly CheckpointRow[]): Promise<AppendReceipt> {
    return this.#store.append(rows, checkpoints);
  }

  readCheckpoints(trader: string, after: number, limit: number): Promise<CheckpointRow[]> {
    return this.#store.readCheckpoints(trader, after, limit);
  }

  read(after: number, limit: number): Promise<StoredEvent[]> {
    return this.#store.read(after, limit);
  }

  readPayloads(after: number, limit: number): Promise<Array<[number, string, string]>> {
    return this.#store.readPayloads(after, limit);
  }

  checkChain(from: LogHead, until: number, onProgress?: (seq: number) => void): Promise<LogHead> {
    return this.#store.checkChain(from, until, onProgress);
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
