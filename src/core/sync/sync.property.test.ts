/**
 * Property test of the mothership's stream reaching a follower (issue 10, "Tests"): a random
 * mothership history (registrations, creations, eliminations, reinstatements over up to three
 * entities) is cut into random batches, which reach the follower duplicated, reordered, dropped and
 * re-delivered, mixed with forged batches that rewrite a fact the follower already holds (another
 * uuid for the same id). At the end the follower pulls what it still misses, in order.
 *
 * After every delivery:
 * - a batch the follower cannot take yet (a gap) is refused whole and changes nothing;
 * - the follower's stream is a prefix of the mothership's, and no (entity, id) ever has a uuid other
 *   than the one the mothership gave it;
 * - a forged fact is recorded as a conflict once per (stream_seq, hash), never applied.
 * At the end: the follower's sync-state hash equals the mothership's, and replaying the follower's
 * log gives its state hash.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectReplayMatches, neurons, ROOT, type World, world } from "../../../test/support/trading-world.ts";
import { stateHash, type State } from "../machine/state.ts";
import { chainFact, type SyncFact } from "./sync-fact.ts";
import { streamHead, syncStateHash } from "./sync-state.ts";
import { SyncBatchRefused } from "./sync-commands.ts";

const M = "5mothership";
const F = "5follower";
const ENTITIES = ["5entityA", "5entityB", "5entityC"] as const;
const NUM_RUNS = 100;

type Op =
  | { t: "register"; e: number; limit: number }
  | { t: "create"; e: number; size: number }
  | { t: "eliminate"; pick: number }
  | { t: "reinstate"; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ t: fc.constant("register" as const), e: fc.nat(2), limit: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant("create" as const), e: fc.nat(2), size: fc.constantFrom(1_000, 10_000, 50_000) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("eliminate" as const), pick: fc.nat(1_000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("reinstate" as const), pick: fc.nat(1_000) }) },
);

/**
 * One delivery: the batch after the follower's head (a push in order), any batch (by index: late,
 * early or again), each sent `copies` times; or a forged rewrite of a fact the follower holds.
 */
type Delivery = { t: "next"; copies: number } | { t: "batch"; index: number; copies: number } | { t: "forge"; pick: number; batchLen: number };

const deliveryArb: fc.Arbitrary<Delivery> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant("next" as const), copies: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant("batch" as const), index: fc.nat(1_000), copies: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("forge" as const), pick: fc.nat(1_000), batchLen: fc.integer({ min: 1, max: 3 }) }) },
);

const scenarioArb = fc.record({
  ops: fc.array(opArb, { minLength: 1, maxLength: 60, size: "max" }),
  /** Cut sizes of the stream into batches (cycled). */
  cuts: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }),
  deliveries: fc.array(deliveryArb, { maxLength: 40, size: "max" }),
  /** Sizes of the final catch-up pulls (cycled). */
  pulls: fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 4 }),
});

function stream(s: State): SyncFact[] {
  return s.sync.stream.sortedEntries().map(([, f]) => f);
}


/** Runs a random history on a mothership; refusals (limits, unknown entity, ...) issue nothing. */
function history(ops: readonly Op[]): World {
  const m = world();
  m.state.identity = { hotkey: M, mothership: M };
  neurons(m, [...ENTITIES]);
  let n = 0;
  // The first op registers an entity, so that most histories have subaccounts to sync.
  for (const [i, raw] of ops.entries()) {
    const op: Op = i > 0 ? raw : { t: "register", e: 0, limit: raw.t === "register" ? raw.limit : 4 };
    m.now += 1_000;
    const subs = m.state.entities.subaccounts.sortedEntries();
    const pick = (status: string, k: number) => {
      const of = subs.filter(([, s]) => s.status === status);
      return of.length === 0 ? null : (of[k % of.length] as [string, unknown])[0];
    };
    switch (op.t) {
      case "register":
        m.run({ kind: "register_entity", ts: m.now, hotkey: ENTITIES[op.e] as string, max_subaccounts: op.limit });
        break;
      case "create":
        m.run({ kind: "create_subaccount", ts: m.now, entity: ENTITIES[op.e] as string, account_size_usd: op.size, uuid: `uuid-${n++}` });
        break;
      case "eliminate": {
        const s = pick("active", op.pick);
        if (s) m.run({ kind: "eliminate_subaccount", ts: m.now, synthetic: s, by: ROOT, reason: "MANUAL" });
        break;
      }
      case "reinstate": {
        const s = pick("eliminated", op.pick);
        if (s) m.run({ kind: "reinstate_subaccount", ts: m.now, synthetic: s, reason: "appeal", by: ROOT });
        break;
      }
    }
  }
  return m;
}

