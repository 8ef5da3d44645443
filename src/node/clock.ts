import { DomainError } from "../core/errors/errors.ts";
import type { NodeCondition } from "./node.ts";

/**
 * A wall clock this far from node time is a jump, not drift: the node keeps its own time, says so
 * in /healthz (CLOCK_JUMP) and waits for the wall clock to come back or for root to adopt it.
 * Wider than Epistula's +2 s window, far wider than an NTP step (NTP steps above 128 ms).
 */
export const CLOCK_TOLERANCE_MS = 5_000;

/**
 * Within the tolerance node time converges on the wall clock by at most this much per ms elapsed
 * (1 ms per second, like adjtime): an NTP correction is absorbed without a step, never backward.
 */
export const CLOCK_SLEW_RATE = 0.001;

/**
 * At start there is no monotonic reference, only the last recorded event. A wall clock more than
 * this past it cannot be told apart from a wrong one (a day ahead, a year ahead): the node then
 * goes on from the last recorded time and root decides. A day: a restart after a crash, a deploy
 * or an afternoon's outage resumes on the wall clock by itself; a validator down longer than a
 * day needs its operator anyway, and a day is far short of the 90-day challenge a wrong clock
 * would otherwise end for every subaccount at once.
 */
export const MAX_START_LEAD_MS = 24 * 60 * 60_000;

export interface NodeClockOptions {
  /**
   * A monotonic clock (ms from any origin; default performance.now). When only `wall` is given it
   * is also the monotonic source: a virtual clock, which moves only when its owner moves it.
   */
  monotonic?: () => number;
  toleranceMs?: number;
  slewRate?: number;
  maxStartLeadMs?: number;
}

/** Node time and the wall clock, read together. */
export interface ClockReading {
  node_time_ms: number;
  wall_time_ms: number;
  /** wall - node: positive when the wall clock is ahead. */
  wall_lead_ms: number;
}

/** What root's acknowledgement did: node time moved forward by `adopted_ms` (0: nothing to adopt). */
export interface ClockAdoption extends ClockReading {
  adopted_ms: number;
}

/** Root asked to adopt a wall clock that is behind node time: recorded time never goes back. */
export class WallClockBehind extends DomainError {
  override readonly name = "WallClockBehind";
  constructor(reading: ClockReading) {
    super(
      "WALL_CLOCK_BEHIND",
      `the wall clock is ${duration(-reading.wall_lead_ms)} behind node time and cannot be adopted: recorded time never goes back; correct the wall clock (the condition clears by itself once it is within ${CLOCK_TOLERANCE_MS} ms of node time)`,
      { ...reading },
    );
  }
}

/**
 * The node's one clock (DESIGN.md §2 rule 6): node time = anchor + monotonic time elapsed, so a
 * jump of the wall clock, forward or back, changes nothing the node records. Small differences
 * are slewed away; a large one is reported (`condition`) until the wall clock comes back within
 * the tolerance or, when it is ahead, root adopts it (`acknowledge`). Node time never goes back.
 *
 * The anchor is taken at the first reading: max(last recorded ts, wall clock), unless the wall
 * clock is more than `maxStartLeadMs` past the last recorded ts; then the last recorded ts.
 */
export class NodeClock {
  readonly #monotonic: () => number;
  /** Only `wall` given: one reading serves as both (a virtual clock is read once per `now`). */
  readonly #virtual: boolean;
  readonly #tolerance: number;
  readonly #slew: number;
  readonly #maxStartLead: number;
  #anchored = false;
  /** The last recorded event's ts, from `resume`: what the start bound is measured from. */
  #lastRecorded: number | null = null;
  /** Node time (fractional ms) at the last reading. */
  #t = 0;
  /** The largest monotonic reading seen: a source that steps back adds no time twice. */
  #mono = 0;
  #wallLead = 0;
  /** The anchor was the last recorded event because the wall clock was too far past it. */
  #startedFromLog = false;
  #jumped = false;
  /** The wall clock's lead when the jump was last said. */
  #reportedLead = 0;
  #say: ((message: string) => void) | undefined;

  constructor(
    readonly wall: () => number = Date.now,
    options: NodeClockOptions = {},
  ) {
    this.#virtual = options.monotonic === undefined && wall !== Date.now;
    this.#monotonic = options.monotonic ?? (() => performance.now());
    this.#tolerance = options.toleranceMs ?? CLOCK_TOLERANCE_MS;
    this.#slew = options.slewRate ?? CLOCK_SLEW_RATE;
    this.#maxStartLead = options.maxStartLeadMs ?? MAX_START_LEAD_MS;
  }

  /**
   * The log this node resumes: its last recorded ts (null for an empty log). Node time will not
   * start before it, nor further than the start bound past it. `say` hears about jumps.
   */
  resume(lastRecordedTs: number | null, say?: (message: string) => void): void {
    this.#say = say ?? this.#say;
    if (lastRecordedTs === null) return;
    if (this.#anchored) {
      this.observe(lastRecordedTs);
      return;
    }
    this.#lastRecorded = Math.max(this.#lastRecorded ?? lastRecordedTs, lastRecordedTs);
  }

