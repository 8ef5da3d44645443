import { prng } from "../src/core/random/prng.ts";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { encodeCheckpointRow, encodeObjectRow } from "../src/core/debt/checkpoint-row.ts";
import { type DebtCheckpoint, type DebtStatus, debtCheckpoint, emissionChunk } from "../src/core/debt/debt-checkpoint.ts";
import { aggregateEntity, type SubaccountLedger } from "../src/core/debt/entity-aggregation.ts";
import type { AlphaPrice } from "../src/core/debt/micro-usd.ts";
import { closeWhileFunded, type Debt, debtOf, fundedOwed, type OwedRecord, payOwed, rollOwed } from "../src/core/debt/owed.ts";
import { periodIndex } from "../src/core/debt/payout-period.ts";
import { type EligibleUid, entityDebt, scoreWeights } from "../src/core/debt/scoring.ts";
import { closeFundedPosition, fundTrader, payTrader } from "../src/core/debt/debt-state.ts";
import { drawdownPenaltyPpm } from "../src/core/debt/penalty.ts";
import { microUsdOf } from "../src/core/debt/micro-usd.ts";
import { DEFAULT_ACCOUNT_SIZE_USD } from "../src/core/entities/entity-commands.ts";
import { syntheticHotkey } from "../src/core/entities/synthetic-hotkey.ts";
import { createState, type State } from "../src/core/machine/state.ts";
import { CHECKPOINT_MS, checkpointEnd, type PerfCheckpoint, rollCheckpoints, trackCheckpoint } from "../src/core/perf/perf-checkpoint.ts";
import { newTrader } from "../src/core/trading/trader.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.ts";
import type { CheckpointRow } from "../src/store/store.ts";
import type { StoredEvent } from "../src/store/stored-event.ts";
import { address } from "./subaccount-core.ts";

/**
 * The economics loop's pure core at full size:
 *  a. one epoch's scoring: 250 entities x 500 subaccounts (each debt rolled and valued, summed per
 *     entity) plus 6 regular miners = 256 uids, scored and normalised to u16 (budget 100 ms);
 *     baseline: a plain sum of one bigint field over the same records;
 *  b. entity aggregation of 500 subaccounts x 240 debt checkpoints (budget 50 ms); baseline: a
 *     plain sum of one field over the same checkpoints;
 *  c. RSS and heap per funded subaccount with a 120-day history, as the node holds it (its
 *     subaccount, trader and debt records; closed checkpoints live in the store), against a fresh
 *     subaccount (trader and owed records only, 1,146 B RSS before), each in a child run with
 *     --expose-gc, 50,000 subaccounts, the marginal cost past the first fifth;
 *  d. bytes on disk per subaccount-day: 120 days (240 perf + debt checkpoint rows) for 2,000
 *     subaccounts written through a SqliteStore; baseline: the same rows in the earlier object
 *     encoding.
 * Times are the median of `reps` runs after warm-up.
 */
const NOW = Date.UTC(2026, 2, 31, 12);
const monthly = (ms: number) => periodIndex("month", ms);
const PRICE: AlphaPrice = { subnetTaoRao: 2_000_000_000_000n, alphaInRao: 50_000_000_000_000n, microUsdPerTao: 400_000_000n };

export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const entities = Number(args.entities ?? 250);
  const perEntity = Number(args["per-entity"] ?? 500);
  const checkpoints = Number(args.checkpoints ?? 240);
  const reps = Number(args.reps ?? 20);
  const a = scoring(entities, perEntity, reps);
  const b = aggregation(perEntity, checkpoints, reps);
  const c = await rssPerSubaccount(Number(args["rss-subaccounts"] ?? 50_000));
  const d = disk(Number(args["disk-subaccounts"] ?? 2_000));
  return { ...a, ...b, ...c, ...d };
}

// ---- a. one epoch's scoring ---------------------------------------------------------------------

