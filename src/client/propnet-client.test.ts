// The client's signing is checked by the server's own verifier: first on headers alone, then over
// real HTTP against a stub that records the exact bytes received, and last against the real API.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeyringPair } from "@polkadot/keyring/types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeOf, devPairs, listen, lowerHeaders as lower } from "../../test/support/http.ts";
import { EpistulaVerifier, epistulaReady } from "../epistula/epistula.ts";
import { buildServer } from "../api/server.ts";
import { DomainError } from "../core/errors/errors.ts";
import { BlockProducer } from "../node/block-producer.ts";
import { PropnetNode } from "../node/node.ts";
import { epistulaHeaders } from "../epistula/epistula.ts";
import { ClientError, PropnetClient } from "./propnet-client.ts";

let alice: KeyringPair;
let bob: KeyringPair;

beforeAll(async () => {
  ({ Alice: alice, Bob: bob } = await devPairs(["Alice", "Bob"]));
  await epistulaReady();
});

describe("epistulaHeaders", () => {
  it("verifies with the server's verifier, for a body and for an empty one", async () => {
    const v = new EpistulaVerifier({ startedAt: 0 });
    const body = JSON.stringify({ trade_pair: "BTCUSD", order_type: "LONG", leverage: 0.5 });
    const headers = epistulaHeaders(alice, body);
    expect(await v.verify(lower(headers), body)).toMatchObject({ signer: alice.address, signedFor: "" });
    expect((await v.verify(lower(epistulaHeaders(bob, "")), "")).signer).toBe(bob.address);
    expect(headers["Epistula-Version"]).toBe("2");
    expect(headers["Epistula-Request-Signature"]).toMatch(/^0x[0-9a-f]{128}$/);
  });

  it("covers the body, the timestamp and the uuid", async () => {
    const v = new EpistulaVerifier({ startedAt: 0 });
    expect(await codeOf(() => v.verify(lower(epistulaHeaders(alice, '{"a":1}')), '{"a": 1}'))).toBe("SIGNATURE_INVALID");
    const h = epistulaHeaders(alice, "");
    expect(await codeOf(() => v.verify({ ...lower(h), "epistula-timestamp": String(Number(h["Epistula-Timestamp"]) - 1) }))).toBe(
      "SIGNATURE_INVALID",
    );
    expect(await codeOf(() => v.verify({ ...lower(h), "epistula-uuid": randomUUID() }))).toBe("SIGNATURE_INVALID");
    expect(await codeOf(() => v.verify(lower(h)))).toBe("OK");
  });

  it("uses the given time and a fresh uuid each call", async () => {
    const a = epistulaHeaders(alice, "", 1_700_000_000_123);
    const b = epistulaHeaders(alice, "", 1_700_000_000_123);
    expect(a["Epistula-Timestamp"]).toBe("1700000000123");
    expect(a["Epistula-Uuid"]).not.toBe(b["Epistula-Uuid"]);
  });
});

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  raw: string;
  signer: string | null;
}

/** A stub API: records each request, verifies any Epistula headers on the raw bytes, answers `reply`. */
async function stub(
  reply: (seen: Seen) => { status: number; body: unknown },
  clockOffsetMs = 0,
): Promise<{ base: string; seen: Seen[]; server: Server }> {
  const now = () => Date.now() + clockOffsetMs;
  const verifier = new EpistulaVerifier({ now, startedAt: now() - 60_000 });
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const s: Seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, raw, signer: null };
      seen.push(s);
      let answer: { status: number; body: unknown };
      try {
        if (req.headers["epistula-signed-by"] !== undefined) s.signer = (await verifier.verify(req.headers, raw)).signer;
        answer = reply(s);
      } catch (error) {
        const e = error as DomainError;
        answer = { status: 401, body: { error: { code: e.code, message: e.message, details: e.details ?? {} } } };
      }
      res.writeHead(answer.status, { "content-type": typeof answer.body === "string" ? "text/plain" : "application/json" });
      res.end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

async function stubbed(reply: (seen: Seen) => { status: number; body: unknown } = () => ({ status: 200, body: { ok: 1 } }), offset = 0) {
  const s = await stub(reply, offset);
  servers.push(s.server);
  return s;
}

