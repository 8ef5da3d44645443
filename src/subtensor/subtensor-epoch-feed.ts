import type { ApiPromise } from "@polkadot/api";
import { EpochObserver, type ObserverLoop } from "./epoch-observer.ts";
import { apiEpochReader, type EpochReader } from "./epoch-reader.ts";
import type { EpochObservationWithOwner } from "./observed-epoch.ts";
import type { SubtensorConnection } from "./subtensor-connection.ts";
import { errorMessage, SubtensorError } from "./subtensor-error.ts";

export interface SubtensorEpochFeedOptions {
  netuid: number;
  /** The node followed. */
  connection: SubtensorConnection;
  /** An archive node, to fill epochs missed while the node was down (else they are gaps). */
  archive?: SubtensorConnection;
  /** How often the finalized head is looked at (ms); a block is about 12 s. */
  pollMs?: number;
  maxBackfill?: number;
}

export interface SubtensorEpochFeedStatus {
  url: string;
  connected: boolean;
  /** The chain's best block as last seen, or null before the first. */
  head: number | null;
  lastError: string | null;
}

/**
 * The epochs of one subnet, observed over a (re)connecting node, delivered one at a time in chain
 * order (the node's chain follower records each before the next; `start` resumes after the last
 * epoch its log holds). Transient failures are retried at the next poll and shown in `status`.
 */
export interface SubtensorEpochFeed {
  start(afterBlock: number | null, deliver: (observation: EpochObservationWithOwner) => Promise<void>): void;
  stop(): Promise<void>;
  status(): SubtensorEpochFeedStatus;
}

/** An EpochReader over whatever API the connection holds now; unreachable while it holds none. */
export function connectionEpochReader(connection: SubtensorConnection): EpochReader {
  let cached: { api: ApiPromise; reader: EpochReader } | null = null;
  const reader = (): EpochReader => {
    const api = connection.current();
    if (!api) throw new SubtensorError("CHAIN_UNREACHABLE", `not connected to ${connection.url}`);
    if (cached?.api !== api) cached = { api, reader: apiEpochReader(api) };
    return cached.reader;
  };
  return {
    finalizedHead: async () => reader().finalizedHead(),
    lastStepBlock: async (netuid, block) => reader().lastStepBlock(netuid, block),
    epochAt: async (netuid, block) => reader().epochAt(netuid, block),
  };
}

export function subtensorEpochFeed(options: SubtensorEpochFeedOptions): SubtensorEpochFeed {
  let loop: ObserverLoop | null = null;
  let observerError: string | null = null;
  return {
    start(afterBlock, deliver) {
      if (loop) throw new Error("the epoch feed is already started");
      const observer = new EpochObserver({
        netuid: options.netuid,
        reader: connectionEpochReader(options.connection),
        archive: options.archive ? connectionEpochReader(options.archive) : undefined,
        after: afterBlock,
        maxBackfill: options.maxBackfill,
      });
      loop = observer.start({
        intervalMs: options.pollMs ?? 12_000,
        onObservation: deliver,
        onChecked: (head) => {
          observerError = null;
          options.connection.markObserved(head.number);
        },
        onError: (error) => {
          observerError = errorMessage(error);
        },
      });
    },
    async stop() {
      await loop?.stop();
      loop = null;
    },
    status() {
      const c = options.connection.status();
      // connected: what failed in the last poll (cleared by a good one); else why not connected
      const lastError = c.connected ? observerError : (c.lastError ?? observerError);
      return { url: c.url, connected: c.connected, head: c.headBlock, lastError };
    },
  };
}
