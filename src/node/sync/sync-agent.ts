import { DomainError } from "../../core/errors/errors.ts";
import type { Command } from "../../core/machine/commands.ts";
import type { State } from "../../core/machine/state.ts";
import type { SyncBatchOutcome } from "../../core/sync/sync-commands.ts";
import type { SyncFact } from "../../core/sync/sync-fact.ts";
import { issuerOf, issuesFacts, mothershipOf, type NodeIdentity, streamHead, syncStateHash } from "../../core/sync/sync-state.ts";
import type { NodeCondition } from "../node.ts";
import type { Outcome } from "../writer.ts";
import { batchAfter, MAX_BATCH, type SyncBatch } from "./sync-stream.ts";
import { type PeerHead, type PushAnswer, REAL_SCHEDULER, type SyncScheduler, type SyncTransport } from "./sync-transport.ts";

/** What the agent needs of a node: committed reads, the writer, and word of each commit. */
export interface SyncNode {
  read<T>(fn: (state: State) => T): Promise<T>;
  submit(submission: { command: Command; view?: (state: State, events: readonly { payload: unknown }[]) => unknown }): Promise<Outcome>;
  /** After each durable commit, with its rows when known (a commit without facts wakes no push). */
  onCommitted(listener: (rows?: ReadonlyArray<{ type: string; payload: string }>) => void): void;
}

export interface SyncAgentOptions {
  node: SyncNode;
  /**
   * The node's identity (the same object its state holds): the agent sets `catchingUp` while this
   * node may hold less than its peers, so that it issues nothing meanwhile.
   */
  identity: NodeIdentity;
  /** This node's hotkey; it signs the heads of the facts it issued. */
  hotkey: string;
  /** Root, whose signed request authorises a mothership rotation. */
  root: string;
  sign: (message: string) => string;
  verify: (signer: string, message: string, signature: string) => boolean;
  /** Checks root's authorisation carried by a MothershipChanged fact. */
  verifyRotation: (fact: SyncFact, root: string) => boolean;
  peers: readonly string[];
  transport: SyncTransport;
  /** Node time, for the commands it submits. */
  now: () => number;
  scheduler?: SyncScheduler;
  /** How often every peer is asked for what this node misses (default 5 s, ±20 %). */
  pullIntervalMs?: number;
  /** Facts per pushed or pulled batch (default 200: one batch is one writer task, kept under 10 ms). */
  batchLimit?: number;
  say?: (message: string) => void;
}

interface Peer {
  url: string;
  /** The peer's stream_seq as last heard (null until it answered). */
  head: number | null;
  hotkey: string | null;
  mothership: string | null;
  lastError: string | null;
  failures: number;
  /** Pushed batches it refused. */
  refused: number;
  /** It answered, and this node then held everything it had. */
  caughtUp: boolean;
  /** A pull round was tried at least once (answered or not). */
  tried: boolean;
  busy: boolean;
  timer: unknown;
  pushTimer: unknown;
}

export interface SyncPeerStatus {
  url: string;
  hotkey: string | null;
  stream_seq: number | null;
  /** How far it is behind this node (negative: ahead). */
  lag: number | null;
  reachable: boolean;
  last_error: string | null;
  refused_pushes: number;
}

/** Facts per batch: ~15-20 µs each to apply, so one batch stays well under the writer's 10 ms. */
export const DEFAULT_BATCH = 200;

/** Head signatures this node made, kept for re-use: each push and pull of the same head would sign again. */
const SIGNATURE_CACHE = 1_024;

/** Backoff after `failures` failed attempts: 500 ms doubling to 30 s, ±20 % jitter. */
function backoff(failures: number, random: number): number {
  const base = Math.min(30_000, 500 * 2 ** Math.min(failures - 1, 10));
  return base * (0.8 + 0.4 * random);
}