function scoring(entities: number, perEntity: number, reps: number): Record<string, unknown> {
  // Owed records as trading would leave them: closes in February and March, some payments.
  const records: OwedRecord[][] = [];
  for (let e = 0; e < entities; e++) {
    const subs: OwedRecord[] = [];
    for (let s = 0; s < perEntity; s++) {
      const k = e * perEntity + s;
      let r = fundedOwed(Date.UTC(2026, 1, 1), monthly);
      r = closeWhileFunded(r, BigInt((k % 997) * 1_000_003 - 300_000_000), Date.UTC(2026, 1, 10), monthly, 0);
      r = closeWhileFunded(r, BigInt((k % 389) * 77_777), Date.UTC(2026, 2, 5), monthly, -((k % 13) * 1.25));
      if (k % 3 === 0) r = payOwed(r, BigInt((k % 101) * 1_000_000));
      subs.push(r);
    }
    records.push(subs);
  }
  const penalty = (k: number): number => 1_000_000 - (k % 7) * 50_000;
  const miners = Array.from({ length: 256 - entities }, (_, i) => rollOwed(closeWhileFunded(fundedOwed(Date.UTC(2026, 0, 5), monthly), BigInt(i * 9_000_000), Date.UTC(2026, 1, 3), monthly, 0), NOW, monthly, 0));

  const epoch = (): number => {
    const eligible: EligibleUid[] = [];
    for (let e = 0; e < entities; e++) {
      const subs = records[e] as OwedRecord[];
      const debts: Debt[] = new Array(subs.length);
      for (let s = 0; s < subs.length; s++) debts[s] = debtOf(rollOwed(subs[s] as OwedRecord, NOW, monthly, 0), penalty(s));
      eligible.push({ uid: e + 1, bucket: "entity", ...entityDebt(debts) });
    }
    for (const [i, m] of miners.entries()) eligible.push({ uid: entities + 1 + i, bucket: i % 2 ? "funded" : "challenge", ...debtOf(m, 1_000_000) });
    return scoreWeights({ eligible, projectedMicro: 40_000_000_000_000n, ownerUid: 0 }).uids.length;
  };
  const plain = (): number => {
    let sum = 0n;
    for (const subs of records) for (const r of subs) sum += r.settledRealizedMicro;
    return Number(sum & 1n);
  };
  const ms = timed(epoch, reps);
  const base = timed(plain, reps);
  return {
    scoring_uids: 256,
    scoring_subaccounts: entities * perEntity,
    scoring_epoch_ms_p50: round(ms),
    scoring_baseline_plain_sum_ms_p50: round(base),
    scoring_ratio_to_baseline: round(ms / base),
    scoring_budget_ms: 100,
  };
}

// ---- b. entity aggregation ----------------------------------------------------------------------

function debtCheckpoints(id: number, count: number): DebtCheckpoint[] {
  const out: DebtCheckpoint[] = [];
  const first = Date.UTC(2025, 11, 1);
  for (let i = 0; i < count; i++) {
    const perf: PerfCheckpoint = {
      ts_ms: first + i * CHECKPOINT_MS,
      return: ((id * 31 + i) % 200) / 1_000 - 0.05,
      max_drawdown: ((id + i * 7) % 90) / 1_000,
      max_portfolio_value: 1 + ((id + i) % 50) / 1_000,
      realized_pnl_usd: ((id * 17 + i * 3) % 400) - 150.25,
      unrealized_pnl_usd: ((id + i * 11) % 100) - 50.5,
      spread_fee_loss: (i % 5) * 0.5,
      carry_fee_loss: (i % 3) * 0.125,
      open_ms: (i * 60_000) % CHECKPOINT_MS,
      accum_ms: CHECKPOINT_MS,
    };
    // Emission every sixth checkpoint or so, as attribution spreads it; status funded from the 20th.
    const emission = emissionChunk((id + i) % 6 === 0 ? BigInt(1_000_000_000 + id * 1_000 + i) : 0n, PRICE);
    const status: DebtStatus = i < 20 ? "challenge" : "funded";
    out.push(debtCheckpoint(perf, emission, 1_000_000 - ((id + i) % 11) * 10_000, status, { owedMicro: BigInt(i * 1_000_000 + id), paidMicro: BigInt(i * 400_000) }));
  }
  return out;
}

function aggregation(subaccounts: number, checkpoints: number, reps: number): Record<string, unknown> {
  const ledgers: SubaccountLedger[] = Array.from({ length: subaccounts }, (_, id) => ({ id, checkpoints: debtCheckpoints(id, checkpoints) }));
  const aggregate = (): number => aggregateEntity(ledgers).length;
  const plain = (): number => {
    let sum = 0;
    for (const l of ledgers) for (const c of l.checkpoints) sum += c.realized_pnl_usd;
    return sum;
  };
  const ms = timed(aggregate, reps);
  const base = timed(plain, reps);
  return {
    aggregation_subaccounts: subaccounts,
    aggregation_checkpoints_each: checkpoints,
    aggregation_ms_p50: round(ms),
    aggregation_baseline_plain_sum_ms_p50: round(base),
    aggregation_ratio_to_baseline: round(ms / base),
    aggregation_budget_ms: 50,
  };
}