/** Cuts the stream into consecutive batches of the given sizes (cycled). */
function cut(facts: SyncFact[], sizes: readonly number[]): SyncFact[][] {
  const out: SyncFact[][] = [];
  for (let i = 0, k = 0; i < facts.length; k++) {
    const size = sizes[k % sizes.length] as number;
    out.push(facts.slice(i, i + size));
    i += size;
  }
  return out;
}

/** Rewrites fact `at` of the follower's stream (another uuid, or another reason) and re-chains the facts after it. */
function forged(facts: SyncFact[], at: number, len: number): SyncFact[] {
  const orig = facts[at] as SyncFact;
  const payload = orig.type === "SubaccountCreated" ? { ...orig.payload, uuid: `forged-${at}` } : { ...orig.payload, forged: true };
  let prev = chainFact({ stream_seq: orig.stream_seq - 1, hash: orig.prev_hash }, orig.type, payload, orig.ts_ms);
  const out = [prev];
  for (const f of facts.slice(at + 1, at + len)) out.push((prev = chainFact(prev, f.type, f.payload, f.ts_ms)));
  return out;
}

describe("sync: a follower converges on the mothership whatever the network does", () => {
  it("random histories, batch splits, duplicates, drops, re-deliveries and forged rewrites", () => {
    fc.assert(
      fc.property(scenarioArb, ({ ops, cuts, deliveries, pulls }) => {
        const m = history(ops);
        const facts = stream(m.state);
        const uuids = new Map(m.state.entities.subaccounts.sortedEntries().map(([k, s]) => [k, s.uuid]));
        const f = world();
        f.state.identity = { hotkey: F, mothership: M };
        const batches = cut(facts, cuts);
        const conflicts = new Set<string>();

        const deliver = (batch: SyncFact[], kind: string) => {
          const last = batch[batch.length - 1] as SyncFact;
          const before = stateHash(f.state);
          const head = streamHead(f.state.sync).stream_seq;
          const r = f.run({ kind: "apply_sync_batch", ts: f.now, facts: batch, head: { stream_seq: last.stream_seq, hash: last.hash, signature: "0x00" }, signer: M });
          if ((batch[0] as SyncFact).stream_seq > head + 1) {
            expect(r.error, `${kind}: a gap is refused`).toBeInstanceOf(SyncBatchRefused);
          }
          if (r.error) {
            expect(r.events).toEqual([]);
            expect(stateHash(f.state), `${kind}: a refused batch changes nothing`).toBe(before);
          }
          // A prefix of the mothership's stream, and every id with the mothership's uuid.
          const ours = stream(f.state);
          expect(ours).toEqual(facts.slice(0, ours.length));
          for (const [k, s] of f.state.entities.subaccounts.sortedEntries()) expect(s.uuid, k).toBe(uuids.get(k));
          f.now += 10;
        };

        for (const d of deliveries) {
          if (d.t === "next") {
            const head = streamHead(f.state.sync).stream_seq;
            const b = batches.find((x) => (x[0] as SyncFact).stream_seq <= head + 1 && (x.at(-1) as SyncFact).stream_seq > head);
            if (b) for (let c = 0; c < d.copies; c++) deliver(b, "next");
          } else if (d.t === "batch") {
            if (batches.length === 0) continue;
            const b = batches[d.index % batches.length] as SyncFact[];
            for (let c = 0; c < d.copies; c++) deliver(b, "batch");
          } else {
            const held = stream(f.state);
            if (held.length === 0) continue;
            const fake = forged(facts, d.pick % held.length, d.batchLen);
            deliver(fake, "forged");
            conflicts.add(`${(fake[0] as SyncFact).stream_seq}|${(fake[0] as SyncFact).hash}`);
            expect(f.state.sync.conflicts.size, "one conflict per forged fact, recorded once").toBe(conflicts.size);
          }
        }
        // Catch-up: the follower pulls what it still misses, in order.
        for (let k = 0; streamHead(f.state.sync).stream_seq < facts.length; k++) {
          const from = streamHead(f.state.sync).stream_seq;
          deliver(facts.slice(from, from + (pulls[k % pulls.length] as number)), "pull");
        }
        expect(syncStateHash(f.state)).toBe(syncStateHash(m.state));
        expect([...f.state.sync.conflicts.sortedEntries()].map(([, c]) => `${c.stream_seq}|${c.theirs}`).sort()).toEqual([...conflicts].sort());
        expectReplayMatches(f);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
