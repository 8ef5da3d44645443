// The validator view: head and next epoch, issuance and emission over time, subnets, invariants, weights, chain events.
import { get, type Head, type Invariant, type Prices, type Subnet, type Weight } from "./api.ts";
import { barChart, lineChart } from "./chart.ts";
import { el, facts, section, table } from "./dom.ts";
import { alpha, type ChainEvent, describeEvent, duration, raoToNumber, shortKey, tao, time } from "./format.ts";
import type { Live } from "./live.ts";

const EVENTS_KEPT = 50;
/** Issuance points kept (a day of 12 s blocks is 7,200). */
const HISTORY_MAX = 10_000;
const HISTORY_KEY = "propnet.issuance";
/** Collected in the browser from every head seen, kept across reloads of this tab. */
const history: { x: number[]; issuance: number[]; emission: number[] } = (() => {
  try {
    const saved = JSON.parse(sessionStorage.getItem(HISTORY_KEY) ?? "null") as typeof history | null;
    if (saved && Array.isArray(saved.x) && saved.x.length === saved.issuance.length && saved.x.length === saved.emission.length) return saved;
  } catch {
    // a damaged copy: start again
  }
  return { x: [], issuance: [], emission: [] };
})();

function record(head: Head): void {
  const last = history.x[history.x.length - 1];
  if (last !== undefined && head.timestamp_ms <= last) return;
  history.x.push(head.timestamp_ms);
  history.issuance.push(raoToNumber(head.total_issuance_rao));
  history.emission.push(raoToNumber(head.block_emission_rao));
  if (history.x.length > HISTORY_MAX) for (const a of [history.x, history.issuance, history.emission]) a.shift();
  sessionStorage.setItem(HISTORY_KEY, JSON.stringify(history));
}

/** Mean block interval seen so far, or the devnet default. */
function blockMs(): number {
  const n = history.x.length;
  if (n < 2) return 12_000;
  return Math.max(1, ((history.x[n - 1] ?? 0) - (history.x[0] ?? 0)) / (n - 1));
}