// ---- c. memory per funded subaccount (child process) -----------------------------------------------

async function rssPerSubaccount(subaccounts: number): Promise<Record<string, unknown>> {
  // One child per kind, each warmed the same way, so neither fills space the other left.
  const child = async (kind: "fresh" | "funded") => {
    const { stdout } = await promisify(execFile)(process.execPath, ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), "rss-child", kind, String(subaccounts)], {
      maxBuffer: 1 << 20,
    });
    return JSON.parse(stdout.trim().split("\n").pop() as string) as { rss: number; heap: number; pending: number };
  };
  const fresh = await child("fresh");
  const funded = await child("funded");
  return {
    rss_subaccounts: subaccounts,
    rss_bytes_per_fresh_subaccount: fresh.rss,
    heap_bytes_per_fresh_subaccount: fresh.heap,
    rss_bytes_per_funded_subaccount_120d: funded.rss,
    heap_bytes_per_funded_subaccount_120d: funded.heap,
    funded_held: "SubaccountRecord + TraderRecord (6 closes, open checkpoint) + TraderDebt (3 pending emissions), keyed as in the state",
    funded_pending_emissions: funded.pending,
    funded_rss_budget_bytes: 4_096,
    ratio_vs_fresh_1146: round(funded.rss / PREVIOUS_FRESH_RSS_BYTES),
    rss_ratio_vs_fresh_this_run: round(funded.rss / fresh.rss),
    heap_ratio_vs_fresh_this_run: round(funded.heap / fresh.heap),
  };
}

/** The previous figure for a fresh subaccount (trader and owed records only; 2,000 of them, from the start). */
const PREVIOUS_FRESH_RSS_BYTES = 1_146;
const HISTORY_DAYS = 120;
const ENTITY_SIZE = 500;

/**
 * What the node holds for a funded subaccount with a long history, made by the node's own
 * transitions and kept in the state's maps under the node's keys: its SubaccountRecord; a
 * TraderRecord created 120 days ago that passed its challenge, closed a few positions (flat now)
 * and had its checkpoints rolled to today (the closed ones go to the store; here to nobody); and
 * its TraderDebt with a few closes and three epochs' emission pending. Not counted: its closed
 * positions and orders (state.trading.closed/orders, which grow with trades, not with time).
 */
function fundedSubaccount(state: State, entity: string, id: number, k: number): void {
  const created = NOW - HISTORY_DAYS * 86_400_000;
  const synthetic = syntheticHotkey(entity, id);
  state.entities.subaccounts.set(synthetic, {
    entity,
    id,
    uuid: randomUUID(),
    createdAtMs: created,
    eliminatedAtMs: null,
    accountSizeUsd: DEFAULT_ACCOUNT_SIZE_USD,
    reservedRao: 4_000_000_000n,
    status: "active",
  });
  // The trader's hotkey arrives in its orders: its own string, as a request's JSON makes it.
  const hotkey = JSON.parse(JSON.stringify(synthetic)) as string;
  let t = newTrader(hotkey, entity, DEFAULT_ACCOUNT_SIZE_USD, created);
  const passedAt = created + 20 * 86_400_000;
  for (let c = 0; c < 6; c++) {
    const at = created + (c + 1) * 15 * 86_400_000 + k;
    if (c === 2) {
      t = { ...t, challenge: "passed", passedAtMs: passedAt };
      fundTrader(state.debt, hotkey, passedAt, { entity, id });
    }
    const realized = ((k * 7 + c * 131) % 900) / 3.7 - 60;
    const spread = 0.00035 * 2 * (2_000 + ((k + c) % 50) * 37.13);
    const carry = ((k + c) % 17) * 0.0131;
    t = rollCheckpoints(t, at, null);
    t = { ...t, realizedUsd: t.realizedUsd + realized, spreadFeeUsd: t.spreadFeeUsd + spread, carryFeeUsd: t.carryFeeUsd + carry, orderCount: t.orderCount + 2 };
    closeFundedPosition(state.debt, hotkey, microUsdOf(realized - spread - carry), at, 0);
    const value = 1 + (t.realizedUsd - t.spreadFeeUsd - t.carryFeeUsd) / t.accountSizeUsd;
    const peak = value > t.peak ? value : t.peak;
    t = trackCheckpoint({ ...t, closedCount: t.closedCount + 1, openPairs: t.openPairs.filter((p) => p !== "BTCUSD"), value, peak, maxDrawdown: Math.max(t.maxDrawdown, 1 - value / peak) }, true, at);
  }
  for (const hoursAgo of [30, 18, 6]) payTrader(state.debt, hotkey, emissionChunk(BigInt(1_000_000_000 + k * 1_003 + hoursAgo), PRICE), NOW - hoursAgo * 3_600_000);
  t = trackCheckpoint(rollCheckpoints(t, NOW - 3_600_000, null), false, NOW - 3_600_000);
  state.trading.traders.set(hotkey, t);
}

