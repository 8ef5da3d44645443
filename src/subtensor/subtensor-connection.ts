import { ApiPromise, WsProvider } from "@polkadot/api";
import type { ProviderInterface } from "@polkadot/rpc-provider/types";
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from "./reconnect-backoff.ts";
import { errorMessage, SubtensorError } from "./subtensor-error.ts";

/** What `/healthz` and `propnet chain check` say about the chain connection. */
export interface SubtensorStatus {
  url: string;
  /** The socket is open and the API has loaded the chain's metadata. */
  connected: boolean;
  lastError: string | null;
  lastErrorAtMs: number | null;
  /** The chain's best block, as last read (kept while disconnected: it says how old it is). */
  headBlock: number | null;
  headSeenAtMs: number | null;
  /** The newest block the node has looked at for epochs (see `markObserved`). */
  observedBlock: number | null;
  /** headBlock - observedBlock: how far behind the chain the node's observation is. */
  lagBlocks: number | null;
  /** Failed attempts since the last successful connection. */
  failedAttempts: number;
  /** Successful connections after the first (each one followed a drop). */
  reconnects: number;
  /** When the next attempt is due, while disconnected. */
  nextRetryAtMs: number | null;
}

export interface SubtensorConnectOptions {
  backoff?: Partial<BackoffPolicy>;
  /** An attempt that has not opened within this is abandoned and retried (ms). */
  connectTimeoutMs?: number;
  /** How often the head is read; it doubles as a liveness check (ms). */
  headPollMs?: number;
  /**
   * Give up after this many failed attempts in a row (a one-off command); by default a
   * connection never gives up (the node keeps trying while it serves).
   */
  maxAttempts?: number;
  /** Consecutive failed head reads after which an open socket is treated as dead and reopened. */
  maxHeadFailures?: number;
  /** Per-request timeout of the WebSocket provider (ms). */
  requestTimeoutMs?: number;
  /** Metadata known in advance, `${genesisHash}-${specVersion}` -> hex (tests; saves a download). */
  metadata?: Record<string, `0x${string}`>;
  /** The provider for a URL; a WsProvider that does not reconnect on its own by default. */
  createProvider?: (url: string) => ProviderInterface;
  random?: () => number;
  now?: () => number;
}

export interface SubtensorConnection {
  readonly url: string;
  status(): SubtensorStatus;
  /** The API while connected, else null. Calls on it may still fail if the socket drops meanwhile. */
  current(): ApiPromise | null;
  /**
   * Resolves once connected; rejects with CHAIN_UNREACHABLE (and the last error) after
   * `timeoutMs`, or as soon as the connection has given up (`maxAttempts`) or been closed.
   */
  ready(timeoutMs?: number): Promise<ApiPromise>;
  /** The node has looked at the chain up to `block` (for the lag in the status). */
  markObserved(block: number): void;
  /** Stops reconnecting and closes the socket (until then its timers keep the process alive). */
  close(): Promise<void>;
}

/**
 * Subtensor's signed extensions that polkadot-js does not know; all are zero-sized on the wire
 * (reference §5), declared so that signing works and no warning is printed.
 */
export const SUBTENSOR_SIGNED_EXTENSIONS = {
  SubtensorTransactionExtension: { extrinsic: {}, payload: {} },
  DrandPriority: { extrinsic: {}, payload: {} },
  SudoTransactionExtension: { extrinsic: {}, payload: {} },
  CheckShieldedTxValidity: { extrinsic: {}, payload: {} },
};

type Timer = ReturnType<typeof setTimeout>;

/**
 * Opens a connection to a Subtensor node and keeps it open: every drop or failed attempt is
 * retried after an exponential backoff with jitter, for as long as the connection is not closed.
 * Nothing it does throws into the caller's event loop: failures become the status's `lastError`.
 */
export function connectSubtensor(url: string, options: SubtensorConnectOptions = {}): SubtensorConnection {
  if (!/^wss?:\/\/./.test(url)) throw new SubtensorError("CHAIN_UNREACHABLE", `chain URL must start with ws:// or wss://, not ${url}`);
  return new Connection(url, options);
}

