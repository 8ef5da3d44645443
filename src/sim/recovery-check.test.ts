import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckBook } from "./ack-book.ts";
import type { AckedBatch } from "./faulty-store.ts";
import { NodeLife } from "./node-life.ts";
import { checkRecovered } from "./recovery-check.ts";
import { SeededRandom } from "./seeded-random.ts";
import { simWorld } from "./sim-world.ts";
import { VirtualClock } from "./virtual-clock.ts";
import { emptyStats, Workload } from "./workload.ts";

/**
 * The checker the simulator runs after every restart must fail when the log does not hold what the
 * clients were told: these cases tell it lies on purpose.
 */
describe("checkRecovered: what a restarted node must hold", () => {
  let dir: string;
  let life: NodeLife;
  let book: AckBook;
  let acked: AckedBatch;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "propnet-recovery-check-"));
    const random = new SeededRandom(11);
    const world = simWorld(random.fork(1));
    const clock = new VirtualClock(Date.UTC(2026, 0, 5));
    const options = {
      dataDir: dir,
      clock,
      random: random.fork(2),
      disk: { freeBytes: 1e12 },
      threaded: false,
      genesis: world.genesis,
      chainGenesis: world.chainGenesis,
      payoutPeriod: world.payoutPeriod,
      validator: world.validator,
      onCrash: () => undefined,
    };
    book = new AckBook();
    const first = await NodeLife.open(options);
    const workload = new Workload(world, random.fork(3), clock, book, emptyStats());
    await workload.bootstrap(first);
    for (let i = 0; i < 5; i++) await workload.step(first);
    expect(workload.problems).toEqual([]);
    acked = first.acked as AckedBatch;
    await first.abandon();
    life = await NodeLife.open(options);
  });

  afterAll(async () => {
    await life.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("passes a log that holds every acknowledged request where its answer said", async () => {
    expect(book.acked.size).toBeGreaterThan(10);
    const verdict = await checkRecovered(life, book, acked);
    expect(verdict.problems).toEqual([]);
    expect(verdict.checked).toBe(book.acked.size);
    expect(verdict.types.SubaccountCreated).toBeGreaterThan(0);
  });

  it("names an acknowledged request the log does not hold, or holds elsewhere", async () => {
    const lying = new AckBook();
    for (const a of book.acked.values()) lying.acked.set(a.uuid, a);
    lying.offChain("00000000-0000-4000-8000-000000000000", "place_order", 3);
    const someOffChain = [...book.acked.values()].find((a) => a.seq !== undefined && a.seq > 1);
    lying.acked.set(someOffChain?.uuid as string, { ...(someOffChain as NonNullable<typeof someOffChain>), seq: (someOffChain?.seq as number) - 1 });
    const { problems } = await checkRecovered(life, lying, acked);
    expect(problems.some((p) => p.includes("00000000-0000-4000-8000-000000000000") && p.includes("is not in the log"))).toBe(true);
    expect(problems.some((p) => p.includes(someOffChain?.uuid as string) && p.includes(`is at seq ${someOffChain?.seq}`))).toBe(true);
  });

  it("names a state that differs from the one acknowledged, and a head behind an answer", async () => {
    const { problems } = await checkRecovered(life, book, { seq: acked.seq, hash: "f".repeat(64) });
    expect(problems.some((p) => p.includes(`replayed to seq ${acked.seq}`) && p.includes("ffffffffffff"))).toBe(true);
    const ahead = await checkRecovered(life, book, { seq: life.node.head.seq + 5, hash: null });
    expect(ahead.problems.some((p) => p.includes("before the last acknowledged batch"))).toBe(true);
  });

  it("names a subaccount id that went back", async () => {
    const lying = new AckBook();
    const created = [...book.acked.values()].filter((a) => a.subaccount);
    expect(created.length).toBeGreaterThan(1);
    for (const a of book.acked.values()) lying.acked.set(a.uuid, a);
    const [first, second] = created as [(typeof created)[number], (typeof created)[number]];
    // Two acknowledgements for one entity, the later one naming a smaller id than the earlier.
    lying.acked.set("late", { uuid: "late", what: "create_subaccount", seq: (second.seq as number) + 1000, subaccount: { ...(first.subaccount as NonNullable<typeof first.subaccount>), id: -1 } });
    const { problems } = await checkRecovered(life, lying, acked);
    expect(problems.some((p) => p.includes("ids must only grow"))).toBe(true);
  });
});
