import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Handlers } from "../core/machine/commands.ts";
import { CLOCK_TOLERANCE_MS, MAX_START_LEAD_MS } from "../node/clock.ts";
import { snapshotDir } from "../node/node.ts";
import { verifyLog } from "../node/verify.ts";
import { AckBook } from "./ack-book.ts";
import { type AckedBatch, COMMIT_FAULTS, type SimDisk } from "./faulty-store.ts";
import { NodeLife, SIM_MIN_FREE_BYTES } from "./node-life.ts";
import { checkRecovered } from "./recovery-check.ts";
import { SeededRandom } from "./seeded-random.ts";
import { simWorld } from "./sim-world.ts";
import { SnapshotDisk } from "./snapshot-disk.ts";
import { VirtualClock } from "./virtual-clock.ts";
import { emptyStats, Workload, type WorkloadStats } from "./workload.ts";

/** Every fault the simulator injects. */
export const FAULT_KINDS = [
  ...COMMIT_FAULTS,
  "enospc_snapshot",
  "torn_snapshot",
  "missing_snapshot",
  "clock_jump_back",
  "clock_jump_forward",
  "restart_from_snapshot",
  "restart_from_genesis",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface SimOptions {
  seed: number;
  /** Workload steps per seed (each a group of requests and maybe blocks). */
  steps?: number;
  /** Faults per seed, at most (at least one). */
  faults?: number;
  /** Where the seed's data directory goes (default: /dev/shm when there is one: fsync costs nothing there). */
  dir?: string;
  /** The production store with its commit thread (real, untimed latency) instead of the in-thread one. */
  threaded?: boolean;
  /** Keep the data directory (of a failing seed, to look at it). */
  keep?: boolean;
  /** Planted bugs, for the simulator's own tests: the checks must catch them. */
  plant?: { ackBeforeDurable?: boolean; handlers?: Handlers };
}

export interface SeedReport {
  seed: number;
  ok: boolean;
  problems: string[];
  /** Faults injected, by kind. */
  faults: Partial<Record<FaultKind, number>>;
  restarts: number;
  /** In-process rebuilds after a commit failed for lack of space. */
  rebuilds: number;
  /** Acknowledged requests found where their answers said, summed over every check. */
  checked: number;
  stats: WorkloadStats;
  events: number;
  /** The final log's events by type (and the verdicts in them). */
  types: Record<string, number>;
  ms: number;
  /** The fault plan: `step N: kind`. */
  plan: string[];
  /** The last steps before the end (or the failure). */
  trace: readonly string[];
  dataDir?: string;
}

const START_MS = Date.UTC(2026, 0, 5, 9, 0, 0);
const HOUR = 3_600_000;
const PLENTY_BYTES = 8 * 1024 ** 3;

/** The command that replays one seed. */
export function replayCommand(seed: number, options: Pick<SimOptions, "steps" | "faults" | "threaded"> = {}): string {
  const extra = [
    options.steps === undefined ? "" : ` --steps ${options.steps}`,
    options.faults === undefined ? "" : ` --faults ${options.faults}`,
    options.threaded ? " --threaded" : "",
  ].join("");
  return `npm run sim:faults -- --seed ${seed}${extra}`;
}

function defaultDir(): string {
  return existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
}

/**
 * One seed of the deterministic fault simulator (in the manner of TigerBeetle's VOPR): the real
 * node on the real SQLite store, a seeded workload on a virtual clock, and seeded faults: crashes
 * before, during and after a commit, failed commits, a full disk under the log and under a
 * snapshot, torn and lost snapshots, wall-clock jumps, restarts from a snapshot or from genesis.
 * After every restart (and every in-process rebuild) the node is checked against what its clients
 * were told (checkRecovered); after every step its clock against true time; at the end the log
 * passes `verify --full` and `verify` from its snapshots.
 */
export async function runSeed(options: SimOptions): Promise<SeedReport> {
  const started = performance.now();
  const random = new SeededRandom(options.seed);
  const world = simWorld(random.fork(1));
  const workRandom = random.fork(2);
  const faultRandom = random.fork(3);
  const clock = new VirtualClock(START_MS + random.int(0, 30 * 86_400_000));
  const steps = options.steps ?? 60;
  const disk: SimDisk = { freeBytes: PLENTY_BYTES };
  const dataDir = mkdtempSync(join(options.dir ?? defaultDir(), `propnet-sim-${options.seed}-`));
  const snapshots = new SnapshotDisk(snapshotDir(dataDir));
  const book = new AckBook();
  const stats = emptyStats();
  const workload = new Workload(world, workRandom, clock, book, stats);
  const problems: string[] = [];
  const faults: Partial<Record<FaultKind, number>> = {};
  const count = (k: FaultKind) => {
    faults[k] = (faults[k] ?? 0) + 1;
  };
  let crashed: string | null = null;
  let restarts = 0;
  let rebuilds = 0;
  let checked = 0;
  let events = 0;
  let types: Record<string, number> = {};
  let lastAcked: AckedBatch | null = null;
  let life: NodeLife | null = null;
  let step = 0;
  /** How far node time may lead true time: what a restart under a wall clock set ahead may adopt (up to a day). */
  let allowedLead = 0;
  let spaceReturnsAt: number | null = null;

  // The plan: which faults, at which steps. A clock set wrong is put right a few steps later.
  const plan = new Map<number, FaultKind[]>();
  const nFaults = faultRandom.int(1, Math.max(1, options.faults ?? 5));
  for (let i = 0; i < nFaults; i++) {
    const at = faultRandom.int(2, Math.max(2, steps - 1));
    plan.set(at, [...(plan.get(at) ?? []), faultRandom.pick(FAULT_KINDS)]);
  }
  const corrections = new Set<number>();
  const firedSeen = new WeakMap<object, number>();

  const open = async (): Promise<NodeLife> => {
    // A restart under a wall clock set ahead adopts it, up to a day past the log (DESIGN.md §2 rule 6).
    if (clock.skewMs > 0 && clock.skewMs <= MAX_START_LEAD_MS + allowedLead) allowedLead = Math.max(allowedLead, clock.skewMs);
    const opened = await NodeLife.open({
      dataDir,
      clock,
      random: random.fork(100 + restarts),
      disk,
      threaded: options.threaded ?? false,
      genesis: world.genesis,
      chainGenesis: world.chainGenesis,
      payoutPeriod: world.payoutPeriod,
      validator: world.validator,
      onCrash: (fault) => {
        crashed = fault;
      },
      ackBeforeDurable: options.plant?.ackBeforeDurable,
      handlers: options.plant?.handlers,
    });
    book.opened(opened.node.head.seq);
    return opened;
  };

  const check = async (reason: string): Promise<void> => {
    const verdict = await checkRecovered(life as NodeLife, book, lastAcked);
    checked += verdict.checked;
    events = verdict.head;
    types = verdict.types;
    for (const p of verdict.problems) problems.push(`after ${reason} at step ${step}: ${p}`);
  };

  /** The process dies (or is stopped), files may be damaged, it starts again and is checked. */
  const restart = async (reason: string, damage?: () => void, clean = false): Promise<void> => {
    const old = life as NodeLife;
    if (clean) await old.close();
    else await old.abandon();
    countFired(old);
    lastAcked = old.acked ?? lastAcked;
    damage?.();
    crashed = null;
    life = null;
    life = await open();
    restarts++;
    await check(reason);
  };

  const countFired = (l: NodeLife) => {
    for (const s of l.stores) {
      for (const f of s.fired.slice(firedSeen.get(s) ?? 0)) count(f);
      firedSeen.set(s, s.fired.length);
    }
  };

  /** Node time keeps to true time (never more ahead than a restart may adopt); a jump is reported while it lasts. */
  const checkClock = (l: NodeLife) => {
    const reading = l.node.clock.read();
    const lead = reading.node_time_ms - clock.trueNow;
    if (lead > allowedLead + CLOCK_TOLERANCE_MS) {
      problems.push(`step ${step}: node time is ${Math.round(lead / 60_000)} min ahead of true time (the wall clock is ${Math.round(clock.skewMs / 60_000)} min off): a wall-clock jump pushed recorded time into the future`);
    }
    const jumped = Math.abs(reading.wall_lead_ms) > CLOCK_TOLERANCE_MS;
    const reported = l.node.conditions().some((c) => c.code === "CLOCK_JUMP");
    if (jumped !== reported) problems.push(`step ${step}: the wall clock is ${reading.wall_lead_ms} ms from node time, but /healthz ${reported ? "reports" : "does not report"} CLOCK_JUMP`);
  };

  const freeSpace = (bytes: number) => {
    disk.freeBytes = bytes;
    (life as NodeLife).node.checkStorage();
  };

  try {
    life = await open();
    await workload.bootstrap(life);
    for (step = 0; step < steps && problems.length === 0; step++) {
      if (corrections.has(step)) clock.correct();
      if (spaceReturnsAt !== null && step >= spaceReturnsAt) {
        freeSpace(PLENTY_BYTES);
        spaceReturnsAt = null;
      }
      let snapshotNow = workRandom.chance(0.1);
      for (const fault of plan.get(step) ?? []) {
        switch (fault) {
          case "crash_before_commit":
          case "crash_during_commit":
          case "crash_after_commit":
          case "failed_commit":
            (life as NodeLife).store.arm(fault, faultRandom.int(1, 3));
            break;
          case "enospc_log":
            if (faultRandom.chance(0.5)) (life as NodeLife).store.arm(fault, faultRandom.int(1, 3));
            else {
              // Nearly full: under the reserve, so writes are refused before they run; nothing fails.
              freeSpace(faultRandom.int(0, SIM_MIN_FREE_BYTES - 1));
              count(fault);
              spaceReturnsAt = step + faultRandom.int(1, 4);
            }
            break;
          case "enospc_snapshot":
            snapshots.fullFor = 1;
            snapshotNow = true;
            break;
          case "clock_jump_back":
          case "clock_jump_forward": {
            const hours = faultRandom.int(1, 100);
            clock.jump((fault === "clock_jump_back" ? -1 : 1) * hours * HOUR);
            count(fault);
            corrections.add(step + faultRandom.int(1, 6));
            // Across a restart, as often as not.
            if (faultRandom.chance(0.5)) await restart(`${fault} of ${hours} h and a restart`);
            break;
          }
          case "restart_from_snapshot":
          case "torn_snapshot":
          case "missing_snapshot": {
            await (life as NodeLife).snapshot();
            count(fault);
            const damage =
              fault === "torn_snapshot" ? () => void snapshots.tearNewest(faultRandom) : fault === "missing_snapshot" ? () => void snapshots.remove("newest") : undefined;
            await restart(fault, damage);
            break;
          }
          case "restart_from_genesis":
            count(fault);
            await restart(fault, () => void snapshots.remove("all"));
            break;
        }
      }
      const running = life as NodeLife;
      const failedSnapshots = snapshots.failedWrites;
      const rebuildsBefore = running.node.rebuilds;
      const kind = workRandom.weighted({ load: 16, invalid: 3, weights: 1 });
      if (kind === "invalid") await workload.invalid(running, workRandom.int(2, 6));
      else if (kind === "weights") await workload.weights(running);
      else await workload.step(running, { snapshot: snapshotNow });
      await running.settleSnapshots();
      if (snapshots.failedWrites > failedSnapshots) {
        count("enospc_snapshot");
        // The node goes on, says so, and leaves no torn file behind.
        if (snapshots.tempFiles().length > 0) problems.push(`step ${step}: a snapshot that failed for lack of space left ${snapshots.tempFiles().join(", ")}`);
        if (!running.node.conditions().some((c) => /snapshot/.test(c.problem))) problems.push(`step ${step}: a snapshot failed for lack of space and /healthz does not say so`);
      }
      countFired(running);
      problems.push(...workload.problems.splice(0), ...book.problems.splice(0));
      if (crashed !== null || running.fatal.length > 0) {
        const why = crashed ?? `fatal: ${(running.fatal[0] as Error)?.message ?? String(running.fatal[0])}`;
        const expected = crashed !== null || running.fatal.every((e) => (e as Error)?.name === "SimulatedCrash" || (e as { code?: string })?.code === "SQLITE_IOERR");
        if (!expected) problems.push(`step ${step}: the node failed on its own: ${why}`);
        await restart(why);
      } else if (running.node.rebuilds > rebuildsBefore || running.disturbed) {
        // A commit failed for lack of space: the node rebuilt its state in-process, as a restart would.
        await running.node.rebuilt;
        if (running.node.rebuilds === rebuildsBefore) problems.push(`step ${step}: a commit failed for lack of space and the node did not rebuild its state`);
        rebuilds++;
        running.calm();
        lastAcked = running.acked ?? lastAcked;
        book.opened(running.node.head.seq);
        await check("an in-process rebuild after a full disk");
        spaceReturnsAt ??= step + faultRandom.int(1, 4);
      } else if (running.faults.length > 0) {
        problems.push(`step ${step}: execution fault: ${running.faults.join("; ")}`);
      }
      if (life && problems.length === 0) checkClock(life);
    }
    if (problems.length === 0) {
      // Space back, a clean stop (drain, snapshot), a start from it, and `propnet verify` both ways.
      freeSpace(PLENTY_BYTES);
      await restart("a clean stop", undefined, true);
      const final = life as NodeLife;
      const recovered = final.node.head.seq;
      await final.close();
      life = null;
      const full = await verifyLog(dataDir, { full: true });
      const fromSnapshot = await verifyLog(dataDir);
      if (full.lastSeq !== recovered || fromSnapshot.lastSeq !== recovered) problems.push(`verify ended at seq ${full.lastSeq} (full) and ${fromSnapshot.lastSeq}, the node at ${recovered}`);
      if (full.stateHash !== fromSnapshot.stateHash) problems.push(`verify --full and verify from ${fromSnapshot.from} disagree on the state hash`);
      events = full.lastSeq;
    }
  } catch (error) {
    problems.push(`step ${step}: ${(error as Error)?.stack ?? String(error)}`);
  } finally {
    if (life) await (life as NodeLife).abandon().catch(() => undefined);
    snapshots.release();
    if (!options.keep) rmSync(dataDir, { recursive: true, force: true });
  }
  return {
    seed: options.seed,
    ok: problems.length === 0,
    problems,
    faults,
    restarts,
    rebuilds,
    checked,
    stats,
    events,
    types,
    ms: Math.round(performance.now() - started),
    plan: [...plan].sort(([a], [b]) => a - b).flatMap(([at, kinds]) => kinds.map((k) => `step ${at}: ${k}`)),
    trace: workload.trace,
    dataDir: options.keep ? dataDir : undefined,
  };
}
