// API.md "Conventions": every 4xx and 5xx carries `{ error: { code, message, details } }`, including
// what the HTTP framework (or Node's HTTP parser) refuses before any route runs. Every route of the
// OpenAPI document is requested with a badly percent-encoded parameter and an over-long one, with
// each of its methods; odd requests (a 16 KB query string, unknown or header-less methods, huge
// headers) go over a raw socket, since fetch would refuse to send some of them.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_TABLE } from "../../src/core/errors/errors.ts";
import { BlockProducer } from "../../src/node/block-producer.ts";
import type { PropnetNode } from "../../src/node/node.ts";
import { type Answer, api, devSigners, epistula, listen, STACK_LINE, type Signer } from "../support/http.ts";
import { buildServer } from "../../src/api/server.ts";
import { type DevnetApi, startDevnetApi } from "../support/devnet-api.ts";

let devnet: DevnetApi;
let node: PropnetNode;
let base: string;
let alice: Signer;

beforeAll(async () => {
  ({ Alice: alice } = await devSigners(["Alice"] as const));
  devnet = await startDevnetApi({
    prefix: "envelope",
    root: alice.address,
    genesis: [{ owner: alice.address, amount_rao: 1_000_000_000_000n }],
    chainGenesis: { root: alice.address, subnets: [{ netuid: 1, ownerHotkey: alice.address, ownerColdkey: alice.address }] },
  });
  ({ node, base } = devnet);
});

afterAll(async () => {
  await devnet?.close();
});

const { request } = api(() => base);

/** The envelope, exactly: one `error` with a tabled code (whose status this is), a message, an object of details. */
function expectEnvelope(status: number, text: string, what: string): void {
  const label = `${what}: ${status} ${text.slice(0, 300)}`;
  expect(status, label).toBeGreaterThanOrEqual(400);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  expect(body, label).toBeTypeOf("object");
  const b = body as { error?: { code?: unknown; message?: unknown; details?: unknown } };
  expect(Object.keys(b), label).toEqual(["error"]);
  expect(Object.keys(b.error ?? {}).sort(), label).toEqual(["code", "details", "message"]);
  const code = b.error?.code;
  expect(typeof code === "string" && Object.hasOwn(ERROR_TABLE, code), label).toBe(true);
  expect(ERROR_TABLE[code as keyof typeof ERROR_TABLE], label).toBe(status);
  expect(typeof b.error?.message, label).toBe("string");
  expect(b.error?.details !== null && typeof b.error?.details === "object" && !Array.isArray(b.error?.details), label).toBe(true);
  expect(text, label).not.toMatch(STACK_LINE);
  expect(text, label).not.toMatch(/FST_|\/src\/|node_modules/);
}

function expectCode(a: Answer | Raw, status: number, code: string, what: string): void {
  expectEnvelope(a.status, a.text, what);
  expect(a.status, what).toBe(status);
  expect(JSON.parse(a.text).error.code, what).toBe(code);
}

interface Raw {
  status: number;
  text: string;
}

/** Writes these exact bytes to the server and reads one answer (to its Content-Length, or until the socket ends). */
function raw(bytes: string): Promise<Raw> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      // A kept-alive answer ends at its Content-Length, not at the socket's end.
      const all = Buffer.concat(chunks);
      const split = all.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: *(\d+)/i.exec(all.subarray(0, Math.max(0, split)).toString("latin1"))?.[1];
      if (split >= 0 && length !== undefined && all.length >= split + 4 + Number(length)) socket.destroy();
    });
    socket.on("error", (e) => (chunks.length > 0 ? undefined : reject(e)));
    socket.on("close", () => {
      const all = Buffer.concat(chunks).toString("utf8");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(all)?.[1] ?? 0);
      const split = all.indexOf("\r\n\r\n");
      const head = split < 0 ? all : all.slice(0, split);
      const body = split < 0 ? "" : all.slice(split + 4);
      resolve({ status, text: /\r\ntransfer-encoding: chunked/i.test(head) ? dechunk(body) : body });
    });
    socket.setTimeout(10_000, () => socket.destroy());
    socket.write(bytes);
  });
}

