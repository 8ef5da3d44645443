// The first run (`npm start`): the devnet `propnet serve` builds with the demo on (its genesis with
// the demo's tempo, the demo's payout period, the block producer, the node's validator and the
// demo), driven on a virtual clock: a block every 12 s, a weights check every second and a demo
// tick every 2 s of node time, as the real timers do, only without waiting for them. Within the
// first minutes of node time the demo must show the whole loop.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { devGenesis } from "../../src/cli/serve.ts";
import { report } from "../../src/core/invariants/report.ts";
import { cryptoReady, devAccounts, loadKey } from "../../src/keys/keys.ts";
import { BlockProducer } from "../../src/node/block-producer.ts";
import { NodeClock } from "../../src/node/clock.ts";
import { Demo, DEMO_PAYOUT_PERIOD, DEMO_TEMPO, DEMO_TICK_MS } from "../../src/node/demo.ts";
import { PropnetNode } from "../../src/node/node.ts";
import { devnetWeights, WeightSetter } from "../../src/node/weight-setter.ts";

/** The longest execution of each kind of command on the writer (ms): the writer's own call to execute, timed. */
const slowest = vi.hoisted(() => new Map<string, number>());
vi.mock("../../src/core/machine/execute.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/core/machine/execute.ts")>();
  return {
    ...original,
    execute: (...args: Parameters<typeof original.execute>) => {
      const at = performance.now();
      const result = original.execute(...args);
      const kind = args[1].kind;
      slowest.set(kind, Math.max(slowest.get(kind) ?? 0, performance.now() - at));
      return result;
    },
  };
});

const BLOCK_MS = 12_000;
/** 20 s past a minute: the first payout period ends 40 s in, as on an arbitrary start. */
const T0 = Date.UTC(2026, 0, 5, 10, 0, 20);
/** Node time the demo has to show everything in (the real run's first minutes). */
const BUDGET_MS = 4 * 60_000;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
beforeAll(async () => {
  await cryptoReady();
});

/** The devnet as `propnet serve` wires it with the demo on, on a virtual clock it moves by a second at a time. */
async function demoDevnet() {
  const dir = mkdtempSync(join(tmpdir(), "propnet-demo-"));
  dirs.push(dir);
  const dev = devAccounts();
  const alice = dev.get("Alice") as string;
  const validator = loadKey("//propnet-demo-test-node").address;
  const g = devGenesis(dev, alice, alice, validator, DEMO_TEMPO);
  let now = T0;
  const node = await PropnetNode.open({ dataDir: dir, strict: true, genesis: g.endowments, chainGenesis: g.chain, payoutPeriod: DEMO_PAYOUT_PERIOD, clock: new NodeClock(() => now) });
  const producer = new BlockProducer(node, BLOCK_MS);
  const weights = new WeightSetter(node, devnetWeights(producer), validator, BLOCK_MS);
  const said: string[] = [];
  const demo = new Demo(node, producer, (m) => said.push(m), { seed: 7 });
  // A weights round waits for its block: started here, answered by a later block.
  let round: Promise<unknown> = Promise.resolve();
  let stopped = false;
  /** Runs node time on to `untilMs` after T0, a second at a time, calling `each` after every block; stops early when it says so. */
  const run = async (untilMs: number, each: (t: number) => Promise<boolean>) => {
    for (let t = now - T0 + 1_000; t <= untilMs; t += 1_000) {
      now = T0 + t;
      if (t % DEMO_TICK_MS === 0) await demo.tick();
      if (t % BLOCK_MS === 0) await producer.produce();
      round = round.then(() => (stopped ? null : weights.maybeSet()));
      if (t % BLOCK_MS === 0 && (await each(t))) break;
    }
  };
  const close = async () => {
    stopped = true;
    await demo.stop();
    // Answers a round still waiting for its block (refused: the node is shutting down).
    await producer.stop();
    await round.catch(() => undefined);
    await node.close({ snapshot: false });
  };
  return { dir, node, producer, demo, said, run, close };
}

interface Seen {
  entities: number;
  subaccounts: number;
  passed: number;
  eliminated: number;
  epochs: number;
  attributedWithShares: number;
  entityRemaining: boolean;
}