class Connection implements SubtensorConnection {
  readonly url: string;
  readonly #policy: BackoffPolicy;
  readonly #connectTimeoutMs: number;
  readonly #headPollMs: number;
  readonly #maxHeadFailures: number;
  readonly #maxAttempts: number;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #provider: ProviderInterface;
  readonly #api: ApiPromise;
  #open = false;
  #apiReady = false;
  #everConnected = false;
  #closed = false;
  #connectTimer: Timer | null = null;
  #retryTimer: Timer | null = null;
  #headTimer: Timer | null = null;
  #headFailures = 0;
  /** Whether the current attempt (or session) has already recorded why it failed. */
  #errorNoted = false;
  #gaveUp = false;
  #waiters: Array<{ resolve: () => void; reject: (error: SubtensorError) => void }> = [];
  #status: Omit<SubtensorStatus, "url" | "connected" | "lagBlocks">;

  constructor(url: string, options: SubtensorConnectOptions) {
    this.url = url;
    this.#policy = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#headPollMs = options.headPollMs ?? 6_000;
    this.#maxHeadFailures = options.maxHeadFailures ?? 3;
    this.#maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#status = { lastError: null, lastErrorAtMs: null, headBlock: null, headSeenAtMs: null, observedBlock: null, failedAttempts: 0, reconnects: 0, nextRetryAtMs: null };
    const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#provider = options.createProvider?.(url) ?? new WsProvider(url, false, {}, requestTimeoutMs);
    this.#provider.on("connected", () => this.#guard(() => this.#onOpen()));
    this.#provider.on("disconnected", () => this.#guard(() => this.#onDown("the connection closed")));
    this.#provider.on("error", (error: unknown) => this.#guard(() => this.#noteError(errorMessage(error))));
    this.#api = new ApiPromise({ provider: this.#provider, metadata: options.metadata, noInitWarn: true, signedExtensions: SUBTENSOR_SIGNED_EXTENSIONS });
    // ApiPromise rejects this when initialisation fails; the failure is handled through 'error' below.
    this.#api.isReadyOrError.catch(() => undefined);
    this.#api.on("ready", () => this.#guard(() => this.#onApiReady()));
    this.#api.on("error", (error: unknown) => this.#guard(() => this.#onApiError(error)));
    this.#attempt();
  }

  status(): SubtensorStatus {
    const { headBlock, observedBlock } = this.#status;
    return {
      url: this.url,
      connected: this.#isConnected(),
      ...this.#status,
      lagBlocks: headBlock !== null && observedBlock !== null ? Math.max(0, headBlock - observedBlock) : null,
    };
  }

  current(): ApiPromise | null {
    return this.#isConnected() ? this.#api : null;
  }

