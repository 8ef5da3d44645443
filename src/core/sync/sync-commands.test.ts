/**
 * The mothership's fact stream and followers applying it (issue 10, DESIGN.md §4.1), in core: what
 * the mothership issues, what a follower accepts, refuses, ignores and records as a conflict, the
 * pending eliminations on a follower, and a mothership rotation. Signatures are the node's to verify
 * (before it submits a batch): here `signature` is any text and `signer` is what the node verified.
 */
import { describe, expect, it } from "vitest";
import { DAY_MS, expectReplayMatches, neurons, type World, world } from "../../../test/support/trading-world.ts";
import { encodePayload, type EventDraft } from "../machine/event.ts";
import { applyEvent, execute } from "../machine/execute.ts";
import { createState, type State, stateHash } from "../machine/state.ts";
import { chainFact, factHash, STREAM_GENESIS_HASH, type SyncFact } from "./sync-fact.ts";
import { syncStateHash } from "./sync-state.ts";
import { SyncBatchRefused } from "./sync-commands.ts";

const M = "5mothership";
const F = "5follower";
const G = "5nextmothership";
const E = "5entity";
const SIGNATURE = `0x${"ab".repeat(64)}`;

/** A mothership with E registered as a neuron with collateral (not yet as an entity). */
function mothership(): World {
  const w = world();
  w.state.identity = { hotkey: M, mothership: M };
  neurons(w, [E]);
  return w;
}

/** A follower of M; E is a neuron on its chain too (it trades there), with no collateral. */
function follower(mothershipKey = M): World {
  const w = world();
  w.state.identity = { hotkey: F, mothership: mothershipKey };
  neurons(w, [E], 0n);
  return w;
}

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const create = (w: World, n: number, size?: number) => w.ok({ kind: "create_subaccount", ts: w.now, entity: E, uuid: uuid(n), account_size_usd: size });

function stream(s: State): SyncFact[] {
  return s.sync.stream.sortedEntries().map(([, f]) => f);
}


/** A batch as the node submits it after verifying `signer`'s signature of the head. */
function batch(w: World, facts: SyncFact[], signer = M, head?: { stream_seq: number; hash: string }) {
  const last = facts[facts.length - 1] as SyncFact;
  return { kind: "apply_sync_batch" as const, ts: w.now, facts, head: { ...(head ?? { stream_seq: last.stream_seq, hash: last.hash }), signature: SIGNATURE }, signer };
}

/** Replays a log as stored (payloads through JSON) into a fresh state, as a restart would. */
function replay(log: EventDraft[]): State {
  const s = createState({ strict: true });
  for (const e of log) applyEvent(s, { type: e.type, version: e.version, payload: JSON.parse(encodePayload(e)) });
  return s;
}

/** M registers E and creates `n` subaccounts: 1 + n facts. */
function issued(n = 3): World {
  const m = mothership();
  m.ok({ kind: "register_entity", ts: m.now, hotkey: E, max_subaccounts: 10 });
  for (let i = 0; i < n; i++) {
    m.now += 1_000;
    create(m, i, 10_000 * (i + 1));
  }
  return m;
}

/** Expects the command refused whole: SyncBatchRefused, no event, the state hash unchanged. */
function expectRefused(w: World, command: ReturnType<typeof batch>, message: RegExp) {
  const before = stateHash(w.state);
  const r = w.run(command);
  expect(r.error).toBeInstanceOf(SyncBatchRefused);
  expect(r.error?.message).toMatch(message);
  expect(r.error?.details).toMatchObject({ refused: true });
  expect(r.events).toEqual([]);
  expect(stateHash(w.state)).toBe(before);
}

