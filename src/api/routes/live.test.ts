// GET /v1/live over real HTTP: a devnet node, a stream read as the browser reads it; new blocks
// arrive as `head` and `chain-events` frames carrying what the GET routes answer; the number of
// streams is bounded (503 past it, so the dashboard polls); a quiet stream gets heartbeats.
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installErrorEnvelope } from "../error-envelope.ts";
import { type DevnetApi, startDevnetApi } from "../../../test/support/devnet-api.ts";
import { api, devSigners, listen, type Signer } from "../../../test/support/http.ts";
import { liveRoutes, sseFrame } from "./live.ts";

let devnet: DevnetApi;
let keys: Record<"Alice" | "Bob", Signer>;

beforeAll(async () => {
  keys = await devSigners(["Alice", "Bob"] as const);
  devnet = await startDevnetApi({
    root: keys.Alice.address,
    prefix: "live",
    genesis: [{ owner: keys.Bob.address, amount_rao: 1_000_000_000_000n }],
    chainGenesis: { root: keys.Alice.address, subnets: [{ netuid: 1, ownerHotkey: keys.Alice.address, ownerColdkey: keys.Alice.address }] },
  });
});

afterAll(async () => {
  await devnet?.close();
});

/** An open stream: frames parsed as they come (`event` and JSON `data`), comments counted. */
async function open(url: string) {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal, headers: { accept: "text/event-stream" } });
  const frames: Array<{ event: string; data: unknown }> = [];
  let comments = 0;
  if (res.ok && res.body) {
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      let buffer = "";
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (block.startsWith(":")) comments++;
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) frames.push({ event, data: JSON.parse(data) });
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return { res, frames, comments: () => comments, close: () => controller.abort() };
}

describe("GET /v1/live", () => {
  it("streams new blocks as head and chain-events frames, with the bodies the GET routes answer", async () => {
    const stream = await open(`${devnet.base}/v1/live`);
    try {
      expect(stream.res.status).toBe(200);
      expect(stream.res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      expect(stream.res.headers.get("cache-control")).toBe("no-cache");
      await expect.poll(() => stream.frames.map((f) => f.event)).toContain("hello");
      const { post, get } = api(() => devnet.base);
      const sent = await post("/v1/chain/extrinsics", keys.Bob, { call: "balances.transfer", args: { dest: keys.Alice.address, amount_rao: "5000000000" } });
      expect(sent.status, sent.text).toBe(200);
      await expect.poll(() => stream.frames.some((f) => f.event === "chain-events"), { timeout: 5_000 }).toBe(true);
      const events = stream.frames.find((f) => f.event === "chain-events")?.data as { events: Array<{ block: number; type: string; data: Record<string, unknown> }> };
      expect(events.events).toContainEqual({ block: sent.json.included_in_block, type: "Transfer", data: { from: keys.Bob.address, to: keys.Alice.address, amount: "5000000000" } });
      await expect.poll(() => stream.frames.some((f) => f.event === "head"), { timeout: 5_000 }).toBe(true);
      const head = stream.frames.filter((f) => f.event === "head").at(-1)?.data;
      expect(head).toEqual((await get("/v1/chain/head")).json);
      expect(stream.frames.some((f) => f.event === "commit")).toBe(true);
    } finally {
      stream.close();
    }
  });

  it("serves at most maxClients streams (503 UNAVAILABLE past it) and sends heartbeats to a quiet one", async () => {
    const app = Fastify();
    installErrorEnvelope(app);
    await app.register(liveRoutes, { ctx: { node: () => devnet.node, startupStatus: () => "", version: "test" }, maxClients: 1, heartbeatMs: 50 });
    const base = await listen(app);
    const first = await open(`${base}/v1/live`);
    try {
      expect(first.res.status).toBe(200);
      const second = await fetch(`${base}/v1/live`);
      expect(second.status).toBe(503);
      expect(((await second.json()) as { error: { code: string } }).error.code).toBe("UNAVAILABLE");
      await expect.poll(() => first.comments(), { timeout: 2_000 }).toBeGreaterThanOrEqual(2);
      first.close();
      // Its place is free again once it closed.
      await expect.poll(async () => {
        const again = await open(`${base}/v1/live`);
        again.close();
        return again.res.status;
      }).toBe(200);
    } finally {
      first.close();
      await app.close();
    }
  });

  it("refuses a stream before the node is ready", async () => {
    const app = Fastify();
    installErrorEnvelope(app);
    await app.register(liveRoutes, { ctx: { node: () => null, startupStatus: () => "replaying", version: "test" } });
    const res = await app.inject({ url: "/v1/live" });
    expect(res.statusCode).toBe(503);
    await app.close();
  });

  it("frames one JSON value on one data line", () => {
    expect(sseFrame("head", { block: 1, note: "a\nb" })).toBe('event: head\ndata: {"block":1,"note":"a\\nb"}\n\n');
  });
});
