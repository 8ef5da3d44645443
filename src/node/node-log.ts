import type { StoredEvent } from "../store/stored-event.ts";
import type { NodeCondition, PropnetNode } from "./node.ts";

/** What the node logs through: the part of pino (fastify's `app.log`) used here. */
export interface NodeLogger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

type Level = "error" | "warn" | "info" | "debug";

/** One log line a committed row calls for: its level, message and fields (`event` names the kind). */
export interface NodeLogLine {
  level: Level;
  message: string;
  fields: Record<string, unknown> & { event: string };
}

/** Blocks get one `info` line per this many (each block is a `debug` line): volume stays sane at 12 s blocks. */
export const BLOCKS_PER_LINE = 100;

const VERDICT_TYPES = new Set(["PricesPosted@1", "HeldPriceResolved@1", "ChallengesSwept@1"]);

interface Violation {
  scope: string;
  invariant: string;
  expected: string;
  actual: string;
}

function violationLine(v: Violation, seq: number): NodeLogLine {
  return { level: "error", message: "critical invariant violation", fields: { event: "violation", seq, scope: v.scope, invariant: v.invariant, expected: v.expected, actual: v.actual } };
}

function verdictLine(trader: string, verdict: string, seq: number): NodeLogLine {
  return verdict === "pass"
    ? { level: "info", message: "challenge passed", fields: { event: "challenge_passed", seq, subaccount: trader } }
    : { level: "info", message: "subaccount eliminated", fields: { event: "elimination", seq, subaccount: trader, reason: verdict } };
}

/**
 * The lines one committed row calls for: epochs, eliminations, passes, violations, paused and
 * resumed emission, followed-chain epochs and gaps, and each block (debug). Payloads are parsed
 * only for the row types that can hold one of these; an order without a verdict costs a substring test.
 */
export function logLinesOf(row: StoredEvent): NodeLogLine[] {
  const out: NodeLogLine[] = [];
  const { seq } = row;
  if (row.type === "BlockProduced@1") {
    const p = JSON.parse(row.payload) as { n: number; effects?: Array<Record<string, unknown> & { k: string }> };
    out.push({ level: "debug", message: "block", fields: { event: "block", seq, block: p.n } });
    for (const e of p.effects ?? []) {
      if (e.k === "epoch") out.push({ level: "info", message: "epoch", fields: { event: "epoch", seq, block: p.n, netuid: e.netuid } });
      else if (e.k === "violation") out.push(violationLine(e as unknown as Violation, seq));
      else if (e.k === "paused") out.push({ level: "warn", message: "subnet emission paused", fields: { event: "emission_paused", seq, block: p.n, netuid: e.netuid } });
      else if (e.k === "resumed") out.push({ level: "info", message: "subnet emission resumed", fields: { event: "emission_resumed", seq, block: p.n, netuid: e.netuid, forced: e.forced } });
    }
    return out;
  }
  if (row.type.startsWith("BlocksProduced@")) {
    // Empty blocks are recorded as ranges: one line for the range.
    const p = JSON.parse(row.payload) as { from: number; ts: unknown[] };
    const count = Array.isArray(p.ts) ? p.ts.length : 0;
    return count === 0 ? [] : [{ level: "debug", message: "blocks", fields: { event: "block", seq, block: p.from, to: p.from + count - 1, count } }];
  }
  if (row.type === "CriticalInvariantViolation@1") return [violationLine(JSON.parse(row.payload) as Violation, seq)];
  if (row.type === "SubaccountEliminated@1") {
    const p = JSON.parse(row.payload) as { synthetic_hotkey: string; reason: string };
    return [{ level: "info", message: "subaccount eliminated", fields: { event: "elimination", seq, subaccount: p.synthetic_hotkey, reason: p.reason } }];
  }
  if (row.type === "ChainEpochObserved@1" || row.type === "ChainEpochGap@1") {
    const p = JSON.parse(row.payload) as { netuid?: number; block?: number };
    const gap = row.type === "ChainEpochGap@1";
    return [{ level: gap ? "warn" : "info", message: gap ? "chain epoch missed (gap)" : "chain epoch observed", fields: { event: gap ? "epoch_gap" : "epoch", seq, netuid: p.netuid, block: p.block } }];
  }
  const verdicts = VERDICT_TYPES.has(row.type) && row.payload.includes('"verdicts":[[');
  const order = row.type === "OrderPlaced@1" && row.payload.includes('"verdict":"');
  const violations = row.payload.includes('"violations":[{');
  if (!verdicts && !order && !violations) return out;
  const p = JSON.parse(row.payload) as { verdicts?: Array<[string, string]>; verdict?: string; trader?: string; violations?: Violation[] };
  if (verdicts) for (const [trader, verdict] of p.verdicts ?? []) out.push(verdictLine(trader, verdict, seq));
  if (order && typeof p.verdict === "string" && typeof p.trader === "string") out.push(verdictLine(p.trader, p.verdict, seq));
  for (const v of p.violations ?? []) out.push(violationLine(v, seq));
  return out;
}