describe("the mothership issues facts", () => {
  it("registration and creations are facts with a dense stream_seq from 1, hash-chained, recorded in their events", () => {
    const m = issued(3);
    const facts = stream(m.state);
    expect(facts.map((f) => [f.stream_seq, f.type])).toEqual([
      [1, "EntityRegistered"],
      [2, "SubaccountCreated"],
      [3, "SubaccountCreated"],
      [4, "SubaccountCreated"],
    ]);
    expect(facts[0]?.prev_hash).toBe(STREAM_GENESIS_HASH);
    for (const [i, f] of facts.entries()) {
      expect(f.hash, `fact ${f.stream_seq}`).toBe(factHash(f));
      if (i > 0) expect(f.prev_hash).toBe(facts[i - 1]?.hash);
    }
    expect(facts[0]?.payload).toEqual({ entity: E, max_subaccounts: 10 });
    const sub1 = m.state.entities.subaccounts.get(`${E}_1`);
    expect(facts[2]).toMatchObject({ ts_ms: sub1?.createdAtMs, payload: { entity: E, id: 1, uuid: uuid(1), account_size_usd: 20_000 } });
    // Each event carries exactly the facts its command issued.
    const recorded = m.log.flatMap((e) => (e.payload.facts as unknown as SyncFact[] | undefined) ?? []);
    expect(recorded).toEqual(facts);
    expect(m.log.find((e) => e.type === "SubaccountCreated")?.payload.facts).toEqual([facts[1]]);
  });

  it("replaying the events gives the same stream and the same state hash", () => {
    const m = issued(3);
    m.ok({ kind: "eliminate_subaccount", ts: m.now, synthetic: `${E}_0`, by: E });
    const r = replay(m.log);
    expect(stream(r)).toEqual(stream(m.state));
    expect(stream(r).map((f) => f.type).at(-1)).toBe("SubaccountEliminated");
    expect(stateHash(r)).toBe(stateHash(m.state));
    expectReplayMatches(m);
  });

  it("a node with no identity configured (both null) issues facts too", () => {
    const w = world();
    neurons(w, [E]);
    w.ok({ kind: "register_entity", ts: w.now, hotkey: E });
    expect(stream(w.state)).toHaveLength(1);
  });

  it("a refused command issues nothing", () => {
    const m = issued(1);
    expect(m.run({ kind: "register_entity", ts: m.now, hotkey: E }).error?.code).toBe("ENTITY_EXISTS");
    expect(m.run({ kind: "create_subaccount", ts: m.now, entity: "5nobody", uuid: "x" }).error?.code).toBe("ENTITY_NOT_FOUND");
    expect(stream(m.state)).toHaveLength(2);
  });
});

describe("a follower applies the mothership's facts", () => {
  it("gets the same subaccounts (ids, uuids, created_at_ms = the fact's ts_ms, nothing reserved) and an equal sync-state hash", () => {
    const m = issued(3);
    const f = follower();
    f.now = m.now + 60_000; // received a minute later: the mothership's time is kept, not this one
    const e = f.ok(batch(f, stream(m.state)));
    expect(e.type).toBe("SyncBatchApplied");
    expect(e.payload.ref).toEqual({ applied: 4, duplicates: 0, conflicts: 0 });
    expect(e.payload.signed).toBe(true);
    for (let i = 0; i < 3; i++) {
      const ours = m.state.entities.subaccounts.get(`${E}_${i}`);
      const theirs = f.state.entities.subaccounts.get(`${E}_${i}`);
      const fact = stream(m.state)[i + 1] as SyncFact;
      expect(theirs).toMatchObject({ id: i, uuid: uuid(i), createdAtMs: fact.ts_ms, accountSizeUsd: 10_000 * (i + 1), reservedRao: 0n, status: "active" });
      expect(theirs?.createdAtMs).toBe(ours?.createdAtMs);
      expect(ours?.reservedRao).toBeGreaterThan(0n);
    }
    expect(f.state.entities.entities.get(E)).toMatchObject({ maxSubaccounts: 10, nextId: 3, active: 3, reservedRao: 0n });
    expect(stream(f.state)).toEqual(stream(m.state));
    expect(syncStateHash(f.state)).toBe(syncStateHash(m.state));
    expect(f.state.sync.signatures.get(4)).toEqual({ signer: M, signature: SIGNATURE });
    expectReplayMatches(f);
  });

  it("in batches of any split, catching up from where it is", () => {
    const m = issued(5);
    const facts = stream(m.state);
    const f = follower();
    f.ok(batch(f, facts.slice(0, 2)));
    f.ok(batch(f, facts.slice(2, 3)));
    f.ok(batch(f, facts.slice(3)));
    expect(syncStateHash(f.state)).toBe(syncStateHash(m.state));
    expectReplayMatches(f);
  });

  it("duplicates change nothing: the same batch twice, or a batch overlapping what it holds", () => {
    const m = issued(4);
    const facts = stream(m.state);
    const f = follower();
    f.ok(batch(f, facts.slice(0, 3)));
    const before = stateHash(f.state);
    const again = f.run(batch(f, facts.slice(0, 3)));
    expect(again.events).toEqual([]);
    expect(again.error?.details).toMatchObject({ unchanged: true, duplicates: 3 });
    expect(f.run(batch(f, facts.slice(1, 2))).events).toEqual([]);
    expect(stateHash(f.state)).toBe(before);
    // Overlapping: 2 known, 2 new; only the new ones are applied.
    const e = f.ok(batch(f, facts.slice(1)));
    expect(e.payload.ref).toEqual({ applied: 2, duplicates: 2, conflicts: 0 });
    expect(syncStateHash(f.state)).toBe(syncStateHash(m.state));
    expect(f.state.entities.subaccounts.size).toBe(4);
    expectReplayMatches(f);
  });
});

