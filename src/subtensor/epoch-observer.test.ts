import { afterEach, describe, expect, it, vi } from "vitest";
import { EpochObserver } from "./epoch-observer.ts";
import type { EpochReader } from "./epoch-reader.ts";
import type { EpochObservation, ObservedEpochWithOwner } from "./observed-epoch.ts";
import { SubtensorError } from "./subtensor-error.ts";

/**
 * A chain in memory: epochs at given blocks, a finalized head, and a pruning depth (state below
 * `prunedBefore` is gone). Reads count, so that a test can say what was asked.
 */
class FakeChain implements EpochReader {
  head = 0;
  prunedBefore = 0;
  failNext: Error | null = null;
  readonly asked: string[] = [];
  constructor(readonly epochs: number[]) {}

  async finalizedHead() {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      throw error;
    }
    return { number: this.head, hash: hashOf(this.head) };
  }

  async lastStepBlock(_netuid: number, block: number) {
    this.asked.push(`step@${block}`);
    this.#state(block);
    return this.epochs.filter((e) => e <= block).reduce((a, b) => Math.max(a, b), 0);
  }

  async epochAt(netuid: number, block: number): Promise<ObservedEpochWithOwner> {
    this.asked.push(`epoch@${block}`);
    this.#state(block);
    if (!this.epochs.includes(block)) throw new Error(`asked for the epoch at ${block}, which is not an epoch block`);
    return epochFact(netuid, block);
  }

  #state(block: number) {
    if (block > this.head) throw new Error(`block ${block} is beyond the head ${this.head}`);
    if (block < this.prunedBefore) throw new SubtensorError("STATE_UNAVAILABLE", `state of ${block} discarded`);
  }
}

function hashOf(block: number): string {
  return `0x${block.toString(16).padStart(64, "0")}`;
}

function epochFact(netuid: number, block: number): ObservedEpochWithOwner {
  return {
    netuid,
    block,
    blockHash: hashOf(block),
    timestampMs: 1_700_000_000_000 + block * 12_000,
    hotkeys: ["5A", "5B"],
    alphaPaid: ["0", String(block)],
    source: "IncentiveAlphaEmittedToMiners",
    subnetTaoRao: "1000",
    subnetAlphaInRao: "2000",
    ownerHotkey: "5Owner",
  };
}

/** What a batch of observations says, compactly: "epoch 722", "gap 361..1083". */
function summary(observations: EpochObservation[]): string[] {
  return observations.map((o) => (o.kind === "epoch" ? `epoch ${o.epoch.block}` : `gap ${o.gap.afterBlock}..${o.gap.beforeBlock}`));
}

const EPOCHS = [361, 722, 1_083, 1_444];

