// The entity view: sign in once, then every subaccount in a sortable, filterable table, collateral, the aggregated ledger and emission received.
import { type DebtCheckpoint, type Entity, get, type Subaccount } from "./api.ts";
import { lineChart } from "./chart.ts";
import { bar, el, facts, section } from "./dom.ts";
import { alpha, challengeProgress, percent, shortKey, tao, time, usd } from "./format.ts";
import type { Live } from "./live.ts";
import { DEV_KEYS, devSigner, extensionAccounts, extensionSigner, type Signer, signIn, signedInAs } from "./sign-in.ts";

type SortKey = "id" | "status" | "return" | "drawdown" | "state";

const REFRESH_MS = 5_000;

function signInPanel(root: HTMLElement, done: () => void): void {
  const message = el("p", { class: "muted", "data-testid": "signin-message" }, "Sign in once to read your entity's data: the node issues a read-only session for 15 minutes. No mnemonic is ever asked for.");
  const run = async (make: () => Promise<Signer>) => {
    message.textContent = "Signing…";
    try {
      await signIn(await make());
      done();
    } catch (e) {
      message.textContent = `Sign-in failed: ${e instanceof Error ? e.message : String(e)}`;
    }
  };
  const walletButton = el("button", { type: "button", "data-testid": "signin-extension" }, "Sign in with a Polkadot wallet extension");
  const walletList = el("div");
  walletButton.addEventListener("click", async () => {
    try {
      const accounts = await extensionAccounts();
      walletList.replaceChildren(...accounts.map((a) => {
        const b = el("button", { type: "button" }, `${a.name} (${shortKey(a.address)})`);
        b.addEventListener("click", () => void run(() => extensionSigner(a.address)));
        return b;
      }));
    } catch (e) {
      message.textContent = e instanceof Error ? e.message : String(e);
    }
  });
  const select = el("select", { "data-testid": "dev-key" }, ...DEV_KEYS.map((k) => el("option", { value: k }, k)));
  const devButton = el("button", { type: "button", "data-testid": "signin-dev" }, "Sign in with this development key");
  devButton.addEventListener("click", () => void run(() => devSigner(select.value)));
  root.replaceChildren(
    section(
      "Sign in",
      message,
      el("div", { class: "signin" }, walletButton, walletList),
      el("div", { class: "signin devnet" }, el("strong", {}, "Devnet only: "), "sign with a public Substrate development key (well-known, never a real account). ", select, devButton),
    ),
  );
}

export async function entityView(root: HTMLElement, live: Live): Promise<() => void> {
  const address = signedInAs();
  if (!address) {
    signInPanel(root, () => void entityView(root, live));
    return () => undefined;
  }
  const [entity, ledger] = await Promise.all([
    get<{ entity: Entity }>(`/v1/entities/${encodeURIComponent(address)}`),
    get<{ debt: DebtCheckpoint[]; attribution?: { paid_alpha_rao: string; attributed_alpha_rao: string; unattributed_alpha_rao: string } }>(`/v1/entities/${encodeURIComponent(address)}/ledger`),
  ]);
  if (!entity.ok) {
    if (entity.code === "SIGNATURE_INVALID" || entity.code === "SIGNATURE_MISSING") {
      sessionStorage.removeItem("propnet.signer");
      signInPanel(root, () => void entityView(root, live));
    } else root.replaceChildren(section("Entity", el("p", { class: "bad" }, `${shortKey(address)}: ${entity.code} — ${entity.message}`)));
    return () => undefined;
  }
  const e = entity.data.entity;
  const c = e.collateral;
  const debt = ledger.ok ? ledger.data.debt : [];
  let emittedAlpha = 0n;
  let emittedTao = 0n;
  for (const d of debt) {
    emittedAlpha += BigInt(d.emission_alpha_rao);
    emittedTao += BigInt(d.emission_tao_rao);
  }
  const chartBox = el("div", { class: "chart" });
  const tableBox = el("div");
  root.replaceChildren(
    section(
      `Entity ${shortKey(e.entity_hotkey)}`,
      el("p", { class: "muted" }, `Signed in as ${e.entity_hotkey}`),
      facts("entity", [
        ["active", "Active subaccounts", `${e.active_subaccounts} of ${e.max_subaccounts}`],
        ["eliminated", "Eliminated", String(e.eliminated_subaccounts)],
        ["frozen", "Frozen", e.frozen ? "yes" : "no"],
        ["free", "Collateral free", c ? tao(c.free_rao) : "not tracked"],
        ["reserved", "Collateral reserved", c ? tao(c.reserved_rao) : "not tracked"],
        ["slashed", "Collateral slashed", c ? tao(c.slashed_rao) : "not tracked"],
        ["emission", "Emission received", ledger.ok && ledger.data.attribution ? alpha(ledger.data.attribution.paid_alpha_rao) : "—"],
        ["attributed", "Attributed to subaccounts", `${alpha(emittedAlpha.toString())} (${tao(emittedTao.toString())})`],
        ["unattributed", "Not attributed", ledger.ok && ledger.data.attribution ? alpha(ledger.data.attribution.unattributed_alpha_rao) : "—"],
      ]),
      chartBox,
    ),
    section("Subaccounts", tableBox),
  );
  if (debt.length === 0) chartBox.append(el("p", { class: "muted", "data-testid": "ledger-empty" }, "Aggregated ledger: no closed checkpoint yet (they close every 12 hours)."));
  else {
    const draw = lineChart(chartBox, "Aggregated ledger", [
      { label: "PnL (USD)", color: "#2563eb", format: (v) => usd(v) },
      { label: "owed (USD)", color: "#d97706", format: (v) => usd(v) },
      { label: "paid (USD)", color: "#059669", format: (v) => usd(v) },
    ]);
    draw(debt.map((d) => d.ts_ms), [debt.map((d) => d.realized_pnl_usd + d.unrealized_pnl_usd - d.fees_usd), debt.map((d) => d.owed_usd), debt.map((d) => d.paid_usd)]);
  }
  const update = subaccountTable(tableBox, e.subaccounts);
  // Returns and drawdowns move with every price: the table follows, at most every REFRESH_MS, keeping its sort and filter.
  let last = Date.now();
  return live.subscribe({
    commit: async () => {
      if (Date.now() - last < REFRESH_MS) return;
      last = Date.now();
      const fresh = await get<{ entity: Entity }>(`/v1/entities/${encodeURIComponent(address)}`);
      if (fresh.ok) update(fresh.data.entity.subaccounts);
    },
  });
}

