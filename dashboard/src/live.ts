// Live updates: the node's server-sent events (GET /v1/live); while they are down, polling every few seconds.
import { get, type Head, type Prices } from "./api.ts";
import type { ChainEvent } from "./format.ts";

export interface LiveHandlers {
  head?: (head: Head) => void;
  prices?: (prices: Prices) => void;
  events?: (events: ChainEvent[]) => void;
  /** Something committed: views refresh what the stream does not carry (debounced). */
  commit?: () => void;
}

const POLL_MS = 5_000;
const COMMIT_DEBOUNCE_MS = 1_000;

export class Live {
  #handlers = new Set<LiveHandlers>();
  #poll: number | null = null;
  #commitTimer: number | null = null;
  #lastBlock = -1;
  readonly #status: (text: string, ok: boolean) => void;

  constructor(status: (text: string, ok: boolean) => void) {
    this.#status = status;
  }

  /** Adds view handlers; returns the function that removes them. */
  subscribe(handlers: LiveHandlers): () => void {
    this.#handlers.add(handlers);
    return () => this.#handlers.delete(handlers);
  }

  start(): void {
    if (typeof EventSource === "undefined") return this.#startPolling();
    const source = new EventSource("/v1/live");
    source.addEventListener("open", () => {
      this.#status("live", true);
      this.#stopPolling();
    });
    source.addEventListener("error", () => {
      this.#status("polling", false);
      this.#startPolling();
    });
    source.addEventListener("head", (m) => this.#head(JSON.parse((m as MessageEvent<string>).data) as Head));
    source.addEventListener("prices", (m) => this.#each((h) => h.prices?.(JSON.parse((m as MessageEvent<string>).data))));
    source.addEventListener("chain-events", (m) => this.#each((h) => h.events?.((JSON.parse((m as MessageEvent<string>).data) as { events: ChainEvent[] }).events)));
    source.addEventListener("commit", () => this.#commit());
  }

  #each(f: (h: LiveHandlers) => void): void {
    for (const h of this.#handlers) f(h);
  }

  #head(head: Head): void {
    if (head.block === this.#lastBlock) return;
    this.#lastBlock = head.block;
    this.#each((h) => h.head?.(head));
  }

  #commit(): void {
    if (this.#commitTimer !== null) return;
    this.#commitTimer = window.setTimeout(() => {
      this.#commitTimer = null;
      this.#each((h) => h.commit?.());
    }, COMMIT_DEBOUNCE_MS);
  }

  #startPolling(): void {
    if (this.#poll !== null) return;
    const tick = async () => {
      const head = await get<Head>("/v1/chain/head");
      if (head.ok && head.data.block !== this.#lastBlock) {
        this.#head(head.data);
        this.#commit();
      }
    };
    // At once: a broken stream may mean the node is gone, which the page says straight away (stale).
    void tick();
    this.#poll = window.setInterval(tick, POLL_MS);
  }

  #stopPolling(): void {
    if (this.#poll !== null) window.clearInterval(this.#poll);
    this.#poll = null;
  }
}
