import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { isIPv6, type Socket } from "node:net";

/**
 * Caps on open HTTP connections, total and per remote address, enforced when a connection is
 * accepted: a socket over a cap is destroyed before the HTTP server sees it (no parser, no timers),
 * so a flood of idle connections costs an accept and a close each, and the node never runs out of
 * file descriptors for its store, snapshots and signature threads. Connections that do get in are
 * dropped by the timeouts below if they never finish a request.
 */

/**
 * A request's headers must arrive within this long of its first byte (a new connection that sends
 * nothing: of its accept). A real client sends them in one packet; a slow-loris client trickling
 * bytes or an idle connection is answered ("the request did not arrive in time") and closed.
 * Node checks every CONNECTIONS_CHECK_MS, so such a connection is gone within 9 s.
 */
export const HEADERS_TIMEOUT_MS = 8_000;
/**
 * The whole request, body included, must arrive within this long: a 64 KiB body needs only about
 * 52 kbit/s. It does not limit the handler: a request fully received may wait for its block.
 */
export const REQUEST_TIMEOUT_MS = 10_000;
/**
 * An idle keep-alive connection is closed after this long (fastify's default). Longer than the
 * 60 s idle timeout of common proxies and load balancers and than most clients' own, so the client
 * side closes first: a server closing a socket the client is just reusing makes that request fail
 * with ECONNRESET (the soak saw it at 10 s, from clients that ignore the `Keep-Alive` hint). Only
 * a connection that completed a request gets this long, and the caps bound how many there are.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;
/** How often Node checks connections for the headers and request timeouts (its default is 30 s). */
export const CONNECTIONS_CHECK_MS = 1_000;
/**
 * A connection's first request head must be complete this long after it was accepted. Node counts
 * the headers timeout from a request's first byte, so a client idling 8 s before trickling its
 * headers would otherwise hold the connection 17 s; with this no client holds one past 10 s
 * without having sent a request. Later requests on a kept-alive connection: idle at most
 * KEEP_ALIVE_TIMEOUT_MS, then headers within HEADERS_TIMEOUT_MS.
 */
export const FIRST_REQUEST_MS = 10_000;

/**
 * Open connections at most (lowered to 3/4 of the open-files limit, leaving the rest for the
 * store, snapshots and threads).
 */
export const MAX_CONNECTIONS = 10_000;
/**
 * Loopback connections admitted past MAX_CONNECTIONS: the operator's own probes (`curl
 * 127.0.0.1:8091/healthz`, a supervisor's liveness check) get in while remote clients fill the
 * total. Small, so that even a local client cannot take the node's last descriptors.
 */
export const LOOPBACK_RESERVE = 64;
/**
 * Open connections per remote address at most (per /64 for IPv6: one host holds a whole /64).
 * The order benchmark holds 320 keep-alive connections from one address; a browser holds 6.
 */
export const MAX_CONNECTIONS_PER_ADDRESS = 512;

export interface ConnectionLimitOptions {
  /** Open connections at most; loopback addresses may use LOOPBACK_RESERVE more. */
  maxConnections?: number;
  maxPerAddress?: number;
  /** LOOPBACK_RESERVE unless given (tests). */
  loopbackReserve?: number;
  /** FIRST_REQUEST_MS unless given (tests). */
  firstRequestMs?: number;
}

/** What a connection was refused for. */
export type RefusalReason = "total" | "per_address";

/**
 * The soft limit on open files of this process (Linux `/proc/self/limits`; Node raises the soft
 * limit to the hard one at start), or null where it cannot be read.
 */
export function openFilesLimit(limitsText?: string): number | null {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/limits", "utf8");
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!m || m[1] === "unlimited") return null;
  return Number(m[1]);
}

/** The default total cap given the open-files limit: MAX_CONNECTIONS, or 3/4 of the limit if lower. */
export function defaultMaxConnections(filesLimit: number | null = openFilesLimit()): number {
  if (filesLimit === null) return MAX_CONNECTIONS;
  return Math.max(1, Math.min(MAX_CONNECTIONS, Math.floor(filesLimit * 0.75)));
}

/**
 * The caps from the environment: `PROPNET_MAX_CONNECTIONS` and `PROPNET_MAX_CONNECTIONS_PER_ADDRESS`
 * (positive integers; behind a reverse proxy on the same machine every client shares the proxy's
 * address, so raise the per-address cap there). Throws RangeError on a value that is not one.
 */
