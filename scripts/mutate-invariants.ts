/**
 * `npm run mutate:invariants`: proves that every invariant is tested. For each invariant in the
 * table (src/core/invariants/invariant-table.ts) a mutant replaces that invariant's check by "ok";
 * the fault-injection tests (then, if it survived them, the other core tests) run against the
 * mutated source. A mutant is KILLED when a test that passes on the unmutated source fails; it
 * SURVIVED when none does. Exits non-zero if any survives, or if the mutation table is stale (a
 * find string no longer matches exactly once, or an invariant has no mutant).
 *
 * Never touches the working tree: src/, test/ and the configs are copied to a temp dir (one per
 * worker, at most two in parallel), node_modules symlinked, the mutation written there.
 *
 *   npm run mutate:invariants                       every invariant
 *   npm run mutate:invariants -- tao_issuance_cap   only those named
 *   npm run mutate:invariants -- --fault-only       skip the second stage (other core tests)
 *   npm run mutate:invariants -- --keep             keep the temp dirs
 *   npm run mutate:invariants -- --check            only verify that every mutant still applies
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { INVARIANTS, type InvariantName } from "../src/core/invariants/invariant-table.ts";

const ROOT = resolve(import.meta.dirname, "..");
const FAULT_TEST = "src/core/invariants/invariants.fault.test.ts";
/** Second stage, for completeness: the other core tests that exercise invariants (the slow property tests left out). */
const CORE_TESTS = [
  "src/core/chain/block.test.ts",
  "src/core/machine/execute.test.ts",
  "src/core/ledger/ledger.test.ts",
  "src/core/entities/entity-commands.test.ts",
  "src/core/machine/state-hash.test.ts",
];
const PARALLEL = 2;

const CHAIN = "src/core/invariants/chain-invariants.ts";
const ENTITY = "src/core/invariants/entity-invariants.ts";
const LEDGER = "src/core/ledger/ledger.ts";
const EXECUTE = "src/core/machine/execute.ts";

/** One textual edit: `find` must occur exactly once in `file`. */
interface Edit {
  file: string;
  find: string;
  replace: string;
}

/**
 * `check(netuid, \`${prefix}_…\`, expected, actual[, ok])` in checkLedgerAsset serves TAO (netuid
 * null) and every alpha: the mutant passes it for one of them only.
 */
function ledgerAssetCheck(suffix: string, sides: string, ok: string | null, pass: "tao" | "alpha"): Edit {
  const name = `\`\${prefix}_${suffix}\``;
  const passes = pass === "tao" ? "netuid === null" : "netuid !== null";
  const [expected, actual] = sides.split(", ");
  return {
    file: CHAIN,
    find: `check(netuid, ${name}, ${sides}${ok === null ? "" : `, ${ok}`});`,
    replace: `check(netuid, ${name}, ${sides}, ${passes} ? true : ${ok ?? `${expected} === ${actual}`});`,
  };
}

/** `fail(...)` made to always pass: its optional `ok` argument set to true. */
function alwaysOk(file: string, call: string): Edit {
  if (!call.endsWith(")")) throw new Error(`not a call: ${call}`);
  return { file, find: call, replace: `${call.slice(0, -1)}, true)` };
}

/** The ledger's recount comparisons (bucket and whole asset), skipped for TAO (asset 0) or for alpha. */
function ledgerRecount(pass: "tao" | "alpha"): Edit[] {
  const skip = pass === "tao" ? "a !== 0" : "a === 0";
  return [
    {
      file: LEDGER,
      find: `if (counted !== expected) out.push({ asset: a, invariant: "recount", expected, actual: counted });`,
      replace: `if (counted !== expected && ${skip}) out.push({ asset: a, invariant: "recount", expected, actual: counted });`,
    },
    {
      file: LEDGER,
      find: `if (sum !== balances) out.push({ asset: a, invariant: "recount", expected: balances, actual: sum });`,
      replace: `if (sum !== balances && ${skip}) out.push({ asset: a, invariant: "recount", expected: balances, actual: sum });`,
    },
  ];
}

function entityOk(expression: string): Edit {
  return { file: ENTITY, find: `ok: ${expression}`, replace: "ok: true" };
}

