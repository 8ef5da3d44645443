import { createHmac } from "node:crypto";
import type { KeyringPair } from "@polkadot/keyring/types";
import type { Command } from "../core/machine/commands.ts";
import { encodePayload, type EventDraft, type JsonObject } from "../core/machine/event.ts";
import { applyEvent, execute } from "../core/machine/execute.ts";
import { createState, type State, stateHash } from "../core/machine/state.ts";
import { chainFact, type SyncFact } from "../core/sync/sync-fact.ts";
import { issuesFacts, streamHead, syncStateHash } from "../core/sync/sync-state.ts";
import { epistulaMessage, sha256hex, signMessage, verifySignature } from "../epistula/epistula.ts";
import { cryptoReady, loadKey } from "../keys/keys.ts";
import type { Outcome } from "../node/writer.ts";
import { verifyRotation } from "../node/sync/rotation-authorization.ts";
import { SyncAgent, type SyncNode } from "../node/sync/sync-agent.ts";
import type { SyncBatch } from "../node/sync/sync-stream.ts";
import type { PeerHead, PushAnswer, SyncScheduler, SyncTransport } from "../node/sync/sync-transport.ts";
import { SeededRandom } from "./seeded-random.ts";

/**
 * The seeded, deterministic, in-process simulation of peer sync (issue 10, DESIGN.md §4.1): a
 * mothership and 2-4 followers, each a core State behind a tiny writer with a durable in-memory
 * log, each running the real SyncAgent over a virtual network on a virtual clock. The network
 * drops, duplicates, delays, reorders and now and then alters batches, and is partitioned for a
 * while; any node crashes at any moment, half the time in the middle of a commit (losing its
 * state, its agent and, sometimes, that un-acknowledged commit) and rebuilds by replaying its log;
 * the mothership, and some followers, are restored from an old backup (the log cut to an earlier
 * prefix). At the end, healed: every node's sync-state hash is the mothership's, no conflict is
 * recorded, no stream_seq was ever held as two facts and no (entity, id) ever had two uuids on any
 * node, every acknowledged creation survived, and every log replays to its node's live state.
 */

/** Signatures: real sr25519 (development keys) or a keyed-hash stand-in with the same contract. */
export type SimCrypto = "sr25519" | "fast";

export interface SyncSimOptions {
  seed: number;
  /** Default sr25519; `fast` signs with HMAC-SHA256 (forgeries still fail): the same run, about half the time. */
  crypto?: SimCrypto;
  /** Virtual milliseconds of workload and faults before everything heals (default 40 s). */
  spanMs?: number;
  /** Restore the mothership from an old backup in every seed (else in about 40 %). */
  alwaysRestore?: boolean;
  /** No mothership rotation (else one in about 35 % of seeds). */
  noRotation?: boolean;
  /** Planted bugs, for the simulator's own tests: the checks must catch them. */
  plant?: {
    /** The workload writes to a restarted mothership before it caught up with its peers. */
    skipCatchUp?: boolean;
    /** A mothership restore may cut facts no follower holds yet: lost with the backup (acknowledged creations gone, ids reissued). */
    lossyRestore?: boolean;
  };
}

export interface NetStats {
  sent: number;
  dropped: number;
  duplicated: number;
  /** Delivered late (far behind later messages). */
  delayed: number;
  timeouts: number;
  /** Requests to a node that was down. */
  refusedDown: number;
  /** Cut off by a partition. */
  partitioned: number;
  tampered: number;
}

export interface SyncSeedReport {
  seed: number;
  ok: boolean;
  problems: string[];
  followers: number;
  /** The mothership's stream head at the end. */
  facts: number;
  net: NetStats;
  partitions: number;
  crashes: number;
  restores: number;
  /** Restores that found no follower holding the mothership's facts in time (not done). */
  restoresSkipped: number;
  /** Followers restarted from an old backup of their log. */
  followerRestores: number;
  /** Mothership rotations (root-signed MothershipChanged facts). */
  rotations: number;
  /** Facts the backups' cuts dropped (found again on other nodes). */
  restoredFacts: number;
  /** Commits in flight at a crash that never became durable. */
  lostCommits: number;
  refusedBatches: number;
  acked: number;
  refused: Record<string, number>;
  /** Virtual time until every node agreed. */
  virtualMs: number;
  ms: number;
  trace: readonly string[];
}

const START_MS = Date.UTC(2026, 0, 5, 9, 0, 0);
const COLD = "5SimCold";
const TAO = 1_000_000_000n;
const ENTITIES = ["5SimEntity0", "5SimEntity1", "5SimEntity2"];
/** The nodes' keys; root is //Ferdie (it signs mothership rotations). */
const DEV_KEYS = ["//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie"];
/** A request with no answer by then fails (HTTP timeout). */
const TIMEOUT_MS = 3_000;
/** Virtual time of workload and faults per seed. */
export const DEFAULT_SPAN_MS = 40_000;
/** How long after the heal the nodes get to agree before the seed fails. */
const CONVERGE_MS = 600_000;

