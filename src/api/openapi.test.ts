import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_TABLE } from "../core/errors/errors.ts";
import { BlockProducer } from "../node/block-producer.ts";
import { PropnetNode } from "../node/node.ts";
import { devSigners, type Signer } from "../../test/support/http.ts";
import { errorStatuses } from "./openapi.ts";
import { buildServer } from "./server.ts";

let dir: string;
let node: PropnetNode;
let producer: BlockProducer;
let app: FastifyInstance;
let keys: Record<"Alice", Signer>;

interface Operation {
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { description?: string; content?: Record<string, { schema: Record<string, unknown> }> }>;
}
let paths: Record<string, Record<string, Operation>>;
let doc: { components: { securitySchemes: Record<string, Record<string, string>> }; paths: typeof paths };

const EPISTULA = ["Epistula-Version", "Epistula-Timestamp", "Epistula-Uuid", "Epistula-Signed-By", "Epistula-Request-Signature"];
/** Streams never end, so the unsigned probe below skips them. */
const STREAMS = new Set(["/v1/live"]);

beforeAll(async () => {
  keys = await devSigners(["Alice"] as const);
  const alice = keys.Alice.address;
  dir = mkdtempSync(join(tmpdir(), "propnet-openapi-"));
  node = await PropnetNode.open({
    dataDir: dir,
    genesis: [{ owner: alice, amount_rao: 1_000_000_000_000n }],
    chainGenesis: { root: alice, subnets: [{ netuid: 1, ownerHotkey: alice, ownerColdkey: alice }] },
  });
  producer = new BlockProducer(node, 0);
  producer.start();
  app = buildServer({ node: () => node, producer: () => producer, root: alice, startupStatus: () => "starting", version: "test" });
  const res = await app.inject("/openapi.json");
  expect(res.statusCode).toBe(200);
  doc = res.json();
  paths = doc.paths;
});

afterAll(async () => {
  await app?.close();
  await producer?.stop();
  await node?.close({ snapshot: false });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function operations(): Array<{ path: string; method: string; op: Operation }> {
  return Object.entries(paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([method]) => ["get", "post", "put", "patch", "delete"].includes(method))
      .map(([method, op]) => ({ path, method, op })),
  );
}

describe("OpenAPI security", () => {
  it("declares each Epistula header as an apiKey scheme, and the session token as bearer and cookie", () => {
    const schemes = doc.components.securitySchemes;
    const headers = Object.values(schemes)
      .filter((s) => s.type === "apiKey" && s.in === "header")
      .map((s) => s.name);
    expect(headers.sort()).toEqual([...EPISTULA].sort());
    expect(Object.values(schemes)).toContainEqual(expect.objectContaining({ type: "http", scheme: "bearer" }));
    expect(Object.values(schemes)).toContainEqual(expect.objectContaining({ type: "apiKey", in: "cookie", name: "propnet_session" }));
  });

  it("signed routes require all five Epistula headers together; private reads also accept a session", () => {
    const byName = Object.fromEntries(Object.entries(doc.components.securitySchemes).map(([k, s]) => [k, s.name]));
    const signed = operations().filter(({ op }) => op.security);
    expect(signed.length).toBeGreaterThanOrEqual(15);
    for (const { path, method, op } of signed) {
      const first = op.security?.[0] ?? {};
      expect(Object.keys(first).map((k) => byName[k]).sort(), `${method} ${path}`).toEqual([...EPISTULA].sort());
      if (method !== "get") expect(op.security, `${method} ${path}`).toHaveLength(1);
    }
    expect(paths["/v1/orders"]?.post?.security).toHaveLength(1);
    expect(paths["/v1/sessions"]?.post?.security).toHaveLength(1);
    expect(paths["/v1/entities/{hotkey}"]?.get?.security?.length).toBe(3);
    expect(paths["/v1/chain/head"]?.get?.security).toBeUndefined();
  });

  it("a route is marked signed exactly when it refuses an unsigned request with 401 SIGNATURE_MISSING", async () => {
    const alice = keys.Alice.address;
    const value = (p: string) => (p === "netuid" ? "1" : p === "synthetic" ? `${alice}_0` : alice);
    let probed = 0;
    for (const { path, method, op } of operations()) {
      if (STREAMS.has(path)) continue;
      const url = path.replace(/\{([^}]+)\}/g, (_, p: string) => value(p));
      const res = await app.inject({
        method: method.toUpperCase() as "GET",
        url,
        ...(method === "get" ? {} : { payload: "{}", headers: { "content-type": "application/json" } }),
      });
      const refused = res.statusCode === 401 && res.json().error.code === "SIGNATURE_MISSING";
      expect(refused, `${method.toUpperCase()} ${path} answered ${res.statusCode}; marked signed: ${op.security !== undefined}`).toBe(op.security !== undefined);
      probed++;
    }
    expect(probed).toBeGreaterThanOrEqual(30);
  });
});