describe("the demo on a fresh devnet", () => {
  it("shows entities with dozens of subaccounts passing and failing, and epochs whose alpha is attributed to them", async () => {
    const { node, demo, said, run, close } = await demoDevnet();
    const firstAt = new Map<keyof Seen, number>();
    let seq = 0;
    const epochBlocks = new Set<number>();
    const seen: Seen = { entities: 0, subaccounts: 0, passed: 0, eliminated: 0, epochs: 0, attributedWithShares: 0, entityRemaining: false };
    const started = performance.now();
    try {
      await demo.setUp();
      await run(BUDGET_MS, async (t) => {
        await observe(t);
        return done();
      });
    } finally {
      await close();
    }
    const realMs = performance.now() - started;
    console.log(
      `demo: ${seen.entities} entities, ${seen.subaccounts} subaccounts, ${seen.passed} passed, ${seen.eliminated} eliminated, ${seen.epochs} epochs, ` +
        `${seen.attributedWithShares} attributions with shares; first (node s): ${[...firstAt].map(([k, v]) => `${k} ${v / 1000}`).join(", ")}; ${Math.round(realMs)} ms real`,
    );

    expect(said).toContainEqual(expect.stringMatching(/^demo: 4 entities with 124 subaccounts/));
    expect(seen.entities).toBeGreaterThanOrEqual(3);
    expect(seen.subaccounts).toBeGreaterThanOrEqual(60);
    expect(seen.passed).toBeGreaterThanOrEqual(1);
    expect(seen.eliminated).toBeGreaterThanOrEqual(1);
    expect(seen.epochs).toBeGreaterThanOrEqual(1);
    expect(seen.entityRemaining).toBe(true);
    expect(seen.attributedWithShares).toBeGreaterThanOrEqual(1);
    // A living system in the first minute of node time; the loop's payout within the budget.
    for (const k of ["entities", "subaccounts", "passed", "eliminated", "epochs"] as const) expect(firstAt.get(k), k).toBeLessThanOrEqual(60_000);

    function done(): boolean {
      return seen.passed > 0 && seen.eliminated > 0 && seen.attributedWithShares > 0 && seen.entityRemaining;
    }

    /** What the API would show now: counted from the state, and the events logged since the last look. */
    async function observe(t: number): Promise<void> {
      const counts = await node.read((state) => {
        let passed = 0;
        let eliminated = 0;
        for (const [hotkey, sub] of state.entities.subaccounts.sortedEntries()) {
          if (sub.status === "eliminated") eliminated++;
          if (state.trading.traders.get(hotkey)?.passedAtMs != null) passed++;
        }
        expect(report(state).invariants.filter((r) => !r.ok)).toEqual([]);
        return { entities: state.entities.entities.size, subaccounts: state.entities.subaccounts.size, passed, eliminated, epochAt: state.chain.stats.get(1)?.block };
      });
      if (counts.epochAt !== undefined) epochBlocks.add(counts.epochAt);
      Object.assign(seen, { entities: counts.entities, subaccounts: counts.subaccounts, passed: counts.passed, eliminated: counts.eliminated, epochs: epochBlocks.size });
      for (const e of await node.store.read(seq, 100_000)) {
        seq = e.seq;
        const p = JSON.parse(e.payload) as Record<string, unknown>;
        if (e.type.startsWith("EmissionAttributed")) {
          const entries = p.entries as Array<{ shares: Array<[number, string]> }>;
          if (entries.some((x) => x.shares.some(([, alpha]) => BigInt(alpha) > 0n))) seen.attributedWithShares++;
        }
        if (e.type.startsWith("WeightsScored")) {
          const rows = p.rows as Array<{ bucket: string; remaining: string }>;
          if (rows.some((r) => r.bucket === "entity" && BigInt(r.remaining) > 0n)) seen.entityRemaining = true;
        }
      }
      for (const k of Object.keys(seen) as Array<keyof Seen>) if (!firstAt.has(k) && Number(seen[k]) > 0) firstAt.set(k, t);
    }
  }, 40_000);
});

describe("the demo left running", () => {
  it("keeps its desks' size and, after the warm-up, a modest load of small commands", async () => {
    const { dir, node, demo, run, close } = await demoDevnet();
    const started = performance.now();
    slowest.clear();
    // The demo's own orders (an elimination's closing orders are the rules', not the demo's).
    let demoOrders = 0;
    const submit = node.submit.bind(node);
    node.submit = (submission) => {
      if (submission.command.kind === "place_order") demoOrders++;
      return submit(submission);
    };
    const counts: Array<{ t: number; orders: number; demoOrders: number; events: number; active: number }> = [];
    const minutes = 12;
    try {
      await demo.setUp();
      await run(minutes * 60_000, async (t) => {
        if (t % 60_000 === 0) {
          counts.push(
            await node.read((state, head) => {
              let orders = 0;
              let active = 0;
              for (const [, t] of state.trading.traders.sortedEntries()) orders += t.orderCount;
              for (const [, e] of state.entities.entities.sortedEntries()) active += e.active;
              return { t, orders, demoOrders, events: head.seq, active };
            }),
          );
        }
        return false;
      });
    } finally {
      await close();
    }
    const perMinute = counts.slice(1).map((c, i) => ({
      t: c.t / 60_000,
      orders: c.orders - (counts[i]?.orders ?? 0),
      demoOrders: c.demoOrders - (counts[i]?.demoOrders ?? 0),
      events: c.events - (counts[i]?.events ?? 0),
      active: c.active,
    }));
    const { statSync, readdirSync } = await import("node:fs");
    const bytes = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    console.log(
      `demo over ${minutes} min of node time (${Math.round(performance.now() - started)} ms real): per minute ${JSON.stringify(perMinute)}; data ${Math.round(bytes / 1024)} KiB; ` +
        `slowest execution by kind (ms) ${JSON.stringify(Object.fromEntries([...slowest].map(([k, v]) => [k, Math.round(v * 10) / 10])))}`,
    );
    const after = perMinute.filter((m) => m.t > 6);
    // After the warm-up at most 3 orders a tick (90 a minute), and the desks stay near their size.
    for (const m of after) {
      expect(m.demoOrders).toBeLessThanOrEqual(90);
      expect(m.demoOrders).toBeGreaterThan(30);
      expect(m.active).toBeGreaterThanOrEqual(100);
    }
  }, 40_000);
});