/** The command that replays one seed. */
export function syncReplayCommand(seed: number, options: Pick<SyncSimOptions, "crypto" | "spanMs" | "alwaysRestore" | "noRotation"> = {}): string {
  const extra = [
    options.crypto === "fast" ? " --crypto fast" : "",
    options.spanMs === undefined ? "" : ` --span ${options.spanMs}`,
    options.alwaysRestore ? " --always-restore" : "",
    options.noRotation ? " --no-rotation" : "",
  ].join("");
  return `npm run sim:sync -- --seed ${seed}${extra}`;
}

// ---- virtual time ---------------------------------------------------------------------------------

interface Timer {
  at: number;
  n: number;
  fn: () => void;
  cancelled: boolean;
}

/** The run's one clock and event queue (a binary heap on time, then insertion order). */
class EventQueue {
  now = START_MS;
  #heap: Timer[] = [];
  #n = 0;

  at(ms: number, fn: () => void): Timer {
    const t: Timer = { at: Math.max(ms, this.now), n: this.#n++, fn, cancelled: false };
    const h = this.#heap;
    h.push(t);
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!before(h[i] as Timer, h[p] as Timer)) break;
      [h[i], h[p]] = [h[p] as Timer, h[i] as Timer];
      i = p;
    }
    return t;
  }

  after(ms: number, fn: () => void): Timer {
    return this.at(this.now + Math.max(0, ms), fn);
  }

  /** The next timer due by `limit`, or null. */
  next(limit: number): Timer | null {
    const h = this.#heap;
    while (h.length > 0 && (h[0] as Timer).cancelled) this.#pop();
    if (h.length === 0 || (h[0] as Timer).at > limit) return null;
    return this.#pop();
  }

  #pop(): Timer {
    const h = this.#heap;
    const top = h[0] as Timer;
    const last = h.pop() as Timer;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l] as Timer, h[m] as Timer)) m = l;
        if (r < h.length && before(h[r] as Timer, h[m] as Timer)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Timer, h[i] as Timer];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.n < b.n);
}

/** Lets every promise chain the last event started run to its next wait (no real timer or I/O is involved). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

// ---- signatures -----------------------------------------------------------------------------------

interface Signer {
  address: string;
  sign: (message: string) => string;
}

interface Keys {
  signers: Signer[];
  root: KeyringPair;
  rootAddress: string;
  verify: (signer: string, message: string, signature: string) => boolean;
}

/** The development keys and their addresses, made once per process (deriving them costs ~1 s). */
let devPairs: Array<{ pair: KeyringPair; address: string }> | null = null;

async function keysFor(crypto: SimCrypto): Promise<Keys> {
  await cryptoReady();
  devPairs ??= DEV_KEYS.map((uri) => {
    const pair = loadKey(uri);
    return { pair, address: pair.address };
  });
  const root = devPairs[5] as { pair: KeyringPair; address: string };
  const pairs = devPairs.slice(0, 5);
  if (crypto === "fast") {
    const mac = (address: string, message: string) => `0x${createHmac("sha256", `sim-secret:${address}`).update(message).digest("hex")}`;
    const known = new Set(pairs.map((p) => p.address));
    return {
      root: root.pair,
      rootAddress: root.address,
      signers: pairs.map((p) => ({ address: p.address, sign: (m: string) => mac(p.address, m) })),
      verify: (signer, message, signature) => known.has(signer) && mac(signer, message) === signature,
    };
  }
  // Real sr25519. Results are pure, so each distinct head is signed once and each distinct
  // (signer, message, signature) verified once: a forged or altered one is a new triple, checked for real.
  const signed = new Map<string, string>();
  const verified = new Map<string, boolean>();
  return {
    root: root.pair,
    rootAddress: root.address,
    signers: pairs.map((p) => ({
      address: p.address,
      sign: (m: string) => {
        const k = `${p.address}|${m}`;
        let s = signed.get(k);
        if (s === undefined) signed.set(k, (s = signMessage(p.pair, m)));
        return s;
      },
    })),
    verify: (signer, message, signature) => {
      const k = `${signer}|${message}|${signature}`;
      let ok = verified.get(k);
      if (ok === undefined) verified.set(k, (ok = verifySignature(signer, message, signature)));
      return ok;
    },
  };
}

// ---- nodes ----------------------------------------------------------------------------------------

interface LogEntry {
  type: string;
  version: number;
  payload: string;
  /** The highest stream_seq the event holds (0: none), so a cut log's head is known without parsing. */
  maxSeq: number;
  /** It holds a MothershipChanged fact. */
  rotation: boolean;
}

/** The facts an event holds: those its command issued, and those a received batch applied. */
function factsOf(draft: EventDraft): SyncFact[] {
  const out = ((draft.payload.facts as unknown as SyncFact[] | undefined) ?? []).slice();
  if (draft.type === "SyncBatchApplied") for (const a of draft.payload.applied as unknown as Array<{ fact: SyncFact }>) out.push(a.fact);
  return out;
}

interface Pending {
  command: Command;
  view?: (state: State, events: readonly EventDraft[]) => unknown;
  resolve: (o: Outcome) => void;
}

const never = <T>() => new Promise<T>(() => undefined);

/**
 * One process of a node: its state, a writer that executes commands in turns and makes each turn
 * durable after a short (virtual) fsync, reads that see committed state only, and its agent. A
 * crash kills it: nothing it started runs on, nothing it was asked answers.
 */
