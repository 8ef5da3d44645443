/**
 * SIGKILL under mixed load (issue 14, "Real processes"): the real `propnet serve` process
 * (`node bin/propnet.js serve`, blocks every 100 ms, snapshots every 200 events) takes signed
 * orders, subaccount creations and price posts from concurrent clients over HTTP; we SIGKILL it
 * at 20 seeded moments (now and then while it is still starting), and after each death, before
 * the restart, read its log file read-only: every acknowledged request's Epistula uuid is there
 * exactly once (each created subaccount with the id and uuid its 201 named, each order with its
 * order_uuid), no request was committed twice, and the log's seqs are dense. At the end
 * `propnet verify --full` (and `verify` from the snapshots) passes on the killed directory.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { prng } from "../../src/core/random/prng.ts";
import { logPath } from "../../src/node/node.ts";
import { api, devSigners, type Signer } from "../support/http.ts";
import { children, cli, freePort, ROOT, spawnCli } from "../support/processes.ts";

const KILLS = 20;
const SEED = Number(process.env.KILL9_SEED ?? 14);
/** Clients sending at once. */
const CONCURRENCY = 6;
const TAO_RAO = 1_000_000_000n;

const dirs: string[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Sent {
  kind: "order" | "creation" | "prices";
  uuid: string;
  round: number;
  status: number | null;
  /** A 201 creation: the entity, id and subaccount uuid it named. */
  subaccount?: { entity: string; id: number; uuid: string };
  /** An order's order_uuid. */
  orderUuid?: string;
}

/** What the log file holds, read read-only once the process is dead. */
function readLog(dataDir: string) {
  const db = new Database(logPath(dataDir), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT seq, type, payload FROM events ORDER BY seq").all() as Array<{ seq: number; type: string; payload: string }>;
    const uuids = new Map<string, number>();
    const created = new Map<string, string>();
    const orders = new Set<string>();
    let dense = true;
    rows.forEach((row, i) => {
      if (row.seq !== i + 1) dense = false;
      const p = JSON.parse(row.payload) as Record<string, unknown>;
      const uuid = (p.request as { uuid?: string } | undefined)?.uuid;
      if (uuid) uuids.set(uuid, (uuids.get(uuid) ?? 0) + 1);
      for (const e of (Array.isArray(p.effects) ? p.effects : []) as Array<{ k?: string; uuid?: string }>) {
        if (e.k === "request" && e.uuid) uuids.set(e.uuid, (uuids.get(e.uuid) ?? 0) + 1);
      }
      if (row.type.startsWith("SubaccountCreated@")) created.set(`${p.entity}_${p.id}`, p.uuid as string);
      if (row.type.startsWith("OrderPlaced@")) orders.add(p.order_uuid as string);
    });
    return { head: rows.length, dense, uuids, created, orders };
  } finally {
    db.close();
  }
}

describe("SIGKILL of propnet serve under mixed load", () => {
  it(`loses nothing acknowledged across ${KILLS} kills, and verify --full passes`, { timeout: 240_000 }, async () => {
    const started = performance.now();
    const rand = prng(SEED * 2654435761);
    const keys = await devSigners(["Alice", "Bob", "Charlie", "Dave"] as const);
    const { Alice: root, Bob, Charlie } = keys;
    const entities: Signer[] = [Bob, Charlie];
    const dataDir = mkdtempSync(join(tmpdir(), "propnet-kill9-"));
    dirs.push(dataDir);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const client = api(() => base);
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", PROPNET_SIGNATURE_THREADS: "1" };
    delete env.PROPNET_HOST;
    delete env.PROPNET_PORT;
    const serve = () =>
      spawnCli(["serve", "--no-demo", "--block-time", "100", "--snapshot-every", "200", "--rate-limit", "off", "--data", dataDir, "--port", String(port)], ROOT, env);
    const ready = async (s: ReturnType<typeof serve>) => {
      const deadline = Date.now() + 30_000;
      while (!/ready at seq \d+/.test(s.stderr())) {
        if (s.child.exitCode !== null || s.child.signalCode !== null) throw new Error(`serve exited before ready:\n${s.stderr()}`);
        if (Date.now() > deadline) throw new Error(`serve not ready in 30 s:\n${s.stderr()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const kill = async (s: ReturnType<typeof serve>) => {
      s.child.kill("SIGKILL");
      const ran = await s.done;
      expect(ran.code, `serve ended on its own:\n${ran.stderr}`).toBeNull();
    };

    // ---- the world: two entities with collateral and a subaccount each, first prices ---------------
    let server = serve();
    await ready(server);
    const extrinsic = async (call: string, args: Record<string, unknown>) => {
      const a = await client.post("/v1/chain/extrinsics", root, { call, args });
      expect(a.status, `${call}: ${a.text}`).toBe(200);
    };
    for (const e of [...entities, keys.Dave]) await extrinsic("subtensor.burned_register", { netuid: 1, hotkey: e.address });
    for (const e of entities) await extrinsic("collateral.deposit", { hotkey: e.address, amount_rao: (1_000n * TAO_RAO).toString() });
    for (const e of entities) expect((await client.post("/v1/entities", e, {})).status).toBe(201);
    const prices: Record<string, number> = { BTCUSD: 60_000, ETHUSD: 3_000, EURUSD: 1.08 };
    const first = await client.post("/v1/prices", root, { prices: Object.entries(prices).map(([trade_pair, price]) => ({ trade_pair, price, ts_ms: Date.now() })) });
    expect(first.status, first.text).toBe(200);

    const sent: Sent[] = [];
    /** entity address -> the subaccount ids its clients were given. */
    const ids = new Map<string, number[]>(entities.map((e) => [e.address, []]));
    const codes = new Map<string, number>();
    const lines: string[] = [];

    const request = async (round: number): Promise<void> => {
      const r = rand();
      const entity = entities[Math.floor(rand() * entities.length)] as Signer;
      const known = ids.get(entity.address) as number[];
      let s: Sent;
      let answer: Promise<{ status: number; json: unknown }>;
      if (r < 0.2 || known.length === 0) {
        const uuid = randomUUID();
        s = { kind: "creation", uuid, round, status: null };
        answer = client.post(`/v1/entities/${entity.address}/subaccounts`, entity, { account_size_usd: 1_000 }, { uuid });
      } else if (r < 0.65) {
        const pair = (["BTCUSD", "ETHUSD", "EURUSD"] as const)[Math.floor(rand() * 3)] as string;
        const type = (["LONG", "SHORT", "FLAT"] as const)[Math.floor(rand() * 3)] as string;
        const leverage = pair === "EURUSD" ? 0.5 : 0.05;
        const orderUuid = randomUUID();
        const uuid = randomUUID();
        s = { kind: "order", uuid, round, status: null, orderUuid };
        const body = { subaccount_id: known[Math.floor(rand() * known.length)], trade_pair: pair, order_type: type, ...(type === "FLAT" ? {} : { leverage }), order_uuid: orderUuid };
        answer = client.post("/v1/orders", entity, body, { uuid });
      } else {
        const pair = Object.keys(prices)[Math.floor(rand() * 3)] as string;
        prices[pair] = (prices[pair] as number) * (1 + (rand() - 0.5) * 0.006);
        const uuid = randomUUID();
        s = { kind: "prices", uuid, round, status: null };
        answer = client.post("/v1/prices", root, { prices: [{ trade_pair: pair, price: Number((prices[pair] as number).toPrecision(8)), ts_ms: Date.now() }] }, { uuid });
      }
      sent.push(s);
      try {
        const a = await answer;
        s.status = a.status;
        const json = a.json as { subaccount?: { subaccount_id: number; subaccount_uuid: string }; error?: { code: string } };
        if (a.status === 201 && s.kind === "creation" && json.subaccount) {
          s.subaccount = { entity: entity.address, id: json.subaccount.subaccount_id, uuid: json.subaccount.subaccount_uuid };
          known.push(json.subaccount.subaccount_id);
        }
        if (a.status >= 400) codes.set(json.error?.code ?? String(a.status), (codes.get(json.error?.code ?? String(a.status)) ?? 0) + 1);
      } catch {
        // The process died under it: no answer.
      }
    };

    for (let round = 1; round <= KILLS; round++) {
      // Now and then the kill lands while the node is still starting; otherwise after some load.
      const early = round > 1 && rand() < 0.1;
      const loadMs = Math.floor(100 + rand() * 700);
      if (round > 1) {
        server = serve();
        if (early) await new Promise((r) => setTimeout(r, Math.floor(rand() * 400)));
        else await ready(server);
      }
      let stopped = early;
      const current = server;
      const killed = (async () => {
        if (!early) await new Promise((r) => setTimeout(r, loadMs));
        stopped = true;
        await kill(current);
      })();
      const workers = Array.from({ length: CONCURRENCY }, async () => {
        while (!stopped) await request(round);
      });
      await Promise.all([killed, ...workers]);

      // ---- dead: what its clients were told must be in the file --------------------------------------
      const log = readLog(dataDir);
      expect(log.dense, `round ${round}: the log's seqs are not dense`).toBe(true);
      const acked = sent.filter((s) => s.status !== null && s.status >= 200 && s.status < 300);
      const missing = acked.filter((s) => log.uuids.get(s.uuid) !== 1).map((s) => `${s.kind} ${s.uuid} (round ${s.round}) found ${log.uuids.get(s.uuid) ?? 0} times`);
      expect(missing, `round ${round}: acknowledged requests not in the log exactly once`).toEqual([]);
      expect([...log.uuids].filter(([, n]) => n > 1), `round ${round}: requests committed twice`).toEqual([]);
      for (const s of acked) {
        if (s.subaccount) expect(log.created.get(`${s.subaccount.entity}_${s.subaccount.id}`), `round ${round}: subaccount ${s.subaccount.id}`).toBe(s.subaccount.uuid);
        if (s.kind === "order") expect(log.orders.has(s.orderUuid as string), `round ${round}: order ${s.orderUuid}`).toBe(true);
      }
      const mine = sent.filter((s) => s.round === round);
      lines.push(
        `round ${round}: ${early ? "killed while starting" : `killed after ${loadMs} ms of load`}; ${mine.length} sent, ` +
          `${mine.filter((s) => s.status !== null && s.status < 300).length} acknowledged, ${mine.filter((s) => s.status === null).length} unanswered; log head ${log.head}`,
      );
    }

    // ---- the killed directory verifies from genesis and from its snapshots --------------------------
    const { head } = readLog(dataDir);
    const full = await cli(["verify", "--data", dataDir, "--full"], ROOT, env);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(new RegExp(`last seq ${head};`));
    const fromSnapshot = await cli(["verify", "--data", dataDir], ROOT, env);
    expect(fromSnapshot.code, fromSnapshot.stderr).toBe(0);

    const acked = sent.filter((s) => s.status !== null && s.status < 300);
    console.log(
      `kill -9 under load: ${KILLS} kills, ${sent.length} requests, ${acked.length} acknowledged (${acked.filter((s) => s.kind === "creation").length} creations, ` +
        `${acked.filter((s) => s.kind === "order").length} orders, ${acked.filter((s) => s.kind === "prices").length} price posts), ` +
        `${sent.filter((s) => s.status === null).length} unanswered, refusals ${JSON.stringify(Object.fromEntries(codes))}; log head ${head}; ` +
        `${Math.round(performance.now() - started)} ms\n  ${lines.join("\n  ")}\n  ${full.stdout.trim()}`,
    );
  });
});
