import { mkdtempSync, rmSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Keyring } from "@polkadot/keyring";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { FastifyInstance } from "fastify";
import { buildServer } from "../src/api/server.ts";
import { type Command, HANDLERS, type Handlers } from "../src/core/machine/commands.ts";
import { execute } from "../src/core/machine/execute.ts";
import { createState } from "../src/core/machine/state.ts";
import type { NodeIdentity } from "../src/core/sync/sync-state.ts";
import { streamHead } from "../src/core/sync/sync-state.ts";
import { signMessage, verifySignature } from "../src/epistula/epistula.ts";
import { cryptoReady } from "../src/keys/keys.ts";
import { EventLog } from "../src/node/event-log.ts";
import { PropnetNode } from "../src/node/node.ts";
import { HttpSyncTransport } from "../src/node/sync/http-sync-transport.ts";
import { verifyRotation } from "../src/node/sync/rotation-authorization.ts";
import { SyncAgent } from "../src/node/sync/sync-agent.ts";
import type { SyncBatch } from "../src/node/sync/sync-stream.ts";
import type { Store } from "../src/store/store.ts";
import { GENESIS_HASH } from "../src/store/stored-event.ts";
import { log, percentile, round } from "./http-bench.ts";
import { chainGenesis, COLDKEY, createSubaccount, entityHotkeys, neuronBlock, registerEntity, ROOT_KEY, TAO_RAO } from "./subaccount-core.ts";

const PER_ENTITY = 500;
/** Enough for ~2,000 entities' registration burn and 5,000 TAO collateral each (subaccount-core's 1M TAO covers 199). */
const genesisEndowments = [{ owner: COLDKEY, amount_rao: 10_000_000n * TAO_RAO }];

/** A node with the API on 127.0.0.1 (an ephemeral port) and its own SyncAgent, as `propnet serve` wires them. */
interface Peer {
  node: PropnetNode;
  app: FastifyInstance;
  url: string;
  agent: SyncAgent | null;
  dir: string;
}

async function openPeer(root: string, name: string, identity: NodeIdentity, handlers?: Handlers): Promise<Peer> {
  const dir = join(root, name);
  const node = await PropnetNode.open({
    dataDir: dir,
    genesis: genesisEndowments,
    chainGenesis,
    identity,
    // No snapshot mid-measurement: it is not what is measured here.
    snapshotEvery: 1e12,
    snapshotIntervalMs: 1e9,
    ...(handlers ? { handlers } : {}),
  });
  const peer: Peer = { node, app: null as unknown as FastifyInstance, url: "", agent: null, dir };
  peer.app = buildServer({ node: () => node, startupStatus: () => "ready", version: "bench", root: ROOT_KEY, sync: () => peer.agent });
  await peer.app.listen({ host: "127.0.0.1", port: 0 });
  const address = peer.app.server.address();
  peer.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  return peer;
}

/** The HTTP transport, timing each pull (a GET /v1/sync/events round trip: the peer's serve and signature, both JSON ends). */
class TimedTransport extends HttpSyncTransport {
  readonly pullMs: number[] = [];

  override async pull(peer: string, after: number, limit: number): Promise<SyncBatch | null> {
    const t = performance.now();
    try {
      return await super.pull(peer, after, limit);
    } finally {
      this.pullMs.push(performance.now() - t);
    }
  }
}

function agentFor(peer: Peer, key: KeyringPair, peers: string[], batchLimit: number, transport = new HttpSyncTransport(key)): SyncAgent {
  const agent = new SyncAgent({
    node: peer.node,
    identity: peer.node.state.identity,
    hotkey: key.address,
    root: ROOT_KEY,
    sign: (message) => signMessage(key, message),
    verify: verifySignature,
    verifyRotation,
    peers,
    transport,
    now: () => peer.node.clock.now(),
    batchLimit,
  });
  peer.agent = agent;
  return agent;
}

async function closePeer(peer: Peer): Promise<void> {
  peer.agent?.stop();
  await peer.app.close();
  await peer.node.close({ snapshot: false });
}

async function submitOk(node: PropnetNode, command: Command): Promise<void> {
  const outcome = await node.submit({ command, signer: "request" in command ? (command.request?.signer ?? null) : null });
  if (!outcome.ok) throw outcome.error;
}

