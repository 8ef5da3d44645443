// POST /v1/sessions over the server's routes: a signer holds at most SESSIONS_PER_SIGNER live
// tokens, so thousands of sign-ins from one key leave only the newest usable, and another signer's
// tokens are untouched.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PropnetNode } from "../../node/node.ts";
import { devSigners, epistula, type Signer } from "../../../test/support/http.ts";
import { RateLimits } from "../rate-limit.ts";
import { buildServer } from "../server.ts";
import { SESSIONS_PER_SIGNER } from "../sessions.ts";

let dir: string;
let node: PropnetNode;
let app: FastifyInstance;
let keys: Record<"Alice" | "Bob", Signer>;

beforeAll(async () => {
  keys = await devSigners(["Alice", "Bob"] as const);
  dir = mkdtempSync(join(tmpdir(), "propnet-sessions-"));
  node = await PropnetNode.open({ dataDir: dir, genesis: [{ owner: keys.Alice.address, amount_rao: 1_000n }] });
  // Rate limits off: 5,000 sign-ins from one key within seconds is the point here, not the limiter.
  app = buildServer({ node: () => node, startupStatus: () => "starting", version: "test", root: keys.Alice.address, limits: new RateLimits({ enabled: false }) });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await node?.close({ snapshot: false });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function signIn(by: Signer): Promise<string> {
  const res = await app.inject({ method: "POST", url: "/v1/sessions", headers: epistula(by, "") });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().token as string;
}

/** A root-only read with the token: 200 while it is live, 401 SIGNATURE_INVALID once it is not. */
async function readWith(token: string): Promise<number> {
  const res = await app.inject({ method: "GET", url: "/v1/entities", headers: { authorization: `Bearer ${token}` } });
  if (res.statusCode === 401) expect(res.json().error.code).toBe("SIGNATURE_INVALID");
  return res.statusCode;
}

describe("POST /v1/sessions, bounded per signer", () => {
  it("of 5,000 sign-ins from one key only the newest 16 tokens stay valid", async () => {
    const bob = await signIn(keys.Bob);
    const tokens: string[] = [];
    for (let i = 0; i < 5_000; i++) tokens.push(await signIn(keys.Alice));
    expect(SESSIONS_PER_SIGNER).toBe(16);
    const statuses = await Promise.all(tokens.map(readWith));
    const valid = statuses.flatMap((s, i) => (s === 200 ? [i] : []));
    expect(valid).toEqual(Array.from({ length: 16 }, (_, k) => 5_000 - 16 + k));
    expect(statuses.filter((s) => s === 401)).toHaveLength(5_000 - 16);
    // Bob's token still reads (403: he is not root; past the token check, which is what counts here).
    const res = await app.inject({ method: "GET", url: "/v1/entities", headers: { authorization: `Bearer ${bob}` } });
    expect(res.json().error.code).toBe("FORBIDDEN");
    // /metrics shows what is held: 16 of Alice's and Bob's one.
    const metrics = (await app.inject("/metrics")).body;
    expect(metrics).toMatch(/^propnet_sessions 17$/m);
  });
});
