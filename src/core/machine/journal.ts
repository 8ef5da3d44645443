/**
 * Undo journal for state outside the ledger. While a command executes, every write records how to
 * undo it, so a refused command (or a failed extrinsic inside a block, via a savepoint) leaves
 * nothing behind. Values are treated as immutable: replace them, never mutate them in place.
 */
export class Journal {
  #undo: Array<() => void> = [];
  #active = false;

  get active(): boolean {
    return this.#active;
  }

  begin(): void {
    this.#undo.length = 0;
    this.#active = true;
  }

  record(undo: () => void): void {
    if (this.#active) this.#undo.push(undo);
  }

  /** A point to roll back to without leaving the command. */
  savepoint(): number {
    return this.#undo.length;
  }

  rollbackTo(savepoint: number): void {
    while (this.#undo.length > savepoint) (this.#undo.pop() as () => void)();
  }

  /** Undoes everything since begin and stops journaling. */
  undo(): void {
    this.rollbackTo(0);
    this.#active = false;
  }

  /** Keeps everything since begin and stops journaling. */
  keep(): void {
    this.#undo.length = 0;
    this.#active = false;
  }
}

/** A Map whose writes are journaled. Iterate with `sortedKeys` so insertion order never decides a result. */
export class JournaledMap<K extends string | number, V> {
  readonly #map = new Map<K, V>();
  /** Sorted keys, kept until a key is added or removed (values change far more often). */
  #sorted: K[] | null = null;
  /** Keys in the order they arrived, kept through additions; rebuilt after a removal. */
  #arrived: K[] | null = [];

  constructor(readonly journal: Journal) {}

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V): void {
    if (this.journal.active) {
      const had = this.#map.has(key);
      const old = this.#map.get(key) as V;
      this.journal.record(() => {
        if (had) this.#map.set(key, old);
        else {
          this.#map.delete(key);
          this.#sorted = null;
          // Undone in reverse order: an added key is the last to have arrived.
          if (this.#arrived?.[this.#arrived.length - 1] === key) this.#arrived.pop();
          else this.#arrived = null;
        }
      });
    }
    if (!this.#map.has(key)) {
      this.#sorted = null;
      this.#arrived?.push(key);
    }
    this.#map.set(key, value);
  }

  delete(key: K): void {
    if (!this.#map.has(key)) return;
    if (this.journal.active) {
      const old = this.#map.get(key) as V;
      this.journal.record(() => {
        this.#map.set(key, old);
        this.#sorted = null;
        this.#arrived = null;
      });
    }
    this.#map.delete(key);
    this.#sorted = null;
    this.#arrived = null;
  }

  /**
   * Keys in arrival order, O(1) while keys are only added. Node-local (a replayed node may have
   * them in another order): for spreading checks over blocks, never for deciding a result.
   */
  keysByArrival(): readonly K[] {
    this.#arrived ??= [...this.#map.keys()];
    return this.#arrived;
  }

  /** Keys in order; the array is shared, do not modify it. */
  sortedKeys(): readonly K[] {
    this.#sorted ??= [...this.#map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.#sorted;
  }

  /** Entries in key order. */
  sortedEntries(): Array<[K, V]> {
    return this.sortedKeys().map((k) => [k, this.#map.get(k) as V]);
  }
}
