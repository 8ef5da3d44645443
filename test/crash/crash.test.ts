/**
 * Crash test with real processes: a child appends transfers as fast as it can and reports each
 * acknowledged command; we SIGKILL it at a seed-chosen moment (often during a snapshot write),
 * reopen the same directory and check that every acknowledged command is there, at the seq it was
 * acknowledged with, that the chain is intact and that `verify` passes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { stateHash } from "../../src/core/machine/state.ts";
import { PropnetNode, snapshotDir } from "../../src/node/node.ts";
import { verifyLog } from "../../src/node/verify.ts";
import { amountOf, recipientOf, senderOf } from "./crash-shared.ts";
import { prng } from "../../src/core/random/prng.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const CHILD = join(HERE, "crash-child.ts");
const SEEDS = 20;
/** Children started ahead of the running one. */
const LOOKAHEAD = 2;


interface Round {
  /** Command index -> the seq it was acknowledged at. */
  acks: Map<number, number>;
  /** A snapshot temp file existed right after the kill. */
  tmpAtKill: boolean;
}

interface Plan {
  seed: number;
  dataDir: string;
  /** The kill is scheduled once the child has acknowledged this many commands... */
  minAcks: number;
  /** ...and lands this much later. */
  delayMs: number;
  /** The last round on this directory: check it afterwards. */
  last: boolean;
}

function hasSnapshotTmp(dataDir: string): boolean {
  const dir = snapshotDir(dataDir);
  return existsSync(dir) && readdirSync(dir).some((n) => n.endsWith(".tmp"));
}

/**
 * A child that has loaded its modules but waits for `go` on stdin before opening the directory,
 * so starting the next one (tsx costs most of a second) overlaps the current round.
 */