/**
 * Rows are built once per refresh; sorting and filtering only reorder or hide them (500 rows stay
 * instant). Returns the function that takes fresh subaccounts.
 */
function subaccountTable(host: HTMLElement, subs: Subaccount[]): (subs: Subaccount[]) => void {
  const build = (list: Subaccount[]) => list.map((s) => {
    const { toPass, toFail } = challengeProgress(s.challenge.return, s.challenge.max_drawdown);
    const link = el("a", { href: `#/subaccount/${encodeURIComponent(s.synthetic_hotkey)}`, "data-testid": `sub-link-${s.subaccount_id}` }, `#${s.subaccount_id}`);
    const tr = el(
      "tr",
      { "data-id": String(s.subaccount_id) },
      el("td", {}, link),
      el("td", { class: s.status === "active" ? "" : "bad" }, s.status),
      el("td", {}, s.challenge.state.replace("_", " ")),
      el("td", { class: "num" }, percent(s.challenge.return)),
      el("td", { class: "num" }, percent(s.challenge.max_drawdown, false)),
      el("td", {}, bar(toPass, "pass", `return ${percent(s.challenge.return)} of +3.00%`), bar(toFail, "fail", `drawdown ${percent(s.challenge.max_drawdown, false)} of 6.00%`)),
      el("td", { class: "num" }, usd(s.account_size_usd)),
      el("td", {}, time(s.created_at_ms)),
    );
    return { s, tr, text: `${s.subaccount_id} ${s.status} ${s.challenge.state}`.toLowerCase() };
  });
  let rows = build(subs);
  let sortKey: SortKey = "id";
  let descending = false;
  const value = (s: Subaccount): number | string => {
    switch (sortKey) {
      case "id": return s.subaccount_id;
      case "status": return s.status;
      case "state": return s.challenge.state;
      case "return": return s.challenge.return;
      case "drawdown": return s.challenge.max_drawdown;
    }
  };
  const tbody = el("tbody", { "data-testid": "subaccount-rows" });
  const filter = el("input", { type: "search", placeholder: "filter: id, active, eliminated, passed…", "data-testid": "sub-filter" });
  const count = el("span", { class: "muted", "data-testid": "sub-count" });
  const render = () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = rows.filter((r) => words.every((w) => r.text.includes(w)));
    shown.sort((a, b) => {
      const x = value(a.s);
      const y = value(b.s);
      const order = x < y ? -1 : x > y ? 1 : a.s.subaccount_id - b.s.subaccount_id;
      return descending ? -order : order;
    });
    const fragment = document.createDocumentFragment();
    for (const r of shown) fragment.append(r.tr);
    tbody.replaceChildren(fragment);
    count.textContent = `${shown.length} of ${rows.length} subaccounts`;
  };
  const header = (label: string, key: SortKey | null) => {
    const th = el("th", key ? { "data-sort": key, class: "sortable" } : {}, label);
    if (key) th.addEventListener("click", () => {
      descending = sortKey === key ? !descending : key === "return";
      sortKey = key;
      render();
    });
    return th;
  };
  filter.addEventListener("input", render);
  const table = el(
    "table",
    { "data-testid": "subaccounts" },
    el("thead", {}, el("tr", {}, header("id", "id"), header("status", "status"), header("challenge", "state"), header("return", "return"), header("max drawdown", "drawdown"), header("toward +3% / 6%", null), header("size", null), header("created", null))),
    tbody,
  );
  render();
  host.replaceChildren(el("div", { class: "toolbar" }, filter, count), table);
  return (fresh) => {
    rows = build(fresh);
    render();
  };
}
