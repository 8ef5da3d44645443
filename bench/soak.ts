import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import { PropnetClient } from "../src/client/propnet-client.ts";
import { freePort } from "../test/support/processes.ts";
import {
  BENCH_PAIRS,
  BENCH_PRICES,
  cpuDelta,
  entityUri,
  errorCode,
  HttpClient,
  log,
  processCpu,
  ROOT_DIR,
  round,
  signedHeaders,
  summarize,
  wasmReady,
  type WasmSigner,
  wasmSigner,
} from "./http-bench.ts";

/**
 * Soak (issue 14): a real `propnet serve` (rate limits on, a block every 12 s) under mixed load at
 * a fixed rate (200 requests/s) for `--minutes` (10): orders, subaccount creations, price posts,
 * session sign-ins, signed and session reads, public reads. Every 10 s it samples the server's
 * memory after a full collection (/metrics: heap and RSS; /proc: VmRSS) and what the process keeps per request (sessions,
 * consumed uuids, idempotency keys, violations). Figures: memory at start and end of the measured
 * span and its growth per 1,000 requests. Same-run baseline: the node is then restarted on the
 * same data directory and sampled the same way; a fresh process holding the same state is what the
 * soaked one should weigh, so `heap_end_vs_fresh` near 1 means nothing leaked beyond the state the
 * requests legitimately made (subaccounts, orders, idempotency keys for 24 h).
 */

const COLLATERAL_RAO = (20_000n * 1_000_000_000n).toString();
/** Requests per second by kind (of 200); each kind's share of the rate is kept at other rates. */
const MIX = { order: 70, read_signed: 20, read_session: 20, read_public: 54, session: 16, subaccount: 10, prices: 10 } as const;
type Kind = keyof typeof MIX;
const SAMPLE_EVERY_MS = 10_000;

interface Sample {
  at_s: number;
  requests: number;
  rss: number;
  heap_used: number;
  heap_total: number;
  proc_rss: number;
  sessions: number;
  uuids: number;
  idempotency_keys: number;
  connections: number;
  subaccounts: number;
  violations: number;
}

interface Trader {
  entity: number;
  id: number;
  synthetic: string;
  step: number;
  busy: boolean;
}

/**
 * The server process, rate limits on (startServer of http-bench turns them off), with a SIGUSR2
 * handler that runs a full collection (bench/soak-gc.mjs).
 */
