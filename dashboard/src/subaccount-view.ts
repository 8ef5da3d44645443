// The subaccount view: equity and drawdown from the perf ledger, positions and orders, elimination, debt ledger.
import { type DebtCheckpoint, type Elimination, get, type Order, type PerfCheckpoint, type Position, type Subaccount } from "./api.ts";
import { lineChart } from "./chart.ts";
import { el, facts, section, table } from "./dom.ts";
import { alpha, equityAndDrawdown, percent, shortKey, tao, time, usd } from "./format.ts";
import type { Live } from "./live.ts";

/** The view follows new commits at most this often (it redraws its charts). */
const REFRESH_MS = 5_000;

export async function subaccountView(root: HTMLElement, live: Live, synthetic: string): Promise<() => void> {
  if (!(await render(root, synthetic))) return () => undefined;
  let last = Date.now();
  return live.subscribe({
    commit: async () => {
      if (Date.now() - last < REFRESH_MS) return;
      last = Date.now();
      const y = window.scrollY;
      await render(root, synthetic, true);
      window.scrollTo(0, y);
    },
  });
}

/** Reads the subaccount and draws it; false when it cannot be read. */
async function render(root: HTMLElement, synthetic: string, refresh = false): Promise<boolean> {
  const path = `/v1/subaccounts/${encodeURIComponent(synthetic)}`;
  const [detail, ledger, orders] = await Promise.all([
    get<{ subaccount: Subaccount; positions: Position[]; elimination: Elimination | null }>(path),
    get<{ perf: PerfCheckpoint[]; debt: DebtCheckpoint[] }>(`${path}/ledger`),
    get<{ orders: Order[] }>(`${path}/orders?limit=100`),
  ]);
  if (!detail.ok) {
    // Unreachable: the last drawing stays (marked stale by the page).
    if (refresh && detail.code === "NETWORK") return true;
    root.replaceChildren(section(`Subaccount ${shortKey(synthetic)}`, el("p", { class: "bad" }, `${detail.code}: ${detail.message}`), el("a", { href: "#/entity" }, "Back to the entity (sign in first)")));
    return false;
  }
  const { subaccount: s, positions, elimination } = detail.data;
  const perf = ledger.ok ? ledger.data.perf : [];
  const debt = ledger.ok ? ledger.data.debt : [];
  const equityBox = el("div", { class: "chart", "data-testid": "equity-chart" });
  const drawdownBox = el("div", { class: "chart", "data-testid": "drawdown-chart" });
  root.replaceChildren(
    section(
      `Subaccount ${shortKey(s.synthetic_hotkey)}`,
      el("p", {}, el("a", { href: "#/entity" }, "← all subaccounts")),
      facts("sub", [
        ["status", "Status", s.status],
        ["challenge", "Challenge", s.challenge.state.replace("_", " ")],
        ["return", "Return", percent(s.challenge.return)],
        ["drawdown", "Max drawdown", percent(s.challenge.max_drawdown, false)],
        ["size", "Account size", usd(s.account_size_usd)],
        ["reserved", "Collateral reserved", tao(s.collateral_reserved_rao)],
        ["ends", "Challenge ends", time(s.challenge.ends_at_ms)],
      ]),
      equityBox,
      drawdownBox,
    ),
    section(
      "Elimination",
      el("p", { "data-testid": "elimination" }, elimination ? `Eliminated ${time(elimination.at_ms)}: ${elimination.reason}; return ${percent(elimination.return)}, max drawdown ${percent(elimination.max_drawdown, false)}, slashed ${tao(elimination.slashed_rao)}.` : "Not eliminated."),
    ),
    section(
      "Positions",
      table(
        ["pair", "open", "net leverage", "entry", "realised", "unrealised", "return", "opened"],
        positions.map((p) => [p.trade_pair, p.is_closed ? "closed" : "open", p.net_leverage.toFixed(2), String(p.average_entry_price), usd(p.realized_pnl_usd), usd(p.unrealized_pnl_usd), percent(p.return), time(p.opened_at_ms)]),
        "positions",
      ),
    ),
    section(
      "Orders",
      table(["time", "pair", "type", "leverage", "price", "source"], (orders.ok ? orders.data.orders : []).map((o) => [time(o.processed_ms), o.trade_pair, o.order_type, o.leverage.toFixed(2), String(o.price), o.src]), "orders"),
    ),
    section(
      "Debt ledger",
      table(
        ["period", "status", "PnL", "fees", "return", "emission", "owed", "paid"],
        debt.map((d) => [time(d.ts_ms), d.status, usd(d.realized_pnl_usd + d.unrealized_pnl_usd), usd(d.fees_usd), percent(d.portfolio_return), `${alpha(d.emission_alpha_rao)} (${usd(d.emission_usd)})`, usd(d.owed_usd), usd(d.paid_usd)]),
        "debt",
      ),
    ),
  );
  // The series starts at creation (value 1, the peak's start) and ends now, at the figures the challenge shows.
  const points = [
    { ts_ms: s.created_at_ms, return: 0, max_drawdown: 0 },
    ...perf.filter((p) => p.ts_ms > s.created_at_ms),
    { ts_ms: Math.max(Date.now(), perf[perf.length - 1]?.ts_ms ?? 0), return: s.challenge.return, max_drawdown: s.challenge.max_drawdown },
  ];
  const { equity, drawdown } = equityAndDrawdown(points.map((p) => p.return));
  const x = points.map((p) => p.ts_ms);
  lineChart(equityBox, "Equity (1 = account size)", [{ label: "equity", color: "#2563eb", format: (v) => v.toFixed(4) }])(x, [equity]);
  lineChart(drawdownBox, "Drawdown from peak", [
    { label: "drawdown", color: "#dc2626", format: (v) => percent(v, false) },
    { label: "max drawdown", color: "#7c3aed", format: (v) => percent(v, false) },
  ])(x, [drawdown, points.map((p) => p.max_drawdown)]);
  return true;
}