const MUTANTS: Record<InvariantName, Edit[]> = {
  tao_issuance_equals_balances: [ledgerAssetCheck("issuance_equals_balances", "t.issuance, t.balances + t.live", null, "tao")],
  tao_minted_equals_issuance_recycled_burned: [
    ledgerAssetCheck("minted_equals_issuance_recycled_burned", "t.minted, t.issuance + t.recycled + t.burned", null, "tao"),
  ],
  tao_issuance_cap: [ledgerAssetCheck("issuance_cap", "MAX_ISSUANCE, t.issuance", "t.issuance >= 0n && t.issuance <= MAX_ISSUANCE", "tao")],
  tao_no_live_credit: [
    {
      file: CHAIN,
      find: "if (!ledger.inScope) check(netuid, `${prefix}_no_live_credit`, 0n, t.live);",
      replace: "if (!ledger.inScope) check(netuid, `${prefix}_no_live_credit`, 0n, t.live, netuid === null ? true : t.live === 0n);",
    },
    alwaysOk(CHAIN, `fail(null, "tao_no_live_credit", 0n, ledger.totals(TAO).live)`),
  ],
  tao_account_recount: ledgerRecount("tao"),
  tao_minted_equals_emission: [alwaysOk(CHAIN, `fail(null, "tao_minted_equals_emission", block.emission, block.mintedTao)`)],
  tao_injected_equals_minted: [alwaysOk(CHAIN, `fail(null, "tao_injected_equals_minted", block.mintedTao, block.injected)`)],
  alpha_issuance_equals_balances: [ledgerAssetCheck("issuance_equals_balances", "t.issuance, t.balances + t.live", null, "alpha")],
  alpha_minted_equals_issuance_recycled_burned: [
    ledgerAssetCheck("minted_equals_issuance_recycled_burned", "t.minted, t.issuance + t.recycled + t.burned", null, "alpha"),
  ],
  alpha_issuance_cap: [ledgerAssetCheck("issuance_cap", "MAX_ISSUANCE, t.issuance", "t.issuance >= 0n && t.issuance <= MAX_ISSUANCE", "alpha")],
  alpha_no_live_credit: [
    {
      file: CHAIN,
      find: "if (!ledger.inScope) check(netuid, `${prefix}_no_live_credit`, 0n, t.live);",
      replace: "if (!ledger.inScope) check(netuid, `${prefix}_no_live_credit`, 0n, t.live, netuid !== null ? true : t.live === 0n);",
    },
    alwaysOk(CHAIN, `fail(netuid, "alpha_no_live_credit", 0n, live)`),
  ],
  alpha_issuance_equals_in_plus_out: [alwaysOk(CHAIN, `fail(netuid, "alpha_issuance_equals_in_plus_out", issuance, alphaIn + s.alphaOut)`)],
  alpha_out_equals_staked_plus_pending: [alwaysOk(CHAIN, `fail(netuid, "alpha_out_equals_staked_plus_pending", s.alphaOut, s.stakedAlpha + pending)`)],
  alpha_account_recount: ledgerRecount("alpha"),
  stake_pool_equals_ledger: [alwaysOk(CHAIN, `fail(netuid, "stake_pool_equals_ledger", value, held)`)],
  staked_alpha_recount: [alwaysOk(CHAIN, `fail(u, "staked_alpha_recount", s.stakedAlpha, staked.get(u) ?? 0n)`)],
  alpha_minted_equals_in_plus_out: [alwaysOk(CHAIN, `fail(netuid, "alpha_minted_equals_in_plus_out", expected, minted)`)],
  active_within_limit: [entityOk("e.active <= e.maxSubaccounts")],
  ids_below_next_id: [entityOk("e.active + e.eliminated === e.nextId")],
  reserve_equals_sum_of_reserves: [entityOk("held === e.reservedRao")],
  deposited_less_withdrawn_and_slashed_equals_free_plus_reserved: [entityOk("free + held === expected")],
  attributed_plus_unattributed_equals_paid: [entityOk("accounted === emission.paidAlphaRao")],
  events_reproduce_effects: [
    {
      file: EXECUTE,
      find: "const mismatch = firstDifference(state, executed, ledger.journalDiff());",
      replace: "const mismatch: string | null = null;",
    },
  ],
  no_live_credit: [{ file: EXECUTE, find: "for (const r of remainders) {", replace: "for (const r of remainders.slice(0, 0)) {" }],
};

// ---- workspaces --------------------------------------------------------------------------------

interface Workspace {
  dir: string;
}

function makeWorkspace(): Workspace {
  const dir = mkdtempSync(join(tmpdir(), "propnet-mutate-"));
  for (const name of ["src", "test"]) cpSync(join(ROOT, name), join(dir, name), { recursive: true });
  for (const name of ["vitest.config.ts", "tsconfig.json", "package.json"]) cpSync(join(ROOT, name), join(dir, name));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return { dir };
}