describe("every route of the OpenAPI document, mutated", () => {
  it("a badly percent-encoded parameter is 400 VALIDATION_FAILED, an over-long one 414 URI_TOO_LONG, in the envelope, for every method", async () => {
    const doc = await request("GET", "/openapi.json");
    expect(doc.status).toBe(200);
    const paths = doc.json.paths as Record<string, Record<string, unknown>>;
    const parametric = Object.keys(paths).filter((p) => p.includes("{"));
    // The API has parametric routes for entities, subaccounts and subnets; a document without them is broken.
    expect(parametric.length).toBeGreaterThanOrEqual(8);
    let checked = 0;
    for (const path of parametric) {
      const methods = Object.keys(paths[path] ?? {}).filter((m) => ["get", "post", "put", "patch", "delete"].includes(m));
      expect(methods.length, path).toBeGreaterThan(0);
      const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
      for (const method of methods) {
        for (const param of params) {
          const valid = (p: string) => (p === "netuid" ? "1" : p === "synthetic" ? `${alice.address}_0` : alice.address);
          const url = (bad: string) => path.replace(/\{([^}]+)\}/g, (_, p: string) => (p === param ? bad : valid(p)));
          const init = method === "get" ? {} : { body: "{}" };
          const what = (kind: string) => `${method.toUpperCase()} ${path} with a ${kind} {${param}}`;
          expectCode(await request(method.toUpperCase(), url("%zz"), init), 400, "VALIDATION_FAILED", what("badly encoded"));
          expectCode(await request(method.toUpperCase(), url(`a${"%zz".repeat(3)}`), init), 400, "VALIDATION_FAILED", what("partly bad"));
          expectCode(await request(method.toUpperCase(), url("a".repeat(10_000)), init), 414, "URI_TOO_LONG", what("10,000-character"));
          expectCode(await request(method.toUpperCase(), url("a".repeat(101)), init), 414, "URI_TOO_LONG", what("101-character"));
          checked += 4;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(40);
  });

  it("an over-long path with no parameter is 414 URI_TOO_LONG; an unknown one 404 NOT_FOUND", async () => {
    expectCode(await request("GET", `/v1/${"a".repeat(10_000)}`), 414, "URI_TOO_LONG", "long path");
    expectCode(await request("GET", `/v1/chain/head?x=${"a".repeat(10_000)}`), 414, "URI_TOO_LONG", "long query");
    expectCode(await request("GET", "/v1/nothing-here"), 404, "NOT_FOUND", "unknown path");
    expectCode(await request("GET", "/v1/nothing-%zz"), 400, "VALIDATION_FAILED", "unknown path, badly encoded");
  });
});

describe("what Node's HTTP parser refuses, over a raw socket", () => {
  it("a raw 16 KB query string is 414 URI_TOO_LONG", async () => {
    const a = await raw(`GET /v1/chain/head?q=${"a".repeat(16 * 1024)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    expectCode(a, 414, "URI_TOO_LONG", "16 KB query");
  });

  it("a 64 KB request line is 414 URI_TOO_LONG", async () => {
    const a = await raw(`GET /${"a".repeat(64 * 1024)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    expectCode(a, 414, "URI_TOO_LONG", "64 KB request line");
  });

  it("headers over the size limit answer in the envelope", async () => {
    const a = await raw(`GET /v1/chain/head HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(32 * 1024)}\r\nConnection: close\r\n\r\n`);
    expectEnvelope(a.status, a.text, "huge header");
  });

  it("a header-less PROPFIND / answers in the envelope (HTTP/1.1 without Host, and HTTP/1.0)", async () => {
    const bare = await raw("PROPFIND / HTTP/1.1\r\n\r\n");
    expectCode(bare, 400, "VALIDATION_FAILED", "PROPFIND / HTTP/1.1 without Host");
    const old = await raw("PROPFIND / HTTP/1.0\r\n\r\n");
    expectEnvelope(old.status, old.text, "PROPFIND / HTTP/1.0");
    const withHost = await raw("PROPFIND / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    expectEnvelope(withHost.status, withHost.text, "PROPFIND / with Host");
  });

  it("a method Node does not know, and a malformed request line, answer 400 VALIDATION_FAILED", async () => {
    expectCode(await raw("FROBNICATE / HTTP/1.1\r\nHost: localhost\r\n\r\n"), 400, "VALIDATION_FAILED", "unknown method");
    expectCode(await raw("GET\r\n\r\n"), 400, "VALIDATION_FAILED", "no path, no version");
    expectCode(await raw("GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: x\r\n\r\n"), 400, "VALIDATION_FAILED", "bad content-length");
  });

  it("a badly encoded parameter over a raw socket, with a body on a POST, is 400 VALIDATION_FAILED", async () => {
    const a = await raw(`POST /v1/entities/%zz/subaccounts HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    expectCode(a, 400, "VALIDATION_FAILED", "raw POST with %zz");
  });
});

describe("while the server closes", () => {
  it("a request arriving on a busy connection answers 503 UNAVAILABLE in the envelope", async () => {
    // A producer that never makes a block in this test: the extrinsic keeps its connection busy.
    const slow = new BlockProducer(node, 3_600_000);
    slow.start();
    const closingApp = buildServer({ node: () => node, producer: () => slow, root: alice.address, startupStatus: () => "starting", version: "test" });
    const url = new URL(await listen(closingApp));
    const body = JSON.stringify({ call: "balances.transfer", args: { dest: alice.address, amount_rao: "1" } });
    const headers = Object.entries(epistula(alice, body))
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    const socket = connect(Number(url.port), url.hostname);
    let received = "";
    socket.on("data", (c: Buffer) => (received += c.toString("utf8")));
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => {});
    socket.write(`POST /v1/chain/extrinsics HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`);
    for (let i = 0; i < 500 && slow.waiting === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(slow.waiting).toBe(1);
    const closing = closingApp.close();
    // Pipelined on the busy connection, after close began: it reaches fastify while it is closing.
    socket.write("GET /v1/chain/head HTTP/1.1\r\nHost: localhost\r\n\r\n");
    await new Promise((r) => setTimeout(r, 100));
    await slow.stop();
    await closing;
    socket.end();
    await closed;
    const answers = received.split(/(?=HTTP\/1\.1 \d{3} )/).filter((a) => a.length > 0);
    expect(answers.length, received).toBe(2);
    for (const a of answers) {
      const status = Number(a.slice(9, 12));
      const split = a.indexOf("\r\n\r\n");
      const text = /\r\ntransfer-encoding: chunked/i.test(a.slice(0, split)) ? dechunk(a.slice(split + 4)) : a.slice(split + 4);
      expectCode({ status, text }, 503, "UNAVAILABLE", a.slice(0, 40));
    }
  });
});

/** A chunked body's chunks, joined. */
function dechunk(text: string): string {
  let out = "";
  let rest = text;
  for (;;) {
    const eol = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}