/** Fresh (as measured before: a new trader and owed record per subaccount) or funded with a long history. */
function rssChild(kind: string, subaccounts: number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --expose-gc");
  const settle = (): NodeJS.MemoryUsage => {
    for (let i = 0; i < 4; i++) gc();
    return process.memoryUsage();
  };
  const entities = Array.from({ length: Math.ceil(subaccounts / ENTITY_SIZE) }, (_, e) => address(2, e));
  const entityOf = (s: number) => entities[Math.floor(s / ENTITY_SIZE)] as string;
  // Warm both code paths on throwaway records, so code is not counted as data.
  const warm = createState();
  for (let s = 0; s < 20; s++) {
    newTrader(`5warm_${s}`, "5warm", DEFAULT_ACCOUNT_SIZE_USD, NOW);
    fundedOwed(NOW, monthly);
    fundedSubaccount(warm, "5warm", s, s);
  }
  const state = createState();
  const held: unknown[] = [];
  const make = (from: number, to: number) => {
    for (let s = from; s < to; s++) {
      if (kind === "fresh") held.push({ trader: newTrader(`${entityOf(s)}_${s % ENTITY_SIZE}`, entityOf(s), DEFAULT_ACCOUNT_SIZE_USD, NOW), owed: fundedOwed(NOW, monthly) });
      else fundedSubaccount(state, entityOf(s), s % ENTITY_SIZE, s);
    }
  };
  // The marginal cost between a fifth and all of them, so one-off growth (the young generation,
  // the first pages of each space) is not charged to the subaccounts.
  const first = Math.floor(subaccounts / 5);
  make(0, first);
  const start = settle();
  make(first, subaccounts);
  const end = settle();
  const perSub = (key: "rss" | "heapUsed") => Math.round((end[key] - start[key]) / (subaccounts - first));
  // Sizes are read after the last settle, so nothing is collected early.
  const count = held.length + state.debt.traders.size + warm.debt.traders.size;
  if (count < subaccounts) throw new Error(`expected ${subaccounts} subaccounts held`);
  process.stdout.write(`${JSON.stringify({ rss: perSub("rss"), heap: perSub("heapUsed"), pending: state.debt.traders.get(`${entityOf(0)}_0`)?.pending.length ?? 0 })}\n`);
}

// ---- d. bytes on disk per subaccount-day ----------------------------------------------------------


/**
 * One funded subaccount's closed checkpoints, one per call, as a 120-day history would leave them:
 * a position open most of the time (unrealized PnL, carry), closes in about half the checkpoints
 * (realized PnL, spread), emission every checkpoint, owed and paid growing.
 */
function checkpointSeries(seed: number, firstTs: number): () => { perf: PerfCheckpoint; debt: DebtCheckpoint } {
  const r = prng(seed);
  const size = DEFAULT_ACCOUNT_SIZE_USD;
  let total = 0;
  let peak = 1;
  let owed = 0n;
  let paid = 0n;
  let i = 0;
  return () => {
    const ts = firstTs + i++ * CHECKPOINT_MS;
    const open = r() < 0.7;
    const closed = r() < 0.5;
    const realized = closed ? (r() - 0.45) * 180 : 0;
    const spread = closed ? r() * 1.4 : 0;
    const carry = open ? r() * 0.35 : 0;
    const unrealized = open ? (r() - 0.5) * 120 : 0;
    total += realized - spread - carry;
    const value = 1 + (total + unrealized) / size;
    const best = value * (1 + r() * 0.002);
    if (best > peak) peak = best;
    const perf: PerfCheckpoint = {
      ts_ms: ts,
      return: value - 1,
      max_drawdown: 1 - value / peak,
      max_portfolio_value: best,
      realized_pnl_usd: realized,
      unrealized_pnl_usd: unrealized,
      spread_fee_loss: spread,
      carry_fee_loss: carry,
      open_ms: open ? Math.floor(r() * CHECKPOINT_MS) : 0,
      accum_ms: CHECKPOINT_MS,
    };
    const emission = emissionChunk(BigInt(Math.floor(1e9 + r() * 6e10)), PRICE);
    owed += closed && realized > 0 ? BigInt(Math.floor(realized * 1e6)) : 0n;
    paid += emission.usdMicro;
    return { perf, debt: debtCheckpoint(perf, emission, drawdownPenaltyPpm(perf.max_drawdown), "funded", { owedMicro: owed, paidMicro: paid }) };
  };
}

