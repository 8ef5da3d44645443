// Validators in sync as real processes (issue 10): a mothership and its followers, each a
// `propnet serve` on a free loopback port and a temp dir, every one listing the others in --peers.
// What the sync tests need around them: the heads they report, entity setup on the mothership's
// devnet chain, and a small pool to send many signed requests at once.
import { expect } from "vitest";
import type { Entity } from "../../src/client/propnet-client.ts";
import type { Answer, Signer } from "../support/http.ts";
import { ServeProcess } from "../storage/serve-process.ts";

export const TAO_RAO = 1_000_000_000n;

/** One validator of the cluster: its key and flags are fixed, its process changes on each restart. */
export class ClusterNode {
  proc: ServeProcess | null = null;
  dataDir: string;

  constructor(
    readonly name: string,
    /** `//Uri` of the node's key. */
    readonly key: string,
    dataDir: string,
    readonly port: number,
    /** The mothership's hotkey for a follower, null for the mothership itself. */
    readonly mothership: string | null,
    public peers: string[] = [],
  ) {
    this.dataDir = dataDir;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get p(): ServeProcess {
    if (!this.proc) throw new Error(`${this.name} is not running`);
    return this.proc;
  }

  /** Spawns `propnet serve` (not yet ready: a mothership with peers is ready once it caught up with them). */
  start(): ServeProcess {
    const extra = ["--key", this.key, "--peers", this.peers.join(",")];
    if (this.mothership !== null) extra.push("--mothership", this.mothership);
    this.proc = new ServeProcess(this.dataDir, this.port, extra);
    return this.proc;
  }

  async kill(): Promise<void> {
    await this.p.kill();
    this.proc = null;
  }

  async stop(): Promise<void> {
    await this.p.stop();
    this.proc = null;
  }
}

export interface SyncHead {
  stream_seq: number;
  hash: string;
  mothership: string | null;
  hotkey: string | null;
  conflicts: number;
  sync_state_hash?: string;
}

export async function syncHead(node: ClusterNode, stateHash = false): Promise<SyncHead> {
  const a = await node.p.api.get(`/v1/sync/head${stateHash ? "?state_hash=1" : ""}`);
  expect(a.status, `${node.name} GET /v1/sync/head: ${a.text}`).toBe(200);
  return a.json as SyncHead;
}

/** Polls until `node`'s stream_seq is `target`; answers how long it took (ms). */
export async function waitForStreamSeq(node: ClusterNode, target: number, timeoutMs = 30_000): Promise<number> {
  const t0 = performance.now();
  let last: number;
  for (;;) {
    last = (await syncHead(node)).stream_seq;
    if (last === target) return performance.now() - t0;
    if (last > target) throw new Error(`${node.name} is at stream_seq ${last}, past ${target}`);
    if (performance.now() - t0 > timeoutMs) {
      const health = await node.p.healthz();
      throw new Error(`${node.name} still at stream_seq ${last} (want ${target}) after ${timeoutMs} ms; /healthz: ${health.text}\nstderr:\n${node.p.stderr.slice(-3000)}`);
    }
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

/** What /healthz says about sync conflicts: the count and any SYNC_CONFLICT problem line. */
export async function conflictsOf(node: ClusterNode): Promise<{ conflicts: number; problems: string[] }> {
  const h = await node.p.healthz();
  expect(h.status, h.text).toBe(200);
  const problems = (h.json.problems as unknown[]).map(String).filter((p) => p.includes("SYNC_CONFLICT"));
  return { conflicts: h.json.sync.conflicts as number, problems };
}

/** The entity `who` on the mothership's chain: a neuron of subnet 1 with `collateralTao` deposited, then an entity. */
export async function setUpEntity(mothership: ClusterNode, who: Signer, collateralTao: bigint, maxSubaccounts = 500): Promise<void> {
  const api = mothership.p.api;
  const reg = await api.post("/v1/chain/extrinsics", who, { call: "subtensor.burned_register", args: { netuid: 1, hotkey: who.address } });
  expect(reg.status, reg.text).toBe(200);
  const dep = await api.post("/v1/chain/extrinsics", who, { call: "collateral.deposit", args: { hotkey: who.address, amount_rao: String(collateralTao * TAO_RAO) } });
  expect(dep.status, dep.text).toBe(200);
  const ent = await api.post("/v1/entities", who, { max_subaccounts: maxSubaccounts });
  expect(ent.status, ent.text).toBe(201);
}

/** Runs `jobs` with at most `width` at once; answers their results in order. */
export async function pool<T>(jobs: Array<() => Promise<T>>, width: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return out;
}

/** `count` subaccounts for `entity` on the mothership; answers their ids in the order issued. */
export async function createSubaccounts(mothership: ClusterNode, entity: Signer, count: number, width = 8): Promise<number[]> {
  const answers: Answer[] = await pool(
    Array.from({ length: count }, () => () => mothership.p.api.post(`/v1/entities/${entity.address}/subaccounts`, entity, {})),
    width,
  );
  return answers.map((a) => {
    expect(a.status, a.text).toBe(201);
    return a.json.subaccount.subaccount_id as number;
  });
}

export interface EntityFacts {
  entity_hotkey: string;
  registered_at_ms: number;
  max_subaccounts: number;
  next_subaccount_id: number;
  active_subaccounts: number;
  eliminated_subaccounts: number;
  subaccounts: Array<{ id: number; uuid: string; synthetic: string; created_at_ms: number; account_size_usd: number; status: string; eliminated_at_ms: number | null }>;
}

/** The same facts without the elimination times (compared on their own: see the sync tests). */
export function withoutEliminationTimes(f: EntityFacts): EntityFacts {
  return { ...f, subaccounts: f.subaccounts.map((s) => ({ ...s, eliminated_at_ms: null })) };
}

/** Where two nodes' elimination times differ: `synthetic: theirs != ours` (empty when they agree). */
export function eliminationTimeDiffs(theirs: EntityFacts, ours: EntityFacts): string[] {
  const mine = new Map(ours.subaccounts.map((s) => [s.synthetic, s.eliminated_at_ms]));
  return theirs.subaccounts.filter((s) => s.eliminated_at_ms !== mine.get(s.synthetic)).map((s) => `${s.synthetic}: ${String(s.eliminated_at_ms)} != ${String(mine.get(s.synthetic))}`);
}

/**
 * The entity facts every node must agree on, as a node's API shows them to the entity: its limit
 * and registration time, and each subaccount's id, uuid, creation time, size and status.
 * Collateral is left out (tracked on the mothership's chain only), and so is the challenge (it
 * depends on the moment of the read).
 */
export async function entityFacts(node: ClusterNode, entity: Signer): Promise<EntityFacts> {
  const a = await node.p.api.get(`/v1/entities/${entity.address}`, entity);
  expect(a.status, `${node.name}: ${a.text}`).toBe(200);
  const e = a.json.entity as Entity;
  return {
    entity_hotkey: e.entity_hotkey,
    registered_at_ms: e.registered_at_ms,
    max_subaccounts: e.max_subaccounts,
    next_subaccount_id: e.next_subaccount_id,
    active_subaccounts: e.active_subaccounts,
    eliminated_subaccounts: e.eliminated_subaccounts,
    subaccounts: e.subaccounts.map((s) => ({
      id: s.subaccount_id,
      uuid: s.subaccount_uuid,
      synthetic: s.synthetic_hotkey,
      created_at_ms: s.created_at_ms,
      account_size_usd: s.account_size_usd,
      status: s.status,
      eliminated_at_ms: s.eliminated_at_ms,
    })),
  };
}
