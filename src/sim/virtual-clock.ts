/**
 * The simulator's time. True time only moves forward, by what the workload lets pass; the wall
 * clock the node reads is true time plus an error that a clock fault sets (a jump of hours, back
 * or forward); the monotonic clock counts true time since the node's process started, as
 * `performance.now()` does, so it restarts at zero with every (simulated) process.
 */
export class VirtualClock {
  #true: number;
  #skew = 0;
  #boot: number;

  constructor(start: number) {
    this.#true = start;
    this.#boot = start;
  }

  /** What a correct clock would read now. */
  get trueNow(): number {
    return this.#true;
  }

  /** The wall clock's error now (0 until a jump). */
  get skewMs(): number {
    return this.#skew;
  }

  /** The wall clock the node reads (Date.now()). */
  wall(): number {
    return this.#true + this.#skew;
  }

  /** Milliseconds since the node's process started (performance.now()). */
  monotonic(): number {
    return this.#true - this.#boot;
  }

  /** Time passes. */
  advance(ms: number): void {
    if (ms < 0) throw new Error("true time never goes back");
    this.#true += ms;
  }

  /** The wall clock is set wrong by `ms` (negative: back); true and monotonic time do not move. */
  jump(ms: number): void {
    this.#skew += ms;
  }

  /** The wall clock is corrected (an operator or NTP sets it right). */
  correct(): void {
    this.#skew = 0;
  }

  /** A new process: its monotonic clock starts again from zero. */
  reboot(): void {
    this.#boot = this.#true;
  }
}