/** Applies the edits in the workspace; returns a function that puts the files back. Throws on a stale find string. */
function mutate(ws: Workspace, edits: Edit[]): () => void {
  const originals = new Map<string, string>();
  const texts = new Map<string, string>();
  for (const edit of edits) {
    const path = join(ws.dir, edit.file);
    if (!originals.has(path)) originals.set(path, readFileSync(path, "utf8"));
    const text = texts.get(path) ?? (originals.get(path) as string);
    const count = text.split(edit.find).length - 1;
    if (count !== 1) throw new Error(`stale mutation: ${edit.file} holds ${count} occurrence(s) of\n    ${edit.find}`);
    const next = text.replace(edit.find, () => edit.replace);
    if (next === text) throw new Error(`mutation changed nothing in ${edit.file}: ${edit.find}`);
    texts.set(path, next);
  }
  for (const [path, text] of texts) writeFileSync(path, text);
  return () => {
    for (const [path, text] of originals) writeFileSync(path, text);
  };
}

/** Full test name -> its own title (without the describe blocks), for the report. */
const titles = new Map<string, string>();

// ---- running tests ---------------------------------------------------------------------------

interface RunResult {
  /** Full test name -> status, for every test that ran. */
  tests: Map<string, string>;
  /** Set when vitest could not run the files at all (a syntax error, a file that failed to load). */
  error?: string;
}

