// The load generator of the HTTP benchmarks, in its own process (forked by bench/http-bench.ts's
// LoadGenerator): signs every request just in time with @polkadot/wasm-crypto's sr25519Sign (not
// the keyring's, which is pure JS) and keeps many requests in flight on keep-alive connections. Jobs arrive over IPC; results go back the same way. Trader state (which positions
// are open) lives here across jobs, so orders stay within the leverage limits.
import { BENCH_PAIRS, entityUri, errorCode, HttpClient, type Job, type JobResult, signedHeaders, summarize, wasmReady, type WasmSigner, wasmSigner } from "./http-bench.ts";

await wasmReady();
const pairs = new Map<number, WasmSigner>();

function entity(i: number): WasmSigner {
  let pair = pairs.get(i);
  if (!pair) {
    pair = wasmSigner(entityUri(i));
    pairs.set(i, pair);
  }
  return pair;
}

const clients = new Map<string, HttpClient>();
function client(url: string, maxSockets: number): HttpClient {
  const key = `${url}|${maxSockets}`;
  let c = clients.get(key);
  if (!c) {
    c = new HttpClient(url, maxSockets);
    clients.set(key, c);
  }
  return c;
}

class Tally {
  ok = 0;
  errors: Record<string, number> = {};
  latencies: number[] = [];
  fromSchedule: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  error(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }
}

function finish(t: Tally, startedAt: number, cpu: NodeJS.CpuUsage): JobResult {
  const seconds = (performance.now() - startedAt) / 1000;
  const used = process.cpuUsage(cpu);
  return {
    ok: t.ok,
    errors: t.errors,
    seconds: Number(seconds.toFixed(3)),
    per_s: Math.round(t.ok / seconds),
    latency: summarize(t.latencies),
    ...(t.fromSchedule.length > 0 ? { latency_from_schedule: summarize(t.fromSchedule) } : {}),
    cpu_s: Number(((used.user + used.system) / 1e6).toFixed(3)),
    max_in_flight: t.maxInFlight,
  };
}

// ---- GET /v1/time: the baseline of what the HTTP stack does with nothing behind it -------------

async function timeJob(job: Extract<Job, { kind: "time" }>): Promise<JobResult> {
  const http = client(job.url, job.concurrency);
  const t = new Tally();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + job.seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const s = performance.now();
      const answer = await http.request("GET", "/v1/time");
      if (answer.status === 200) {
        t.ok++;
        t.latencies.push(performance.now() - s);
      } else t.error(errorCode(answer));
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  return finish(t, start, cpu);
}

// ---- subaccount creations --------------------------------------------------------------------------

