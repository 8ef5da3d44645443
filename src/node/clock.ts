/** The node's one clock: never goes backwards (ts = max(last, wall clock)). */
export class NodeClock {
  #last = 0;
  constructor(readonly wall: () => number = Date.now) {}

  now(): number {
    const t = this.wall();
    if (t > this.#last) this.#last = t;
    return this.#last;
  }

  /** Never hand out a time before one already in the log. */
  observe(ts: number): void {
    if (ts > this.#last) this.#last = ts;
  }
}
