import type { ChainView } from "../src/core/chain/chain-view.ts";
import { attributeEntityCommand, attributeEpoch } from "../src/core/debt/attribute-epoch.ts";
import { closeFundedPosition, fundTrader } from "../src/core/debt/debt-state.ts";
import { assessEntityCommand, scoreWeightsOn } from "../src/core/debt/score-weights.ts";
import { syntheticHotkey } from "../src/core/entities/synthetic-hotkey.ts";
import { createState } from "../src/core/machine/state.ts";
import { newTrader } from "../src/core/trading/trader.ts";

/**
 * What the economic loop costs the writer at full size, 250 entities x 500 funded subaccounts, all
 * owed (DESIGN.md §2 rule 8: no writer task over 10 ms): the epoch block's attribution step (O(uids):
 * it records each entity's alpha as pending), then one `attribute_entity` per entity, one
 * `assess_entity` per entity, and the `score_weights` command that reads the assessments.
 * Baseline: the same work as one task, as before the loop was split into commands per entity.
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const entities = Number(args.entities ?? 250);
  const perEntity = Number(args.subaccounts ?? 500);
  const state = createState();
  const now = Date.UTC(2026, 2, 3);
  state.trading.prices.set("TAOUSD", { price: 400, ts_ms: now });
  const hotkeys: string[] = ["5owner", "5validator"];
  const funded = Date.UTC(2026, 0, 5);
  for (let e = 0; e < entities; e++) {
    const h = `5E${String(e).padStart(46, "x")}`;
    hotkeys.push(h);
    state.entities.entities.set(h, { hotkey: h, registeredAtMs: 0, maxSubaccounts: 500, nextId: perEntity, active: perEntity, eliminated: 0, reservedRao: 0n, slashedRao: 0n, frozenByViolation: false });
    for (let s = 0; s < perEntity; s++) {
      const synthetic = syntheticHotkey(h, s);
      state.entities.subaccounts.set(synthetic, { entity: h, id: s, uuid: "u", createdAtMs: 0, eliminatedAtMs: null, accountSizeUsd: 10_000, reservedRao: 0n, status: "active" });
      state.trading.traders.set(synthetic, { ...newTrader(synthetic, h, 10_000, 0), challenge: "passed", passedAtMs: funded });
      fundTrader(state.debt, synthetic, funded, { entity: h, id: s });
      closeFundedPosition(state.debt, synthetic, BigInt(1_000_000 * (s + 1)), funded + 1_000, 0);
    }
  }
  const uidOf = new Map(hotkeys.map((h, i) => [h, i]));
  const chain: ChainView = {
    uidOf: (_n, h) => uidOf.get(h),
    hotkeyOf: (_n, u) => hotkeys[u],
    neuronCount: () => hotkeys.length,
    ownerHotkey: () => "5owner",
    pool: () => ({ taoRao: 2_000_000_000_000n, alphaInRao: 50_000_000_000_000n }),
    minerAlphaPerBlock: () => 500_000_000n,
  };
  const task = <T>(f: () => T): [T, number] => {
    state.journal.begin();
    const t = performance.now();
    const out = f();
    const ms = performance.now() - t;
    state.journal.keep();
    return [out, ms];
  };
  const paid: Array<[number, bigint]> = hotkeys.slice(2).map((_h, i) => [i + 2, 1_000_000_000n]);
  const [records, blockStepMs] = task(() => attributeEpoch(state, chain, 1, paid, now));
  const perEntityMs = (f: (h: string) => unknown) => {
    const times = hotkeys.slice(2).map((h) => task(() => f(h))[1]);
    times.sort((a, b) => a - b);
    return { max: Math.max(...times), p50: times[Math.floor(times.length / 2)] as number, total: times.reduce((a, b) => a + b, 0) };
  };
  const attribute = perEntityMs((h) => attributeEntityCommand(state, { kind: "attribute_entity", ts: now + 1, entity: h }));
  const assess = perEntityMs((h) => assessEntityCommand(state, { kind: "assess_entity", ts: now + 2, entity: h }));
  const [, scoreMs] = task(() => scoreWeightsOn(state, chain, { kind: "score_weights", ts: now + 3, validator: "5validator", block_time_ms: 12_000 }));
  const round = (x: number) => Number(x.toFixed(2));
  return {
    entities,
    funded_subaccounts: entities * perEntity,
    block_attribution_step_ms: round(blockStepMs),
    block_attribution_records: records.length,
    attribute_entity_ms_max: round(attribute.max),
    attribute_entity_ms_p50: round(attribute.p50),
    assess_entity_ms_max: round(assess.max),
    assess_entity_ms_p50: round(assess.p50),
    score_weights_ms: round(scoreMs),
    baseline_one_task_ms: round(blockStepMs + attribute.total + assess.total + scoreMs),
    ratio_longest_task_vs_one_task: round(Math.max(blockStepMs, attribute.max, assess.max, scoreMs) / (blockStepMs + attribute.total + assess.total + scoreMs)),
    writer_budget_ms: 10,
  };
}

