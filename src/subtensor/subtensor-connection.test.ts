import { afterEach, describe, expect, it, vi } from "vitest";
import { PlannedProvider, recordedMetadataV15, SUBTENSOR_GENESIS_HASH } from "../../test/support/subtensor-replay.ts";
import { connectSubtensor, type SubtensorConnection } from "./subtensor-connection.ts";
import { SubtensorError } from "./subtensor-error.ts";

const METADATA = { [`${SUBTENSOR_GENESIS_HASH}-343`]: recordedMetadataV15() };

describe("the Subtensor connection", () => {
  let connection: SubtensorConnection | null = null;

  afterEach(async () => {
    await connection?.close();
    connection = null;
    vi.useRealTimers();
  });

  it("retries with exponential backoff until it connects, and again after a drop or a hung attempt", async () => {
    vi.useFakeTimers({ now: 0 });
    const provider = new PlannedProvider(["refuse", "refuse", "refuse", "accept", "hang", "throw", "accept"]);
    connection = connectSubtensor("wss://node.example:443", {
      createProvider: () => provider,
      metadata: METADATA,
      random: () => 0.5, // the midpoint: no jitter, so the schedule is exact
      connectTimeoutMs: 10_000,
      headPollMs: 6_000,
    });
    const c = connection;
    await vi.advanceTimersByTimeAsync(0);
    expect(c.status()).toMatchObject({ connected: false, failedAttempts: 1, nextRetryAtMs: 1_000, lastError: "connect ECONNREFUSED 127.0.0.1:9944" });
    expect(c.current()).toBeNull();

    await vi.advanceTimersByTimeAsync(7_000);
    await vi.waitFor(() => expect(c.status().connected).toBe(true), { timeout: 5_000 });
    expect(provider.attemptsAt).toEqual([0, 1_000, 3_000, 7_000]);
    expect(c.status()).toMatchObject({ failedAttempts: 0, reconnects: 0, nextRetryAtMs: null, headBlock: 6_852_690 });
    expect(c.current()).not.toBeNull();
    await expect(c.ready(1)).resolves.toBe(c.current());

    // The node goes away: the backoff starts over from one second.
    vi.setSystemTime(10_000);
    provider.drop();
    expect(c.status()).toMatchObject({ connected: false, failedAttempts: 1, nextRetryAtMs: 11_000, headBlock: 6_852_690 });
    await vi.advanceTimersByTimeAsync(1_000); // attempt at 11,000 hangs
    await vi.advanceTimersByTimeAsync(10_000); // abandoned at 21,000; next in 2 s
    expect(c.status()).toMatchObject({ connected: false, failedAttempts: 2, nextRetryAtMs: 23_000, lastError: "no connection within 10000 ms" });
    await vi.advanceTimersByTimeAsync(2_000); // attempt at 23,000 fails at once; next in 4 s
    expect(c.status()).toMatchObject({ failedAttempts: 3, nextRetryAtMs: 27_000, lastError: "WebSocket is already connected" });
    await vi.advanceTimersByTimeAsync(4_000);
    await vi.waitFor(() => expect(c.status().connected).toBe(true), { timeout: 5_000 });
    expect(provider.attemptsAt).toEqual([0, 1_000, 3_000, 7_000, 11_000, 23_000, 27_000]);
    expect(c.status()).toMatchObject({ failedAttempts: 0, reconnects: 1 });
  });

  it("reports the lag between the chain head and what the node has observed", async () => {
    const provider = new PlannedProvider(["accept"]);
    connection = connectSubtensor("ws://node", { createProvider: () => provider, metadata: METADATA });
    await connection.ready(5_000);
    await vi.waitFor(() => expect(connection?.status().headBlock).toBe(6_852_690));
    expect(connection.status().lagBlocks).toBeNull();
    connection.markObserved(6_852_600);
    expect(connection.status().lagBlocks).toBe(90);
  });

  it("stops for good when closed", async () => {
    vi.useFakeTimers({ now: 0 });
    const provider = new PlannedProvider(["refuse", "refuse", "refuse"]);
    connection = connectSubtensor("ws://node", { createProvider: () => provider, metadata: METADATA, random: () => 0.5 });
    await vi.advanceTimersByTimeAsync(0);
    await connection.close();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(provider.attemptsAt).toEqual([0]);
    expect(connection.status()).toMatchObject({ connected: false, nextRetryAtMs: null });
  });

  it("an unreachable node: ready() fails with the reason, and nothing is thrown into the event loop", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    process.on("uncaughtException", onUnhandled);
    try {
      const started = Date.now();
      connection = connectSubtensor("ws://127.0.0.1:1", { backoff: { initialMs: 50, maxMs: 200 } });
      const error = await connection.ready(1_500).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SubtensorError);
      expect((error as SubtensorError).code).toBe("CHAIN_UNREACHABLE");
      expect((error as Error).message).toMatch(/ws:\/\/127\.0\.0\.1:1.*(ECONNREFUSED|closed|error)/i);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(connection.status()).toMatchObject({ connected: false, headBlock: null });
      expect(connection.status().failedAttempts).toBeGreaterThanOrEqual(2);
      await new Promise((r) => setTimeout(r, 300));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      process.off("uncaughtException", onUnhandled);
    }
  });

  it("a one-off caller can have it give up after a few attempts instead of waiting out its timeout", async () => {
    vi.useFakeTimers({ now: 0 });
    const provider = new PlannedProvider(["refuse", "refuse", "accept"]);
    connection = connectSubtensor("ws://node", { createProvider: () => provider, metadata: METADATA, random: () => 0.5, maxAttempts: 2 });
    const outcome = connection.ready(60_000).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(SubtensorError);
    expect((error as Error).message).toBe("cannot reach the chain at ws://node: connect ECONNREFUSED 127.0.0.1:9944");
    await vi.advanceTimersByTimeAsync(600_000);
    expect(provider.attemptsAt).toEqual([0, 1_000]);
    await expect(connection.ready(1)).rejects.toThrow(/cannot reach/);
  });

  it("refuses a URL that is not a WebSocket URL, up front", () => {
    expect(() => connectSubtensor("http://node:9944")).toThrow(/ws:\/\/ or wss:\/\//);
  });
});