/**
 * Peer sync for one node (DESIGN.md §4.1). The mothership pushes its facts to every peer from the
 * durable outbox (the stream in its state: nothing is lost on a crash), signing each batch's head
 * afresh, with retries and backoff; every node pulls what it misses from every peer on start and
 * periodically. A mothership issues nothing until every peer answered and it holds all they hold,
 * so one restored from an old backup cannot reissue ids (`catchUp`).
 */
export class SyncAgent {
  readonly #o: SyncAgentOptions;
  readonly #scheduler: SyncScheduler;
  readonly #peers: Peer[];
  readonly #limit: number;
  #stopped = false;
  #started = false;
  #caughtUp: Promise<void>;
  #resolveCaughtUp: () => void = () => undefined;
  #isCaughtUp = false;
  /** Batches received and refused (forged, tampered, not chaining), since start. */
  refusedBatches = 0;
  /** This node's stream head as last read (for status without a read). */
  #head = 0;
  readonly #signed = new Map<string, string>();
  #stateHash: { key: string; hash: string } | null = null;

  constructor(options: SyncAgentOptions) {
    this.#o = options;
    this.#scheduler = options.scheduler ?? REAL_SCHEDULER;
    this.#limit = Math.min(options.batchLimit ?? DEFAULT_BATCH, MAX_BATCH);
    this.#peers = [...new Set(options.peers)].map((url) => ({
      url,
      head: null,
      hotkey: null,
      mothership: null,
      lastError: null,
      failures: 0,
      refused: 0,
      caughtUp: false,
      tried: false,
      busy: false,
      timer: null,
      pushTimer: null,
    }));
    this.#caughtUp = new Promise((resolve) => (this.#resolveCaughtUp = resolve));
    // From the moment the node has an agent: nothing is issued before its first round with every peer.
    if (this.#peers.length > 0) options.identity.catchingUp = true;
    options.node.onCommitted((rows) => {
      // Orders and prices commit far more often than facts: only a commit that carries facts wakes the pushes.
      if (rows === undefined || rows.some((r) => r.type.startsWith("SyncBatchApplied@") || r.payload.includes('"facts":['))) this.#wakePushes();
    });
  }

  get peers(): readonly string[] {
    return this.#peers.map((p) => p.url);
  }

  /** Starts pulling from every peer (and pushing, while this node issues facts). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#checkCaughtUp();
    for (const peer of this.#peers) this.#schedulePull(peer, 0);
  }

  stop(): void {
    this.#stopped = true;
    for (const peer of this.#peers) {
      this.#scheduler.clearTimeout(peer.timer);
      this.#scheduler.clearTimeout(peer.pushTimer);
    }
    this.#resolveCaughtUp();
  }

  /** Settles once every peer answered and this node held all they held (at once without peers). */
  caughtUp(): Promise<void> {
    return this.#caughtUp;
  }

  get isCaughtUp(): boolean {
    return this.#isCaughtUp;
  }

  /** Signs a head hash this node issued (a cached signature when it signed it before). */
  #sign(hash: string): string {
    let signature = this.#signed.get(hash);
    if (signature === undefined) {
      signature = this.#o.sign(hash);
      if (this.#signed.size >= SIGNATURE_CACHE) this.#signed.delete(this.#signed.keys().next().value as string);
      this.#signed.set(hash, signature);
    }
    return signature;
  }

  // ---- receiving -----------------------------------------------------------------------------------

  /** A batch pushed to this node or pulled by it: checked, then applied by the writer as one command. */
  async receive(batch: SyncBatch): Promise<PushAnswer> {
    const { node } = this.#o;
    const expect = await node.read((state) => {
      const here = streamHead(state.sync).stream_seq;
      // The head is signed by whoever issued its fact: known here for a fact this node holds, else the mothership in office.
      const signer = issuerOf(state.sync, state.identity, batch.head.stream_seq);
      return { signer, here };
    });
    const refused = (why: string): PushAnswer => {
      this.refusedBatches++;
      this.#o.say?.(`sync: refused a batch ending at stream_seq ${batch.head.stream_seq}: ${why}`);
      return { applied: 0, duplicates: 0, conflicts: 0, refused: 1, stream_seq: expect.here };
    };
    if (expect.signer === null || !this.#o.verify(expect.signer, batch.head.hash, batch.head.signature)) {
      return refused(`its head is not signed by the mothership ${String(expect.signer)}`);
    }
    for (const fact of batch.events) {
      if (fact.type === "MothershipChanged" && fact.stream_seq > expect.here && !this.#o.verifyRotation(fact, this.#o.root)) {
        return refused(`stream_seq ${fact.stream_seq} rotates the mothership without root's signed request`);
      }
    }
    // A rotation to this node: it stops issuing before the batch is applied (commands committed
    // with it must not issue), and until it caught up again with every peer.
    const rotatesToMe = batch.events.some((f) => f.type === "MothershipChanged" && f.payload.to === this.#o.hotkey && f.stream_seq > expect.here);
    if (rotatesToMe) this.#catchUpAgain();
    let outcome: Outcome;
    try {
      outcome = await node.submit({
        command: { kind: "apply_sync_batch", ts: this.#o.now(), facts: batch.events, head: batch.head, signer: expect.signer },
        view: (_state, events) => (events[0]?.payload as { ref?: SyncBatchOutcome } | undefined)?.ref,
      });
    } catch (error) {
      // The writer refused everything (shutting down, disk full): nothing applied, the sender retries.
      throw error instanceof DomainError ? error : new DomainError("UNAVAILABLE", (error as Error).message);
    }
    const here = await node.read((state) => streamHead(state.sync).stream_seq);
    this.#head = here;
    if (!outcome.ok) {
      if (outcome.error.details.refused === true) return refused(outcome.error.message);
      const duplicates = typeof outcome.error.details.duplicates === "number" ? outcome.error.details.duplicates : 0;
      return { applied: 0, duplicates, conflicts: 0, refused: 0, stream_seq: here };
    }
    const ref = outcome.view as SyncBatchOutcome;
    if (ref.conflicts > 0) this.#o.say?.(`sync: SYNC_CONFLICT recorded in the batch ending at stream_seq ${batch.head.stream_seq} (see /healthz)`);
    if (ref.applied > 0) this.#wakePushes();
    return { ...ref, refused: 0, stream_seq: here };
  }

  // ---- serving -------------------------------------------------------------------------------------

  /** GET /v1/sync/events: facts after `after`, up to a signed head (signed now when this node issued it). */
  async serve(after: number, limit: number): Promise<{ events: SyncFact[]; head: { stream_seq: number; hash: string; signature: string | null } }> {
    const found = await this.#o.node.read((state) => ({ batch: batchAfter(state, after, limit, this.#o.hotkey), head: streamHead(state.sync) }));
    if (!found.batch) return { events: [], head: { ...found.head, signature: null } };
    const last = found.batch.facts[found.batch.facts.length - 1] as SyncFact;
    const signature = found.batch.signature ?? this.#sign(last.hash);
    return { events: found.batch.facts, head: { stream_seq: last.stream_seq, hash: last.hash, signature } };
  }

  /**
   * GET /v1/sync/head: with `stateHash`, the hash of the entity facts. It covers every subaccount,
   * and only facts change it, so it is computed once per stream head and log seq.
   */
  async head(stateHash = false): Promise<PeerHead & { conflicts: number; sync_state_hash?: string }> {
    return this.#o.node.read((state) => {
      const head = streamHead(state.sync);
      let hash: string | undefined;
      if (stateHash) {
        const key = `${head.hash}|${state.sync.conflicts.size}|${state.sync.pending.size}|${state.entities.subaccounts.size}`;
        if (this.#stateHash?.key !== key) this.#stateHash = { key, hash: syncStateHash(state) };
        hash = this.#stateHash.hash;
      }
      return {
        ...head,
        mothership: mothershipOf(state.sync, state.identity),
        hotkey: this.#o.hotkey,
        conflicts: state.sync.conflicts.size,
        ...(hash === undefined ? {} : { sync_state_hash: hash }),
      };
    });
  }

  // ---- pulling -------------------------------------------------------------------------------------

  #schedulePull(peer: Peer, ms: number): void {
    if (this.#stopped) return;
    this.#scheduler.clearTimeout(peer.timer);
    peer.timer = this.#scheduler.setTimeout(() => void this.#pullRound(peer), ms);
  }

  /** Asks a peer its head, pulls until this node holds all it holds, pushes if this node issues and the peer is behind. */
  async #pullRound(peer: Peer): Promise<void> {
    if (this.#stopped) return;
    if (peer.busy) return this.#schedulePull(peer, 50);
    peer.busy = true;
    try {
      const h = await this.#o.transport.head(peer.url);
      Object.assign(peer, { head: h.stream_seq, hotkey: h.hotkey, mothership: h.mothership });
      let here = await this.#o.node.read((state) => streamHead(state.sync).stream_seq);
      const target = peer.head ?? 0;
      // The next batch downloads while this one is applied: catch-up takes the longer of the two, not their sum.
      const fetch = (after: number) => {
        const p = after < target ? this.#o.transport.pull(peer.url, after, this.#limit) : Promise.resolve(null);
        p.catch(() => undefined);
        return p;
      };
      let next = fetch(here);
      while (!this.#stopped && here < target) {
        const batch = await next;
        if (!batch) break;
        next = fetch(batch.head.stream_seq);
        const answer = await this.receive(batch);
        if (answer.stream_seq <= here) break;
        here = answer.stream_seq;
      }
      this.#head = here;
      peer.caughtUp = peer.head !== null && here >= peer.head;
      peer.failures = 0;
      peer.lastError = null;
    } catch (error) {
      peer.failures++;
      peer.lastError = (error as Error).message;
    } finally {
      peer.busy = false;
      peer.tried = true;
    }
    this.#checkCaughtUp();
    const interval = this.#o.pullIntervalMs ?? 5_000;
    const random = this.#scheduler.random();
    this.#schedulePull(peer, peer.failures > 0 ? Math.min(backoff(peer.failures, random), interval) : interval * (0.8 + 0.4 * random));
    if (peer.failures === 0) this.#pushSoon(peer, 0);
  }

  #checkCaughtUp(): void {
    if (!this.#started || (this.#isCaughtUp && this.#o.identity.catchingUp !== true)) return;
    if (!this.#peers.every((p) => p.caughtUp)) return;
    this.#isCaughtUp = true;
    this.#o.identity.catchingUp = false;
    this.#resolveCaughtUp();
    void this.#settlePending();
  }

  /**
   * This node was made the mothership by a rotation it just applied: a peer may hold facts this node
   * issued before it was restored from a backup. It issues nothing until every peer answered again
   * and it holds all they hold.
   */
  #catchUpAgain(): void {
    this.#o.identity.catchingUp = true;
    for (const peer of this.#peers) {
      peer.caughtUp = false;
      this.#schedulePull(peer, 0);
    }
    this.#checkCaughtUp();
  }

  /**
   * Subaccounts frozen while this node followed are eliminated now that it is the mothership (it
   * issues their eliminations as facts); on a follower nothing happens.
   */
  async #settlePending(): Promise<void> {
    const pending = await this.#o.node.read((state) =>
      issuesFacts(state.sync, state.identity) ? state.sync.pending.sortedEntries().map(([synthetic, p]) => ({ synthetic, reason: p.reason })) : [],
    );
    for (const p of pending) {
      if (this.#stopped) return;
      await this.#o.node
        .submit({ command: { kind: "eliminate_subaccount", ts: this.#o.now(), synthetic: p.synthetic, reason: p.reason, by: this.#o.hotkey } })
        .catch((error: unknown) => this.#o.say?.(`sync: pending elimination of ${p.synthetic} not issued: ${(error as Error).message}`));
    }
  }

  // ---- pushing -------------------------------------------------------------------------------------

  #wakePushes(): void {
    if (!this.#isCaughtUp || this.#stopped) return;
    for (const peer of this.#peers) if (peer.failures === 0) this.#pushSoon(peer, 0);
  }

  #pushSoon(peer: Peer, ms: number): void {
    if (this.#stopped || !this.#isCaughtUp || peer.pushTimer !== null) return;
    peer.pushTimer = this.#scheduler.setTimeout(() => {
      peer.pushTimer = null;
      void this.#push(peer);
    }, ms);
  }

  /** Sends a peer what it lacks, while this node issues facts; the outbox is the stream itself. */
  async #push(peer: Peer): Promise<void> {
    if (this.#stopped) return;
    if (peer.busy) return this.#pushSoon(peer, 20);
    peer.busy = true;
    try {
      for (;;) {
        if (peer.head === null) peer.head = (await this.#o.transport.head(peer.url)).stream_seq;
        const after = peer.head;
        const found = await this.#o.node.read((state) => ({
          issues: issuesFacts(state.sync, state.identity),
          batch: batchAfter(state, after, this.#limit, this.#o.hotkey),
          here: streamHead(state.sync).stream_seq,
        }));
        this.#head = found.here;
        if (!found.issues || !found.batch || after >= found.here) break;
        const last = found.batch.facts[found.batch.facts.length - 1] as SyncFact;
        const answer = await this.#o.transport.push(peer.url, {
          events: found.batch.facts,
          head: { stream_seq: last.stream_seq, hash: last.hash, signature: found.batch.signature ?? this.#sign(last.hash) },
        });
        peer.head = answer.stream_seq;
        if (answer.refused > 0 || answer.stream_seq <= after) {
          // It holds another history or a gap: pull rounds and the operator sort it out; retry later.
          peer.refused += answer.refused;
          throw new Error(answer.refused > 0 ? "the peer refused the batch" : `the peer stays at stream_seq ${answer.stream_seq}`);
        }
      }
      peer.failures = 0;
      peer.lastError = null;
    } catch (error) {
      peer.failures++;
      peer.lastError = (error as Error).message;
      peer.head = null;
      peer.busy = false;
      return this.#pushSoon(peer, backoff(peer.failures, this.#scheduler.random()));
    }
    peer.busy = false;
  }

  /** The URL of the peer whose hotkey this is, once it answered. */
  urlOf(hotkey: string): string | null {
    return this.#peers.find((p) => p.hotkey === hotkey)?.url ?? null;
  }

  // ---- status --------------------------------------------------------------------------------------

  /** Per peer, for /healthz and `propnet status`. */
  peerStatus(): SyncPeerStatus[] {
    return this.#peers.map((p) => ({
      url: p.url,
      hotkey: p.hotkey,
      stream_seq: p.head,
      lag: p.head === null ? null : this.#head - p.head,
      reachable: p.failures === 0 && p.tried,
      last_error: p.lastError,
      refused_pushes: p.refused,
    }));
  }

  /** Advisory problems (unreachable peers, outbox backlog, refused pushes): they never change `status`. */
  condition(): NodeCondition | null {
    const lines: string[] = [];
    if (!this.#isCaughtUp && this.#started) {
      const waiting = this.#peers.filter((p) => !p.caughtUp).map((p) => p.url);
      lines.push(`sync: catching up with peers (waiting for ${waiting.join(", ")})`);
    }
    for (const p of this.#peers) {
      if (p.failures > 0) lines.push(`sync: peer ${p.url} unreachable (${p.failures} failed attempts: ${p.lastError ?? "no answer"})`);
      else if (p.head !== null && this.#head - p.head > 0) lines.push(`sync: peer ${p.url} is ${this.#head - p.head} facts behind`);
      if (p.refused > 0) lines.push(`sync: peer ${p.url} refused ${p.refused} pushed batches`);
    }
    if (this.refusedBatches > 0) lines.push(`sync: ${this.refusedBatches} received batches refused (forged, tampered or not chaining)`);
    return lines.length === 0 ? null : { problem: lines.join("; "), degraded: false };
  }
}
