import { describe, expect, it } from "vitest";
import { DomainError } from "../core/errors/errors.ts";
import { CLOCK_TOLERANCE_MS, MAX_START_LEAD_MS, NodeClock, WallClockBehind } from "./clock.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/** A wall clock and a monotonic clock the test moves: `pass` moves both, `step` only the wall. */
function sources(wallStart = T0) {
  const s = {
    wall: wallStart,
    mono: 1_000,
    pass(ms: number) {
      s.wall += ms;
      s.mono += ms;
    },
    step(ms: number) {
      s.wall += ms;
    },
  };
  return s;
}

function clockOn(s: ReturnType<typeof sources>, lastRecorded: number | null = null, said: string[] = []): NodeClock {
  const clock = new NodeClock(() => s.wall, { monotonic: () => s.mono });
  clock.resume(lastRecorded, (m) => said.push(m));
  return clock;
}

/** Node time read every `every` ms of monotonic time over `total` ms (wall and monotonic together). */
function run(clock: NodeClock, s: ReturnType<typeof sources>, total: number, every = 1_000): number[] {
  const seen: number[] = [];
  for (let t = 0; t < total; t += every) {
    s.pass(every);
    seen.push(clock.now());
  }
  return seen;
}

function nonDecreasing(xs: number[]): boolean {
  return xs.every((x, i) => i === 0 || x >= (xs[i - 1] as number));
}

