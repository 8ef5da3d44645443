import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  addressKey,
  connectionLimitsFromEnv,
  ConnectionLimits,
  CONNECTIONS_CHECK_MS,
  defaultMaxConnections,
  FIRST_REQUEST_MS,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  LOOPBACK_RESERVE,
  MAX_CONNECTIONS,
  MAX_CONNECTIONS_PER_ADDRESS,
  openFilesLimit,
  REQUEST_TIMEOUT_MS,
} from "./connection-limits.ts";
import { buildServer } from "./server.ts";

describe("addressKey", () => {
  it("counts IPv4 by address, IPv4-mapped IPv6 as its IPv4, IPv6 by its /64", () => {
    expect(addressKey("203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey("2001:db8:aa:bb:1:2:3:4")).toBe("2001:db8:aa:bb::/64");
    expect(addressKey("2001:db8:aa:bb::9")).toBe("2001:db8:aa:bb::/64");
    expect(addressKey("2001:0db8:00aa:00bb:ffff::")).toBe("2001:db8:aa:bb::/64");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey(undefined)).toBeNull();
    expect(addressKey("")).toBeNull();
  });
});

describe("the caps' defaults", () => {
  it("reads the open-files limit of /proc/self/limits", () => {
    const text = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n";
    expect(openFilesLimit(text)).toBe(20_000);
    expect(openFilesLimit(text.replace("20000                20000", "unlimited            unlimited"))).toBeNull();
    expect(openFilesLimit("nothing here")).toBeNull();
  });

  it("keeps a quarter of the open files for the rest of the node", () => {
    expect(defaultMaxConnections(20_000)).toBe(MAX_CONNECTIONS);
    expect(defaultMaxConnections(1_024)).toBe(768);
    expect(defaultMaxConnections(null)).toBe(MAX_CONNECTIONS);
    expect(MAX_CONNECTIONS).toBe(10_000);
    expect(MAX_CONNECTIONS_PER_ADDRESS).toBe(512);
    expect(LOOPBACK_RESERVE).toBe(64);
  });

  it("takes positive integers from the environment and refuses anything else", () => {
    expect(connectionLimitsFromEnv({})).toEqual({ maxConnections: undefined, maxPerAddress: undefined });
    expect(connectionLimitsFromEnv({ PROPNET_MAX_CONNECTIONS: "2000", PROPNET_MAX_CONNECTIONS_PER_ADDRESS: "64" })).toEqual({
      maxConnections: 2_000,
      maxPerAddress: 64,
    });
    for (const bad of ["0", "-1", "1e3", "12.5", "lots", " 5"]) {
      expect(() => connectionLimitsFromEnv({ PROPNET_MAX_CONNECTIONS_PER_ADDRESS: bad })).toThrow(/PROPNET_MAX_CONNECTIONS_PER_ADDRESS must be a positive integer/);
    }
  });

  it("sets the server's timeouts: headers within 9 s, the whole request within 11 s, idle keep-alive 72 s", async () => {
    const app = buildServer({ node: () => null, startupStatus: () => "starting", version: "test" });
    expect(app.server.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
    expect(app.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
    expect(app.server.keepAliveTimeout).toBe(KEEP_ALIVE_TIMEOUT_MS);
    expect(HEADERS_TIMEOUT_MS + CONNECTIONS_CHECK_MS).toBeLessThanOrEqual(9_000);
    expect(REQUEST_TIMEOUT_MS + CONNECTIONS_CHECK_MS).toBeLessThanOrEqual(11_000);
    expect(FIRST_REQUEST_MS).toBe(10_000);
    expect(KEEP_ALIVE_TIMEOUT_MS).toBe(72_000);
    await app.close();
  });
});

describe("ConnectionLimits.admit", () => {
  it("refuses past the per-address cap, and admits again once one closes", () => {
    const limits = new ConnectionLimits({ maxConnections: 100, maxPerAddress: 2 });
    expect(limits.admit("203.0.113.1")).toBeNull();
    expect(limits.admit("203.0.113.1")).toBeNull();
    expect(limits.admit("203.0.113.1")).toBe("per_address");
    expect(limits.admit("203.0.113.2")).toBeNull();
    expect(limits.open).toBe(3);
    limits.release("203.0.113.1");
    expect(limits.admit("203.0.113.1")).toBeNull();
    expect(limits.refused).toEqual({ total: 0, per_address: 1 });
  });

  it("refuses remote addresses past the total, and loopback past the total and its small reserve", () => {
    const limits = new ConnectionLimits({ maxConnections: 3, maxPerAddress: 2, loopbackReserve: 3 });
    for (const a of ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) expect(limits.admit(a)).toBeNull();
    expect(limits.admit("203.0.113.4")).toBe("total");
    expect(limits.admit("2001:db8:0:0::/64")).toBe("total");
    // The operator's probes on the machine itself get in, up to the reserve.
    expect(limits.admit("127.0.0.1")).toBeNull();
    expect(limits.admit("127.0.0.1")).toBeNull();
    expect(limits.admit("127.0.0.1")).toBe("per_address");
    expect(limits.admit("0:0:0:0::/64")).toBeNull();
    expect(limits.admit("127.0.0.2")).toBe("total");
    expect(limits.open).toBe(6);
    expect(limits.refused).toEqual({ total: 3, per_address: 1 });
    for (const a of ["127.0.0.1", "127.0.0.1", "0:0:0:0::/64", "203.0.113.1", "203.0.113.2", "203.0.113.3"]) limits.release(a);
    expect(limits.open).toBe(0);
    expect(limits.addresses).toBe(0);
    // Releasing what was never admitted changes nothing.
    limits.release("198.51.100.1");
    expect(limits.open).toBe(0);
  });

  it("refuses caps that are not positive integers", () => {
    expect(() => new ConnectionLimits({ maxConnections: 0 })).toThrow(RangeError);
    expect(() => new ConnectionLimits({ maxPerAddress: 1.5 })).toThrow(RangeError);
  });
});

// ---- wired to a real server on loopback addresses ----------------------------------------------

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

async function serve(limits: ConnectionLimits, onClientError?: (e: Error & { code?: string }, s: Socket) => void): Promise<number> {
  const server = createServer((_req, res) => res.end("ok"));
  if (onClientError) server.on("clientError", onClientError);
  limits.install(server);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

/** A connection from `localAddress` that sends nothing; resolves with it once the server has it, or with how it ended. */
function idle(port: number, localAddress: string): { socket: Socket; ended: Promise<{ bytes: number; at: number }> } {
  const socket = connect({ port, host: "127.0.0.1", localAddress });
  sockets.push(socket);
  let bytes = 0;
  socket.on("data", (d: Buffer) => (bytes += d.length));
  socket.on("error", () => {});
  const ended = new Promise<{ bytes: number; at: number }>((resolve) => socket.once("close", () => resolve({ bytes, at: performance.now() })));
  return { socket, ended };
}

async function get(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress }, () => socket.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    let text = "";
    socket.setEncoding("utf8").on("data", (d: string) => (text += d));
    socket.on("error", reject);
    socket.on("close", () => resolve(text));
  });
}

async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("ConnectionLimits.install", () => {
  it("closes connections past an address's cap at once, without an answer, and counts them", async () => {
    const limits = new ConnectionLimits({ maxConnections: 100, maxPerAddress: 3 });
    const port = await serve(limits);
    const held = [1, 2, 3].map(() => idle(port, "127.0.0.5"));
    await until(() => limits.openFrom("127.0.0.5") === 3);
    const start = performance.now();
    const over = [idle(port, "127.0.0.5"), idle(port, "127.0.0.5")];
    const ended = await Promise.all(over.map((o) => o.ended));
    for (const e of ended) {
      expect(e.bytes).toBe(0);
      expect(e.at - start).toBeLessThan(1_000);
    }
    expect(limits.refused.per_address).toBe(2);
    // Another loopback address counts on its own: the operator's probe answers.
    expect(await get(port, "127.0.0.2")).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*ok$/);
    // The held ones are still open, and their places come back when they close.
    expect(limits.openFrom("127.0.0.5")).toBe(3);
    for (const h of held) h.socket.destroy();
    await until(() => limits.open === 0);
    expect(await get(port, "127.0.0.5")).toMatch(/^HTTP\/1\.1 200 OK/);
    await until(() => limits.open === 0);
    expect(limits.addresses).toBe(0);
  });

  it("lets a loopback probe into a full server, within the reserve, and refuses past it", async () => {
    const limits = new ConnectionLimits({ maxConnections: 2, maxPerAddress: 2, loopbackReserve: 2 });
    const port = await serve(limits);
    for (const a of ["127.0.0.7", "127.0.0.7", "127.0.0.8"]) idle(port, a);
    await until(() => limits.open === 3);
    expect(await get(port, "127.0.0.2")).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(limits.refused.total).toBe(0);
    idle(port, "127.0.0.8");
    await until(() => limits.open === 4);
    const refused = await idle(port, "127.0.0.3").ended;
    expect(refused.bytes).toBe(0);
    expect(limits.refused.total).toBe(1);
  });
});

