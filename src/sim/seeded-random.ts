import { prng } from "../core/random/prng.ts";

/**
 * The simulator's one source of randomness: everything it decides (the workload, the faults and
 * their moments, commit latencies, client ids) is drawn from here, so a seed replays its run.
 */
export class SeededRandom {
  readonly #next: () => number;

  constructor(readonly seed: number) {
    // Spread small consecutive seeds over the generator's state.
    this.#next = prng(Math.imul(seed >>> 0, 2654435761) ^ 0x5bd1e995);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.#next();
  }

  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.#next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(this.#next() * items.length)] as T;
  }

  /** One of `weights`' keys, with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as Array<[K, number]>;
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let x = this.#next() * total;
    for (const [k, w] of entries) {
      x -= w;
      if (x < 0) return k;
    }
    return (entries[entries.length - 1] as [K, number])[0];
  }

  /** A version-4-shaped uuid from the seed, so client-chosen ids replay too. */
  uuid(): string {
    let hex = "";
    for (let i = 0; i < 4; i++) hex += Math.floor(this.#next() * 2 ** 32).toString(16).padStart(8, "0");
    const variant = "89ab"[this.int(0, 3)] as string;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  /** An independent stream for one purpose (commit latency, say), so drawing there shifts nothing here. */
  fork(salt: number): SeededRandom {
    return new SeededRandom((this.seed * 31 + salt) >>> 0);
  }
}