class Incarnation implements SyncNode {
  alive = true;
  caughtUp = false;
  /** It issued facts when it started, so (as serve does) it takes no write until caught up. */
  gated = false;
  agent: SyncAgent | null = null;
  readonly #queue: Pending[] = [];
  #turn: Timer | null = null;
  /** The turn being made durable: its events and its callers' answers. */
  inFlight: { rows: EventDraft[]; done: Array<[Pending, Outcome]> } | null = null;
  readonly #reads: Array<() => void> = [];
  readonly #listeners: Array<() => void> = [];

  constructor(
    readonly host: SimNode,
    readonly state: State,
  ) {}

  read<T>(fn: (state: State) => T): Promise<T> {
    if (!this.alive) return never();
    const run = () => fn(this.state);
    if (this.inFlight === null) return Promise.resolve().then(run);
    return new Promise<T>((resolve, reject) =>
      this.#reads.push(() => {
        try {
          resolve(run());
        } catch (error) {
          reject(error);
        }
      }),
    );
  }

  submit(submission: { command: Command; view?: (state: State, events: readonly { payload: unknown }[]) => unknown }): Promise<Outcome> {
    if (!this.alive) return never();
    return new Promise<Outcome>((resolve) => {
      this.#queue.push({ command: submission.command, view: submission.view, resolve });
      this.#scheduleTurn();
    });
  }

  onCommitted(listener: () => void): void {
    this.#listeners.push(listener);
  }

  #scheduleTurn(): void {
    if (this.#turn !== null || this.inFlight !== null || this.#queue.length === 0) return;
    this.#turn = this.host.sim.queue.after(0, () => {
      this.#turn = null;
      if (this.alive) this.#runTurn();
    });
  }

  /** Executes everything queued, then makes it durable after a seeded fsync delay. */
  #runTurn(): void {
    const { sim } = this.host;
    const rows: EventDraft[] = [];
    const done: Array<[Pending, Outcome]> = [];
    for (const p of this.#queue.splice(0)) {
      let r;
      try {
        r = execute(this.state, p.command);
      } catch (error) {
        sim.problem(`${this.host.name}: ${p.command.kind} failed in execute: ${(error as Error)?.stack ?? String(error)}`);
        this.host.crash("an execution fault");
        return;
      }
      rows.push(...r.events);
      done.push([
        p,
        r.error ? { ok: false, error: r.error, events: [] } : { ok: true, seq: this.host.log.length + rows.length, events: [], view: p.view?.(this.state, r.events) },
      ]);
    }
    this.inFlight = { rows, done };
    // A crash armed for this node's next commit strikes now: executed, not yet durable.
    const armed = this.host.onNextCommit;
    if (armed !== null) {
      this.host.onNextCommit = null;
      armed();
      return;
    }
    sim.queue.after(this.host.random.int(0, 12), () => {
      if (this.alive) this.#durable();
    });
  }

  #durable(): void {
    const flight = this.inFlight as NonNullable<Incarnation["inFlight"]>;
    this.host.append(flight.rows);
    this.inFlight = null;
    for (const [p, outcome] of flight.done) p.resolve(outcome);
    for (const r of this.#reads.splice(0)) r();
    if (flight.rows.length > 0) for (const l of this.#listeners) l();
    this.#scheduleTurn();
  }
}

/** A node across its crashes: its name, key, peers and durable log. */
class SimNode {
  readonly log: LogEntry[] = [];
  life: Incarnation | null = null;
  /** Received batches its agents refused, over all its lives. */
  refusedBefore = 0;
  /** A crash waiting for the node's next commit to be in flight. */
  onNextCommit: (() => void) | null = null;
  /** Events of its genesis: what a backup always holds. */
  setupEvents = 0;

  constructor(
    readonly sim: SyncSim,
    readonly name: string,
    readonly signer: Signer,
    readonly identity: { hotkey: string; mothership: string },
    readonly random: SeededRandom,
  ) {}

  get url(): string {
    return `sim://${this.name}`;
  }

  get isMothership(): boolean {
    return this.identity.hotkey === this.identity.mothership;
  }

  get durableHead(): number {
    let h = 0;
    for (const e of this.log) h = Math.max(h, e.maxSeq);
    return h;
  }

  append(rows: readonly EventDraft[]): void {
    for (const d of rows) {
      const facts = factsOf(d);
      this.sim.noteFacts(this.name, facts);
      this.log.push({
        type: d.type,
        version: d.version,
        payload: encodePayload(d),
        maxSeq: facts.reduce((m, f) => Math.max(m, f.stream_seq), 0),
        rotation: facts.some((f) => f.type === "MothershipChanged"),
      });
    }
  }

  /** A fresh state from the durable log, as a restart builds it. */
  replay(): State {
    const state = createState({ strict: true });
    state.identity = { ...this.identity };
    for (const e of this.log) applyEvent(state, { type: e.type, version: e.version, payload: JSON.parse(e.payload) as JsonObject });
    return state;
  }