/**
 * 120 days (240 rows) of perf + debt checkpoints for `subaccounts` funded subaccounts, written
 * through a real SqliteStore as the node writes them: each 12-hour close is a batch holding every
 * subaccount's row (with one small event, since rows commit with events). File bytes after a clean
 * close (WAL folded in), per subaccount-day; the same history in the earlier object encoding is the
 * baseline.
 */
function diskPerSubaccountDay(subaccounts: number, encode: (perf: PerfCheckpoint, debt: DebtCheckpoint) => string): { fileBytes: number; dataBytes: number; ms: number } {
  const dir = mkdtempSync(join(tmpdir(), "propnet-bench-economics-"));
  const path = join(dir, "log.sqlite");
  try {
    const store = SqliteStore.open(path);
    const entities = Array.from({ length: Math.ceil(subaccounts / ENTITY_SIZE) }, (_, e) => address(2, e));
    const traders = Array.from({ length: subaccounts }, (_, s) => syntheticHotkey(entities[Math.floor(s / ENTITY_SIZE)] as string, s % ENTITY_SIZE));
    const first = checkpointEnd(NOW) - HISTORY_DAYS * 86_400_000;
    const series = traders.map((_, s) => checkpointSeries(s + 1, first));
    let dataBytes = 0;
    const t = performance.now();
    for (let c = 0; c < 2 * HISTORY_DAYS; c++) {
      const rows: CheckpointRow[] = [];
      for (let s = 0; s < subaccounts; s++) {
        const { perf, debt } = (series[s] as () => { perf: PerfCheckpoint; debt: DebtCheckpoint })();
        const data = encode(perf, debt);
        dataBytes += Buffer.byteLength(data);
        rows.push({ trader: traders[s] as string, ts_ms: perf.ts_ms, data });
      }
      const ts = first + c * CHECKPOINT_MS;
      const event: StoredEvent = { seq: c + 1, block: c, ts, type: "PricesMarked@1", payload: `{"ts":${ts}}`, signer: null, signature: null, prevHash: "", hash: "0".repeat(64) };
      store.appendSync([event], rows);
    }
    const ms = performance.now() - t;
    store.closeSync();
    return { fileBytes: SqliteStore.sizeOnDisk(path), dataBytes, ms };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function disk(subaccounts: number): Record<string, unknown> {
  const days = subaccounts * HISTORY_DAYS;
  const compact = diskPerSubaccountDay(subaccounts, encodeCheckpointRow);
  const object = diskPerSubaccountDay(subaccounts, encodeObjectRow);
  const perDay = (bytes: number) => Math.round(bytes / days);
  return {
    disk_subaccounts: subaccounts,
    disk_days: HISTORY_DAYS,
    disk_rows: subaccounts * 2 * HISTORY_DAYS,
    disk_bytes_per_subaccount_day: perDay(compact.fileBytes),
    disk_row_data_bytes_per_subaccount_day: perDay(compact.dataBytes),
    disk_row_data_bytes_avg: Math.round(compact.dataBytes / (2 * days)),
    disk_budget_bytes_per_subaccount_day: 1_024,
    disk_baseline_object_rows_bytes_per_subaccount_day: perDay(object.fileBytes),
    disk_baseline_object_row_data_bytes_avg: Math.round(object.dataBytes / (2 * days)),
    disk_ratio_to_baseline: round(compact.fileBytes / object.fileBytes),
    disk_write_ms: Math.round(compact.ms),
    disk_baseline_write_ms: Math.round(object.ms),
  };
}

// ---- helpers --------------------------------------------------------------------------------------

function timed(f: () => unknown, reps: number): number {
  for (let i = 0; i < 3; i++) f();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)] as number;
}

function round(x: number): number {
  return Math.round(x * 1_000) / 1_000;
}

if (process.argv[2] === "rss-child") rssChild(process.argv[3] as string, Number(process.argv[4]));