  ready(timeoutMs = 30_000): Promise<ApiPromise> {
    if (this.#isConnected()) return Promise.resolve(this.#api);
    if (this.#closed || this.#gaveUp) return Promise.reject(this.#unreachable());
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve(this.#api);
        },
        reject: (error: SubtensorError) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(this.#unreachable(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  #unreachable(fallback = "no answer"): SubtensorError {
    const why = this.#closed ? "the connection was closed" : (this.#status.lastError ?? fallback);
    return new SubtensorError("CHAIN_UNREACHABLE", `cannot reach the chain at ${this.url}: ${why}`);
  }

  /** Settles everyone waiting in ready(): with the API, or with why there is none. */
  #settleWaiters(error: SubtensorError | null): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (error) w.reject(error);
      else w.resolve();
    }
  }

  markObserved(block: number): void {
    this.#status.observedBlock = block;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of [this.#connectTimer, this.#retryTimer, this.#headTimer]) if (timer) clearTimeout(timer);
    if (this.#headTimer) clearInterval(this.#headTimer);
    this.#connectTimer = this.#retryTimer = this.#headTimer = null;
    this.#status.nextRetryAtMs = null;
    this.#settleWaiters(this.#unreachable());
    try {
      await this.#api.disconnect();
    } catch {
      // closing a socket that never opened
    }
  }

  #isConnected(): boolean {
    return this.#open && this.#apiReady && !this.#closed;
  }

  /** Runs an event handler; whatever it throws is recorded, never rethrown into the emitter. */
  #guard(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.#noteError(errorMessage(error));
    }
  }

  #noteError(message: string): void {
    this.#errorNoted = true;
    this.#status.lastError = message;
    this.#status.lastErrorAtMs = this.#now();
  }

  #attempt(): void {
    if (this.#closed) return;
    this.#status.nextRetryAtMs = null;
    this.#errorNoted = false;
    this.#connectTimer = setTimeout(() => {
      this.#connectTimer = null;
      if (this.#open || this.#closed) return;
      this.#noteError(`no connection within ${this.#connectTimeoutMs} ms`);
      this.#provider.disconnect().catch(() => undefined);
      this.#onDown(null);
    }, this.#connectTimeoutMs);
    this.#provider.connect().catch((error: unknown) => {
      this.#noteError(errorMessage(error));
      this.#onDown(null);
    });
  }

  #onOpen(): void {
    if (this.#closed) return;
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    this.#open = true;
    this.#errorNoted = false;
    this.#headFailures = 0;
    this.#settle();
  }

  #onApiReady(): void {
    this.#apiReady = true;
    this.#settle();
  }

  /** Connected (socket open, API ready): the backoff starts over and the head is polled. */
  #settle(): void {
    if (!this.#isConnected()) return;
    if (this.#everConnected && this.#status.failedAttempts > 0) this.#status.reconnects += 1;
    this.#everConnected = true;
    this.#status.failedAttempts = 0;
    this.#status.nextRetryAtMs = null;
    this.#startHeadPolling();
    this.#readHead();
    this.#settleWaiters(null);
  }

  #onApiError(error: unknown): void {
    this.#noteError(errorMessage(error));
    // The API could not initialise over this socket (metadata, runtime version): start over.
    if (!this.#apiReady && this.#open) this.#provider.disconnect().catch(() => undefined);
  }

  /** The socket closed or an attempt failed: one retry is scheduled, after the backoff. */
  #onDown(reason: string | null): void {
    this.#open = false;
    this.#stopHeadPolling();
    if (this.#closed || this.#retryTimer) return;
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    if (reason && !this.#errorNoted) this.#noteError(reason);
    const attempt = this.#status.failedAttempts;
    this.#status.failedAttempts += 1;
    if (this.#status.failedAttempts >= this.#maxAttempts) {
      this.#gaveUp = true;
      this.#status.nextRetryAtMs = null;
      this.#settleWaiters(this.#unreachable());
      return;
    }
    const delay = backoffDelay(this.#policy, attempt, this.#random());
    this.#status.nextRetryAtMs = this.#now() + delay;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#attempt();
    }, delay);
  }

  #startHeadPolling(): void {
    if (this.#headTimer) return;
    this.#headTimer = setInterval(() => this.#readHead(), this.#headPollMs);
  }

  #stopHeadPolling(): void {
    if (this.#headTimer) clearInterval(this.#headTimer);
    this.#headTimer = null;
  }

  #readHead(): void {
    if (!this.#isConnected()) return;
    this.#api.rpc.chain
      .getHeader()
      .then((header) => {
        this.#headFailures = 0;
        this.#status.headBlock = header.number.toNumber();
        this.#status.headSeenAtMs = this.#now();
      })
      .catch((error: unknown) => {
        this.#noteError(`reading the chain head: ${errorMessage(error)}`);
        this.#headFailures += 1;
        // An open socket that answers nothing is as good as closed.
        if (this.#headFailures >= this.#maxHeadFailures && this.#open) this.#provider.disconnect().catch(() => undefined);
      });
  }
}
