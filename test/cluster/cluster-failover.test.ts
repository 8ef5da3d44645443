/**
 * Several processes of one validator on PostgreSQL (issue #11), as real `propnet serve` processes
 * on loopback: three on one fresh schema, signed orders, subaccount creations and price posts
 * sent to all three at random (readers forward them to the writer), the writer SIGKILLed 20 times
 * at random moments and restarted (as a supervisor would; it comes back as a reader), and once
 * its lock session cut from the database side (it exits 70 and another takes over). Clients
 * retry 503s and lost connections with the same Idempotency-Key. At the end: the log is dense and
 * chained; every acknowledged write is in it exactly once; no request or idempotency key was
 * committed twice; every process reports the same seq, and the snapshot each writes at shutdown
 * holds the state hash a replay of the log gives at that seq.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { createState, stateHash } from "../../src/core/machine/state.ts";
import { prng } from "../../src/core/random/prng.ts";
import { snapshotDir } from "../../src/node/node.ts";
import { replay } from "../../src/node/replay.ts";
import { openStore } from "../../src/store/open-store.ts";
import { readSnapshots } from "../../src/store/snapshot-files.ts";
import { GENESIS_HASH } from "../../src/store/stored-event.ts";
import { CODE_VERSION } from "../../src/version.ts";
import { devSigners, type Signer } from "../support/http.ts";
import { awaitWriter, type ClusterProcess, makeCluster, PG_URL } from "./cluster-processes.ts";

const KILLS = Number(process.env.CLUSTER_KILLS ?? 20);
const SEED = Number(process.env.CLUSTER_SEED ?? 11);
const CONCURRENCY = 4;
const TAO_RAO = 1_000_000_000n;

let close: (() => Promise<void>) | null = null;
afterAll(async () => {
  await close?.();
});

interface Sent {
  kind: "order" | "creation" | "prices";
  key: string;
  status: number | null;
  attempts: number;
  subaccount?: { entity: string; id: number; uuid: string };
  orderUuid?: string;
}

describe("three propnet serve processes on one PostgreSQL log", () => {
  it(`lose nothing acknowledged and write nothing twice across ${KILLS} kills of the writer; all end on one state`, { timeout: 420_000 }, async () => {
    const started = performance.now();
    const rand = prng(SEED * 2654435761);
    const { Alice: root, Bob, Charlie } = await devSigners(["Alice", "Bob", "Charlie"] as const);
    const entities: Signer[] = [Bob, Charlie];
    const cluster = await makeCluster(3, ["--block-time", "0", "--snapshot-every", "300"]);
    close = cluster.close;
    const ps = cluster.processes;
    const [p0, p1, p2] = ps as [ClusterProcess, ClusterProcess, ClusterProcess];
    p0.start();
    await p0.ready();
    expect((await awaitWriter([p0], 10_000)).writer).toBe(p0);
    p1.start();
    p2.start();
    await Promise.all([p1.ready(), p2.ready()]);
    expect((await p1.health())?.role).toBe("reader");
    expect((await p2.health())?.role).toBe("reader");

    // ---- the world, set up through the readers (extrinsics and entity writes are forwarded) -------
    const extrinsic = async (via: ClusterProcess, call: string, args: Record<string, unknown>) => {
      const a = await via.api.post("/v1/chain/extrinsics", root, { call, args });
      expect(a.status, `${call} via ${via.name}: ${a.text}`).toBe(200);
    };
    for (const e of entities) await extrinsic(p1, "subtensor.burned_register", { netuid: 1, hotkey: e.address });
    for (const e of entities) await extrinsic(p2, "collateral.deposit", { hotkey: e.address, amount_rao: (1_000n * TAO_RAO).toString() });
    for (const e of entities) {
      const a = await p1.api.post("/v1/entities", e, {});
      expect(a.status, a.text).toBe(201);
      // Read your writes: the reader that answered already serves the entity.
      const read = await p1.api.get(`/v1/entities/${e.address}`, e);
      expect(read.status, read.text).toBe(200);
    }
    const prices: Record<string, number> = { BTCUSD: 60_000, ETHUSD: 3_000, EURUSD: 1.08 };
    const first = await p2.api.post("/v1/prices", root, { prices: Object.entries(prices).map(([trade_pair, price]) => ({ trade_pair, price, ts_ms: Date.now() })) });
    expect(first.status, first.text).toBe(200);
    expect(first.headers.get("propnet-seq")).toMatch(/^\d+$/);

    // ---- a writer whose lock session ends (as on a network cut) stops writing: exit 70, another takes over
    {
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      const row = await admin.query<{ backend_pid: number }>(`SELECT backend_pid FROM ${cluster.schema}.cluster_writer`);
      await admin.query("SELECT pg_terminate_backend($1)", [row.rows[0]?.backend_pid]);
      await admin.end();
      const ran = await (p0.run as NonNullable<ClusterProcess["run"]>).done;
      expect(ran.code, ran.stderr.slice(-2000)).toBe(70);
      expect(ran.stderr).toMatch(/writer lock connection/);
      await awaitWriter([p1, p2], 5_000);
      p0.start();
      await p0.ready();
      expect((await p0.health())?.role).toBe("reader");
    }

    // ---- load on all three, retried like a client retries --------------------------------------------
    const sent: Sent[] = [];
    const ids = new Map<string, number[]>(entities.map((e) => [e.address, []]));
    const codes = new Map<string, number>();
    let stopping = false;
    const pick = (): ClusterProcess => {
      const ready = ps.filter((p) => p.readyNow);
      return (ready.length > 0 ? ready : ps)[Math.floor(rand() * (ready.length > 0 ? ready.length : ps.length))] as ClusterProcess;
    };
    const one = async (): Promise<void> => {
      const r = rand();
      const entity = entities[Math.floor(rand() * entities.length)] as Signer;
      const known = ids.get(entity.address) as number[];
      const key = randomUUID();
      let s: Sent;
      let send: (p: ClusterProcess) => ReturnType<ClusterProcess["api"]["post"]>;
      if (r < 0.12 || known.length === 0) {
        s = { kind: "creation", key, status: null, attempts: 0 };
        send = (p) => p.api.post(`/v1/entities/${entity.address}/subaccounts`, entity, { account_size_usd: 1_000 }, { idempotencyKey: key });
      } else if (r < 0.9) {
        const pair = (["BTCUSD", "ETHUSD", "EURUSD"] as const)[Math.floor(rand() * 3)] as string;
        const type = (["LONG", "SHORT", "LONG", "SHORT", "FLAT"] as const)[Math.floor(rand() * 5)] as string;
        const orderUuid = randomUUID();
        s = { kind: "order", key, status: null, attempts: 0, orderUuid };
        const body = { subaccount_id: known[Math.floor(rand() * known.length)], trade_pair: pair, order_type: type, ...(type === "FLAT" ? {} : { leverage: pair === "EURUSD" ? 0.5 : 0.05 }), order_uuid: orderUuid };
        send = (p) => p.api.post("/v1/orders", entity, body, { idempotencyKey: key });
      } else {
        const pair = Object.keys(prices)[Math.floor(rand() * 3)] as string;
        prices[pair] = (prices[pair] as number) * (1 + (rand() - 0.5) * 0.004);
        const body = { prices: [{ trade_pair: pair, price: Number((prices[pair] as number).toPrecision(8)), ts_ms: Date.now() }] };
        s = { kind: "prices", key, status: null, attempts: 0 };
        send = (p) => p.api.post("/v1/prices", root, body, { idempotencyKey: key });
      }
      sent.push(s);
      // A 503 or a lost connection may or may not have committed: retry with the same key (freshly signed).
      for (;;) {
        s.attempts++;
        let status: number | null = null;
        let json: { subaccount?: { subaccount_id: number; subaccount_uuid: string }; error?: { code: string } } | null = null;
        try {
          const a = await send(pick());
          status = a.status;
          json = a.json;
        } catch {
          // The process died under it: no answer, retried below.
        }
        if (status !== null && status !== 503) {
          s.status = status;
          if (status === 201 && s.kind === "creation" && json?.subaccount) {
            s.subaccount = { entity: entity.address, id: json.subaccount.subaccount_id, uuid: json.subaccount.subaccount_uuid };
            known.push(json.subaccount.subaccount_id);
          }
          if (status >= 400) codes.set(json?.error?.code ?? String(status), (codes.get(json?.error?.code ?? String(status)) ?? 0) + 1);
          return;
        }
        if (stopping && s.attempts > 200) return;
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    const workers = Array.from({ length: CONCURRENCY }, async () => {
      while (!stopping) await one();
    });

    // ---- kill the writer at random moments ------------------------------------------------------------
    const failoverMs: number[] = [];
    const restarts: Array<Promise<void>> = [];
    for (let round = 1; round <= KILLS; round++) {
      // Another process must be ready to take over (the one killed last may still be starting).
      const deadline = Date.now() + 60_000;
      let { writer } = await awaitWriter(ps, 15_000);
      while (ps.filter((p) => p !== writer && p.readyNow).length === 0) {
        if (Date.now() > deadline) throw new Error(`round ${round}: no ready reader\n${ps.map((p) => `${p.name}: ${p.stderr.slice(-1500)}`).join("\n")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 1_200)));
      ({ writer } = await awaitWriter(ps, 15_000));
      await writer.kill();
      const others = ps.filter((p) => p !== writer);
      const { ms } = await awaitWriter(others, 15_000);
      failoverMs.push(ms);
      writer.start();
      restarts.push(writer.ready());
    }
    await Promise.all(restarts);
    stopping = true;
    await Promise.all(workers);

    // ---- all three on one state -----------------------------------------------------------------------
    for (const p of ps) await p.ready();
    const { writer } = await awaitWriter(ps, 15_000);
    let seqs: number[] = [];
    for (let i = 0; i < 200; i++) {
      seqs = await Promise.all(ps.map(async (p) => (await p.health())?.seq ?? -1));
      if (seqs.every((s) => s === seqs[0]) && (seqs[0] ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(new Set(seqs).size, `seqs ${seqs}`).toBe(1);

    // Readers first, so nobody takes over; each writes its final snapshot.
    for (const p of ps.filter((q) => q !== writer)) expect(await p.stop(), p.stderr.slice(-2000)).toBe(0);
    expect(await writer.stop(), writer.stderr.slice(-2000)).toBe(0);
    const snaps = ps.map((p) => {
      const read = readSnapshots(snapshotDir(p.dataDir), CODE_VERSION)[0];
      if (!read || "problem" in read) throw new Error(`${p.name}: no snapshot`);
      return read.snapshot;
    });

    // ---- the log itself, replayed here --------------------------------------------------------------
    const store = await openStore({ backend: "postgres", url: PG_URL, schema: cluster.schema });
    const uuids = new Map<string, number>();
    const keys = new Map<string, number>();
    const created = new Map<string, string>();
    const orders = new Map<string, number>();
    const hashAt = new Map<number, string>();
    const wanted = new Set(snaps.map((s) => s.seq));
    const state = createState({ strict: false });
    const head = await replay(state, store, { seq: 0, hash: GENESIS_HASH }, {
      afterEvent: (row) => {
        const p = JSON.parse(row.payload) as Record<string, unknown>;
        const req = p.request as { uuid?: string; idempotency_key?: string; signer?: string } | undefined;
        if (req?.uuid) uuids.set(req.uuid, (uuids.get(req.uuid) ?? 0) + 1);
        if (req?.idempotency_key) keys.set(`${req.signer}/${req.idempotency_key}`, (keys.get(`${req.signer}/${req.idempotency_key}`) ?? 0) + 1);
        for (const e of (Array.isArray(p.effects) ? p.effects : []) as Array<{ k?: string; uuid?: string }>) {
          if (e.k === "request" && e.uuid) uuids.set(e.uuid, (uuids.get(e.uuid) ?? 0) + 1);
        }
        if (row.type.startsWith("SubaccountCreated@")) created.set(`${p.entity}_${p.id}`, p.uuid as string);
        if (row.type.startsWith("OrderPlaced@")) orders.set(p.order_uuid as string, (orders.get(p.order_uuid as string) ?? 0) + 1);
        if (wanted.has(row.seq)) hashAt.set(row.seq, stateHash(state));
      },
    });
    await store.close();
    expect(head.seq).toBe(seqs[0]);
    expect([...uuids].filter(([, n]) => n > 1), "requests committed twice").toEqual([]);
    expect([...keys].filter(([, n]) => n > 1), "idempotency keys committed twice").toEqual([]);
    const acked = sent.filter((s) => s.status !== null && s.status < 300);
    for (const s of acked) {
      if (s.subaccount) expect(created.get(`${s.subaccount.entity}_${s.subaccount.id}`), `subaccount ${s.subaccount.id}`).toBe(s.subaccount.uuid);
      if (s.kind === "order") expect(orders.get(s.orderUuid as string), `order ${s.orderUuid}`).toBe(1);
    }
    expect(acked.filter((s) => s.kind === "order").length).toBeGreaterThan(KILLS);
    expect(acked.filter((s) => s.kind === "creation").length).toBeGreaterThan(KILLS / 2);
    for (const [i, snap] of snaps.entries()) {
      expect(snap.seq, `p${i}'s final snapshot`).toBe(head.seq);
      expect(snap.state_hash, `p${i}'s state at seq ${snap.seq}`).toBe(hashAt.get(snap.seq));
    }
    expect(stateHash(state)).toBe(snaps[0]?.state_hash);

    const sorted = [...failoverMs].sort((a, b) => a - b);
    const q = (f: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] as number);
    console.log(
      `cluster: ${KILLS} writer kills; failover p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms; ${sent.length} writes, ${acked.length} acknowledged ` +
        `(${acked.filter((s) => s.kind === "creation").length} creations, ${acked.filter((s) => s.kind === "order").length} orders, ${acked.filter((s) => s.kind === "prices").length} price posts), ` +
        `${sent.filter((s) => s.attempts > 1).length} retried; refusals ${JSON.stringify(Object.fromEntries(codes))}; log head ${head.seq}; ${Math.round(performance.now() - started)} ms`,
    );
    // Availability target (issue #11): another process carries on within 5 s of the writer's death.
    expect(q(1), "failover took longer than 5 s").toBeLessThan(5_000);
  });
});
