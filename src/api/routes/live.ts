import type { ServerResponse } from "node:http";
import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { DomainError } from "../../core/errors/errors.ts";
import type { PropnetNode } from "../../node/node.ts";
import { BLOCK_EVENT_TYPE, type ChainEvent, chainEventsOfPayload } from "../chain-events.ts";
import type { ApiContext } from "../server.ts";

/** Open streams at most; one more is refused (503) and the dashboard polls instead. */
export const MAX_LIVE_CLIENTS = 64;
/** How often the node's log head is looked at while someone listens (one look serves every client). */
export const LIVE_POLL_MS = 500;
/** A comment line this often keeps proxies and the browser from timing the stream out. */
export const LIVE_HEARTBEAT_MS = 15_000;
/** Log rows read per look at most: a burst of commits is sent over several looks, never all at once. */
const ROWS_PER_LOOK = 2_000;

export interface LiveOptions {
  ctx: ApiContext;
  maxClients?: number;
  pollMs?: number;
  heartbeatMs?: number;
}

/** One SSE frame: `event: <name>` and its JSON on one `data:` line (JSON has no raw newlines). */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** More than this waiting unsent for one client and the stream is dropped (it reconnects, or polls). */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * `GET /v1/live` (server-sent events): what the dashboard would otherwise poll for, pushed as it
 * commits. Frames: `commit { seq }` for every new log head, `head` (the body of GET
 * /v1/chain/head) and `prices` (GET /v1/prices) when they changed, `chain-events { events }` (the
 * ChainEvents of newly committed blocks, as GET /v1/chain/events shows them). One timer looks at
 * the log head for all clients and runs only while someone listens; a quiet node costs a
 * heartbeat comment per client every LIVE_HEARTBEAT_MS.
 */
export const liveRoutes: FastifyPluginAsync<LiveOptions> = async (app, options) => {
  const maxClients = options.maxClients ?? MAX_LIVE_CLIENTS;
  const pollMs = options.pollMs ?? LIVE_POLL_MS;
  const heartbeatMs = options.heartbeatMs ?? LIVE_HEARTBEAT_MS;
  const clients = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | null = null;
  let heartbeat: NodeJS.Timeout | null = null;
  let cursor = -1;
  let lastHead = "";
  let lastPrices = "";
  let busy = false;

  const broadcast = (frame: string) => {
    for (const res of clients) {
      // A client that stopped reading (a suspended tab, a zero window) would queue frames in memory forever.
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(frame);
    }
  };

  const stop = () => {
    if (timer) clearInterval(timer);
    if (heartbeat) clearInterval(heartbeat);
    timer = heartbeat = null;
  };

  /** The public answer of a GET route, so the stream carries exactly what the API serves. */
  const body = async (server: FastifyInstance, url: string): Promise<string | null> => {
    const res = await server.inject({ method: "GET", url });
    return res.statusCode === 200 ? res.body : null;
  };

  const look = async (node: PropnetNode) => {
    const seq = node.head.seq;
    if (seq === cursor) return;
    const events: ChainEvent[] = [];
    let at = cursor;
    const rows = await node.store.read(at, ROWS_PER_LOOK);
    for (const row of rows) {
      if (row.type === BLOCK_EVENT_TYPE) events.push(...chainEventsOfPayload(row.payload));
      at = row.seq;
    }
    cursor = at;
    broadcast(sseFrame("commit", { seq: cursor }));
    if (events.length > 0) broadcast(sseFrame("chain-events", { events }));
    const head = await body(app, "/v1/chain/head");
    if (head !== null && head !== lastHead) {
      lastHead = head;
      broadcast(`event: head\ndata: ${head}\n\n`);
    }
    const prices = await body(app, "/v1/prices");
    if (prices !== null && prices !== lastPrices) {
      lastPrices = prices;
      broadcast(`event: prices\ndata: ${prices}\n\n`);
    }
  };

  const start = () => {
    timer = setInterval(() => {
      const node = options.ctx.node();
      if (busy || node === null) return;
      busy = true;
      look(node)
        .catch(() => undefined)
        .finally(() => {
          busy = false;
        });
    }, pollMs);
    heartbeat = setInterval(() => broadcast(": heartbeat\n\n"), heartbeatMs);
  };

  app.addHook("preClose", async () => {
    stop();
    for (const res of clients) res.end();
    clients.clear();
  });

  app.get("/v1/live", { schema: { summary: "Server-sent events: commits, the chain head, prices and chain events as they commit", tags: ["chain"] } }, async (request, reply) => {
    const node = options.ctx.node();
    if (node === null) throw new DomainError("UNAVAILABLE", "the node is not ready yet");
    if (clients.size >= maxClients) throw new DomainError("UNAVAILABLE", `at most ${maxClients} live streams are served; poll the API instead`, { max_clients: maxClients });
    // The committed head (through the read barrier): a sealed batch may still fail to commit.
    const committed = await node.read((_, head) => head.seq);
    if (clients.size === 0) {
      // Only what commits from now on is news: a new listener has just read the rest.
      cursor = committed;
      lastHead = lastPrices = "";
    }
    const res = reply.raw;
    reply.hijack();
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "x-accel-buffering": "no",
      connection: "keep-alive",
    });
    // The client reconnects after this long if the stream breaks.
    res.write(`retry: 3000\n${sseFrame("hello", { seq: committed })}`);
    clients.add(res);
    if (timer === null) start();
    request.raw.on("close", () => {
      clients.delete(res);
      if (clients.size === 0) stop();
    });
  });
};