describe("the epoch observer", () => {
  it("a changed LastMechansimStepBlock is exactly one epoch; a repeated one is none", async () => {
    const chain = new FakeChain(EPOCHS);
    const observer = new EpochObserver({ netuid: 8, reader: chain });
    chain.head = 300;
    expect(await observer.poll()).toEqual([]); // no epoch yet on this subnet
    chain.head = 361;
    const first = await observer.poll();
    expect(first).toEqual([{ kind: "epoch", epoch: epochFact(8, 361) }]);
    for (const head of [361, 362, 500, 721]) {
      chain.head = head;
      expect(await observer.poll(), `head ${head}`).toEqual([]);
    }
    chain.head = 730;
    expect(summary(await observer.poll())).toEqual(["epoch 722"]);
    expect(observer.lastEpochBlock).toBe(722);
    expect(observer.checkedHead).toEqual({ number: 730, hash: hashOf(730) });
    // Each epoch's data was read once, and only at epoch blocks.
    expect(chain.asked.filter((a) => a.startsWith("epoch@"))).toEqual(["epoch@361", "epoch@722"]);
  });

  it("resumes after the last epoch in the log; epochs missed while away are read back when the node still holds them", async () => {
    const chain = new FakeChain(EPOCHS);
    chain.head = 1_100;
    const observer = new EpochObserver({ netuid: 8, reader: chain, after: 361 });
    expect(summary(await observer.poll())).toEqual(["epoch 722", "epoch 1083"]);
    expect(await observer.poll()).toEqual([]);
  });

  it("a jump past epochs whose state is pruned, with no archive, is a gap and never an invented epoch", async () => {
    const chain = new FakeChain(EPOCHS);
    chain.head = 1_100;
    chain.prunedBefore = 1_000;
    const observer = new EpochObserver({ netuid: 8, reader: chain, after: 361 });
    const observations = await observer.poll();
    expect(summary(observations)).toEqual(["gap 361..1083", "epoch 1083"]);
    const gap = observations[0];
    expect(gap?.kind === "gap" && gap.gap.reason).toMatch(/no archive endpoint is configured/);
    expect(observer.lastEpochBlock).toBe(1_083);
    chain.head = 1_450;
    expect(summary(await observer.poll())).toEqual(["epoch 1444"]);
  });

  it("with an archive node, the missed epochs are filled from it instead of a gap", async () => {
    const node = new FakeChain(EPOCHS);
    node.head = 1_500;
    node.prunedBefore = 1_200;
    const archive = new FakeChain(EPOCHS);
    archive.head = 1_500;
    const observer = new EpochObserver({ netuid: 8, reader: node, archive, after: 361 });
    expect(summary(await observer.poll())).toEqual(["epoch 722", "epoch 1083", "epoch 1444"]);
    // The node answered what it still held; the archive only the rest.
    expect(archive.asked).toEqual(["step@1082", "step@721", "epoch@722", "epoch@1083"]);
    expect(node.asked.filter((a) => a.startsWith("epoch@"))).toEqual(["epoch@722", "epoch@1083", "epoch@1444"]);
  });

  it("an archive that has pruned too still yields a gap, with the epochs it could read around it", async () => {
    const node = new FakeChain(EPOCHS);
    node.head = 1_500;
    node.prunedBefore = 1_400;
    const archive = new FakeChain(EPOCHS);
    archive.head = 1_500;
    archive.prunedBefore = 800;
    const observer = new EpochObserver({ netuid: 8, reader: node, archive, after: 361 });
    const observations = await observer.poll();
    expect(summary(observations)).toEqual(["gap 361..1083", "epoch 1083", "epoch 1444"]);
    expect(observations[0]?.kind === "gap" && observations[0].gap.reason).toMatch(/neither the node nor the archive/);
  });

  it("more missed epochs than it may fill: the newest are filled, the rest is a gap", async () => {
    const chain = new FakeChain(EPOCHS);
    chain.head = 1_500;
    const observer = new EpochObserver({ netuid: 8, reader: chain, after: 0, maxBackfill: 2 });
    expect(summary(await observer.poll())).toEqual(["gap 0..1083", "epoch 1083", "epoch 1444"]);
  });

  it("a transient failure records nothing and the next poll picks up where it left", async () => {
    const chain = new FakeChain(EPOCHS);
    chain.head = 400;
    const observer = new EpochObserver({ netuid: 8, reader: chain, after: 0 });
    expect(summary(await observer.poll())).toEqual(["epoch 361"]);
    chain.head = 800;
    chain.failNext = new Error("WebSocket is not connected");
    await expect(observer.poll()).rejects.toThrow(/not connected/);
    expect(observer.lastEpochBlock).toBe(361);
    expect(summary(await observer.poll())).toEqual(["epoch 722"]);
  });

  it("refuses a LastMechansimStepBlock that goes backwards rather than guess", async () => {
    const chain = new FakeChain(EPOCHS);
    chain.head = 800;
    const observer = new EpochObserver({ netuid: 8, reader: chain, after: 1_083 });
    await expect(observer.poll()).rejects.toMatchObject({ code: "UNEXPECTED_CHAIN_DATA" });
    expect(observer.lastEpochBlock).toBe(1_083);
  });
});

describe("the observer's polling loop", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("hands each observation over once, in order; one that could not be recorded is handed over again", async () => {
    vi.useFakeTimers();
    const chain = new FakeChain(EPOCHS);
    chain.head = 100;
    const observer = new EpochObserver({ netuid: 8, reader: chain });
    const recorded: string[] = [];
    const errors: string[] = [];
    const checked: number[] = [];
    let refuse = 1;
    const loop = observer.start({
      intervalMs: 12_000,
      onObservation: (o) => {
        if (refuse-- > 0) throw new Error("disk full");
        recorded.push(...summary([o]));
      },
      onChecked: (head) => checked.push(head.number),
      onError: (error) => errors.push((error as Error).message),
    });
    await vi.advanceTimersByTimeAsync(0);
    chain.head = 361;
    await vi.advanceTimersByTimeAsync(12_000); // refused by the recorder
    await vi.advanceTimersByTimeAsync(12_000); // handed over again
    chain.head = 380;
    await vi.advanceTimersByTimeAsync(12_000);
    chain.failNext = new Error("No response received from RPC endpoint in 30s");
    await vi.advanceTimersByTimeAsync(12_000);
    chain.head = 722;
    await vi.advanceTimersByTimeAsync(12_000);
    expect(recorded).toEqual(["epoch 361", "epoch 722"]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/disk full/);
    expect(errors[1]).toMatch(/No response/);
    expect(checked).toEqual([100, 361, 380, 722]);

    // Two epochs in one poll; the second is refused once: the first is not handed over twice.
    chain.head = 1_450;
    refuse = 0;
    let refuseSecond = true;
    const seen: string[] = [];
    await loop.stop();
    const again = observer.start({
      intervalMs: 12_000,
      onObservation: (o) => {
        const [s] = summary([o]);
        if (s === "epoch 1444" && refuseSecond) {
          refuseSecond = false;
          throw new Error("busy");
        }
        seen.push(s!);
      },
    });
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(12_000);
    await again.stop();
    expect(seen).toEqual(["epoch 1083", "epoch 1444"]);
    chain.head = 2_000;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(seen).toEqual(["epoch 1083", "epoch 1444"]); // stopped
  });
});
