/**
 * A reader forwards signed writes to the writer (issue #11): the body bytes and Epistula headers
 * unchanged, its token added; it answers with the writer's answer once its replica reached the seq
 * the writer named. Bad signatures are refused where they arrive; no writer, an unreachable one, or
 * a forwarded request arriving at a reader answer 503 UNAVAILABLE.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devSigners, epistula, expectError, listen, request, type Signer } from "../../test/support/http.ts";
import { freePort } from "../../test/support/processes.ts";
import { EpistulaVerifier } from "../epistula/epistula.ts";
import { buildServer } from "./server.ts";
import { PropnetNode } from "../node/node.ts";
import type { ForwardingOptions } from "../node/cluster/cluster-member.ts";
import { FORWARDED_HEADER, installForwarding, SEQ_HEADER } from "./forward-writes.ts";

const dir = mkdtempSync(join(tmpdir(), "propnet-forward-"));
let node: PropnetNode;
let bob: Signer;
const seen: Array<{ url: string; headers: Record<string, unknown>; body: string }> = [];
const fakeWriter = Fastify();
fakeWriter.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => done(null, body));
fakeWriter.post("/v1/orders", async (req, reply) => {
  seen.push({ url: req.url, headers: req.headers, body: req.body as string });
  reply.code(200).header(SEQ_HEADER, "41").send({ ok: true });
});
let writerBase = "";

beforeAll(async () => {
  node = await PropnetNode.open({ dataDir: dir, genesis: [{ owner: "alice", amount_rao: 1n }] });
  bob = (await devSigners(["Bob"] as const)).Bob;
  writerBase = await listen(fakeWriter);
});
afterAll(async () => {
  await fakeWriter.close();
  await node.close({ snapshot: false });
  rmSync(dir, { recursive: true, force: true });
});

function reader(overrides: Partial<ForwardingOptions>, role: "reader" | "writer" = "reader") {
  const waited: number[] = [];
  const forgotten: number[] = [];
  const verifier = new EpistulaVerifier();
  const options: ForwardingOptions = {
    role: () => role,
    writer: async () => ({ address: writerBase, token: "tok" }),
    forgetWriter: () => void forgotten.push(1),
    waitFor: async (seq) => {
      waited.push(seq);
      return true;
    },
    committedSeq: () => null,
    isForwardedByPeer: () => false,
    epistula: verifier,
    ...overrides,
  };
  const app = buildServer({ node: () => node, startupStatus: () => "starting", version: "test", epistula: verifier, role: () => role, install: (a) => installForwarding(a, options) });
  return { app, waited, forgotten };
}

describe("a reader's forwarded writes", () => {
  it("reach the writer byte for byte with the Epistula headers and the token, and answer once the replica has the seq", async () => {
    const { app, waited } = reader({});
    const base = await listen(app);
    const raw = '{"subaccount_id":0,  "trade_pair":"BTCUSD","order_type":"LONG","leverage":0.1}';
    const headers = { ...epistula(bob, raw), "Idempotency-Key": "k-1", "content-type": "application/json" };
    const a = await request(base, "POST", "/v1/orders", { body: raw, headers });
    expect(a.status, a.text).toBe(200);
    expect(a.json).toEqual({ ok: true });
    expect(a.headers.get(SEQ_HEADER)).toBe("41");
    expect(waited).toEqual([41]);
    const got = seen.at(-1);
    expect(got?.body).toBe(raw);
    expect(got?.headers[FORWARDED_HEADER]).toBe("tok");
    expect(got?.headers["idempotency-key"]).toBe("k-1");
    for (const h of ["epistula-version", "epistula-timestamp", "epistula-uuid", "epistula-signed-by", "epistula-request-signature"]) {
      expect(got?.headers[h], h).toBe(headers[Object.keys(headers).find((k) => k.toLowerCase() === h) as keyof typeof headers]);
    }
    // Reads stay local.
    expect((await request(base, "GET", "/healthz")).json).toMatchObject({ role: "reader" });
    await app.close();
  });

  it("are refused where they arrive when the signature is bad, and answer 503 with no writer, an unreachable one, or when already forwarded", async () => {
    const before = seen.length;
    const raw = '{"trade_pair":"BTCUSD"}';
    const bad = reader({});
    let base = await listen(bad.app);
    expectError(await request(base, "POST", "/v1/orders", { body: raw, headers: epistula(bob, raw, { corrupt: true }) }), 401, "SIGNATURE_INVALID");
    expectError(await request(base, "POST", "/v1/orders", { body: raw, headers: { ...epistula(bob, raw), [FORWARDED_HEADER]: "x" } }), 503, "UNAVAILABLE");
    await bad.app.close();

    const none = reader({ writer: async () => ({ address: null, token: null }) });
    base = await listen(none.app);
    expectError(await request(base, "POST", "/v1/orders", { body: raw, headers: epistula(bob, raw) }), 503, "UNAVAILABLE");
    await none.app.close();

    const gone = reader({ writer: async () => ({ address: `http://127.0.0.1:${await freePort()}`, token: "tok" }) });
    base = await listen(gone.app);
    expectError(await request(base, "POST", "/v1/orders", { body: raw, headers: epistula(bob, raw) }), 503, "UNAVAILABLE");
    expect(gone.forgotten).toHaveLength(1);
    await gone.app.close();
    expect(seen.length).toBe(before);
  });

  it("on a writer that just took over, refuse writes signed before the takeover with 503 (signed again, they go on), and name the seq", async () => {
    const takeover = Date.now() - 1_000;
    const { app } = reader({ promotedAt: () => takeover, now: () => Date.now(), committedSeq: () => 7 }, "writer");
    const base = await listen(app);
    const raw = '{"subaccount_id":0,"trade_pair":"BTCUSD","order_type":"LONG","leverage":0.1}';
    const old = await request(base, "POST", "/v1/orders", { body: raw, headers: epistula(bob, raw, { ts: takeover - 500 }) });
    expectError(old, 503, "UNAVAILABLE");
    const again = await request(base, "POST", "/v1/orders", { body: raw, headers: epistula(bob, raw) });
    // Past the guard, the route itself answers (Bob is no entity here).
    expect(again.status, again.text).not.toBe(503);
    expect(again.headers.get(SEQ_HEADER)).toBe("7");
    await app.close();
  });
});
