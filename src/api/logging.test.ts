import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { Writable } from "node:stream";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PropnetNode } from "../node/node.ts";
import { devSigners, epistula, type Signer } from "../../test/support/http.ts";
import { type LogOptions, loggerOptions } from "./logging.ts";
import { buildServer } from "./server.ts";

let dir: string;
let node: PropnetNode;
let keys: Record<"Alice" | "Bob", Signer>;

beforeAll(async () => {
  keys = await devSigners(["Alice", "Bob"] as const);
  dir = mkdtempSync(join(tmpdir(), "propnet-logging-"));
  node = await PropnetNode.open({ dataDir: dir, genesis: [{ owner: keys.Alice.address, amount_rao: 1_000n }] });
});

afterAll(async () => {
  await node?.close({ snapshot: false });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A server whose log lines are kept, as text and parsed. */
function logged(options: Omit<LogOptions, "stream"> = {}): { app: FastifyInstance; text: () => string; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const app = buildServer(
    { node: () => node, root: keys.Alice.address, startupStatus: () => "starting", version: "test" },
    { logger: { ...options, stream: { write: (line: string) => chunks.push(line) } } },
  );
  const text = () => chunks.join("");
  return { app, text, lines: () => text().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("request log lines", () => {
  it("one JSON line per request: route pattern, method, status, signer, latency and request id; never a signature or a token", async () => {
    const { app, text, lines } = logged();
    try {
      const signed = epistula(keys.Bob, "{}");
      const session = await app.inject({ method: "POST", url: "/v1/sessions", payload: "{}", headers: { ...signed, "content-type": "application/json" } });
      expect(session.statusCode).toBe(200);
      const token = session.json().token as string;
      expect(token.length).toBeGreaterThan(10);
      // A private read with the token as Bearer and as cookie: the signer is known, the token never shown.
      const bearer = await app.inject({ method: "GET", url: `/v1/entities/${keys.Bob.address}`, headers: { authorization: `Bearer ${token}` } });
      const cookie = await app.inject({ method: "GET", url: `/v1/entities/${keys.Bob.address}?x=1`, headers: { cookie: `propnet_session=${token}` } });
      expect(bearer.statusCode).toBe(404);
      expect(cookie.statusCode).toBe(404);
      const unsigned = await app.inject({ method: "GET", url: "/v1/entities" });
      expect(unsigned.statusCode).toBe(401);

      const requests = lines().filter((l) => l.msg === "request");
      expect(requests).toHaveLength(4);
      const [post, read1, read2, refused] = requests as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
      expect(post).toMatchObject({ level: 30, route: "/v1/sessions", method: "POST", status: 200, signer: keys.Bob.address });
      expect(typeof post.ms).toBe("number");
      expect(post.reqId).toEqual(expect.any(String));
      expect(new Set(requests.map((r) => r.reqId)).size).toBe(4);
      // The pattern, not the URL: no hotkey and no query string in `route`.
      expect(read1).toMatchObject({ route: "/v1/entities/:hotkey", method: "GET", status: 404, signer: keys.Bob.address });
      expect(read2).toMatchObject({ route: "/v1/entities/:hotkey", status: 404, signer: keys.Bob.address });
      expect(refused).toMatchObject({ route: "/v1/entities", status: 401 });
      expect(refused).not.toHaveProperty("signer");

      const all = text();
      const signature = signed["Epistula-Request-Signature"] ?? "";
      expect(signature).toMatch(/^0x[0-9a-f]{128}$/);
      expect(all).not.toContain(signature);
      expect(all).not.toContain(signature.slice(2, 40));
      expect(all).not.toContain(token);
      expect(all).not.toContain("?x=1");
    } finally {
      await app.close();
    }
  });

  it("probes and scrapes are debug lines; at info they are not logged, at debug they are", async () => {
    const info = logged();
    const debug = logged({ level: "debug" });
    try {
      for (const { app } of [info, debug]) {
        expect((await app.inject("/healthz")).statusCode).toBe(200);
        expect((await app.inject("/metrics")).statusCode).toBe(200);
      }
      expect(info.lines().filter((l) => l.msg === "request")).toEqual([]);
      expect(debug.lines().filter((l) => l.msg === "request").map((l) => [l.route, l.level])).toEqual([
        ["/healthz", 20],
        ["/metrics", 20],
      ]);
    } finally {
      await info.app.close();
      await debug.app.close();
    }
  });

  it("an unknown path logs as `unmatched`, not as what the client typed", async () => {
    const { app, lines } = logged();
    try {
      expect((await app.inject("/no/such/thing-with-a-secret")).statusCode).toBe(404);
      expect(lines().find((l) => l.msg === "request")).toMatchObject({ route: "unmatched", status: 404 });
      expect(JSON.stringify(lines())).not.toContain("secret");
    } finally {
      await app.close();
    }
  });

  it("silent logs nothing; the logger off (the default) logs nothing and answers the same", async () => {
    const silent = logged({ level: "silent" });
    const off = buildServer({ node: () => node, startupStatus: () => "starting", version: "test" });
    try {
      expect((await silent.app.inject("/v1/entities")).statusCode).toBe(401);
      expect((await off.inject("/v1/entities")).statusCode).toBe(401);
      expect(silent.text()).toBe("");
    } finally {
      await silent.app.close();
      await off.close();
    }
  });
});

describe("redaction and formats", () => {
  it("a request, headers or key material logged by mistake are censored", async () => {
    const { app, text } = logged();
    try {
      app.log.info({ req: { headers: { authorization: "Bearer tok-123", cookie: "propnet_session=tok-456", "epistula-request-signature": "0xsig789" } } }, "oops");
      app.log.info({ headers: { authorization: "Bearer tok-abc" }, key: { mnemonic: "word word word", secret: "0xsecret" }, signature: "0xdeadbeef" }, "oops");
      const all = text();
      for (const secret of ["tok-123", "tok-456", "0xsig789", "tok-abc", "word word word", "0xsecret", "0xdeadbeef"]) expect(all).not.toContain(secret);
      expect(all).toContain("[redacted]");
    } finally {
      await app.close();
    }
  });

  it("pretty prints readable lines (no JSON) to the stream given", async () => {
    const chunks: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    const options = loggerOptions({ format: "pretty", stream: sink });
    // The pretty stream is a Transform writing to the destination given.
    const { default: pino } = await import("pino");
    const log = pino(options as object, (options as { stream: NodeJS.WritableStream }).stream);
    log.info({ route: "/v1/orders", status: 201 }, "request");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const out = chunks.join("");
    expect(out).toContain("INFO");
    expect(out).toContain("request");
    expect(out).toContain("/v1/orders");
    expect(() => JSON.parse(out)).toThrow();
  });
});
