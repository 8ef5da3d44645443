import type { SyncBatchOutcome } from "../../core/sync/sync-commands.ts";
import type { SyncBatch } from "./sync-stream.ts";

/** What a peer says of its stream. */
export interface PeerHead {
  stream_seq: number;
  hash: string;
  /** The mothership the peer follows (or is). */
  mothership: string | null;
  /** The peer's own hotkey. */
  hotkey: string | null;
}

/** What a node answers a pushed batch with (API.md): what the batch came to, and where its stream is after it. */
export interface PushAnswer extends SyncBatchOutcome {
  refused: number;
  stream_seq: number;
}

/**
 * How a node reaches its peers: HTTP between real processes (http-sync-transport.ts), a virtual
 * network in the protocol simulation. Every call may fail (reject) or never answer in time.
 */
export interface SyncTransport {
  head(peer: string): Promise<PeerHead>;
  pull(peer: string, after: number, limit: number): Promise<SyncBatch | null>;
  push(peer: string, batch: SyncBatch): Promise<PushAnswer>;
}

/** Time and chance for the agent: the real ones in a node, virtual ones in the simulation. */
export interface SyncScheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** In [0, 1): backoff jitter. */
  random(): number;
}

export const REAL_SCHEDULER: SyncScheduler = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  random: Math.random,
};
