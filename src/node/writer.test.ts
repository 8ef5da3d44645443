import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { recordsPhantomRemainder } from "../../test/support/faulty-handlers.ts";
import { TAO } from "../core/ledger/asset.ts";
import { HANDLERS, type Handlers } from "../core/machine/commands.ts";
import { execute } from "../core/machine/execute.ts";
import { createState, type State, stateHash } from "../core/machine/state.ts";
import { SqliteStore } from "../store/sqlite/sqlite-store.ts";
import type { Store } from "../store/store.ts";
import { GENESIS_HASH, type StoredEvent } from "../store/stored-event.ts";
import { NodeClock } from "./clock.ts";
import { EventLog } from "./event-log.ts";
import { type CommitStats, Writer } from "./writer.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A real SQLite store whose commits are held until `release`, or made to fail (fault injection). */
function faultyStore(): { store: Store; release: () => void; failNext: (e: Error) => void; sqlite: SqliteStore } {
  const dir = mkdtempSync(join(tmpdir(), "propnet-writer-"));
  dirs.push(dir);
  const sqlite = SqliteStore.open(join(dir, "events.sqlite"));
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let failure: Error | null = null;
  const store = Object.create(sqlite) as Store;
  store.append = async (rows: readonly StoredEvent[]) => {
    await gate;
    if (failure) throw failure;
    sqlite.appendSync(rows);
    return { transactionMs: 0 };
  };
  return { store, sqlite, release, failNext: (e) => (failure = e) };
}

function funded(): State {
  const state = createState();
  execute(state, { kind: "genesis", endowments: [{ owner: "alice", amount_rao: 1_000_000n }] });
  return state;
}

function writerFor(
  store: Store,
  state: State,
  extra: {
    onFatal?: (e: unknown) => void;
    onFault?: (e: unknown) => void;
    onCommit?: (s: CommitStats) => void;
    handlers?: Handlers;
  } = {},
) {
  return new Writer(state, new EventLog(store, { seq: 0, hash: GENESIS_HASH }), {
    clock: new NodeClock(),
    block: () => 0,
    handlers: extra.handlers,
    onFatal: extra.onFatal ?? (() => {}),
    onFault: extra.onFault,
    onCommit: extra.onCommit,
  });
}

/** Transfers of 13 rao record a remainder that is not there, so applying their event throws. */
const thirteenFails: Handlers = {
  ...HANDLERS,
  transfer: (state, command) => (command.amount_rao === 13n ? recordsPhantomRemainder : HANDLERS).transfer(state, command),
};

const pay = (n: bigint) => ({ command: { kind: "transfer" as const, asset: TAO, from: "alice", to: "bob", amount_rao: n } });

describe("writer", () => {
  it("groups many commands into few transactions and acknowledges each with its seq", async () => {
    const { store, release } = faultyStore();
    const batches: CommitStats[] = [];
    const writer = writerFor(store, funded(), { onCommit: (s) => batches.push(s) });
    const outcomes = Promise.all(Array.from({ length: 1_000 }, (_, i) => writer.submit(pay(BigInt(i + 1)))));
    release();
    const done = await outcomes;
    expect(done.map((o) => (o.ok ? o.seq : -1))).toEqual(Array.from({ length: 1_000 }, (_, i) => i + 1));
    expect(batches.length).toBeLessThan(20);
    expect(batches.reduce((s, b) => s + b.commands, 0)).toBe(1_000);
  });

  it("a read while a batch commits waits for it, and then sees its effects", async () => {
    const { store, release } = faultyStore();
    const writer = writerFor(store, funded());
    const acked = writer.submit(pay(250n));
    await new Promise((r) => setImmediate(r)); // the batch is executed and handed to the store
    expect(writer.inFlight).toBe(1);
    let seen: bigint | null = null;
    const read = writer.read((s) => {
      seen = s.ledger.balanceOf(TAO, "bob");
      return seen;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toBeNull(); // not visible before it is durable
    release();
    await acked;
    expect(await read).toBe(250n);
  });

  it("a failed commit acknowledges nothing, is fatal once, and refuses what follows", async () => {
    const { store, release, failNext, sqlite } = faultyStore();
    const fatal: unknown[] = [];
    const writer = writerFor(store, funded(), { onFatal: (e) => fatal.push(e) });
    const first = writer.submit(pay(1n));
    await new Promise((r) => setImmediate(r));
    const reader = writer.read((s) => s.ledger.balanceOf(TAO, "bob"));
    failNext(new Error("disk full"));
    release();
    await expect(first).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(reader).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(writer.submit(pay(2n))).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(fatal).toHaveLength(1);
    expect(writer.writable).toBe(false);
    // A read after the failure is refused at once rather than waiting for a commit that never lands.
    await expect(writer.read((st) => st.ledger.balanceOf(TAO, "bob"))).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect((await sqlite.lastEvent())).toBeNull();
  });

  it("a refused command is answered with its error and leaves no event", async () => {
    const { store, release, sqlite } = faultyStore();
    release();
    const writer = writerFor(store, funded());
    const outcome = await writer.submit(pay(2_000_000n));
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error.code).toBe("INSUFFICIENT_BALANCE");
    expect(outcome.events).toEqual([]);
    await writer.drain();
    expect((await sqlite.lastEvent())).toBeNull();
  });

  it("a command that fails to execute stops writes for good; the commands before it commit and reads go on", async () => {
    const { store, release, sqlite } = faultyStore();
    const fatal: unknown[] = [];
    const faults: unknown[] = [];
    const state = funded();
    const writer = writerFor(store, state, { handlers: thirteenFails, onFatal: (e) => fatal.push(e), onFault: (e) => faults.push(e) });
    const before = writer.submit(pay(1n));
    const culprit = expect(writer.submit(pay(13n))).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/restart/) });
    const after = expect(writer.submit(pay(2n))).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await new Promise((r) => setImmediate(r)); // one turn: 1 executes, 13 faults, 2 is never run
    await culprit;
    await after;
    expect(faults).toHaveLength(1);
    expect((faults[0] as Error).name).toBe("ApplyFailed");
    expect(writer.writable).toBe(false);
    expect(writer.readable).toBe(true);
    // The state is exactly what the command before the fault left: a read waits for its commit.
    const hash = stateHash(state);
    const read = writer.read((s) => s.ledger.balanceOf(TAO, "bob"));
    const drained = writer.drain();
    release();
    expect(await before).toMatchObject({ ok: true, seq: 1 });
    expect(await read).toBe(1n);
    await drained;
    expect((await sqlite.lastEvent())?.seq).toBe(1);
    expect(stateHash(state)).toBe(hash);
    await expect(writer.submit(pay(3n))).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(await writer.read((s) => s.ledger.balanceOf(TAO, "bob"))).toBe(1n);
    expect(fatal).toEqual([]);
  }, 5_000);

  it("a commit that fails after writes were halted is still fatal, and refuses the readers waiting for it", async () => {
    const { store, release, failNext } = faultyStore();
    const fatal: unknown[] = [];
    const writer = writerFor(store, funded(), { onFatal: (e) => fatal.push(e) });
    const first = writer.submit(pay(1n));
    await new Promise((r) => setImmediate(r));
    writer.halt(new Error("log altered"));
    const reader = writer.read((s) => s.ledger.balanceOf(TAO, "bob"));
    failNext(new Error("disk full"));
    release();
    await expect(first).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await expect(reader).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(fatal).toHaveLength(1);
    expect(writer.readable).toBe(false);
  }, 5_000);
});