describe("NodeClock while running", () => {
  it("follows the wall clock when the two agree, in integer ms", () => {
    const s = sources();
    const clock = clockOn(s);
    expect(clock.now()).toBe(T0);
    s.pass(1_234.75);
    expect(clock.now()).toBe(T0 + 1_234);
    expect(clock.condition()).toBeNull();
  });

  it("a wall clock 91 days ahead changes nothing it hands out, and is reported as CLOCK_JUMP", () => {
    const s = sources();
    const said: string[] = [];
    const clock = clockOn(s, null, said);
    run(clock, s, 60_000);
    const before = clock.now();
    s.step(91 * DAY);
    expect(clock.now()).toBe(before);
    s.pass(10_000);
    expect(clock.now()).toBe(before + 10_000);
    expect(clock.read()).toEqual({ node_time_ms: before + 10_000, wall_time_ms: before + 10_000 + 91 * DAY, wall_lead_ms: 91 * DAY });
    const condition = clock.condition();
    expect(condition).toMatchObject({ degraded: true, code: "CLOCK_JUMP" });
    expect(condition?.problem).toMatch(/^CLOCK_JUMP: the wall clock is 91 d ahead of node time; node time keeps to the monotonic clock\. If the wall clock is right, root adopts it with POST \/v1\/clock\/acknowledge/);
    expect(said).toEqual([expect.stringMatching(/^clock: CLOCK_JUMP: the wall clock is 91 d ahead of node time/)]);
    // It stays until the wall clock comes back or root adopts it; node time never slews toward it.
    expect(run(clock, s, 600_000).at(-1)).toBe(before + 610_000);
    expect(clock.condition()).not.toBeNull();
    s.step(-91 * DAY);
    expect(clock.now()).toBe(before + 610_000);
    expect(clock.condition()).toBeNull();
    expect(said[1]).toMatch(/^clock: the wall clock is back within 5 s of node time/);
  });

  it("a wall clock an hour behind never takes node time back; the condition clears once the wall clock is corrected", () => {
    const s = sources();
    const said: string[] = [];
    const clock = clockOn(s, null, said);
    run(clock, s, 5_000);
    const before = clock.now();
    s.step(-HOUR);
    const seen = run(clock, s, 30_000);
    expect(nonDecreasing([before, ...seen])).toBe(true);
    expect(seen.at(-1)).toBe(before + 30_000);
    expect(clock.condition()?.problem).toMatch(/^CLOCK_JUMP: the wall clock is 1 h behind node time; node time keeps to the monotonic clock and never goes back: correct the wall clock/);
    expect(clock.now()).toBe(before + 30_000);
    s.step(HOUR - 3_000); // corrected to within the tolerance (3 s behind): slewed from here
    run(clock, s, 3_000_000);
    expect(clock.read().wall_lead_ms).toBe(0);
    expect(clock.condition()).toBeNull();
    // Each jump is said once, a jump from one wrong time to another included.
    s.step(-HOUR);
    run(clock, s, 3_000);
    s.step(91 * DAY + HOUR);
    run(clock, s, 3_000);
    expect(said.map((m) => m.replace(/ \(.*$/, ""))).toEqual([
      "clock: CLOCK_JUMP: the wall clock is 1 h behind node time",
      "clock: the wall clock is back within 5 s of node time",
      "clock: CLOCK_JUMP: the wall clock is 1 h behind node time",
      "clock: CLOCK_JUMP: the wall clock is 91 d ahead of node time",
    ]);
  });

  it("slews a small difference at most 1 ms per second, forward and never backward", () => {
    const ahead = sources();
    const up = clockOn(ahead);
    up.now();
    ahead.step(3_000); // NTP stepped the wall clock 3 s forward
    expect(up.now()).toBe(T0); // no step
    const seen = run(up, ahead, 1_000_000);
    expect(seen[0]).toBe(T0 + 1_001); // 1 s passed, 1 ms gained
    expect(seen[999]).toBe(T0 + 1_000_000 + 1_000); // 1,000 s: 1 s of the 3 absorbed
    expect(run(up, ahead, 2_500_000).at(-1)).toBe(ahead.wall); // converged, and stays there
    expect(up.condition()).toBeNull();

    const behind = sources();
    const down = clockOn(behind);
    down.now();
    behind.step(-3_000);
    const slow = run(down, behind, 4_000_000, 500);
    expect(nonDecreasing([T0, ...slow])).toBe(true);
    expect(slow[1]).toBe(T0 + 999); // 1 s passed, 1 ms given back
    expect(slow.at(-1)).toBe(behind.wall);
    const steps = slow.map((x, i) => x - (i === 0 ? T0 : (slow[i - 1] as number)));
    expect(Math.min(...steps)).toBeGreaterThanOrEqual(498);
  });

  it("a monotonic source that steps back adds no time twice", () => {
    const s = sources();
    const clock = clockOn(s);
    s.pass(1_000);
    expect(clock.now()).toBe(T0 + 1_000);
    s.mono -= 500;
    expect(clock.now()).toBe(T0 + 1_000);
    s.mono += 500;
    expect(clock.now()).toBe(T0 + 1_000);
  });
});

describe("NodeClock at start", () => {
  const last = T0;

  it("resumes on the wall clock after a downtime shorter than the start bound", () => {
    const s = sources(last + 2 * HOUR);
    const clock = clockOn(s, last);
    expect(clock.now()).toBe(last + 2 * HOUR);
    expect(clock.condition()).toBeNull();
    const edge = sources(last + MAX_START_LEAD_MS);
    expect(clockOn(edge, last).now()).toBe(last + MAX_START_LEAD_MS);
  });

  it("with the wall clock 91 days past the last recorded event: goes on from that event by the monotonic clock, CLOCK_JUMP until root decides", () => {
    const s = sources(last + 91 * DAY);
    const said: string[] = [];
    const clock = clockOn(s, last, said);
    expect(clock.now()).toBe(last);
    s.pass(1_500);
    expect(clock.now()).toBe(last + 1_500);
    const condition = clock.condition();
    expect(condition).toMatchObject({ degraded: true, code: "CLOCK_JUMP" });
    expect(condition?.problem).toMatch(/^CLOCK_JUMP: the wall clock is 91 d ahead of node time; at start it was more than 1 d past the last recorded event, so node time went on from that event\. If the wall clock is right, root adopts it/);
    expect(said).toHaveLength(1);
    // One ms past the bound is enough.
    const over = sources(last + MAX_START_LEAD_MS + 1);
    expect(clockOn(over, last).now()).toBe(last);
  });

  it("with the wall clock behind the last recorded event: never before that event", () => {
    const s = sources(last - HOUR);
    const clock = clockOn(s, last);
    expect(clock.now()).toBe(last);
    s.pass(2_000);
    expect(clock.now()).toBe(last + 2_000);
    expect(clock.condition()?.problem).toMatch(/^CLOCK_JUMP: the wall clock is 1 h behind node time/);
    // Slightly behind (within the tolerance): slewed, not stalled, not reported.
    const near = sources(last - 2_000);
    const slewed = clockOn(near, last);
    expect(slewed.now()).toBe(last);
    near.pass(1_000);
    expect(slewed.now()).toBe(last + 999);
    expect(slewed.condition()).toBeNull();
  });

  it("observe and resume set a floor before the first reading, and raise node time after it", () => {
    const s = sources();
    const clock = new NodeClock(() => s.wall, { monotonic: () => s.mono });
    clock.observe(T0 + 1_000);
    expect(clock.now()).toBe(T0 + 1_000);
    clock.observe(T0 + 3_000);
    expect(clock.now()).toBe(T0 + 3_000);
    clock.resume(T0 + 4_000);
    expect(clock.now()).toBe(T0 + 4_000);
  });
});

describe("root's acknowledgement", () => {
  it("adopts a wall clock that is ahead: node time steps forward once, the condition clears, the log says why", () => {
    const s = sources(T0 + 91 * DAY);
    const said: string[] = [];
    const clock = clockOn(s, T0, said);
    expect(clock.now()).toBe(T0);
    s.pass(5_000);
    const adoption = clock.acknowledge();
    expect(adoption).toEqual({ node_time_ms: T0 + 91 * DAY + 5_000, wall_time_ms: T0 + 91 * DAY + 5_000, wall_lead_ms: 0, adopted_ms: 91 * DAY });
    expect(clock.now()).toBe(T0 + 91 * DAY + 5_000);
    expect(clock.condition()).toBeNull();
    expect(said.at(-1)).toMatch(/^clock: root adopted the wall clock: node time moved forward 91 d \(7862400000 ms\), from 2026-01-01T00:00:05\.000Z to 2026-04-02T00:00:05\.000Z$/);
    // Nothing left to adopt: a second acknowledgement moves nothing.
    s.pass(1_000);
    expect(clock.acknowledge()).toMatchObject({ adopted_ms: 0, wall_lead_ms: 0 });
  });

  it("refuses a wall clock behind node time (409 WALL_CLOCK_BEHIND) and moves nothing", () => {
    const s = sources();
    const clock = clockOn(s);
    clock.now();
    s.pass(1_000);
    s.step(-HOUR);
    let error: unknown;
    try {
      clock.acknowledge();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WallClockBehind);
    expect((error as DomainError).code).toBe("WALL_CLOCK_BEHIND");
    expect((error as DomainError).status).toBe(409);
    expect((error as DomainError).message).toMatch(/^the wall clock is 1 h behind node time and cannot be adopted: recorded time never goes back/);
    expect((error as DomainError).details).toEqual({ node_time_ms: T0 + 1_000, wall_time_ms: T0 + 1_000 - HOUR, wall_lead_ms: -HOUR });
    expect(clock.now()).toBe(T0 + 1_000);
    expect(clock.condition()).not.toBeNull();
  });

  it("within the tolerance there is nothing to adopt: slewing does it", () => {
    const s = sources();
    const clock = clockOn(s);
    clock.now();
    s.step(CLOCK_TOLERANCE_MS);
    expect(clock.acknowledge()).toEqual({ node_time_ms: T0, wall_time_ms: T0 + CLOCK_TOLERANCE_MS, wall_lead_ms: CLOCK_TOLERANCE_MS, adopted_ms: 0 });
    expect(clock.now()).toBe(T0);
  });
});

describe("a virtual clock (a wall source alone)", () => {
  it("is read once per reading and moves as one: a jump of it is time passing", () => {
    let reads = 0;
    let t = T0;
    const clock = new NodeClock(() => {
      reads++;
      return t;
    });
    expect(clock.now()).toBe(T0);
    expect(reads).toBe(1);
    t += 90 * DAY;
    expect(clock.now()).toBe(T0 + 90 * DAY);
    expect(reads).toBe(2);
    expect(clock.condition()).toBeNull();
    t -= HOUR; // a virtual clock moved back: node time holds, and says so
    expect(clock.now()).toBe(T0 + 90 * DAY);
    expect(clock.condition()?.code).toBe("CLOCK_JUMP");
  });
});
