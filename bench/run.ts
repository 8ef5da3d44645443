/**
 * `npm run bench -- <name> [--key value ...]`: runs one benchmark and prints one JSON line of
 * figures. Each benchmark also measures a baseline in the same run and reports the ratio, since
 * these machines are noisy.
 */
const BENCHES: Record<string, () => Promise<{ run: (args: Record<string, string>) => Promise<Record<string, unknown>> }>> = {
  ledger: () => import("./ledger.ts"),
  append: () => import("./append.ts"),
  replay: () => import("./replay.ts"),
  chain: () => import("./chain.ts"),
  recount: () => import("./recount.ts"),
  yuma: () => import("./yuma.ts"),
  subaccounts: () => import("./subaccounts.ts"),
  orders: () => import("./orders.ts"),
  economics: () => import("./economics.ts"),
  "writer-tasks": () => import("./writer-tasks.ts"),
  soak: () => import("./soak.ts"),
  postgres: () => import("./postgres.ts"),
  sync: () => import("./sync.ts"),
  cluster: () => import("./cluster.ts"),
};

const [name, ...rest] = process.argv.slice(2);
if (!name || !(name in BENCHES)) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join("|")}> [--key value ...]\n`);
  process.exit(2);
}
const args: Record<string, string> = {};
for (let i = 0; i < rest.length; i += 2) args[(rest[i] as string).replace(/^--/, "")] = rest[i + 1] ?? "true";
const bench = await (BENCHES[name] as () => Promise<{ run: (a: Record<string, string>) => Promise<Record<string, unknown>> }>)();
const figures = await bench.run(args);
process.stdout.write(`${JSON.stringify({ bench: name, node: process.version, ...figures })}\n`);