/** Handlers that time each apply_sync_batch (the handler is the whole of its execute: it applies its own event). */
function timedHandlers(times: number[]): Handlers {
  return {
    ...HANDLERS,
    apply_sync_batch: (state, command) => {
      const t = performance.now();
      try {
        return HANDLERS.apply_sync_batch(state, command);
      } finally {
        times.push(performance.now() - t);
      }
    },
  };
}

/**
 * `npm run bench -- sync` (issue #10): two nodes in this process, each with its API on loopback and
 * a real SyncAgent over HTTP.
 *  1. Catch-up: a mothership issues `--facts` facts (entity registrations, 500 subaccounts each);
 *     a fresh follower pulls them all (agent.start() until its stream_seq equals the mothership's),
 *     once per `--batches` size. Baselines in the same run: the same signed batches submitted as
 *     apply_sync_batch commands straight to a fresh node (durable, no HTTP), and executed and
 *     sealed on a bare state (no I/O), which is also the writer task each batch costs.
 *  2. Steady state: `--rate` creations/s on the mothership for `--seconds`, pushed to the caught-up
 *     follower; lag from the mothership's durable commit to the fact being readable on the follower.
 * Both nodes share one event loop (and one machine): the lag includes that contention.
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  await cryptoReady();
  const loadavg = round(os.loadavg()[0] as number);
  const facts = Number(args.facts ?? 100_000);
  const batchSizes = (args.batches ?? "100,200,250").split(",").map(Number);
  const rate = Number(args.rate ?? 200);
  const seconds = Number(args.seconds ?? 15);
  const clients = Number(args.clients ?? 1_000);
  const root = mkdtempSync(join(tmpdir(), "propnet-bench-sync-"));
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const mKey = keyring.addFromUri("//PropnetSyncBenchMothership");
  const fKey = keyring.addFromUri("//PropnetSyncBenchFollower");
  const followerIdentity: NodeIdentity = { hotkey: fKey.address, mothership: mKey.address };
  const out: Record<string, unknown> = { loadavg_1m_at_start: loadavg, facts };
  const peers: Peer[] = [];
  try {
    // ---- the mothership and its facts (untimed) --------------------------------------------------
    const buildEntities = Math.ceil(facts / (PER_ENTITY + 1));
    const steadyCreations = Math.round(rate * seconds);
    const steadyEntities = Math.ceil(steadyCreations / PER_ENTITY);
    const hotkeys = entityHotkeys(buildEntities + steadyEntities);
    const mothership = await openPeer(root, "mothership", { hotkey: mKey.address, mothership: null });
    peers.push(mothership);
    const mAgent = agentFor(mothership, mKey, [], 500);
    mAgent.start();
    const m = mothership.node;
    const block = await m.submit({ command: neuronBlock(hotkeys, m.clock.now()) });
    if (!block.ok || block.events[0]?.payload.includes('"failed"')) throw new Error("a setup extrinsic failed");
    let t = performance.now();
    const build: Command[] = [];
    for (let e = 0, left = facts; left > 0; e++) {
      const h = hotkeys[e] as string;
      build.push(registerEntity(h, 0));
      left--;
      for (let s = 0; s < PER_ENTITY && left > 0; s++, left--) build.push(createSubaccount(h, 0));
    }
    // Registrations first (in order), then creations with many in flight, as clients would send them.
    for (const c of build.filter((c) => c.kind === "register_entity")) await submitOk(m, { ...c, ts: m.clock.now() } as Command);
    const creations = build.filter((c) => c.kind === "create_subaccount");
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(clients, creations.length) }, async () => {
        while (next < creations.length) await submitOk(m, { ...(creations[next++] as Command), ts: m.clock.now() } as Command);
      }),
    );
    const mHead = await m.read((state) => streamHead(state.sync));
    if (mHead.stream_seq !== facts) throw new Error(`the mothership holds ${mHead.stream_seq} facts, not ${facts}`);
    out.mothership_build_s = round((performance.now() - t) / 1000);
    log(`mothership holds ${facts} facts (built in ${out.mothership_build_s} s)`);

    // The signed batches a peer serves, gathered in-process for the baselines (untimed).
    const batchesOf = async (limit: number): Promise<SyncBatch[]> => {
      const batches: SyncBatch[] = [];
      for (let after = 0; after < facts; ) {
        const b = await mAgent.serve(after, limit);
        if (b.events.length === 0 || b.head.signature === null) throw new Error(`nothing served after ${after}`);
        batches.push({ events: b.events, head: { ...b.head, signature: b.head.signature } });
        after = b.head.stream_seq;
      }
      return batches;
    };

    // ---- 1. catch-up, per batch size ------------------------------------------------------------
    const catchUp: Record<string, unknown>[] = [];
    let follower: Peer | null = null;
    for (const [i, limit] of batchSizes.entries()) {
      const last = i === batchSizes.length - 1;
      const handlerMs: number[] = [];
      const f = await openPeer(root, `follower-${limit}`, followerIdentity, timedHandlers(handlerMs));
      peers.push(f);
      const transport = new TimedTransport(fKey);
      const agent = agentFor(f, fKey, [mothership.url], limit, transport);
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const cpu = process.cpuUsage();
      t = performance.now();
      agent.start();
      await agent.caughtUp();
      const catchUpMs = performance.now() - t;
      const cpuMs = (({ user, system }) => (user + system) / 1000)(process.cpuUsage(cpu));
      loop.disable();
      const fHead = await f.node.read((state) => streamHead(state.sync));
      if (fHead.stream_seq !== mHead.stream_seq || fHead.hash !== mHead.hash) {
        throw new Error(`the follower is at ${fHead.stream_seq} (${fHead.hash}), the mothership at ${mHead.stream_seq} (${mHead.hash})`);
      }

      // Baseline A: the same batches as apply_sync_batch commands submitted straight to a fresh node, one after another (durable, no HTTP, no signature check).
      const batches = await batchesOf(limit);
      const local = await PropnetNode.open({ dataDir: join(root, `local-${limit}`), genesis: genesisEndowments, chainGenesis, identity: followerIdentity, snapshotEvery: 1e12, snapshotIntervalMs: 1e9 });
      let logBytes = 0;
      t = performance.now();
      for (const b of batches) {
        const outcome = await local.submit({ command: { kind: "apply_sync_batch", ts: local.clock.now(), facts: b.events, head: b.head, signer: mKey.address } });
        if (!outcome.ok) throw outcome.error;
        for (const row of outcome.events) logBytes += row.payload.length;
      }
      const localMs = performance.now() - t;
      const localHead = await local.read((state) => streamHead(state.sync));
      await local.close({ snapshot: false });
      if (localHead.hash !== mHead.hash) throw new Error("the local baseline did not reach the mothership's head");

      // Baseline B: execute + seal on a bare state: the writer's task per batch, with no I/O at all.
      // Not strict, as a node runs (strict re-applies every event to compare: a test-time check).
      const state = createState({ strict: false });
      state.identity = followerIdentity;
      const eventLog = new EventLog(null as unknown as Store, { seq: 0, hash: GENESIS_HASH });
      const taskMs: number[] = [];
      const taskCpuMs: number[] = [];
      t = performance.now();
      for (const b of batches) {
        const s = performance.now();
        const c = process.cpuUsage();
        const result = execute(state, { kind: "apply_sync_batch", ts: 1_767_225_600_000, facts: b.events, head: b.head, signer: mKey.address });
        if (result.error) throw result.error;
        for (const draft of result.events) eventLog.seal(draft, { block: 0, ts: 1_767_225_600_000 });
        taskMs.push(performance.now() - s);
        const used = process.cpuUsage(c);
        taskCpuMs.push((used.user + used.system) / 1000);
      }
      const coreMs = performance.now() - t;
      const taskCpu = Float64Array.from(taskCpuMs).sort();

      const handlers = Float64Array.from(handlerMs).sort();
      const tasks = Float64Array.from(taskMs).sort();
      catchUp.push({
        batch: limit,
        batches: batches.length,
        catchup_ms: round(catchUpMs, 0),
        catchup_facts_per_s: Math.round(facts / (catchUpMs / 1000)),
        // This process's CPU (both nodes, their store threads) over the catch-up: less skewed by other load than wall time.
        catchup_cpu_ms: round(cpuMs, 0),
        // Time in GET /v1/sync/events round trips; the rest is the follower's receive (signature check, writer, commit).
        catchup_pull_http_ms: round(transport.pullMs.reduce((a, b) => a + b, 0), 0),
        local_submit_ms: round(localMs, 0),
        ratio_catchup_vs_local_submit: round(catchUpMs / localMs),
        core_apply_ms: round(coreMs, 0),
        ratio_catchup_vs_core_apply: round(catchUpMs / coreMs),
        follower_apply_handler_ms_p50: round(percentile(handlers, 0.5)),
        follower_apply_handler_ms_max: round(percentile(handlers, 1)),
        writer_task_ms_p50: round(percentile(tasks, 0.5)),
        writer_task_ms_p90: round(percentile(tasks, 0.9)),
        writer_task_ms_max: round(percentile(tasks, 1)),
        // The same tasks in CPU time (this process; nothing else of it runs then): what they cost on an idle core.
        writer_task_cpu_ms_p50: round(percentile(taskCpu, 0.5)),
        writer_task_cpu_ms_p90: round(percentile(taskCpu, 0.9)),
        core_apply_cpu_ms: round(taskCpuMs.reduce((a, b) => a + b, 0), 0),
        // The SyncBatchApplied payload in the log, per fact (each fact is recorded whole, with its local figures).
        log_payload_bytes_per_fact: Math.round(logBytes / facts),
        // Everything on the shared loop (both nodes' HTTP, JSON, validation, the writers): the longest stall seen.
        event_loop_delay_ms_max: round(loop.max / 1e6),
      });
      log(`catch-up at ${limit} facts per batch: ${JSON.stringify(catchUp[catchUp.length - 1])}`);
      if (last) follower = f;
      else {
        await closePeer(f);
        peers.splice(peers.indexOf(f), 1);
      }
    }
    out.catchup = catchUp;

    // ---- 2. steady state: mothership commit -> follower visible ---------------------------------
    if (follower && steadyCreations > 0) {
      const f = follower;
      // The mothership now pushes to the follower (as `--peers` would have it): a new agent on its server.
      mAgent.stop();
      const pusher = agentFor(mothership, mKey, [f.url], batchSizes[batchSizes.length - 1] as number);
      pusher.start();
      await pusher.caughtUp();
      const steadyHotkeys = hotkeys.slice(buildEntities);
      for (const h of steadyHotkeys) await submitOk(m, registerEntity(h, m.clock.now()));
      const committedAt = new Map<number, number>();
      const visibleAt = new Map<number, number>();
      let seen = 0;
      let polling = false;
      const poll = async () => {
        if (polling) return;
        polling = true;
        try {
          for (;;) {
            const head = await f.node.read((state) => streamHead(state.sync).stream_seq);
            const now = performance.now();
            if (head <= seen) break;
            for (let s = seen + 1; s <= head; s++) visibleAt.set(s, now);
            seen = head;
          }
        } finally {
          polling = false;
        }
      };
      f.node.onCommitted(() => void poll());
      // The registrations above reach the follower before anything is timed.
      const base = facts + steadyHotkeys.length;
      while (seen < base) {
        await poll();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const started = performance.now();
      const pending: Promise<void>[] = [];
      for (let k = 0; k < steadyCreations; k++) {
        const due = started + (k * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        const c = createSubaccount(steadyHotkeys[Math.floor(k / PER_ENTITY)] as string, m.clock.now());
        pending.push(
          m.submit({ command: c, view: (state) => streamHead(state.sync).stream_seq }).then((outcome) => {
            if (!outcome.ok) throw outcome.error;
            committedAt.set(outcome.view as number, performance.now());
          }),
        );
      }
      await Promise.all(pending);
      const offeredS = (performance.now() - started) / 1000;
      const end = base + steadyCreations;
      const deadline = performance.now() + 30_000;
      while (seen < end && performance.now() < deadline) {
        await poll();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const lags: number[] = [];
      for (const [s, at] of committedAt) {
        const v = visibleAt.get(s);
        if (v !== undefined) lags.push(Math.max(0, v - at));
      }
      const sorted = Float64Array.from(lags).sort();
      out.steady = {
        creations: steadyCreations,
        rate_per_s: rate,
        achieved_per_s: Math.round(steadyCreations / offeredS),
        visible_on_follower: lags.length,
        lag_ms_p50: round(percentile(sorted, 0.5)),
        lag_ms_p90: round(percentile(sorted, 0.9)),
        lag_ms_p99: round(percentile(sorted, 0.99)),
        lag_ms_max: round(percentile(sorted, 1)),
        push_batch_limit: batchSizes[batchSizes.length - 1],
      };
      pusher.stop();
    }
    return out;
  } finally {
    for (const p of peers) await closePeer(p).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}