  /** The process starts: replays its log and runs a fresh agent. */
  start(): void {
    const life = new Incarnation(this, this.replay());
    life.gated = issuesFacts(life.state.sync, life.state.identity);
    this.life = life;
    const sim = this.sim;
    const scheduler: SyncScheduler = {
      now: () => sim.queue.now,
      setTimeout: (fn, ms) => sim.queue.after(ms, () => life.alive && fn()),
      clearTimeout: (handle) => {
        if (handle) (handle as Timer).cancelled = true;
      },
      random: () => this.random.float(),
    };
    const agent = new SyncAgent({
      node: life,
      identity: life.state.identity,
      hotkey: this.signer.address,
      root: sim.keys.rootAddress,
      sign: (m) => this.signer.sign(m),
      verify: sim.keys.verify,
      verifyRotation,
      peers: sim.nodes.filter((n) => n !== this).map((n) => n.url),
      transport: sim.net.transport(life),
      now: () => sim.queue.now,
      scheduler,
      pullIntervalMs: sim.pullIntervalMs,
      batchLimit: sim.batchLimit,
      say: (m) => sim.note(`${this.name}: ${m}`),
    });
    life.agent = agent;
    agent.start();
    void agent.caughtUp().then(() => {
      if (!life.alive) return;
      life.caughtUp = true;
      sim.note(`${this.name} caught up at stream_seq ${streamHead(life.state.sync).stream_seq}`);
    });
  }

  /** The process dies. A commit in flight was made durable or not (its callers never hear either way). */
  crash(why: string, options: { keepInFlight?: boolean } = {}): void {
    const life = this.life;
    if (!life) return;
    life.alive = false;
    this.refusedBefore += life.agent?.refusedBatches ?? 0;
    life.agent?.stop();
    this.life = null;
    if (life.inFlight !== null && life.inFlight.rows.length > 0) {
      if (options.keepInFlight ?? this.random.chance(0.5)) this.append(life.inFlight.rows);
      else this.sim.lostCommits++;
    }
    this.sim.note(`${this.name} crashed (${why}) with ${this.log.length} events durable, stream head ${this.durableHead}`);
  }
}

// ---- network --------------------------------------------------------------------------------------

interface NetFaults {
  /** Chance that a batch is altered on the way (a fact changed, re-hashed or not): it must be refused whole. */
  tamper: number;
  drop: number;
  duplicate: number;
  /** Chance that a message takes far longer than the others (reordered, maybe past the caller's timeout). */
  late: number;
  baseDelay: number;
}

/** The virtual network: every request and answer is a message that may be dropped, copied, delayed or cut off. */
class VirtualNet {
  faults: NetFaults;
  readonly stats: NetStats = { sent: 0, dropped: 0, duplicated: 0, delayed: 0, timeouts: 0, refusedDown: 0, partitioned: 0, tampered: 0 };
  /** Cut links, as "a|b" with a < b. */
  readonly cut = new Set<string>();

  constructor(
    readonly sim: SyncSim,
    readonly random: SeededRandom,
    faults: NetFaults,
  ) {
    this.faults = faults;
  }

  #blocked(a: string, b: string): boolean {
    return this.cut.has(a < b ? `${a}|${b}` : `${b}|${a}`);
  }

  #delay(): number {
    const f = this.faults;
    if (this.random.chance(f.late)) {
      this.stats.delayed++;
      return this.random.int(100, 5_000);
    }
    return f.baseDelay + this.random.int(0, f.baseDelay * 2);
  }

  /** Sends one message: delivered (maybe twice, maybe late) unless dropped or cut off. */
  #send(from: string, to: string, deliver: () => void): void {
    this.stats.sent++;
    if (this.#blocked(from, to)) {
      this.stats.partitioned++;
      return;
    }
    if (this.random.chance(this.faults.drop)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.random.chance(this.faults.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      this.sim.queue.after(this.#delay(), () => {
        // A partition that started meanwhile cuts the message off too.
        if (this.#blocked(from, to)) {
          this.stats.partitioned++;
          return;
        }
        deliver();
      });
    }
  }

  /** One request and its answer, as HTTP: JSON both ways, an error for a node that is down, a timeout for silence. */
  #call<T>(caller: Incarnation, to: string, handle: (agent: SyncAgent) => Promise<T>): Promise<T> {
    const from = caller.host.name;
    const target = this.sim.nodes.find((n) => n.url === to);
    if (!target) return Promise.reject(new Error(`no peer ${to}`));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled || !caller.alive) return;
        settled = true;
        timer.cancelled = true;
        fn();
      };
      const timer = this.sim.queue.after(TIMEOUT_MS, () =>
        finish(() => {
          this.stats.timeouts++;
          reject(new Error(`no answer from ${to} in ${TIMEOUT_MS} ms`));
        }),
      );
      const answer = (fn: () => void) => this.#send(target.name, from, () => finish(fn));
      this.#send(from, target.name, () => {
        const life = target.life;
        if (!life || !life.agent) {
          this.stats.refusedDown++;
          answer(() => reject(new Error(`${to}: connection refused`)));
          return;
        }
        handle(life.agent).then(
          (value) => {
            // A process that died while handling the request never answers it.
            if (!life.alive) return;
            const copy = JSON.parse(JSON.stringify(value)) as T;
            answer(() => resolve(copy));
          },
          (error: unknown) => {
            if (!life.alive) return;
            const message = (error as Error)?.message ?? String(error);
            answer(() => reject(new Error(`${to}: ${message}`)));
          },
        );
      });
    });
  }

  /** A batch altered on the way: a fact changed in place (its hash no longer matches), or changed and the chain re-hashed after it (the signed head no longer matches). */
  #tamper(batch: SyncBatch): SyncBatch {
    if (batch.events.length === 0 || !this.random.chance(this.faults.tamper)) return batch;
    this.stats.tampered++;
    const at = this.random.int(0, batch.events.length - 1);
    const events = batch.events.slice();
    const f = events[at] as SyncFact;
    events[at] = { ...f, payload: { ...f.payload, ...(f.type === "SubaccountCreated" ? { uuid: "00000000-0000-4000-8000-tampered0000" } : { tampered: true }) } };
    if (this.random.chance(0.5)) {
      let prev = { stream_seq: f.stream_seq - 1, hash: f.prev_hash };
      for (let k = at; k < events.length; k++) {
        const e = events[k] as SyncFact;
        events[k] = chainFact(prev, e.type, e.payload, e.ts_ms);
        prev = events[k] as SyncFact;
      }
      return { events, head: { ...batch.head, stream_seq: prev.stream_seq, hash: prev.hash } };
    }
    return { events, head: batch.head };
  }

  transport(caller: Incarnation): SyncTransport {
    return {
      head: (peer) => this.#call<PeerHead>(caller, peer, (agent) => agent.head()),
      pull: (peer, after, limit) =>
        this.#call(caller, peer, (agent) => agent.serve(after, limit)).then((answer) =>
          answer.events.length > 0 && answer.head.signature ? this.#tamper({ events: answer.events, head: { ...answer.head, signature: answer.head.signature } }) : null,
        ),
      push: (peer, batch) => {
        const body = this.#tamper(JSON.parse(JSON.stringify(batch)) as SyncBatch);
        return this.#call<PushAnswer>(caller, peer, (agent) => agent.receive(body));
      },
    };
  }
}

