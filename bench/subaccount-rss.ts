// Child of bench/subaccounts.ts, run as `node --expose-gc --import tsx bench/subaccount-rss.ts
// <entities> <perEntity>`: RSS and heap per fresh subaccount in core (createState + execute, no
// store), measured after full collections before and after the creations. Prints one JSON line.
import { execute } from "../src/core/machine/execute.ts";
import { createState } from "../src/core/machine/state.ts";
import { chainGenesis, createSubaccount, entityHotkeys, genesisEndowments, neuronBlock, registerEntity } from "./subaccount-core.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) (gc as () => void)();
  return process.memoryUsage();
}

function must(r: ReturnType<typeof execute>): void {
  if (r.error) throw r.error;
}

const entities = Number(process.argv[2] ?? 100);
const perEntity = Number(process.argv[3] ?? 500);
const state = createState();
must(execute(state, { kind: "genesis", endowments: genesisEndowments, chain: chainGenesis }));
const hotkeys = entityHotkeys(entities);
must(execute(state, neuronBlock(hotkeys, 12_000)));
let ts = 24_000;
for (const hotkey of hotkeys) must(execute(state, registerEntity(hotkey, ts++)));

// Warm the path on a throwaway state, so code and inline caches are not counted as data.
{
  const warm = createState();
  must(execute(warm, { kind: "genesis", endowments: genesisEndowments, chain: chainGenesis }));
  const few = entityHotkeys(2);
  must(execute(warm, neuronBlock(few, 12_000)));
  for (const hotkey of few) must(execute(warm, registerEntity(hotkey, ts)));
  for (let k = 0; k < 1_000; k++) must(execute(warm, createSubaccount(few[k % 2] as string, ts)));
}

const before = settle();
const t = performance.now();
for (let j = 0; j < perEntity; j++) {
  for (const hotkey of hotkeys) must(execute(state, createSubaccount(hotkey, ts++)));
}
const ms = performance.now() - t;
const after = settle();
const n = entities * perEntity;
if (state.entities.subaccounts.size !== n) throw new Error(`expected ${n} subaccounts, found ${state.entities.subaccounts.size}`);
process.stdout.write(
  `${JSON.stringify({
    subaccounts: n,
    rss_bytes_per_subaccount: Math.round((after.rss - before.rss) / n),
    heap_used_bytes_per_subaccount: Math.round((after.heapUsed - before.heapUsed) / n),
    rss_before_mb: Number((before.rss / 2 ** 20).toFixed(1)),
    rss_after_mb: Number((after.rss / 2 ** 20).toFixed(1)),
    core_creations_per_s: Math.round(n / (ms / 1000)),
  })}\n`,
);