export async function validatorView(root: HTMLElement, live: Live): Promise<() => void> {
  // Head and subnets make the view usable; the heavier panels fill in as their answers arrive.
  const invariantsP = get<{ checked_at_block: number; invariants: Invariant[] }>("/v1/chain/invariants");
  const weightsP = get<{ netuid: number; set_at_block: number | null; weights: Weight[] }>("/v1/weights");
  const healthP = get<{ seq: number; status: string; role?: string; version: string; problems: string[] }>("/healthz");
  const [head, subnets] = await Promise.all([get<Head>("/v1/chain/head"), get<{ subnets: Subnet[] }>("/v1/chain/subnets")]);
  const headBox = el("div");
  const healthBox = el("div");
  const chartBox = el("div", { class: "chart" });
  const subnetBox = el("div");
  const invariantBox = el("div");
  const priceBox = el("div");
  const weightBox = el("div", { class: "chart" });
  const eventList = el("ol", { class: "events", "data-testid": "events" });
  root.replaceChildren(
    section("Chain", headBox, healthBox, chartBox),
    section("Subnets", subnetBox),
    section("Prices", priceBox),
    section("Invariants", invariantBox),
    section("Weights set last", weightBox),
    section("Recent chain events", eventList),
  );
  const drawHistory = lineChart(chartBox, "Issuance and emission per block", [
    { label: "total issuance (TAO)", color: "#2563eb", format: (v) => v.toLocaleString("en-US", { maximumFractionDigits: 2 }) },
    { label: "emission per block (TAO)", color: "#d97706", scale: "e", format: (v) => v.toFixed(4) },
  ]);

  let lastSubnets: Subnet[] = subnets.ok ? subnets.data.subnets : [];
  const renderHead = (h: Head) => {
    record(h);
    const sn = lastSubnets.find((s) => s.netuid === 1) ?? lastSubnets[0];
    const toEpoch = sn ? Math.max(0, sn.tempo - sn.blocks_since_last_step) : null;
    headBox.replaceChildren(
      facts("head", [
        ["block", "Head block", String(h.block)],
        ["time", "Block time", time(h.timestamp_ms)],
        ["epoch", "Next epoch", toEpoch === null ? "—" : `in ${toEpoch} block${toEpoch === 1 ? "" : "s"} (~${duration(toEpoch * blockMs())})`],
        ["issuance", "Total issuance", tao(h.total_issuance_rao)],
        ["emission", "Emission per block", tao(h.block_emission_rao, 9)],
      ]),
    );
    drawHistory(history.x, [history.issuance, history.emission]);
  };
  const renderSubnets = (list: Subnet[]) => {
    lastSubnets = list;
    subnetBox.replaceChildren(
      table(
        ["netuid", "price (TAO/α)", "TAO pool", "α pool", "α outstanding", "pending emission", "paused", "since last epoch"],
        list.map((s) => [
          String(s.netuid),
          s.price.toFixed(6),
          tao(s.tao_in_rao),
          alpha(s.alpha_in_rao),
          alpha(s.alpha_out_rao),
          `${alpha(s.pending_server_rao)} miners · ${alpha(s.pending_validator_rao)} validators · ${alpha(s.pending_owner_cut_rao)} owner`,
          s.emission_paused ? el("strong", { class: "bad" }, "PAUSED") : "no",
          `${s.blocks_since_last_step} / ${s.tempo} blocks`,
        ]),
        "subnets",
      ),
    );
  };
  const renderInvariants = async (report: { checked_at_block: number; invariants: Invariant[] }) => {
    const health = await healthP;
    const seq = health.ok ? health.data.seq : 0;
    const violations = await get<{ events: ChainEvent[] }>(`/v1/chain/events?type=CriticalInvariantViolation&after=${Math.max(0, seq - 10_000)}&limit=100`);
    const last = violations.ok ? violations.data.events[violations.data.events.length - 1] : undefined;
    const failing = report.invariants.filter((i) => !i.ok).length;
    invariantBox.replaceChildren(
      el("p", { "data-testid": "invariants-summary", class: failing ? "bad" : "good" }, failing ? `${failing} failing at block ${report.checked_at_block}` : `all ${report.invariants.length} hold at block ${report.checked_at_block}`),
      table(
        ["invariant", "scope", "state", "expected", "actual"],
        report.invariants.map((i) => [i.name, i.scope.replace(/^(entity:)(.+)$/, (_m, p: string, k: string) => p + shortKey(k)), i.ok ? el("span", { class: "good" }, "ok") : el("strong", { class: "bad" }, "FAILING"), i.expected, i.actual]),
        "invariants",
      ),
      el("p", { "data-testid": "last-violation" }, last ? `Last violation: block ${last.block} — ${describeEvent(last)}. A paused subnet resumes when root unpauses it (POST /v1/chain/subnets/{netuid}/unpause) after a full recount.` : "No violation recorded in the recent log."),
    );
  };
  const addEvents = (events: ChainEvent[]) => {
    for (const e of events) {
      if (e.type === "Coinbase") continue; // one per block: it would drown the rest (the chart shows it)
      eventList.prepend(el("li", {}, el("span", { class: "block" }, `#${e.block}`), el("strong", {}, e.type), " ", describeEvent(e)));
    }
    while (eventList.children.length > EVENTS_KEPT) eventList.lastElementChild?.remove();
  };

  if (head.ok) renderHead(head.data);
  renderSubnets(lastSubnets);
  const renderPrices = (p: Prices) => {
    const rows = Object.entries(p.prices).map(([pair, { price, ts_ms }]) => [pair, String(price), time(ts_ms)]);
    priceBox.replaceChildren(
      rows.length === 0 ? el("p", { class: "muted" }, "No price accepted yet.") : table(["pair", "price (USD)", "at"], rows, "prices"),
      ...(p.held.length > 0 ? [el("p", { class: "bad", "data-testid": "held" }, `${p.held.length} price(s) held for root (a move over 20%): ${p.held.map((h) => `${h.trade_pair} ${h.last_price} → ${h.price}`).join(", ")}`)] : []),
    );
  };
  void get<Prices>("/v1/prices").then((p) => (p.ok ? renderPrices(p.data) : undefined));
  void invariantsP.then((invariants) => (invariants.ok ? renderInvariants(invariants.data) : undefined));
  void weightsP.then((weights) => {
    if (!weights.ok) return weightBox.append(el("p", { "data-testid": "weights-block", class: "muted" }, `No weights yet: ${weights.message}`));
    const w = weights.data;
    weightBox.append(el("p", { "data-testid": "weights-block" }, w.set_at_block === null ? "No weights set yet." : `Set at block ${w.set_at_block} on subnet ${w.netuid}: ${w.weights.length} uids.`));
    if (w.weights.length > 0) {
      barChart(weightBox, "Weights by uid", "weight (u16)", "#059669", w.weights.map((x) => `${x.uid}`), w.weights.map((x) => x.weight));
      weightBox.append(table(["uid", "hotkey", "weight", "bucket", "owed", "paid"], w.weights.map((x) => [String(x.uid), shortKey(x.hotkey), String(x.weight), x.bucket, `$${x.owed_usd.toFixed(2)}`, `$${x.paid_usd.toFixed(2)}`]), "weights"));
    }
  });
  void healthP.then(async (health) => {
    if (!health.ok) return;
    // Peers, sync and storage trouble show here as the node reports them (/healthz problems).
    const h = health.data;
    healthBox.replaceChildren(
      el("p", { "data-testid": "health", class: h.status === "ok" ? "good" : "bad" }, [`Node ${h.status}`, h.role, `version ${h.version}`, h.problems.length ? null : "no problems reported"].filter(Boolean).join(" · ")),
      ...(h.problems.length ? [el("ul", { class: "bad" }, ...h.problems.map((p) => el("li", {}, p)))] : []),
    );
    const events = await get<{ events: ChainEvent[] }>(`/v1/chain/events?after=${Math.max(0, health.data.seq - 2_000)}&limit=500`);
    if (events.ok) addEvents(events.data.events.filter((e) => e.type !== "Coinbase").slice(-EVENTS_KEPT));
  });

  let refreshing = false;
  const refresh = async () => {
    if (refreshing) return;
    refreshing = true;
    const [s, i, p] = await Promise.all([get<{ subnets: Subnet[] }>("/v1/chain/subnets"), get<{ checked_at_block: number; invariants: Invariant[] }>("/v1/chain/invariants"), get<Prices>("/v1/prices")]);
    if (s.ok) renderSubnets(s.data.subnets);
    if (p.ok) renderPrices(p.data);
    if (i.ok) await renderInvariants(i.data);
    refreshing = false;
  };
  return live.subscribe({
    head: (h) => renderHead(h),
    prices: (p) => renderPrices(p),
    events: (events) => addEvents(events),
    commit: () => void refresh(),
  });
}