/**
 * Logs what the node does as it commits (logLinesOf), the snapshots it writes, and the conditions
 * /healthz reports (a clock jump, a full disk, an execution fault) when they begin and end. Rows
 * are handed over in the commit path and logged on the next turn, never delaying an acknowledgement.
 */
export class NodeLog {
  #pending: StoredEvent[] = [];
  #scheduled = false;
  #blocks = 0;
  #firstBlock: number | null = null;
  #conditions = new Map<string, NodeCondition>();
  #problems = new Set<string>();
  readonly #unobserve: () => void;
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly node: PropnetNode,
    readonly log: NodeLogger,
    options: { conditionCheckMs?: number } = {},
  ) {
    this.#unobserve = node.metrics.observe({
      committed: (rows) => {
        this.#pending.push(...rows);
        if (!this.#scheduled) {
          this.#scheduled = true;
          setImmediate(() => this.#drain());
        }
      },
      snapshotWritten: (seq) => this.log.info({ event: "snapshot", seq }, "snapshot written"),
    });
    this.#timer = setInterval(() => this.checkConditions(), options.conditionCheckMs ?? 1_000);
    this.#timer.unref();
  }

  #drain(): void {
    this.#scheduled = false;
    const rows = this.#pending;
    this.#pending = [];
    for (const row of rows) {
      let lines: NodeLogLine[];
      try {
        lines = logLinesOf(row);
      } catch {
        continue; // A row this logger cannot read is the verifier's business, not the log's.
      }
      for (const line of lines) {
        if (line.fields.event === "block") this.#countBlocks(line.fields);
        this.log[line.level](line.fields, line.message);
      }
    }
  }

  #countBlocks(fields: Record<string, unknown>): void {
    this.#firstBlock ??= fields.block as number;
    this.#blocks += (fields.count as number | undefined) ?? 1;
    if (this.#blocks < BLOCKS_PER_LINE) return;
    this.log.info({ event: "blocks", from: this.#firstBlock, to: (fields.to as number | undefined) ?? fields.block, count: this.#blocks }, "blocks produced");
    this.#blocks = 0;
    this.#firstBlock = null;
  }

  /** Logs conditions and problems that began or ended since the last look (also run every second). */
  checkConditions(): void {
    const now = new Map<string, NodeCondition>();
    for (const c of this.node.conditions()) now.set(c.code ?? c.problem, c);
    for (const [key, c] of now) {
      if (!this.#conditions.has(key)) this.log.warn({ event: "condition", code: c.code ?? null, degraded: c.degraded, problem: c.problem }, "condition began");
    }
    for (const [key, c] of this.#conditions) {
      if (!now.has(key)) this.log.info({ event: "condition_cleared", code: c.code ?? null, problem: c.problem }, "condition cleared");
    }
    this.#conditions = now;
    for (const problem of this.node.problems) {
      if (this.#problems.has(problem)) continue;
      this.#problems.add(problem);
      this.log.error({ event: "problem", problem }, "node problem");
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#unobserve();
    this.#drain();
  }
}