  /** Node time, integer ms since the epoch: never less than any earlier answer. */
  now(): number {
    return Math.floor(this.#advance().node);
  }

  /** Never hand out a time before one already in the log. */
  observe(ts: number): void {
    if (!this.#anchored) {
      this.#lastRecorded = Math.max(this.#lastRecorded ?? ts, ts);
      return;
    }
    if (ts > this.#t) this.#t = ts;
  }

  /** Node time and the wall clock now. */
  read(): ClockReading {
    const { node, wall } = this.#advance();
    return reading(node, wall);
  }

  /** CLOCK_JUMP while the wall clock is beyond the tolerance from node time; null otherwise. */
  condition(): NodeCondition | null {
    const { node, wall } = this.#advance();
    if (!this.#jumped) return null;
    const lead = wall - node;
    const problem =
      lead > 0
        ? `CLOCK_JUMP: the wall clock is ${duration(lead)} ahead of node time; ${
            this.#startedFromLog ? `at start it was more than ${duration(this.#maxStartLead)} past the last recorded event, so node time went on from that event` : "node time keeps to the monotonic clock"
          }. If the wall clock is right, root adopts it with POST /v1/clock/acknowledge; if not, correct it`
        : `CLOCK_JUMP: the wall clock is ${duration(-lead)} behind node time; node time keeps to the monotonic clock and never goes back: correct the wall clock (this clears once it is within ${duration(this.#tolerance)} of node time)`;
    return { problem, degraded: true, code: "CLOCK_JUMP" };
  }

  /**
   * Root's decision: a wall clock ahead of node time beyond the tolerance is adopted (node time
   * steps forward once, and the log line says why). A wall clock behind node time is refused
   * (409 WALL_CLOCK_BEHIND); within the tolerance there is nothing to adopt (slewing does it).
   */
  acknowledge(): ClockAdoption {
    const { node, wall } = this.#advance();
    const lead = wall - node;
    if (lead < -this.#tolerance) throw new WallClockBehind(reading(node, wall));
    if (lead <= this.#tolerance) return { ...reading(node, wall), adopted_ms: 0 };
    this.#t = wall;
    this.#startedFromLog = false;
    this.#setJumped(false);
    this.#say?.(`clock: root adopted the wall clock: node time moved forward ${duration(lead)} (${Math.floor(lead)} ms), from ${iso(node)} to ${iso(wall)}`);
    return { ...reading(wall, wall), adopted_ms: Math.floor(wall) - Math.floor(node) };
  }

  #advance(): { node: number; wall: number } {
    const wall = this.wall();
    const mono = this.#virtual ? wall : this.#monotonic();
    if (!this.#anchored) {
      this.#anchored = true;
      this.#mono = mono;
      const last = this.#lastRecorded;
      if (last !== null && wall > last + this.#maxStartLead) {
        this.#t = last;
        this.#startedFromLog = true;
      } else {
        this.#t = last === null ? wall : Math.max(last, wall);
      }
    }
    const elapsed = Math.max(0, mono - this.#mono);
    if (mono > this.#mono) this.#mono = mono;
    let t = this.#t + elapsed;
    const lead = wall - t;
    const jumped = Math.abs(lead) > this.#tolerance;
    if (!jumped) {
      // Slewed: never more than slewRate of the time elapsed, so node time never runs backward.
      const step = elapsed * this.#slew;
      t += Math.max(-step, Math.min(step, lead));
      this.#startedFromLog = false;
    }
    this.#t = t;
    this.#wallLead = wall - t;
    this.#setJumped(jumped);
    return { node: t, wall };
  }

  #setJumped(jumped: boolean): void {
    const lead = this.#wallLead;
    // Said once per jump: again only when the wall clock jumps again (an hour back, then 91 days on).
    const again = jumped && this.#jumped && Math.abs(lead - this.#reportedLead) > this.#tolerance;
    if (jumped === this.#jumped && !again) return;
    this.#jumped = jumped;
    this.#reportedLead = lead;
    if (jumped) {
      this.#say?.(
        `clock: CLOCK_JUMP: the wall clock is ${duration(Math.abs(lead))} ${lead > 0 ? "ahead of" : "behind"} node time (${iso(this.#t)}); node time keeps to the monotonic clock`,
      );
    } else {
      this.#say?.(`clock: the wall clock is back within ${duration(this.#tolerance)} of node time (${iso(this.#t)})`);
    }
  }
}

function reading(node: number, wall: number): ClockReading {
  const n = Math.floor(node);
  const w = Math.floor(wall);
  return { node_time_ms: n, wall_time_ms: w, wall_lead_ms: w - n };
}

function iso(ms: number): string {
  const d = new Date(Math.floor(ms));
  return Number.isNaN(d.getTime()) ? String(Math.floor(ms)) : d.toISOString();
}

/** "91 d", "1 h 30 min", "59 min 58 s", "5 s": the two largest units, a zero second one left out. */
function duration(ms: number): string {
  // To the nearest second, so that a lead of 91 days less a fraction of a ms reads "91 d".
  const s = Math.round(Math.abs(ms) / 1000);
  const units: Array<[number, string]> = [
    [Math.floor(s / 86_400), "d"],
    [Math.floor(s / 3_600) % 24, "h"],
    [Math.floor(s / 60) % 60, "min"],
    [s % 60, "s"],
  ];
  const first = units.findIndex(([n]) => n > 0);
  if (first < 0) return `${Math.round(Math.abs(ms))} ms`;
  return units
    .slice(first, first + 2)
    .filter(([n], i) => i === 0 || n > 0)
    .map(([n, u]) => `${n} ${u}`)
    .join(" ");
}