function runVitest(ws: Workspace, files: string[], maxWorkers: number): Promise<RunResult> {
  const out = join(ws.dir, `.vitest-result-${process.pid}-${Date.now()}.json`);
  const args = ["vitest", "run", ...files, "--reporter=json", `--outputFile=${out}`, `--maxWorkers=${maxWorkers}`];
  return new Promise((done) => {
    const child = spawn("npx", args, { cwd: ws.dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
    let log = "";
    child.stdout.on("data", (c: Buffer) => (log += c.toString()));
    child.stderr.on("data", (c: Buffer) => (log += c.toString()));
    child.on("close", (code) => {
      let json: { testResults?: Array<{ name: string; status: string; message?: string; assertionResults?: Array<{ fullName: string; title: string; status: string }> }> };
      try {
        json = JSON.parse(readFileSync(out, "utf8"));
        rmSync(out, { force: true });
      } catch {
        done({ tests: new Map(), error: `vitest exited ${code} without a result file:\n${log.slice(-2000)}` });
        return;
      }
      const tests = new Map<string, string>();
      const broken: string[] = [];
      for (const file of json.testResults ?? []) {
        const rel = relative(ws.dir, file.name);
        if ((file.assertionResults ?? []).length === 0 && file.status === "failed") broken.push(`${rel}: ${file.message ?? "failed to load"}`);
        for (const t of file.assertionResults ?? []) {
          tests.set(`${rel} > ${t.fullName}`, t.status);
          titles.set(`${rel} > ${t.fullName}`, t.title);
        }
      }
      done(broken.length > 0 ? { tests, error: broken.join("\n") } : { tests });
    });
  });
}

/** Tests that pass on the baseline and do not pass under the mutant. */
function newlyFailing(baseline: RunResult, mutant: RunResult): string[] {
  const out: string[] = [];
  for (const [name, status] of baseline.tests) if (status === "passed" && mutant.tests.get(name) !== "passed") out.push(name);
  return out;
}

// ---- main ------------------------------------------------------------------------------------

interface Outcome {
  name: InvariantName;
  verdict: "KILLED" | "SURVIVED" | "ERROR";
  detail: string;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const faultOnly = argv.includes("--fault-only");
  const keep = argv.includes("--keep");
  const only = argv.filter((a) => !a.startsWith("--"));

  const tableNames = Object.keys(INVARIANTS).sort();
  const mutantNames = Object.keys(MUTANTS).sort();
  if (JSON.stringify(tableNames) !== JSON.stringify(mutantNames)) {
    const missing = tableNames.filter((n) => !mutantNames.includes(n));
    const extra = mutantNames.filter((n) => !tableNames.includes(n));
    console.error(`stale mutation table: no mutant for [${missing.join(", ")}]; mutants for unknown invariants [${extra.join(", ")}]`);
    return 2;
  }
  for (const n of only) {
    if (!(n in MUTANTS)) {
      console.error(`unknown invariant: ${n}`);
      return 2;
    }
  }
  const names = (Object.keys(INVARIANTS) as InvariantName[]).filter((n) => only.length === 0 || only.includes(n));

  const started = Date.now();
  const workspaces = Array.from({ length: Math.min(PARALLEL, names.length) }, makeWorkspace);
  const maxWorkers = workspaces.length > 1 ? 1 : 2;
  const extra: Workspace[] = [];
  try {
    // Every mutant's find strings must match the source before anything runs.
    for (const name of names) mutate(workspaces[0] as Workspace, MUTANTS[name])();
    if (argv.includes("--check")) {
      console.log(`${names.length} mutants apply cleanly`);
      return 0;
    }

    const baseline = await runVitest(workspaces[0] as Workspace, [FAULT_TEST], 2);
    if (baseline.error) throw new Error(`the unmutated fault tests do not run:\n${baseline.error}`);
    const knownFailing = [...baseline.tests].filter(([, s]) => s !== "passed" && s !== "skipped").map(([n]) => n);
    console.log(`baseline: ${baseline.tests.size} fault tests, ${knownFailing.length} failing without any mutant${knownFailing.length ? " (not counted as kills):" : ""}`);
    for (const n of knownFailing) console.log(`  - ${n}`);
    let coreBaseline: Promise<RunResult> | null = null;

    const outcomes: Outcome[] = [];
    const queue = [...names];
    const worker = async (ws: Workspace) => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        const restore = mutate(ws, MUTANTS[name]);
        try {
          const first = await runVitest(ws, [FAULT_TEST], maxWorkers);
          let outcome: Outcome;
          // The invariant's own test first, when it is among the killers.
          const own = (t: string) => ((titles.get(t) ?? "").startsWith(`${name} `) ? 0 : 1);
          const killedBy = newlyFailing(baseline, first).sort((a, b) => own(a) - own(b));
          if (first.error) outcome = { name, verdict: "ERROR", detail: first.error.split("\n")[0] ?? "" };
          else if (killedBy.length > 0) {
            const byOwn = own(killedBy[0] as string) === 0;
            outcome = { name, verdict: "KILLED", detail: `by ${byOwn ? "its own fault test" : "other tests, not its own"} (${killedBy.length} failing): ${short(killedBy[0] as string)}` };
          }
          else if (faultOnly) outcome = { name, verdict: "SURVIVED", detail: "no fault test failed (--fault-only)" };
          else {
            // Unmutated core tests, once, in a workspace of their own (the others are being mutated).
            coreBaseline ??= (async () => {
              const pristine = makeWorkspace();
              extra.push(pristine);
              return runVitest(pristine, CORE_TESTS, maxWorkers);
            })();
            const base = await coreBaseline;
            if (base.error) throw new Error(`the unmutated core tests do not run:\n${base.error}`);
            const second = await runVitest(ws, CORE_TESTS, maxWorkers);
            const by = newlyFailing(base, second);
            outcome = second.error
              ? { name, verdict: "ERROR", detail: second.error.split("\n")[0] ?? "" }
              : by.length > 0
                ? { name, verdict: "KILLED", detail: `no fault test failed; killed by ${by.length} other core test(s), e.g. ${short(by[0] as string)}` }
                : { name, verdict: "SURVIVED", detail: "no test failed" };
          }
          outcomes.push(outcome);
          console.log(`${outcome.verdict.padEnd(8)} ${name.padEnd(64)} ${outcome.detail}`);
        } finally {
          restore();
        }
      }
    };
    await Promise.all(workspaces.map((ws) => worker(ws)));

    const killed = outcomes.filter((o) => o.verdict === "KILLED").length;
    const survived = outcomes.filter((o) => o.verdict === "SURVIVED");
    const errors = outcomes.filter((o) => o.verdict === "ERROR");
    console.log(
      `\n${outcomes.length} invariant mutants: ${killed} killed, ${survived.length} survived, ${errors.length} error(s) ` +
        `in ${((Date.now() - started) / 1000).toFixed(1)} s${survived.length ? `; SURVIVED: ${survived.map((o) => o.name).join(", ")}` : ""}`,
    );
    return survived.length === 0 && errors.length === 0 ? 0 : 1;
  } finally {
    const all = [...workspaces, ...extra];
    if (keep) console.log(`workspaces kept: ${all.map((w) => w.dir).join(", ")}`);
    else for (const ws of all) rmSync(ws.dir, { recursive: true, force: true });
  }
}

function short(test: string): string {
  const file = test.slice(0, test.indexOf(" > "));
  const title = titles.get(test) ?? test.slice(test.indexOf(" > ") + 3);
  return `${file.slice(file.lastIndexOf("/") + 1)}: ${JSON.stringify(title.length > 100 ? `${title.slice(0, 97)}...` : title)}`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