// ---- the run --------------------------------------------------------------------------------------

class SyncSim {
  readonly queue = new EventQueue();
  readonly nodes: SimNode[] = [];
  readonly problems: string[] = [];
  readonly trace: string[] = [];
  net!: VirtualNet;
  pullIntervalMs = 5_000;
  batchLimit = 500;
  lostCommits = 0;
  /** stream_seq -> the hash any node ever held durably there. */
  readonly #seqs = new Map<number, string>();
  /** `${entity}_${id}` -> the uuid any node ever held durably for it. */
  readonly #uuids = new Map<string, string>();

  constructor(readonly keys: Keys) {}

  problem(text: string): void {
    if (this.problems.length < 20) this.problems.push(`t=${Math.round(this.queue.now - START_MS)} ms: ${text}`);
  }

  note(line: string): void {
    this.trace.push(`t=${Math.round(this.queue.now - START_MS)}: ${line}`);
    if (this.trace.length > 60) this.trace.shift();
  }

  /** Every fact any node made durable: one fact per stream_seq and one uuid per (entity, id), ever. */
  noteFacts(node: string, facts: readonly SyncFact[]): void {
    for (const f of facts) {
      const held = this.#seqs.get(f.stream_seq);
      if (held === undefined) this.#seqs.set(f.stream_seq, f.hash);
      else if (held !== f.hash) this.problem(`${node} holds stream_seq ${f.stream_seq} as ${f.hash.slice(0, 12)} (${f.type}); another node held ${held.slice(0, 12)} there`);
      if (f.type !== "SubaccountCreated") continue;
      const key = `${String(f.payload.entity)}_${String(f.payload.id)}`;
      const uuid = String(f.payload.uuid);
      const had = this.#uuids.get(key);
      if (had === undefined) this.#uuids.set(key, uuid);
      else if (had !== uuid) this.problem(`${node} holds subaccount ${key} with uuid ${uuid}; it was issued before with uuid ${had}: an id issued twice`);
    }
  }

  /** Runs every event due by `until` (or until `stop` says so, asked every virtual second). */
  async run(until: number, stop?: () => boolean): Promise<void> {
    let check = this.queue.now + 1_000;
    for (;;) {
      if (this.problems.length > 0) return;
      if (stop && this.queue.now >= check) {
        check = this.queue.now + 1_000;
        if (stop()) return;
      }
      const limit = stop ? Math.min(until, check) : until;
      const t = this.queue.next(limit);
      if (t === null) {
        this.queue.now = Math.max(this.queue.now, limit);
        if (limit >= until) return;
        continue;
      }
      this.queue.now = t.at;
      t.fn();
      await settle();
    }
  }
}