async function startServer(dataDir: string, port: number): Promise<{ child: ChildProcess; url: string; stop: () => Promise<void> }> {
  const gcHook = pathToFileURL(join(ROOT_DIR, "bench", "soak-gc.mjs")).href;
  const args = ["--expose-gc", "--import", gcHook, join(ROOT_DIR, "bin", "propnet.js"), "serve", "--no-demo", "--block-time", "12000", "--data", dataDir, "--port", String(port)];
  const child = spawn(process.execPath, args, { cwd: ROOT_DIR, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`propnet serve exited: ${stderr}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`propnet serve not ready: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    url,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function procRss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** The server's figures after a full collection (the load goes on meanwhile). */
async function sample(url: string, pid: number, at_s: number, requests: number): Promise<Sample> {
  process.kill(pid, "SIGUSR2");
  await new Promise((r) => setTimeout(r, 300));
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : Number.NaN;
  };
  const health = (await (await fetch(`${url}/healthz`)).json()) as { problems: string[] };
  return {
    at_s,
    requests,
    rss: value(/^propnet_process_memory_bytes\{kind="rss"\} (\S+)$/m),
    heap_used: value(/^propnet_process_memory_bytes\{kind="heap_used"\} (\S+)$/m),
    heap_total: value(/^propnet_process_memory_bytes\{kind="heap_total"\} (\S+)$/m),
    proc_rss: procRss(pid),
    sessions: value(/^propnet_sessions (\S+)$/m),
    uuids: value(/^propnet_epistula_uuids (\S+)$/m),
    idempotency_keys: value(/^propnet_idempotency_keys (\S+)$/m),
    connections: value(/^propnet_http_connections (\S+)$/m),
    subaccounts: value(/^propnet_subaccounts\{status="active"\} (\S+)$/m),
    violations: health.problems.filter((p) => p.startsWith("CriticalInvariantViolation")).length,
  };
}

/** Heap: the lowest reading of the window (each taken after a full collection); RSS: the mean. */
function settle(samples: Sample[]): { heap_used: number; rss: number; proc_rss: number } {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    heap_used: Math.min(...samples.map((s) => s.heap_used)),
    rss: mean(samples.map((s) => s.rss)),
    proc_rss: mean(samples.map((s) => s.proc_rss)),
  };
}

const MB = 2 ** 20;
const mb = (bytes: number) => round(bytes / MB, 1);

export async function run(args: Record<string, string>): Promise<Record<string, unknown>> {
  const minutes = Number(args.minutes ?? 10);
  const rate = Number(args.rate ?? 200);
  const entities = Number(args.entities ?? 20);
  const tradersPerEntity = Number(args["traders-per-entity"] ?? 5);
  const warmupS = Number(args["warmup-seconds"] ?? 30);
  const baselineS = Number(args["baseline-seconds"] ?? 60);
  const measuredS = minutes * 60;
  /** Start and end windows of the measured span. */
  const windowS = Math.min(60, measuredS / 4);
  const loadavg = round(os.loadavg()[0] as number);
  await cryptoWaitReady();
  await wasmReady();

  const dir = mkdtempSync(join(tmpdir(), "propnet-bench-soak-"));
  const port = await freePort();
  let server = await startServer(dir, port);
  const http = new HttpClient(server.url, 64);
  try {
    // ---- setup (not measured): entities with collateral, traders, prices ----
    const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
    const alice = new PropnetClient({ baseUrl: server.url, signer: keyring.addFromUri("//Alice") });
    const oracle = wasmSigner("//Alice");
    const pairs = Array.from({ length: entities }, (_, i) => keyring.addFromUri(entityUri(i)));
    const signers: WasmSigner[] = Array.from({ length: entities }, (_, i) => wasmSigner(entityUri(i)));
    const must = (r: { ok: boolean; body: unknown }, what: string) => {
      if (!r.ok) throw new Error(`${what}: ${JSON.stringify(r.body)}`);
    };
    for (const r of await Promise.all(pairs.map((p) => alice.chainExtrinsic("subtensor.burned_register", { netuid: 1, hotkey: p.address })))) must(r, "register");
    for (const r of await Promise.all(pairs.map((p) => alice.chainExtrinsic("collateral.deposit", { hotkey: p.address, amount_rao: COLLATERAL_RAO })))) must(r, "deposit");
    for (const p of pairs) must(await new PropnetClient({ baseUrl: server.url, signer: p }).registerEntity(500), "register entity");
    const prices: Record<string, number> = { ...BENCH_PRICES };
    let lastPriceTs = 0;
    const priceBody = () => {
      const ts = Math.max(Date.now() - 50, lastPriceTs + 1);
      lastPriceTs = ts;
      // A small walk (at most 0.05% a post): no subaccount nears its drawdown limit in a soak.
      for (const pair of BENCH_PAIRS) prices[pair] = (prices[pair] as number) * (1 + (Math.random() - 0.5) * 0.001);
      return JSON.stringify({ prices: BENCH_PAIRS.map((pair) => ({ trade_pair: pair, price: Number((prices[pair] as number).toPrecision(8)), ts_ms: ts })) });
    };
    const signedPrices = priceBody();
    const posted = await http.request("POST", "/v1/prices", signedPrices, signedHeaders(oracle, signedPrices));
    if (posted.status !== 200) throw new Error(`prices: ${posted.text}`);
    const traders: Trader[] = [];
    for (let e = 0; e < entities; e++) {
      for (let k = 0; k < tradersPerEntity; k++) {
        const body = "{}";
        const r = await http.request("POST", `/v1/entities/${signers[e]?.address}/subaccounts`, body, signedHeaders(signers[e] as WasmSigner, body));
        if (r.status !== 201) throw new Error(`subaccount: ${r.text}`);
        const sub = (JSON.parse(r.text) as { subaccount: { synthetic_hotkey: string; subaccount_id: number } }).subaccount;
        traders.push({ entity: e, id: sub.subaccount_id, synthetic: sub.synthetic_hotkey, step: 0, busy: false });
      }
    }
    log(`setup done: ${entities} entities, ${traders.length} traders`);

    // ---- the load: an open loop at `rate`, kinds interleaved by a fixed pattern ----
    /** Smooth weighted round robin over `mix`: each kind at its share, spread out. */
    const patternOf = (mix: Partial<Record<Kind, number>>): Kind[] => {
      const kinds = Object.keys(mix) as Kind[];
      const total = kinds.reduce((a, k) => a + (mix[k] as number), 0);
      const credit = Object.fromEntries(kinds.map((k) => [k, 0])) as Record<Kind, number>;
      const out: Kind[] = [];
      for (let i = 0; i < total; i++) {
        let best = kinds[0] as Kind;
        for (const k of kinds) {
          credit[k] += mix[k] as number;
          if (credit[k] > credit[best]) best = k;
        }
        credit[best] -= total;
        out.push(best);
      }
      return out;
    };
    /** Session tokens by entity (lost when the server restarts). */
    const tokens = new Map<number, string>();
    const perKind: Record<string, number> = {};
    let orderSeq = 0;
    let traderCursor = 0;
    const runId = `${process.pid.toString(36)}-${Date.now().toString(36)}`;
    const counts: Record<string, number> = {};
    const errors: Record<string, number> = {};
    const latencies: number[] = [];
    let done = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    let measuring = false;
    const note = (kind: string, ok: boolean, code: string, ms: number) => {
      done++;
      if (!measuring) return;
      counts[kind] = (counts[kind] ?? 0) + 1;
      if (!ok) errors[`${kind}:${code}`] = (errors[`${kind}:${code}`] ?? 0) + 1;
      latencies.push(ms);
    };
    const send = async (kind: Kind): Promise<void> => {
      // Each kind cycles through the entities on its own.
      const n = (perKind[kind] = (perKind[kind] ?? 0) + 1);
      const e = n % entities;
      const signer = signers[e] as WasmSigner;
      let method = "GET";
      let path: string;
      let body: string | undefined;
      let headers: Record<string, string> = {};
      let expect = 200;
      let trader: Trader | undefined;
      switch (kind) {
        case "order": {
          for (let tries = 0; tries < traders.length && !trader; tries++) {
            const t = traders[traderCursor++ % traders.length] as Trader;
            if (!t.busy) trader = t;
          }
          if (!trader) {
            note(kind, false, "GENERATOR_ALL_TRADERS_BUSY", 0);
            return;
          }
          trader.busy = true;
          const cycle = trader.step >> 1;
          const pair = BENCH_PAIRS[cycle % BENCH_PAIRS.length] as string;
          const order_uuid = `${runId}-o${(orderSeq++).toString(36)}`;
          body =
            trader.step % 2 === 1
              ? JSON.stringify({ subaccount_id: trader.id, trade_pair: pair, order_type: "FLAT", order_uuid })
              : JSON.stringify({ subaccount_id: trader.id, trade_pair: pair, order_type: cycle % 2 === 0 ? "LONG" : "SHORT", leverage: 0.1, order_uuid });
          method = "POST";
          path = "/v1/orders";
          headers = signedHeaders(signers[trader.entity] as WasmSigner, body);
          // Every other order carries an Idempotency-Key: those are remembered for 24 hours.
          if (n % 2 === 0) headers["Idempotency-Key"] = order_uuid;
          expect = 201;
          break;
        }
        case "subaccount":
          body = "{}";
          method = "POST";
          path = `/v1/entities/${signer.address}/subaccounts`;
          headers = { ...signedHeaders(signer, body), "Idempotency-Key": `${runId}-s${n}` };
          expect = 201;
          break;
        case "prices":
          body = priceBody();
          method = "POST";
          path = "/v1/prices";
          headers = signedHeaders(oracle, body);
          break;
        case "session":
          method = "POST";
          path = "/v1/sessions";
          headers = signedHeaders(signer, "");
          break;
        case "read_signed": {
          const t = traders[n % traders.length] as Trader;
          path = `/v1/subaccounts/${t.synthetic}/positions`;
          headers = signedHeaders(signers[t.entity] as WasmSigner, "");
          break;
        }
        case "read_session": {
          const token = tokens.get(e);
          path = `/v1/entities/${signer.address}`;
          headers = token ? { authorization: `Bearer ${token}` } : signedHeaders(signer, "");
          break;
        }
        case "read_public":
          path = ["/healthz", "/v1/prices", "/v1/chain/head", "/v1/time", "/v1/trade-pairs"][n % 5] as string;
          break;
      }
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const s = performance.now();
      try {
        const answer = await http.request(method, path, body, headers);
        const ok = answer.status === expect;
        note(kind, ok, ok ? "" : errorCode(answer), performance.now() - s);
        if (ok && kind === "order" && trader) trader.step++;
        if (ok && kind === "session") tokens.set(e, (JSON.parse(answer.text) as { token: string }).token);
      } catch (error) {
        note(kind, false, `NETWORK_${(error as NodeJS.ErrnoException).code ?? "ERROR"}`, performance.now() - s);
      } finally {
        inFlight--;
        if (trader) trader.busy = false;
      }
    };

    /**
     * `pattern` at `rate` for warm-up + `seconds`; samples every 10 s from the end of the warm-up,
     * and once more at the end. `at_s` and `requests` count from the end of the warm-up.
     */
    const phase = async (pattern: Kind[], warmup: number, seconds: number): Promise<Sample[]> => {
      const samples: Sample[] = [];
      const pid = server.child.pid as number;
      const start = performance.now();
      const totalS = warmup + seconds;
      let sent = 0;
      let nextSampleAt = warmup * 1000;
      let doneAtStart = done;
      const pending = new Set<Promise<unknown>>();
      await new Promise<void>((resolve, reject) => {
        const tick = () => {
          const elapsed = performance.now() - start;
          const due = Math.floor((Math.min(elapsed, totalS * 1000) * rate) / 1000);
          while (sent < due) {
            const p = send(pattern[sent % pattern.length] as Kind);
            pending.add(p);
            void p.finally(() => pending.delete(p));
            sent++;
          }
          if (elapsed >= nextSampleAt) {
            if (nextSampleAt === warmup * 1000) {
              doneAtStart = done;
              measuring = true;
            }
            nextSampleAt += SAMPLE_EVERY_MS;
            const p = sample(server.url, pid, round((elapsed - warmup * 1000) / 1000, 1), done - doneAtStart).then((x) => {
              samples.push(x);
              if (samples.length % 6 === 1) log(`t=${Math.round(x.at_s)} s: ${x.requests} requests, heap ${mb(x.heap_used)} MB, rss ${mb(x.rss)} MB, sessions ${x.sessions}, uuids ${x.uuids}, idempotency keys ${x.idempotency_keys}`);
            }, reject);
            pending.add(p);
            void p.finally(() => pending.delete(p));
          }
          if (elapsed >= totalS * 1000) resolve();
          else setTimeout(tick, 5);
        };
        tick();
      });
      await Promise.all(pending);
      measuring = false;
      samples.push(await sample(server.url, pid, round((performance.now() - start) / 1000 - warmup, 1), done - doneAtStart));
      return samples.sort((a, b) => a.at_s - b.at_s);
    };

    const cpuBefore = processCpu(server.child.pid as number);
    const samples = await phase(patternOf(MIX), warmupS, measuredS);
    const serverCpu = cpuDelta(processCpu(server.child.pid as number), cpuBefore);
    const last = samples.at(-1) as Sample;
    const measuredRequests = last.requests;
    const inWindow = (from: number, to: number) => samples.filter((x) => x.at_s >= from && x.at_s <= to);
    const startWindow = inWindow(0, windowS);
    const endWindow = inWindow(measuredS - windowS, Number.POSITIVE_INFINITY);
    const atStart = settle(startWindow);
    const atEnd = settle(endWindow);
    const requestsBetween = Math.max(1, (endWindow.at(-1)?.requests ?? 0) - (startWindow[0]?.requests ?? 0));
    const per1k = (bytes: number) => round(bytes / 1024 / (requestsBetween / 1000), 2);
    log(`soak done: ${measuredRequests} requests measured; heap ${mb(atStart.heap_used)} -> ${mb(atEnd.heap_used)} MB`);
    const soakCounts = { ...counts };
    const soakErrors = { ...errors };
    const lat = summarize(latencies);
    for (const k of Object.keys(counts)) delete counts[k];
    for (const k of Object.keys(errors)) delete errors[k];

    // ---- baseline: a fresh process on the same log, under the same rate of reads only ----
    await server.stop();
    server = await startServer(dir, port);
    tokens.clear();
    const reads = patternOf({ read_signed: MIX.read_signed, read_session: MIX.read_session, read_public: MIX.read_public });
    const fresh = await phase(reads, Math.min(warmupS, 10), baselineS);
    const atFresh = settle(fresh);
    const maxOf = (k: keyof Sample) => Math.max(...samples.map((x) => x[k] as number));
    return {
      loadavg_1m_at_start: loadavg,
      minutes,
      rate_per_s: rate,
      mix_per_200: MIX,
      requests_measured: measuredRequests,
      achieved_per_s: round(measuredRequests / measuredS, 1),
      requests_by_kind: soakCounts,
      errors: soakErrors,
      baseline_read_requests: fresh.at(-1)?.requests,
      baseline_errors: errors,
      latency_ms: lat,
      generator_max_in_flight: maxInFlight,
      server_cores_used: round((serverCpu.main + serverCpu.other) / measuredS, 3),
      heap_used_mb_start: mb(atStart.heap_used),
      heap_used_mb_end: mb(atEnd.heap_used),
      rss_mb_start: mb(atStart.rss),
      rss_mb_end: mb(atEnd.rss),
      proc_rss_mb_start: mb(atStart.proc_rss),
      proc_rss_mb_end: mb(atEnd.proc_rss),
      heap_growth_kb_per_1000_requests: per1k(atEnd.heap_used - atStart.heap_used),
      rss_growth_kb_per_1000_requests: per1k(atEnd.rss - atStart.rss),
      fresh_heap_used_mb: mb(atFresh.heap_used),
      fresh_rss_mb: mb(atFresh.rss),
      heap_end_vs_fresh: round(atEnd.heap_used / atFresh.heap_used, 3),
      rss_end_vs_fresh: round(atEnd.rss / atFresh.rss, 3),
      heap_beyond_state_kb_per_1000_requests: per1k(atEnd.heap_used - atFresh.heap_used),
      sessions_start_end_max: [startWindow[0]?.sessions, last.sessions, maxOf("sessions")],
      session_signers: entities,
      uuids_start_end_max: [startWindow[0]?.uuids, last.uuids, maxOf("uuids")],
      idempotency_keys_start_end: [startWindow[0]?.idempotency_keys, last.idempotency_keys],
      active_subaccounts_start_end: [startWindow[0]?.subaccounts, last.subaccounts],
      violations_end: last.violations,
      connections_max: maxOf("connections"),
      // One a minute: [s, requests, heap MB, rss MB, sessions, uuids, idempotency keys].
      samples_per_minute: samples
        .filter((_, i) => i % 6 === 0 || i === samples.length - 1)
        .map((s) => [Math.round(s.at_s), s.requests, mb(s.heap_used), mb(s.rss), s.sessions, s.uuids, s.idempotency_keys]),
    };
  } finally {
    http.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
