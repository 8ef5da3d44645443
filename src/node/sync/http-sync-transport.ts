import type { KeyringPair } from "@polkadot/keyring/types";
import { epistulaHeaders } from "../../epistula/epistula.ts";
import type { SyncBatch } from "./sync-stream.ts";
import type { PeerHead, PushAnswer, SyncTransport } from "./sync-transport.ts";

/** A peer that answered with an error, or not as the protocol says. */
export class PeerError extends Error {
  override readonly name = "PeerError";
}

/**
 * Sync over HTTP (API.md "Sync between validators"). Pushes are signed afresh on every attempt
 * (Epistula's window applies to the transport, never to the age of the facts it carries).
 */
export class HttpSyncTransport implements SyncTransport {
  constructor(
    readonly key: KeyringPair,
    readonly timeoutMs = 10_000,
  ) {}

  async head(peer: string): Promise<PeerHead> {
    return (await this.#json(peer, "GET", "/v1/sync/head")) as PeerHead;
  }

  async pull(peer: string, after: number, limit: number): Promise<SyncBatch | null> {
    const answer = (await this.#json(peer, "GET", `/v1/sync/events?after=${after}&limit=${limit}`)) as { events: SyncBatch["events"]; head: SyncBatch["head"] | null };
    return answer.events.length > 0 && answer.head?.signature ? (answer as SyncBatch) : null;
  }

  async push(peer: string, batch: SyncBatch): Promise<PushAnswer> {
    return (await this.#json(peer, "POST", "/v1/sync/events", JSON.stringify(batch))) as PushAnswer;
  }

  async #json(peer: string, method: "GET" | "POST", path: string, body?: string): Promise<unknown> {
    const headers: Record<string, string> = body === undefined ? {} : { "content-type": "application/json", ...epistulaHeaders(this.key, body) };
    let response: Response;
    try {
      response = await fetch(`${peer.replace(/\/+$/, "")}${path}`, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      throw new PeerError(cause ?? (error as Error).message);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new PeerError(`HTTP ${response.status} without JSON`);
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } }).error;
      throw new PeerError(`HTTP ${response.status} ${error?.code ?? ""}: ${error?.message ?? ""}`.trim());
    }
    return parsed;
  }
}