async function subaccountsJob(job: Extract<Job, { kind: "subaccounts" }>): Promise<JobResult> {
  const http = client(job.url, job.concurrency);
  const first = job.firstEntity ?? 0;
  for (let i = first; i < first + job.entities; i++) entity(i); // derive keys before the clock starts
  const total = job.entities * job.perEntity;
  const t = new Tally();
  let next = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const worker = async () => {
    while (next < total) {
      const k = next++;
      const pair = entity(first + (k % job.entities)); // entities interleaved: every entity busy at once
      const body = "{}";
      const s = performance.now();
      const answer = await http.request("POST", `/v1/entities/${pair.address}/subaccounts`, body, signedHeaders(pair, body));
      if (answer.status === 201) {
        t.ok++;
        t.latencies.push(performance.now() - s);
      } else t.error(errorCode(answer));
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  return finish(t, start, cpu);
}

// ---- orders ----------------------------------------------------------------------------------------

interface Trader {
  entity: number;
  id: number;
  /** Orders accepted so far: even steps open (LONG or SHORT), odd steps FLAT the same pair. */
  step: number;
}

let traders: Trader[] = [];
/** Traders with nothing in flight, oldest first (a FIFO: every trader gets its turn). */
let free: Trader[] = [];
let freeHead = 0;
let orderSeq = 0;
const runId = `${process.pid.toString(36)}-${Date.now().toString(36)}`;

function tradersFor(entities: number, perEntity: number): void {
  if (traders.length === entities * perEntity) return;
  traders = [];
  for (let id = 0; id < perEntity; id++) for (let e = 0; e < entities; e++) traders.push({ entity: e, id, step: 0 });
  free = [...traders];
  freeHead = 0;
}

/** The free trader waiting longest, or null if every trader has an order in flight. */
function nextTrader(): Trader | null {
  if (freeHead >= free.length) return null;
  const t = free[freeHead++] as Trader;
  if (freeHead > 4_096 && freeHead * 2 > free.length) {
    free = free.slice(freeHead);
    freeHead = 0;
  }
  return t;
}

function release(t: Trader): void {
  free.push(t);
}

/**
 * The trader's next order: cycle c opens pair c mod 4 (LONG on even cycles, SHORT on odd ones)
 * with leverage 0.01..0.5, then closes it with FLAT; so |net leverage| never exceeds 0.5.
 */
function orderBody(t: Trader): string {
  const cycle = t.step >> 1;
  const pair = BENCH_PAIRS[cycle % BENCH_PAIRS.length] as string;
  const uuid = `${runId}-${(orderSeq++).toString(36)}`;
  if (t.step % 2 === 1) return JSON.stringify({ subaccount_id: t.id, trade_pair: pair, order_type: "FLAT", order_uuid: uuid });
  const leverage = (1 + Math.floor(Math.random() * 50)) / 100;
  const type = cycle % 2 === 0 ? "LONG" : "SHORT";
  return JSON.stringify({ subaccount_id: t.id, trade_pair: pair, order_type: type, leverage, order_uuid: uuid });
}

async function sendOrder(http: HttpClient, t: Trader, tally: Tally, scheduledAt?: number): Promise<void> {
  tally.inFlight++;
  if (tally.inFlight > tally.maxInFlight) tally.maxInFlight = tally.inFlight;
  const pair = entity(t.entity);
  const body = orderBody(t);
  const s = performance.now();
  try {
    const answer = await http.request("POST", "/v1/orders", body, signedHeaders(pair, body));
    const done = performance.now();
    if (answer.status === 201) {
      t.step++;
      tally.ok++;
      tally.latencies.push(done - s);
      if (scheduledAt !== undefined) tally.fromSchedule.push(done - scheduledAt);
    } else tally.error(errorCode(answer)); // the same step again next time, with a new uuid
  } catch (error) {
    tally.error(`NETWORK_${(error as NodeJS.ErrnoException).code ?? "ERROR"}`);
  } finally {
    release(t);
    tally.inFlight--;
  }
}

async function ordersJob(job: Extract<Job, { kind: "orders" }>): Promise<JobResult> {
  // Several processes of one validator (`urls`): each trader always sends to the same one.
  const https = (job.urls ?? [job.url]).map((url) => client(url, job.concurrency));
  const httpOf = (t: Trader): HttpClient => https[(t.entity + t.id) % https.length] as HttpClient;
  tradersFor(job.entities, job.subaccountsPerEntity);
  for (let i = 0; i < job.entities; i++) entity(i);
  const tally = new Tally();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + job.seconds * 1000;
  if (job.mode === "closed") {
    const worker = async () => {
      while (performance.now() < end) {
        const t = nextTrader();
        if (!t) throw new Error("every trader is busy: use more subaccounts than requests in flight");
        await sendOrder(httpOf(t), t, tally);
      }
    };
    await Promise.all(Array.from({ length: job.concurrency }, worker));
    return finish(tally, start, cpu);
  }
  // Open loop: order k is due at start + k / rate, whatever happened to the earlier ones; a timer
  // every millisecond sends what is due (a busy wait would take a core from the server).
  const rate = job.rate ?? 1_000;
  const total = Math.floor(job.seconds * rate);
  const pending = new Set<Promise<void>>();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (sent < due) {
        const t = nextTrader();
        if (!t) {
          tally.error("GENERATOR_ALL_TRADERS_BUSY");
          sent++;
          continue;
        }
        const p = sendOrder(httpOf(t), t, tally, start + (sent * 1000) / rate);
        pending.add(p);
        void p.finally(() => pending.delete(p));
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  return finish(tally, start, cpu);
}

process.on("message", (m: { type: string; job?: Job }) => {
  if (m.type === "exit") {
    for (const c of clients.values()) c.close();
    process.disconnect?.();
    return;
  }
  const job = m.job as Job;
  const run = job.kind === "time" ? timeJob(job) : job.kind === "subaccounts" ? subaccountsJob(job) : ordersJob(job);
  run.then(
    (result) => process.send?.({ type: "result", result }),
    (error: unknown) => process.send?.({ type: "error", error: (error as Error)?.stack ?? String(error) }),
  );
});
process.send?.({ type: "ready" });