describe("PropnetClient over HTTP", () => {
  it("signs the exact bytes it sends, with content-type only when there is a body", async () => {
    const { base, seen } = await stubbed();
    const client = new PropnetClient({ baseUrl: `${base}/`, signer: alice });
    const order = { subaccount_id: 3, trade_pair: "BTCUSD", order_type: "LONG" as const, leverage: 0.25, order_uuid: undefined };
    expect((await client.placeOrder(order)).status).toBe(200);
    await client.getEntity(alice.address);
    await client.listSubaccounts(alice.address, { status: "active", limit: 10 });
    const [post, get, list] = seen;
    expect(post).toMatchObject({ method: "POST", url: "/v1/orders", signer: alice.address });
    expect(post?.raw).toBe('{"subaccount_id":3,"trade_pair":"BTCUSD","order_type":"LONG","leverage":0.25}');
    expect(post?.headers["content-type"]).toBe("application/json");
    expect(get).toMatchObject({ method: "GET", url: `/v1/entities/${alice.address}`, raw: "", signer: alice.address });
    expect(get?.headers["content-type"]).toBeUndefined();
    expect(list?.url).toBe(`/v1/entities/${alice.address}/subaccounts?status=active&limit=10`);
    expect(new Set(seen.map((s) => s.headers["epistula-uuid"])).size).toBe(3);
  });

  it("sends each helper to its route with API.md's body", async () => {
    const { base, seen } = await stubbed();
    const client = new PropnetClient({ baseUrl: base, signer: bob });
    const synthetic = `${alice.address}_7`;
    await client.registerEntity(20);
    await client.registerEntity();
    await client.createSubaccount(alice.address, 5_000);
    await client.eliminate(synthetic, "done");
    await client.getSubaccount(synthetic);
    await client.chainExtrinsic("balances.transfer", { dest: alice.address, amount_rao: "1" });
    await client.postPrices([{ trade_pair: "BTCUSD", price: 65_000.5, ts_ms: 1 }]);
    expect(seen.map((s) => [s.method, s.url, s.raw])).toEqual([
      ["POST", "/v1/entities", '{"max_subaccounts":20}'],
      ["POST", "/v1/entities", "{}"],
      ["POST", `/v1/entities/${alice.address}/subaccounts`, '{"account_size_usd":5000}'],
      ["POST", `/v1/subaccounts/${synthetic}/eliminate`, '{"reason":"done"}'],
      ["GET", `/v1/subaccounts/${synthetic}`, ""],
      ["POST", "/v1/chain/extrinsics", `{"call":"balances.transfer","args":{"dest":"${alice.address}","amount_rao":"1"}}`],
      ["POST", "/v1/prices", '{"prices":[{"trade_pair":"BTCUSD","price":65000.5,"ts_ms":1}]}'],
    ]);
    expect(seen.every((s) => s.signer === bob.address)).toBe(true);
  });

  it("leaves public reads unsigned, and sends Idempotency-Key when asked", async () => {
    const { base, seen } = await stubbed();
    const client = new PropnetClient({ baseUrl: base, signer: alice });
    await client.health();
    await client.time();
    await client.subaccountStatus(`${alice.address}_0`);
    await client.createSubaccount(alice.address, undefined, { idempotencyKey: "k-1" });
    expect(seen.map((s) => [s.url, s.signer])).toEqual([
      ["/healthz", null],
      ["/v1/time", null],
      [`/v1/subaccounts/${alice.address}_0/status`, null],
      [`/v1/entities/${alice.address}/subaccounts`, alice.address],
    ]);
    expect(seen[0]?.headers["epistula-request-signature"]).toBeUndefined();
    expect(seen[3]?.headers["idempotency-key"]).toBe("k-1");
    // Without a signer, a request that must be signed is a programming error, caught before sending.
    await expect(new PropnetClient({ baseUrl: base }).registerEntity()).rejects.toThrow(TypeError);
  });

  it("answers HTTP errors instead of throwing", async () => {
    const { base } = await stubbed((s) =>
      s.url === "/v1/orders"
        ? { status: 409, body: { error: { code: "DUPLICATE_ORDER", message: "another body", details: { order_uuid: "u" } } } }
        : { status: 502, body: "Bad Gateway" },
    );
    const client = new PropnetClient({ baseUrl: base, signer: alice });
    const refused = await client.placeOrder({ trade_pair: "BTCUSD", order_type: "FLAT" });
    expect(refused).toMatchObject({ ok: false, status: 409, error: { code: "DUPLICATE_ORDER", message: "another body", details: { order_uuid: "u" } } });
    const proxy = await client.health();
    expect(proxy).toMatchObject({ ok: false, status: 502, body: "Bad Gateway", error: { code: "HTTP_502", message: "Bad Gateway" } });
  });

  it("throws ClientError when nothing answers", async () => {
    const { base, server } = await stub(() => ({ status: 200, body: {} }));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const error = await new PropnetClient({ baseUrl: base }).health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).message).toMatch(/cannot reach .*ECONNREFUSED/);
  });

  it("signs again once with the server's clock after SIGNATURE_EXPIRED, and keeps that clock", async () => {
    const { base, seen } = await stubbed(undefined, 30_000);
    const client = new PropnetClient({ baseUrl: base, signer: alice });
    expect((await client.registerEntity()).status).toBe(200);
    expect(seen.map((s) => s.signer)).toEqual([null, alice.address]);
    expect((await client.getEntity(alice.address)).status).toBe(200);
    expect(seen).toHaveLength(3);
  });
});

describe("PropnetClient against the real API", () => {
  let dir: string;
  let node: PropnetNode;
  let producer: BlockProducer;
  let app: ReturnType<typeof buildServer>;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "propnet-client-"));
    node = await PropnetNode.open({
      dataDir: dir,
      genesis: [alice, bob].map((k) => ({ owner: k.address, amount_rao: 1_000_000_000_000n })),
      chainGenesis: { root: alice.address, subnets: [{ netuid: 1, ownerHotkey: alice.address, ownerColdkey: alice.address }] },
    });
    producer = new BlockProducer(node, 0);
    producer.start();
    app = buildServer({ node: () => node, producer: () => producer, root: alice.address, startupStatus: () => "starting", version: "test" });
    base = await listen(app);
  });

  afterAll(async () => {
    await app?.close();
    await producer?.stop();
    await node?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reads the time and health, and gets a signed extrinsic included", async () => {
    const client = new PropnetClient({ baseUrl: base, signer: bob });
    const time = await client.time();
    expect(time.ok && Math.abs(time.body.server_time_ms - Date.now()) < 5_000).toBe(true);
    expect((await client.health()).body).toMatchObject({ status: "ok" });
    const sent = await client.chainExtrinsic("balances.transfer", { dest: alice.address, amount_rao: "1000" });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(sent.ok && sent.body.included_in_block).toBeGreaterThan(0);
    const unsigned = await new PropnetClient({ baseUrl: base }).request("POST", "/v1/chain/extrinsics");
    expect(unsigned).toMatchObject({ ok: false, status: 401, error: { code: "SIGNATURE_MISSING" } });
  });
});