describe("the first request's deadline", () => {
  it("closes a connection that has not sent a whole request head in time, even one trickling bytes", async () => {
    const errors: string[] = [];
    const limits = new ConnectionLimits({ firstRequestMs: 300 });
    // Node's own headers timeout is 60 s here: only the deadline can close these.
    const port = await serve(limits, (error, socket) => {
      errors.push(error.code ?? "");
      socket.end("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n");
    });
    const start = performance.now();
    const quiet = idle(port, "127.0.0.9");
    const trickling = idle(port, "127.0.0.9");
    trickling.socket.write("GET / HTTP/1.1\r\nHost: x\r\n");
    const timer = setInterval(() => trickling.socket.write("X-Slow: 1\r\n"), 50);
    const ended = await Promise.all([quiet.ended, trickling.ended]);
    clearInterval(timer);
    for (const e of ended) {
      expect(e.at - start).toBeGreaterThanOrEqual(290);
      expect(e.at - start).toBeLessThan(1_500);
      expect(e.bytes).toBeGreaterThan(0);
    }
    expect(errors).toEqual(["ERR_HTTP_REQUEST_TIMEOUT", "ERR_HTTP_REQUEST_TIMEOUT"]);
    await until(() => limits.open === 0);
  });

  it("leaves alone a connection whose first request arrived: it stays open for the next one", async () => {
    const limits = new ConnectionLimits({ firstRequestMs: 200 });
    const port = await serve(limits);
    const { socket, ended } = idle(port, "127.0.0.10");
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => text.endsWith("ok"));
    await new Promise((r) => setTimeout(r, 500));
    expect(socket.destroyed).toBe(false);
    socket.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    await ended;
    expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
  });
});

describe("closing the server", () => {
  it("does not wait for connections that never sent a whole request", async () => {
    const app = buildServer({ node: () => null, startupStatus: () => "starting", version: "test" });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const port = (app.server.address() as { port: number }).port;
    const quiet = idle(port, "127.0.0.11");
    const partial = idle(port, "127.0.0.11");
    partial.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    // A served connection, kept alive: fastify's close ends it as idle.
    const served = idle(port, "127.0.0.12");
    let text = "";
    served.socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
    served.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    await until(() => text.includes("\r\n\r\n{"));
    const start = performance.now();
    await app.close();
    expect(performance.now() - start).toBeLessThan(1_000);
    await Promise.all([quiet.ended, partial.ended, served.ended]);
  });
});