/** One seed of the sync simulator. */
export async function runSyncSeed(options: SyncSimOptions): Promise<SyncSeedReport> {
  const started = performance.now();
  const random = new SeededRandom(options.seed);
  const planRandom = random.fork(1);
  const workRandom = random.fork(2);
  const sim = new SyncSim(await keysFor(options.crypto ?? "sr25519"));
  const span = options.spanMs ?? DEFAULT_SPAN_MS;
  const followers = planRandom.int(2, 4);
  sim.pullIntervalMs = planRandom.pick([1_000, 2_000, 5_000]);
  sim.batchLimit = planRandom.pick([1, 3, 10, 50, 500]);
  const calm: NetFaults = { tamper: 0, drop: 0, duplicate: 0, late: 0, baseDelay: planRandom.int(1, 20) };
  const rough: NetFaults = {
    tamper: planRandom.pick([0, 0.01, 0.05]),
    drop: planRandom.pick([0, 0.02, 0.1, 0.3]),
    duplicate: planRandom.pick([0, 0.05, 0.2]),
    late: planRandom.pick([0, 0.05, 0.2]),
    baseDelay: calm.baseDelay,
  };
  sim.net = new VirtualNet(sim, random.fork(3), rough);
  const signers = sim.keys.signers;
  const m = (signers[0] as Signer).address;
  for (let i = 0; i <= followers; i++) {
    const s = signers[i] as Signer;
    sim.nodes.push(new SimNode(sim, i === 0 ? "m" : `f${i}`, s, { hotkey: s.address, mothership: m }, random.fork(10 + i)));
  }
  const first = sim.nodes[0] as SimNode;
  /** The mothership as the operator knows it: the first node, then whoever a rotation named. */
  let current = first;
  /** The node a restore stopped (no planned crash touches it meanwhile). */
  let restoring: SimNode | null = null;

  let partitions = 0;
  let crashes = 0;
  let restores = 0;
  let restoresSkipped = 0;
  let followerRestores = 0;
  let rotations = 0;
  let restoredFacts = 0;
  let acked = 0;
  const refused: Record<string, number> = {};
  const ackedCreations: Array<{ entity: string; id: number; uuid: string }> = [];
  let paused = false;
  let healed = false;
  let virtualMs = 0;

  try {
    // Genesis everywhere (each node's own devnet chain).
    for (const node of sim.nodes) {
      const state = createState({ strict: true });
      state.identity = { ...node.identity };
      // Every validator sees the same subnet: the entities are neurons with collateral on each node's chain
      // (a follower does not track collateral; a node a rotation names needs them to issue).
      const setup: Command[] = [
        { kind: "genesis", endowments: [{ owner: COLD, amount_rao: 1_000_000n * TAO }], chain: { root: sim.keys.rootAddress, subnets: [{ netuid: 1, ownerHotkey: "5SimOwner", ownerColdkey: COLD }] } },
        { kind: "block", ts: START_MS, extrinsics: ENTITIES.map((hotkey) => ({ call: "subtensor.burned_register", signer: COLD, args: { netuid: 1, hotkey } })) },
        { kind: "block", ts: START_MS, extrinsics: ENTITIES.map((hotkey) => ({ call: "collateral.deposit", signer: COLD, args: { hotkey, amount_rao: (5_000n * TAO).toString() } })) },
      ];
      for (const c of setup) {
        const r = execute(state, c);
        if (r.error) throw new Error(`setup ${c.kind} on ${node.name}: ${r.error.message}`);
        node.append(r.events);
      }
    }
    for (const node of sim.nodes) node.setupEvents = node.log.length;
    for (const node of sim.nodes) node.start();

    // ---- the fault plan ----
    const nodeNames = sim.nodes.map((n) => n.name);
    const link = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);
    for (let i = planRandom.int(0, 3); i > 0; i--) {
      const at = planRandom.int(0, span);
      const isolate = planRandom.chance(0.5);
      const a = planRandom.pick(nodeNames);
      const b = planRandom.pick(nodeNames.filter((n) => n !== a));
      const links = isolate ? nodeNames.filter((n) => n !== a).map((n) => link(a, n)) : [link(a, b)];
      const lasts = planRandom.int(1_000, 30_000);
      sim.queue.after(at, () => {
        if (healed) return;
        partitions++;
        for (const l of links) sim.net.cut.add(l);
        sim.note(`partition: ${links.join(", ")} for ${lasts} ms`);
        sim.queue.after(lasts, () => {
          for (const l of links) sim.net.cut.delete(l);
          sim.note(`partition healed: ${links.join(", ")}`);
        });
      });
    }
    for (let i = planRandom.int(0, 4); i > 0; i--) {
      const at = planRandom.int(0, span);
      const node = planRandom.chance(0.35) ? first : planRandom.pick(sim.nodes);
      const down = planRandom.chance(0.3) ? 0 : planRandom.int(50, 15_000);
      // Half the crashes strike in the middle of a commit (executed, maybe durable, never answered).
      const midCommit = planRandom.chance(0.5);
      // Some followers come back from an old backup: whatever it lacks, they pull again.
      const fromBackup = planRandom.chance(0.3);
      const cutDraw = planRandom.float();
      const strike = (why: string) => {
        if (healed || node.life === null || node === restoring) return;
        crashes++;
        node.crash(why);
        // The mothership in office comes back from a backup only through the restore below.
        // Only facts another node holds durably are cut (a backup losing the last copy of a fact loses it for good).
        const elsewhere = Math.max(...sim.nodes.filter((n) => n !== node).map((n) => n.durableHead));
        if (fromBackup && node !== current && node.durableHead <= elsewhere) {
          const before = node.durableHead;
          node.log.length = Math.min(node.log.length, node.setupEvents + Math.floor(cutDraw * (node.log.length - node.setupEvents + 1)));
          followerRestores++;
          restoredFacts += before - node.durableHead;
          sim.note(`${node.name} restored from a backup: stream head ${before} -> ${node.durableHead}`);
        }
        sim.queue.after(down, () => {
          if (node.life === null) node.start();
        });
      };
      sim.queue.after(at, () => {
        if (midCommit) node.onNextCommit = () => strike("in the middle of a commit");
        else strike("planned");
      });
    }
    // A mothership restored from an old backup: stopped, its log cut to an earlier prefix, restarted.
    if (planRandom.chance(0.4) || options.alwaysRestore) {
      const at = planRandom.int(Math.floor(span * 0.2), Math.floor(span * 0.8));
      const downFor = planRandom.int(8_000, 20_000);
      // Squared: deep cuts (many facts lost with the backup) as often as shallow ones.
      const cutDraw = planRandom.float() ** 2;
      sim.queue.after(at, () => {
        paused = true;
        sim.note("restore: the workload pauses until a follower holds the mothership's facts");
        const deadline = sim.queue.now + 60_000;
        const attempt = () => {
          if (healed) {
            restoresSkipped++;
            paused = false;
            return;
          }
          const m = current;
          const held = Math.max(...sim.nodes.filter((n) => n !== m).map((n) => n.durableHead));
          const lossy = options.plant?.lossyRestore ?? false;
          if (m.life === null || (!lossy && held < m.durableHead)) {
            if (sim.queue.now < deadline) sim.queue.after(500, attempt);
            else {
              restoresSkipped++;
              paused = false;
            }
            return;
          }
          restores++;
          restoring = m;
          m.crash("stopped for a restore", { keepInFlight: false });
          const before = m.durableHead;
          // The backup may be from before the node became the mothership (it then restarts a follower, learns the rotation, catches up again).
          const cut = m.setupEvents + Math.floor(cutDraw * (m.log.length - m.setupEvents + 1));
          m.log.length = Math.min(m.log.length, cut);
          restoredFacts += before - m.durableHead;
          sim.note(`restore: ${m.name}'s log cut to ${m.log.length} events (stream head ${before} -> ${m.durableHead}); down ${downFor} ms`);
          sim.queue.after(downFor, () => {
            if (m.life === null) m.start();
            restoring = null;
            paused = false;
          });
        };
        attempt();
      });
    }

    // ---- the workload, on the mothership; one that issued facts when it started takes writes once caught up (as serve does) ----
    let rotateAt = planRandom.chance(0.35) && !options.noRotation ? planRandom.int(0, span) : Infinity;
    const tick = () => {
      if (healed) return;
      sim.queue.after(workRandom.int(100, 1_500), tick);
      const life = current.life;
      if (!life || paused || !(!life.gated || life.caughtUp || options.plant?.skipCatchUp)) return;
      // The planted bug: a node that does not hold back its own writes while it catches up.
      if (options.plant?.skipCatchUp) life.state.identity.catchingUp = false;
      if (sim.queue.now >= rotateAt) {
        rotateAt = Infinity;
        void rotate(life, workRandom.pick(sim.nodes.filter((n) => n !== current)));
        return;
      }
      for (let n = workRandom.int(1, 3); n > 0; n--) void submitOne(life);
    };
    /** Root rotates the mothership key to another node's (POST /v1/sync/mothership with root's signed request). */
    const rotate = async (life: Incarnation, to: SimNode) => {
      const at = await life.read((state) => streamHead(state.sync).stream_seq);
      const body = JSON.stringify({ to: to.signer.address, at_stream_seq: at });
      const uuid = workRandom.uuid();
      const timestamp = String(Math.floor(sim.queue.now));
      const signature = signMessage(sim.keys.root, epistulaMessage(sha256hex(body), uuid, timestamp, ""));
      const authorization = { signer: sim.keys.rootAddress, uuid, timestamp, signed_for: "", body, signature };
      const outcome = await life.submit({ command: { kind: "change_mothership", ts: sim.queue.now, to: to.signer.address, at_stream_seq: at, authorization } });
      if (outcome.ok) {
        rotations++;
        acked++;
        sim.note(`rotation: the mothership is now ${to.name} (after stream_seq ${at})`);
        current = to;
      } else {
        refused[outcome.error.code] = (refused[outcome.error.code] ?? 0) + 1;
        sim.note(`rotation to ${to.name} refused: ${outcome.error.code} ${outcome.error.message}`);
      }
    };
    const submitOne = async (life: Incarnation) => {
      const command = await life.read((state) => pickCommand(state, workRandom, sim.queue.now, sim.keys.rootAddress));
      if (command === null) return;
      const outcome = await life.submit({
        command,
        view: (_state, events) => (command.kind === "create_subaccount" ? (events[0]?.payload as { entity: string; id: number; uuid: string }) : undefined),
      });
      if (outcome.ok) {
        acked++;
        const v = outcome.view as { entity: string; id: number; uuid: string } | undefined;
        if (v) ackedCreations.push({ entity: v.entity, id: v.id, uuid: v.uuid });
      } else {
        refused[outcome.error.code] = (refused[outcome.error.code] ?? 0) + 1;
        // NOT_MOTHERSHIP is expected from a new mothership that has not yet received its rotation.
        if (outcome.error.code === "INTERNAL") sim.problem(`the mothership refused ${command.kind}: ${outcome.error.code} ${outcome.error.message}`);
      }
    };
    sim.queue.after(0, tick);

    await sim.run(START_MS + span);

    // ---- heal: no more faults, every node up, until they agree ----
    healed = true;
    paused = false;
    for (const node of sim.nodes) node.onNextCommit = null;
    sim.net.faults = calm;
    sim.net.cut.clear();
    sim.note("healed: partitions gone, the network reliable, every node up");
    for (const node of sim.nodes) if (node.life === null) node.start();
    const agreed = (): boolean => {
      const lives = sim.nodes.map((n) => n.life);
      if (lives.some((l) => l === null || l.inFlight !== null)) return false;
      // Every fact lives on some node, so nodes all up and all equal have all of them.
      const want = syncStateHash((lives[0] as Incarnation).state);
      return lives.every((l) => syncStateHash((l as Incarnation).state) === want);
    };
    const healedAt = sim.queue.now;
    await sim.run(healedAt + CONVERGE_MS, agreed);
    const converged = sim.problems.length === 0 && agreed();
    virtualMs = sim.queue.now - START_MS;
    if (sim.problems.length === 0 && !converged) {
      const heads = sim.nodes.map((n) => `${n.name} ${n.life ? streamHead(n.life.state.sync).stream_seq : "down"}${n.life?.agent ? ` (${n.life.agent.condition()?.problem ?? "ok"})` : ""}`);
      sim.problem(`the nodes did not agree ${CONVERGE_MS / 1000} s after the heal: stream heads ${heads.join("; ")}`);
    }

    // ---- the checks ----
    if (sim.problems.length === 0) {
      const mState = (current.life as Incarnation).state;
      for (const node of sim.nodes) {
        const state = (node.life as Incarnation).state;
        if (state.sync.conflicts.size > 0) {
          const c = state.sync.conflicts.sortedEntries().map(([, k]) => `${k.stream_seq}: ${k.message}`);
          sim.problem(`${node.name} recorded ${state.sync.conflicts.size} conflict(s): ${c.slice(0, 3).join(" | ")}`);
        }
        if (stateHash(node.replay()) !== stateHash(state)) sim.problem(`${node.name}: replaying its log does not give its live state`);
      }
      for (const a of ackedCreations) {
        const sub = mState.entities.subaccounts.get(`${a.entity}_${a.id}`);
        if (sub?.uuid !== a.uuid) sim.problem(`acknowledged subaccount ${a.entity}_${a.id} (uuid ${a.uuid}) is ${sub ? `uuid ${sub.uuid}` : "gone"} at the end`);
      }
    }
  } catch (error) {
    sim.problem((error as Error)?.stack ?? String(error));
  } finally {
    for (const node of sim.nodes) node.life?.agent?.stop();
  }
  const mLife = current.life;
  return {
    seed: options.seed,
    ok: sim.problems.length === 0,
    problems: sim.problems,
    followers,
    facts: mLife ? streamHead(mLife.state.sync).stream_seq : current.durableHead,
    net: { ...sim.net.stats },
    partitions,
    crashes,
    restores,
    restoresSkipped,
    followerRestores,
    rotations,
    restoredFacts,
    lostCommits: sim.lostCommits,
    refusedBatches: sim.nodes.reduce((s, n) => s + n.refusedBefore + (n.life?.agent?.refusedBatches ?? 0), 0),
    acked,
    refused,
    virtualMs,
    ms: Math.round(performance.now() - started),
    trace: sim.trace,
  };
}