export function connectionLimitsFromEnv(env: NodeJS.ProcessEnv): ConnectionLimitOptions {
  const read = (name: string): number | undefined => {
    const text = env[name];
    if (text === undefined || text === "") return undefined;
    if (!/^[1-9]\d{0,8}$/.test(text)) throw new RangeError(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
    return Number(text);
  };
  return { maxConnections: read("PROPNET_MAX_CONNECTIONS"), maxPerAddress: read("PROPNET_MAX_CONNECTIONS_PER_ADDRESS") };
}

/**
 * What connections from `remote` are counted under: the IPv4 address (also when IPv4-mapped),
 * the /64 of an IPv6 address; null when the socket has no peer any more.
 */
export function addressKey(remote: string | undefined): string | null {
  if (remote === undefined || remote === "") return null;
  if (remote.startsWith("::ffff:") && remote.includes(".")) return remote.slice(7);
  if (!isIPv6(remote)) return remote;
  const zone = remote.indexOf("%");
  const bare = zone >= 0 ? remote.slice(0, zone) : remote;
  const [head = "", tail] = bare.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

function isLoopbackKey(key: string): boolean {
  // ::1 counts under 0:0:0:0::/64, which holds no other address a remote client could have.
  return key.startsWith("127.") || key === "0:0:0:0::/64";
}

/** The counts and the admission rule; `install` wires them to an HTTP server's accepted sockets. */
export class ConnectionLimits {
  readonly maxConnections: number;
  readonly maxPerAddress: number;
  readonly loopbackReserve: number;
  readonly firstRequestMs: number;
  #open = 0;
  readonly #perAddress = new Map<string, number>();
  readonly #refused: Record<RefusalReason, number> = { total: 0, per_address: 0 };
  /** Admitted sockets that have not sent a whole request head yet, with their deadline. */
  readonly #awaitingFirst = new Map<Socket, NodeJS.Timeout>();
  #closing = false;

  constructor(options: ConnectionLimitOptions = {}) {
    this.maxConnections = options.maxConnections ?? defaultMaxConnections();
    this.maxPerAddress = options.maxPerAddress ?? MAX_CONNECTIONS_PER_ADDRESS;
    this.loopbackReserve = options.loopbackReserve ?? LOOPBACK_RESERVE;
    this.firstRequestMs = options.firstRequestMs ?? FIRST_REQUEST_MS;
    if (!(Number.isInteger(this.maxConnections) && this.maxConnections > 0)) throw new RangeError("maxConnections must be a positive integer");
    if (!(Number.isInteger(this.maxPerAddress) && this.maxPerAddress > 0)) throw new RangeError("maxPerAddress must be a positive integer");
    if (!(Number.isInteger(this.loopbackReserve) && this.loopbackReserve >= 0)) throw new RangeError("loopbackReserve must be a whole number");
    if (!(this.firstRequestMs > 0)) throw new RangeError("firstRequestMs must be positive");
  }

  /** Connections open now. */
  get open(): number {
    return this.#open;
  }

  /** Connections refused since start, by which cap refused them. */
  get refused(): Readonly<Record<RefusalReason, number>> {
    return this.#refused;
  }

  /** Addresses holding at least one connection now. */
  get addresses(): number {
    return this.#perAddress.size;
  }

  /** Open connections counted under this address key. */
  openFrom(key: string): number {
    return this.#perAddress.get(key) ?? 0;
  }

  /** Counts a new connection from `key` and says yes, or says which cap refuses it (nothing counted). */
  admit(key: string): RefusalReason | null {
    const mine = this.#perAddress.get(key) ?? 0;
    if (mine >= this.maxPerAddress) return this.#refuse("per_address");
    if (this.#open >= this.maxConnections + (isLoopbackKey(key) ? this.loopbackReserve : 0)) return this.#refuse("total");
    this.#perAddress.set(key, mine + 1);
    this.#open++;
    return null;
  }

  /** A connection `admit` counted has closed. */
  release(key: string): void {
    const mine = this.#perAddress.get(key);
    if (mine === undefined) return;
    if (mine <= 1) this.#perAddress.delete(key);
    else this.#perAddress.set(key, mine - 1);
    this.#open--;
  }

  #refuse(reason: RefusalReason): RefusalReason {
    this.#refused[reason]++;
    return reason;
  }

  /**
   * Puts the caps in front of the HTTP server's own 'connection' listeners: a refused socket is
   * destroyed and never reaches them. An admitted one that has not sent a whole request head
   * within `firstRequestMs` is answered as Node answers a headers timeout ('clientError') and
   * closed. Call before the server listens, once.
   */
  install(server: Server): void {
    const listeners = server.listeners("connection") as Array<(this: Server, socket: Socket) => void>;
    server.removeAllListeners("connection");
    server.on("connection", (socket: Socket) => {
      const key = this.#closing ? null : addressKey(socket.remoteAddress);
      if (key === null || this.admit(key) !== null) {
        socket.destroy();
        return;
      }
      const deadline = setTimeout(() => firstRequestLate(server, socket), this.firstRequestMs).unref();
      this.#awaitingFirst.set(socket, deadline);
      socket.once("close", () => {
        clearTimeout(deadline);
        this.#awaitingFirst.delete(socket);
        this.release(key);
      });
      for (const listener of listeners) listener.call(server, socket);
    });
    // 'request' fires once a request's head is complete.
    server.prependListener("request", (request) => {
      const deadline = this.#awaitingFirst.get(request.socket);
      if (deadline === undefined) return;
      clearTimeout(deadline);
      this.#awaitingFirst.delete(request.socket);
    });
  }

  /**
   * For shutdown: refuses new connections and closes those that have not sent a whole request
   * yet (nothing of theirs is in flight). Node's own close waits for them otherwise, up to the
   * first-request deadline, while SIGTERM has 10 s for everything.
   */
  close(): void {
    this.#closing = true;
    for (const socket of this.#awaitingFirst.keys()) socket.destroy();
  }
}

function firstRequestLate(server: Server, socket: Socket): void {
  if (socket.destroyed) return;
  const error = Object.assign(new Error("the first request did not arrive in time"), { code: "ERR_HTTP_REQUEST_TIMEOUT" });
  if (!server.emit("clientError", error, socket)) socket.destroy();
}