class Child {
  readonly #proc: ChildProcess;
  readonly #acks = new Map<number, number>();
  #pending = "";
  #stderr = "";
  #duplicate: string | null = null;
  #onData: (() => void) | null = null;
  #closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly dataDir: string) {
    this.#proc = spawn(process.execPath, ["--import", "tsx", CHILD, dataDir], {
      cwd: ROOT,
      env: { ...process.env, CRASH_CHILD_WAIT: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.#proc.stdout?.setEncoding("utf8");
    this.#proc.stdout?.on("data", (chunk: string) => {
      this.#pending += chunk;
      const lines = this.#pending.split("\n");
      this.#pending = lines.pop() ?? ""; // a partial last line is not an acknowledgement
      for (const line of lines) this.#parse(line);
      this.#onData?.();
    });
    this.#proc.stderr?.setEncoding("utf8");
    this.#proc.stderr?.on("data", (chunk: string) => {
      this.#stderr += chunk;
    });
    this.#proc.stdin?.on("error", () => {}); // EPIPE if it died before `go`; reported on close
    // `close` fires once stdout is drained, so every line written before death is parsed.
    this.#closed = new Promise((resolvePromise, reject) => {
      this.#proc.on("error", reject);
      this.#proc.on("close", (code, signal) => resolvePromise({ code, signal }));
    });
    this.#closed.catch(() => {}); // a child killed unused is never awaited; `run` awaits the rest
  }

  #parse(line: string): void {
    const m = /^ack (\d+) (\d+)$/.exec(line);
    if (!m) return;
    const i = Number(m[1]);
    const seq = Number(m[2]);
    if (this.#acks.has(i)) this.#duplicate ??= `command ${i} acknowledged twice (seq ${this.#acks.get(i)} and ${seq})`;
    this.#acks.set(i, seq);
  }

  /** Lets the child run until `minAcks` acknowledgements, then SIGKILLs it `delayMs` later. */
  async run(minAcks: number, delayMs: number): Promise<Round> {
    let killed = false;
    let tmpAtKill = false;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const watchdog = setTimeout(() => {
      timedOut = true;
      this.#proc.kill("SIGKILL");
    }, 30_000);
    this.#onData = () => {
      if (killTimer !== undefined || this.#acks.size < minAcks) return;
      killTimer = setTimeout(() => {
        killed = this.#proc.kill("SIGKILL");
        // As close to the moment of death as we can look: was a snapshot being written?
        tmpAtKill = hasSnapshotTmp(this.dataDir);
      }, delayMs);
    };
    this.#proc.stdin?.end("go\n");
    const { code, signal } = await this.#closed;
    clearTimeout(watchdog);
    clearTimeout(killTimer);
    if (!killed || signal !== "SIGKILL") {
      throw new Error(
        `child on ${this.dataDir} ${timedOut ? `did not reach ${minAcks} acks in 30 s` : "ended without our kill"} ` +
          `(code ${code}, signal ${signal}, ${this.#acks.size} acks); stderr:\n${this.#stderr}`,
      );
    }
    if (this.#duplicate) throw new Error(this.#duplicate);
    return { acks: this.#acks, tmpAtKill };
  }

  /** For cleanup: a child started but never run. */
  kill(): void {
    this.#proc.kill("SIGKILL");
  }
}

/** Reopens a killed directory and checks every acknowledged command; returns the head seq. */
async function checkDirectory(dataDir: string, acks: Map<number, number>, seed: number): Promise<number> {
  let maxAcked = 0;
  for (const seq of acks.values()) maxAcked = Math.max(maxAcked, seq);
  const fatal: unknown[] = [];
  // Recovery from the newest sound snapshot plus the log's tail must accept a killed directory.
  const node = await PropnetNode.open({ dataDir, onFatal: (error) => fatal.push(error), say: () => {} });
  let head: number;
  let recoveredHash: string;
  const missing: string[] = [];
  try {
    await node.audit;
    expect(node.problems, `seed ${seed}: the restarted node found problems`).toEqual([]);
    [head, recoveredHash] = await node.read((state, h) => [h.seq, stateHash(state)] as const);
    expect(head, `seed ${seed}: head behind the highest acknowledged seq`).toBeGreaterThanOrEqual(maxAcked);
    for (const [i, seq] of acks) {
      const row = await node.store.eventAt(seq);
      if (!row) {
        missing.push(`command ${i}: seq ${seq} is missing`);
        continue;
      }
      const p = JSON.parse(row.payload) as Record<string, unknown>;
      if (
        !row.type.startsWith("Transferred") ||
        p.asset !== "TAO" ||
        p.from !== senderOf(i) ||
        p.to !== recipientOf(i) ||
        p.amount_rao !== amountOf(i).toString()
      ) {
        missing.push(`command ${i} (${amountOf(i)} rao): seq ${seq} holds ${row.type} ${row.payload}`);
      }
    }
  } finally {
    await node.close({ snapshot: false });
  }
  expect(missing.slice(0, 5), `seed ${seed}: ${missing.length} acknowledged commands lost (head ${head})`).toEqual([]);
  expect(fatal, `seed ${seed}: the recovered node failed`).toEqual([]);

  // Every hash link and ledger identity from genesis, and again from the oldest snapshot.
  const full = await verifyLog(dataDir, { full: true });
  expect(full.lastSeq, `seed ${seed}: verify --full`).toBe(head);
  expect(full.stateHash, `seed ${seed}: recovery and a full replay disagree`).toBe(recoveredHash);
  const fromSnapshot = await verifyLog(dataDir);
  expect(fromSnapshot.lastSeq, `seed ${seed}: verify`).toBe(head);
  expect(fromSnapshot.stateHash, `seed ${seed}: verify from ${fromSnapshot.from}`).toBe(recoveredHash);
  return head;
}

/** Per seed: a fresh directory, one kill (a fifth of the seeds: two, so a child resumes one). */
function plan(seeds: number): Plan[] {
  const rounds: Plan[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const rand = prng(seed * 2654435761);
    const kills = rand() < 0.2 ? 2 : 1;
    const dataDir = mkdtempSync(join(tmpdir(), `propnet-crash-${seed}-`));
    for (let k = 0; k < kills; k++) {
      rounds.push({
        seed,
        dataDir,
        minAcks: 1 + Math.floor(rand() * 500),
        delayMs: Math.floor(rand() * 400),
        last: k === kills - 1,
      });
    }
  }
  return rounds;
}

describe("crash: SIGKILL a writing child, restart, nothing acknowledged is lost", () => {
  it(`keeps every acknowledged command across ${SEEDS} seeds of random kills`, { timeout: 180_000 }, async () => {
    const started = performance.now();
    const rounds = plan(SEEDS);
    const lines: string[] = [];
    let tmpAtKill = 0;
    // Children for the next rounds are started ahead (each waits for `go`), so tsx start-up overlaps;
    // a seed's directory is checked while the next seed's child runs.
    const ahead: Child[] = [];
    let checking: Promise<void> = Promise.resolve();
    try {
      let acks = new Map<number, number>();
      let kills = 0;
      let tmps = 0;
      for (let r = 0; r < rounds.length; r++) {
        const round = rounds[r] as Plan;
        while (ahead.length < LOOKAHEAD + 1 && r + ahead.length < rounds.length) {
          ahead.push(new Child((rounds[r + ahead.length] as Plan).dataDir));
        }
        const child = ahead.shift() as Child;

        const result = await child.run(round.minAcks, round.delayMs);
        kills++;
        if (result.tmpAtKill) tmps++;
        for (const [i, seq] of result.acks) {
          if (acks.has(i)) expect.fail(`seed ${round.seed}: command index ${i} reused after restart`);
          acks.set(i, seq);
        }
        if (!round.last) continue;

        await checking; // at most one check in the background
        const line = `seed ${round.seed}: ${kills} kill(s), ${acks.size} acked, snapshot tmp at kill ${tmps}`;
        checking = checkDirectory(round.dataDir, acks, round.seed).then((head) => {
          lines.push(`${line}, head ${head}`);
          rmSync(round.dataDir, { recursive: true, force: true });
        });
        checking.catch(() => {}); // awaited above or below; this only marks it handled meanwhile
        tmpAtKill += tmps;
        acks = new Map();
        kills = 0;
        tmps = 0;
      }
      await checking;
    } finally {
      for (const child of ahead) child.kill();
      await checking.catch(() => {});
      for (const round of rounds) rmSync(round.dataDir, { recursive: true, force: true });
    }
    console.log(
      `crash test: ${SEEDS} seeds, ${rounds.length} kills, ${tmpAtKill} with a snapshot temp file at kill time, ` +
        `${Math.round(performance.now() - started)} ms\n  ${lines.join("\n  ")}`,
    );
  });
});