/** A mothership command: registrations first, then mostly creations, some eliminations and reinstatements by root. */
function pickCommand(state: State, random: SeededRandom, now: number, root: string): Command | null {
  const registered = ENTITIES.filter((e) => state.entities.entities.has(e));
  const unregistered = ENTITIES.filter((e) => !state.entities.entities.has(e));
  if (unregistered.length > 0 && (registered.length === 0 || random.chance(0.15))) {
    return { kind: "register_entity", ts: now, hotkey: random.pick(unregistered), max_subaccounts: random.chance(0.3) ? undefined : random.int(2, 12) };
  }
  const subs = state.entities.subaccounts.sortedEntries();
  const active = subs.filter(([, s]) => s.status === "active").map(([k]) => k);
  const gone = subs.filter(([, s]) => s.status !== "active").map(([k]) => k);
  const kind = random.weighted({ create: 6, eliminate: active.length > 0 ? 2 : 0, reinstate: gone.length > 0 ? 1.5 : 0, again: 0.2 });
  switch (kind) {
    case "create":
      return { kind: "create_subaccount", ts: now, entity: random.pick(registered), account_size_usd: random.pick([undefined, 1_000, 10_000, 50_000, 100_000]), uuid: random.uuid() };
    case "eliminate":
      return { kind: "eliminate_subaccount", ts: now, synthetic: random.pick(active), reason: "sim", by: root };
    case "reinstate":
      return { kind: "reinstate_subaccount", ts: now, synthetic: random.pick(gone), reason: "sim: reviewed", by: root };
    default:
      // Refused (ENTITY_EXISTS): a refusal issues nothing.
      return { kind: "register_entity", ts: now, hotkey: random.pick(registered) };
  }
}