describe("OpenAPI error responses", () => {
  it("every route lists its error statuses, each the error envelope with the codes that answer with that status", () => {
    for (const { path, method, op } of operations()) {
      const expected = errorStatuses({ method: method.toUpperCase(), url: path.replace(/\{([^}]+)\}/g, ":$1"), signed: op.security !== undefined });
      // Its success answer stays declared beside the errors, and every response has its description.
      expect(Object.keys(op.responses).some((s) => /^2/.test(s)), `${method} ${path}`).toBe(true);
      for (const [status, r] of Object.entries(op.responses)) expect(r.description, `${method} ${path} ${status}`).toBeTruthy();
      const declared = Object.keys(op.responses).map(Number).filter((s) => s >= 400);
      expect(declared, `${method} ${path}`).toEqual(expected);
      for (const status of declared) {
        const response = op.responses[String(status)];
        const schema = response?.content?.["application/json"]?.schema as { properties: { error: { properties: { code: { enum: string[] } }; required: string[] } } };
        expect(schema.properties.error.required, `${method} ${path} ${status}`).toEqual(["code", "message", "details"]);
        expect(schema.properties.error.properties.code.enum).toEqual(Object.keys(ERROR_TABLE));
        const codes = Object.entries(ERROR_TABLE).filter(([, s]) => s === status).map(([c]) => c);
        for (const code of codes) expect(response?.description, `${method} ${path} ${status}`).toContain(code);
      }
    }
  });

  it("the statuses follow what a route is: signed writes may be refused by the rules, public reads only by the server", () => {
    expect(Object.keys(paths["/v1/chain/head"]?.get?.responses ?? {})).toEqual(["200", "400", "414", "429", "500", "503"]);
    expect(Object.keys(paths["/v1/orders"]?.post?.responses ?? {}).sort()).toEqual(["200", "201", "400", "401", "403", "404", "409", "413", "414", "422", "429", "500", "503"].sort());
    // A success answer declared by the route is kept as it was.
    expect(paths["/v1/chain/head"]?.get?.responses["200"]?.content?.["application/json"]?.schema).toHaveProperty("properties.total_issuance_rao");
  });

  it("a refused request's status is among those its route declares", async () => {
    const cases: Array<[string, string, string, number]> = [
      ["get", "/v1/entities/{hotkey}", "/v1/entities/not-a-hotkey", 401],
      ["get", "/v1/chain/subnets/{netuid}", "/v1/chain/subnets/99", 404],
      ["post", "/v1/orders", "/v1/orders", 401],
      ["get", "/v1/chain/head", `/v1/chain/head?${"a".repeat(9_000)}`, 414],
    ];
    for (const [method, path, url, status] of cases) {
      const res = await app.inject({ method: method.toUpperCase() as "GET", url, ...(method === "post" ? { payload: "{}", headers: { "content-type": "application/json" } } : {}) });
      expect(res.statusCode, url).toBe(status);
      expect(Object.keys(paths[path]?.[method]?.responses ?? {}), url).toContain(String(status));
    }
  });
});