describe("a batch is refused whole", () => {
  function setup() {
    const m = issued(4);
    const f = follower();
    f.ok(batch(f, stream(m.state).slice(0, 2)));
    return { m, f, facts: stream(m.state) };
  }

  it("a tampered payload (the hash no longer matches)", () => {
    const { f, facts } = setup();
    const tampered = facts.slice(2).map((x) => (x.stream_seq === 4 ? { ...x, payload: { ...x.payload, uuid: "00000000-0000-4000-8000-ffffffffffff" } } : x));
    expectRefused(f, batch(f, tampered), /stream_seq 4: the hash does not match/);
  });

  it("a tampered fact re-hashed (the next fact no longer chains to it)", () => {
    const { f, facts } = setup();
    const [a, b] = facts.slice(2, 4) as [SyncFact, SyncFact];
    const forged = chainFact({ stream_seq: a.stream_seq - 1, hash: a.prev_hash }, a.type, { ...a.payload, account_size_usd: 100_000 }, a.ts_ms);
    expectRefused(f, batch(f, [forged, b]), /does not follow/);
  });

  it("a reordered batch", () => {
    const { f, facts } = setup();
    expectRefused(f, batch(f, [facts[3], facts[2], facts[4]] as SyncFact[]), /does not follow/);
  });

  it("a gap: it starts beyond head + 1", () => {
    const { f, facts } = setup();
    expectRefused(f, batch(f, facts.slice(3)), /starts at stream_seq 4; this node is at 2/);
  });

  it("a head signed by another than the mothership", () => {
    const { f, facts } = setup();
    expectRefused(f, batch(f, facts.slice(2), "5stranger"), /signed by 5stranger/);
    expectRefused(f, batch(f, facts.slice(1), "5stranger"), /signed by 5stranger/); // even with known facts first
  });

  it("a head that is not the batch's last fact", () => {
    const { f, facts } = setup();
    const last = facts[4] as SyncFact;
    expectRefused(f, batch(f, facts.slice(2, 4), M, { stream_seq: last.stream_seq, hash: last.hash }), /not the batch's last fact/);
    expectRefused(f, batch(f, facts.slice(2), M, { stream_seq: 5, hash: facts[3]?.hash as string }), /not the batch's last fact/);
  });

  it("an empty batch, and a fact of an unknown type", () => {
    const { f, facts } = setup();
    expectRefused(f, { kind: "apply_sync_batch", ts: f.now, facts: [], head: { stream_seq: 2, hash: facts[1]?.hash as string, signature: SIGNATURE }, signer: M }, /no facts/);
    const odd = chainFact({ stream_seq: 2, hash: facts[1]?.hash as string }, "SubaccountRenamed" as SyncFact["type"], {}, 1);
    expectRefused(f, batch(f, [odd]), /unknown fact type/);
  });

  it("a payload canonical JSON cannot hold (Infinity from 1e999, nesting too deep): refused, never a fault that stops writes", () => {
    const { f, facts } = setup();
    const real = facts[2] as SyncFact;
    let deep: unknown = 0;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    for (const poison of [JSON.parse('{"x":1e999}') as unknown, { deep }]) {
      const bad = { ...real, payload: { ...real.payload, ...(poison as object) } } as SyncFact;
      expectRefused(f, batch(f, [bad]), /not canonical JSON/);
    }
  });

  it("after any refusal the genuine batch still applies", () => {
    const { m, f, facts } = setup();
    expectRefused(f, batch(f, facts.slice(2), "5stranger"), /signed by/);
    f.ok(batch(f, facts.slice(2)));
    expect(syncStateHash(f.state)).toBe(syncStateHash(m.state));
  });
});

describe("conflicts", () => {
  /** Another history from stream_seq 3 on: id 1 of E with another uuid. */
  function forkAt3(facts: SyncFact[]): SyncFact {
    const at = facts[2] as SyncFact;
    return chainFact({ stream_seq: 2, hash: at.prev_hash }, "SubaccountCreated", { ...at.payload, uuid: "00000000-0000-4000-8000-0000000000ff" }, at.ts_ms);
  }

  it("a fact at a known stream_seq with another hash is recorded once as a conflict, never applied", () => {
    const m = issued(3);
    const facts = stream(m.state);
    const f = follower();
    f.ok(batch(f, facts));
    const forged = forkAt3(facts);
    const e = f.ok(batch(f, [forged]));
    expect(e.payload.ref).toEqual({ applied: 0, duplicates: 0, conflicts: 1 });
    const conflicts = f.state.sync.conflicts.sortedEntries().map(([, c]) => c);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({ stream_seq: 3, ours: facts[2]?.hash, theirs: forged.hash });
    expect(conflicts[0]?.subject).toContain(`${E}_1`);
    expect(f.state.entities.subaccounts.get(`${E}_1`)?.uuid).toBe(uuid(1));
    expect(stream(f.state)).toEqual(facts);
    // Sent again: nothing more is recorded, and nothing is written.
    const before = stateHash(f.state);
    const again = f.run(batch(f, [forged]));
    expect(again.events).toEqual([]);
    expect(again.error?.details).toMatchObject({ unchanged: true });
    expect(f.state.sync.conflicts.size).toBe(1);
    expect(stateHash(f.state)).toBe(before);
    expectReplayMatches(f);
  });

  it("known facts then a conflicting one: the duplicates are counted, the conflict recorded, nothing applied", () => {
    const m = issued(3);
    const facts = stream(m.state);
    const f = follower();
    f.ok(batch(f, facts));
    const e = f.ok(batch(f, [facts[0] as SyncFact, facts[1] as SyncFact, forkAt3(facts)]));
    expect(e.payload.ref).toEqual({ applied: 0, duplicates: 2, conflicts: 1 });
    expect(syncStateHash(f.state)).toBe(syncStateHash(m.state));
  });

  it("a new fact that contradicts what the follower holds (an id issued twice) is a conflict: facts before it apply, it and after do not", () => {
    const m = issued(2);
    const facts = stream(m.state);
    const f = follower();
    // The mothership (restored from an old backup, say) issues id 1 again with another uuid at stream_seq 4.
    const reissued = chainFact(facts[2] as SyncFact, "SubaccountCreated", { ...(facts[2] as SyncFact).payload, uuid: "00000000-0000-4000-8000-0000000000ee" }, m.now + 1);
    const after = chainFact(reissued, "SubaccountEliminated", { synthetic_hotkey: `${E}_0`, reason: "MANUAL" }, m.now + 2);
    const e = f.ok(batch(f, [...facts, reissued, after]));
    expect(e.payload.ref).toEqual({ applied: 3, duplicates: 0, conflicts: 1 });
    expect(f.state.sync.conflicts.sortedEntries()[0]?.[1]).toMatchObject({ stream_seq: 4, theirs: reissued.hash });
    expect(f.state.entities.subaccounts.get(`${E}_1`)?.uuid).toBe(uuid(1));
    expect(f.state.entities.subaccounts.get(`${E}_0`)?.status).toBe("active");
    expect(stream(f.state)).toEqual(facts);
    expectReplayMatches(f);
  });

  // Even a batch of facts this node already holds is checked against the mothership: else anyone with a key could record conflicts.
  it("a conflicting batch signed by a stranger is refused, not recorded as a conflict", () => {
    const m = issued(3);
    const facts = stream(m.state);
    const f = follower();
    f.ok(batch(f, facts));
    expectRefused(f, batch(f, [forkAt3(facts)], "5stranger"), /signed by 5stranger/);
  });
});

describe("a follower never issues", () => {
  it("refuses register_entity, create_subaccount, eliminate_subaccount and reinstate_subaccount with NOT_MOTHERSHIP", () => {
    const m = issued(2);
    m.ok({ kind: "eliminate_subaccount", ts: m.now, synthetic: `${E}_1`, by: E });
    const f = follower();
    f.ok(batch(f, stream(m.state)));
    const before = stateHash(f.state);
    const refusals = [
      f.run({ kind: "register_entity", ts: f.now, hotkey: "5other" }),
      f.run({ kind: "create_subaccount", ts: f.now, entity: E, uuid: uuid(9) }),
      f.run({ kind: "eliminate_subaccount", ts: f.now, synthetic: `${E}_0`, by: E }),
      f.run({ kind: "reinstate_subaccount", ts: f.now, synthetic: `${E}_1`, reason: "appeal", by: "5root" }),
    ];
    for (const r of refusals) {
      expect(r.error?.code).toBe("NOT_MOTHERSHIP");
      expect(r.error?.details).toMatchObject({ mothership: M });
      expect(r.events).toEqual([]);
    }
    expect(stateHash(f.state)).toBe(before);
  });

  it("refuses change_mothership too", () => {
    const f = follower();
    expect(f.run({ kind: "change_mothership", ts: f.now, to: F, at_stream_seq: 0, authorization: {} }).error?.code).toBe("NOT_MOTHERSHIP");
  });
});

describe("eliminations on a follower wait for the mothership", () => {
  const price = (w: World, p: number) => w.ok({ kind: "post_prices", ts: w.now, prices: [{ trade_pair: "BTCUSD", price: p, ts_ms: w.now }] });
  const order = (w: World, n: string, type: "LONG" | "FLAT", leverage?: number) =>
    w.run({ kind: "place_order", ts: w.now, signer: E, subaccount_id: 0, trade_pair: "BTCUSD", order_type: type, leverage, order_uuid: `o-${n}`, fingerprint: n, position_uuid: "p-0" });

  it("a breach freezes the subaccount (SUBACCOUNT_NOT_ACTIVE, pending_elimination) until the SubaccountEliminated fact eliminates it", () => {
    const m = issued(1);
    const f = follower();
    f.ok(batch(f, stream(m.state)));
    for (const w of [m, f]) {
      price(w, 100_000);
      expect(order(w, "open", "LONG", 0.5).error).toBeUndefined();
      w.now += 1_000;
      price(w, 88_000); // -6% on the account: the challenge fails
    }
    // The mothership eliminates and issues the fact.
    expect(m.state.entities.subaccounts.get(`${E}_0`)?.status).toBe("eliminated");
    const fact = stream(m.state).at(-1) as SyncFact;
    expect(fact).toMatchObject({ stream_seq: 3, type: "SubaccountEliminated", payload: { synthetic_hotkey: `${E}_0`, reason: "FAILED_CHALLENGE_PERIOD_DRAWDOWN" } });
    // The follower only freezes it.
    const verdict = f.log.at(-1);
    expect(verdict?.payload.verdicts).toEqual([[`${E}_0`, "PENDING:FAILED_CHALLENGE_PERIOD_DRAWDOWN", 1, expect.anything()]]);
    expect(f.state.entities.subaccounts.get(`${E}_0`)?.status).toBe("active");
    expect(f.state.sync.pending.get(`${E}_0`)).toEqual({ reason: "FAILED_CHALLENGE_PERIOD_DRAWDOWN", since_ms: f.now });
    expect(stream(f.state)).toHaveLength(2);
    const refused = order(f, "close", "FLAT");
    expect(refused.error?.code).toBe("SUBACCOUNT_NOT_ACTIVE");
    expect(refused.error?.details).toMatchObject({ synthetic_hotkey: `${E}_0`, pending_elimination: "FAILED_CHALLENGE_PERIOD_DRAWDOWN" });
    // Judged once: another price does not judge it again.
    f.now += 1_000;
    expect(price(f, 87_000).payload.verdicts ?? []).toEqual([]);
    expect(f.state.trading.open.size).toBe(1);
    // The mothership's fact arrives: eliminated, its position closed at this node's price.
    f.now += 1_000;
    const e = f.ok(batch(f, [fact]));
    expect(e.payload.ref).toEqual({ applied: 1, duplicates: 0, conflicts: 0 });
    expect(f.state.entities.subaccounts.get(`${E}_0`)?.status).toBe("eliminated");
    expect(f.state.sync.pending.has(`${E}_0`)).toBe(false);
    expect(f.state.trading.traders.get(`${E}_0`)?.elimination?.reason).toBe("FAILED_CHALLENGE_PERIOD_DRAWDOWN");
    expect(f.state.trading.open.size).toBe(0);
    expect(order(f, "again", "LONG", 0.1).error?.details).toMatchObject({ status: "eliminated" });
    expect(syncStateHash(f.state)).toBe(syncStateHash(m.state));
    expectReplayMatches(f);
    expectReplayMatches(m);
  });

  it("a reinstatement fact makes an eliminated subaccount active again on the follower", () => {
    const m = issued(1);
    const f = follower();
    f.ok(batch(f, stream(m.state)));
    for (const w of [m, f]) {
      price(w, 100_000);
      order(w, "open", "LONG", 0.5);
      w.now += 1_000;
      price(w, 88_000);
    }
    expect(f.state.sync.pending.has(`${E}_0`)).toBe(true);
    m.ok({ kind: "reinstate_subaccount", ts: m.now, synthetic: `${E}_0`, reason: "appeal", by: "5root" });
    const facts = stream(m.state);
    expect(facts.map((x) => x.type).slice(2)).toEqual(["SubaccountEliminated", "SubaccountReinstated"]);
    f.ok(batch(f, facts.slice(2)));
    expect(f.state.entities.subaccounts.get(`${E}_0`)?.status).toBe("active");
    expect(f.state.sync.pending.size).toBe(0);
    expect(order(f, "again", "LONG", 0.1).error).toBeUndefined();
    expect(syncStateHash(f.state)).toBe(syncStateHash(m.state));
    expectReplayMatches(f);
  });

  /** A follower whose one subaccount's challenge ran out (90 days without a pass), swept. */
  function timedOut(strict: boolean) {
    const m = issued(1);
    const f = world({ strict });
    f.state.identity = { hotkey: F, mothership: M };
    neurons(f, [E], 0n);
    f.ok(batch(f, stream(m.state)));
    f.now += 91 * DAY_MS;
    f.ok({ kind: "sweep_challenges", ts: f.now });
    return f;
  }

  it("a challenge that runs out on a follower freezes it (outside strict mode), and replays alike", () => {
    const f = timedOut(false);
    expect(f.state.sync.pending.get(`${E}_0`)?.reason).toBe("FAILED_CHALLENGE_PERIOD_TIME");
    expect(f.state.entities.subaccounts.get(`${E}_0`)?.status).toBe("active");
    const r = createState({ strict: false });
    for (const e of f.log) applyEvent(r, { type: e.type, version: e.version, payload: JSON.parse(encodePayload(e)) });
    expect(stateHash(r)).toBe(stateHash(f.state));
  });

  // Strict mode compares a recorded PENDING: verdict with the rules' by its reason.
  it("a challenge that runs out on a strict follower freezes it", () => {
    const f = timedOut(true);
    expect(f.state.sync.pending.get(`${E}_0`)?.reason).toBe("FAILED_CHALLENGE_PERIOD_TIME");
  });
});

describe("a mothership rotation", () => {
  it("MothershipChanged ends the old mothership's issuing; followers accept the new one's batches and refuse the old one's", () => {
    const m = issued(1);
    const f = follower();
    const e = m.ok({ kind: "change_mothership", ts: m.now, to: G, at_stream_seq: 2, authorization: { signed_by: "5root", signature: SIGNATURE } });
    expect(e.type).toBe("MothershipRotated");
    const rotation = stream(m.state).at(-1) as SyncFact;
    expect(rotation).toMatchObject({ stream_seq: 3, type: "MothershipChanged", payload: { from: M, to: G, at_stream_seq: 2 } });
    // The old mothership no longer issues.
    expect(m.run({ kind: "create_subaccount", ts: m.now, entity: E, uuid: uuid(5) }).error?.code).toBe("NOT_MOTHERSHIP");
    expect(m.run({ kind: "change_mothership", ts: m.now, to: M, at_stream_seq: 3, authorization: {} }).error?.code).toBe("NOT_MOTHERSHIP");
    expectReplayMatches(m);
    // The follower takes the rotation (signed by the mothership in office, M).
    f.ok(batch(f, stream(m.state)));
    expect(syncStateHash(f.state)).toBe(syncStateHash(m.state));
    // The new mothership: a node with the old stream whose hotkey is G (here: M's log replayed under G's identity).
    const g = replay(m.log);
    g.identity = { hotkey: G, mothership: M };
    const created = execute(g, { kind: "create_subaccount", ts: m.now + 1_000, entity: E, uuid: uuid(1), account_size_usd: 50_000 });
    expect(created.error).toBeUndefined();
    const next = stream(g).at(-1) as SyncFact;
    expect(next).toMatchObject({ stream_seq: 4, type: "SubaccountCreated", prev_hash: rotation.hash });
    expectRefused(f, batch(f, [next], M), /signed by 5mothership; the mothership for these facts is 5nextmothership/);
    f.ok(batch(f, [next], G));
    expect(f.state.entities.subaccounts.get(`${E}_1`)?.uuid).toBe(uuid(1));
    expect(syncStateHash(f.state)).toBe(syncStateHash(g));
    expectReplayMatches(f);
  });

  it("a rotation must end its batch, and at_stream_seq must be the head", () => {
    const m = issued(1);
    expect(m.run({ kind: "change_mothership", ts: m.now, to: G, at_stream_seq: 1, authorization: {} }).error?.details).toMatchObject({ stream_seq: 2 });
    expect(m.run({ kind: "change_mothership", ts: m.now, to: M, at_stream_seq: 2, authorization: {} }).error?.details).toMatchObject({ unchanged: true });
    m.ok({ kind: "change_mothership", ts: m.now, to: G, at_stream_seq: 2, authorization: {} });
    const rotation = stream(m.state).at(-1) as SyncFact;
    const after = chainFact(rotation, "SubaccountEliminated", { synthetic_hotkey: `${E}_0`, reason: "MANUAL" }, m.now);
    const f = follower();
    expectRefused(f, batch(f, [...stream(m.state), after], M), /must end its batch/);
  });
});
