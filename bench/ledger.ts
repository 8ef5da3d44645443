import { TAO } from "../src/core/ledger/asset.ts";
import { type AccountHandle, Ledger } from "../src/core/ledger/ledger.ts";

/**
 * In-memory transfers on one core through interned handles, against the obvious alternative:
 * a Map keyed by a string built per operation.
 */
export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const n = Number(args.transfers ?? 10_000_000);
  const accounts = 1_000;
  const ledger = new Ledger();
  const handles: AccountHandle[] = [];
  ledger.beginScope("fund");
  for (let i = 0; i < accounts; i++) {
    const h = ledger.account(TAO, `5account${i}`);
    ledger.deposit(h, ledger.mint(TAO, 1_000_000_000_000n));
    handles.push(h);
  }
  ledger.endScope();

  const interned = (count: number): number => {
    const t = performance.now();
    for (let i = 0; i < count; i++) {
      ledger.transfer(handles[i % accounts] as AccountHandle, handles[(i * 7 + 13) % accounts] as AccountHandle, 1n);
    }
    return count / ((performance.now() - t) / 1000);
  };

  const journaled = (count: number): number => {
    const t = performance.now();
    for (let i = 0; i < count; i += 100) {
      ledger.beginScope("command", { journal: true });
      for (let k = 0; k < 100; k++) {
        ledger.transfer(
          handles[(i + k) % accounts] as AccountHandle,
          handles[((i + k) * 7 + 13) % accounts] as AccountHandle,
          1n,
        );
      }
      ledger.endScope();
      ledger.keep();
    }
    return count / ((performance.now() - t) / 1000);
  };

  const map = new Map<string, bigint>();
  for (let i = 0; i < accounts; i++) map.set(`TAO:5account${i}`, 1_000_000_000_000n);
  const stringKeyed = (count: number): number => {
    const t = performance.now();
    for (let i = 0; i < count; i++) {
      const from = `TAO:5account${i % accounts}`;
      const to = `TAO:5account${(i * 7 + 13) % accounts}`;
      const b = map.get(from) as bigint;
      if (b < 1n) throw new Error("overdraft");
      map.set(from, b - 1n);
      map.set(to, (map.get(to) as bigint) + 1n);
    }
    return count / ((performance.now() - t) / 1000);
  };

  interned(n / 10);
  stringKeyed(n / 10);
  const perSecond = interned(n);
  const baseline = stringKeyed(n / 4);
  const journal = journaled(n / 2);
  if (ledger.recount().length > 0) throw new Error("recount failed after the benchmark");
  return {
    transfers: n,
    accounts,
    transfers_per_s: Math.round(perSecond),
    journaled_transfers_per_s: Math.round(journal),
    baseline_string_map_per_s: Math.round(baseline),
    ratio_vs_baseline: Number((perSecond / baseline).toFixed(1)),
    ns_per_transfer: Number((1e9 / perSecond).toFixed(1)),
  };
}
