// Every call goes to this node's public API (same origin); failures never throw, they mark the data stale.

export type Answer<T> = { ok: true; data: T } | { ok: false; code: string; message: string; status: number };

type StaleListener = (stale: boolean, since: number | null) => void;
const listeners: StaleListener[] = [];
let staleSince: number | null = null;

export function onStale(listener: StaleListener): void {
  listeners.push(listener);
}

function setStale(stale: boolean): void {
  const was = staleSince !== null;
  if (stale === was) return;
  staleSince = stale ? Date.now() : null;
  for (const l of listeners) l(stale, staleSince);
}

export async function request<T>(method: "GET" | "POST", path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer<T>> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: { accept: "application/json", ...headers },
      body,
      cache: "no-store",
      credentials: "same-origin",
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    setStale(true);
    return { ok: false, code: "NETWORK", message: `could not reach the node (${e instanceof Error ? e.message : String(e)})`, status: 0 };
  }
  setStale(false);
  const parsed: unknown = await response.json().catch(() => null);
  if (response.ok && parsed !== null && typeof parsed === "object") return { ok: true, data: parsed as T };
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return {
    ok: false,
    code: typeof error?.code === "string" ? error.code : `HTTP_${response.status}`,
    message: typeof error?.message === "string" ? error.message : "unexpected response from the node",
    status: response.status,
  };
}

export const get = <T>(path: string) => request<T>("GET", path);

// ---- the API's shapes (API.md) ------------------------------------------------------------------

export interface Head {
  block: number;
  timestamp_ms: number;
  total_issuance_rao: string;
  block_emission_rao: string;
}
export interface Prices {
  prices: Record<string, { price: number; ts_ms: number }>;
  held: Array<{ trade_pair: string; price: number; ts_ms: number; last_price: number }>;
}
export interface Subnet {
  netuid: number;
  tempo: number;
  owner_hotkey: string;
  tao_in_rao: string;
  alpha_in_rao: string;
  alpha_out_rao: string;
  price: number;
  emission_paused: boolean;
  pending_server_rao: string;
  pending_validator_rao: string;
  pending_owner_cut_rao: string;
  blocks_since_last_step: number;
}
export interface Invariant {
  name: string;
  scope: string;
  ok: boolean;
  expected: string;
  actual: string;
}
export interface Weight {
  uid: number;
  hotkey: string;
  weight: number;
  bucket: string;
  owed_usd: number;
  paid_usd: number;
  remaining_usd: number;
}
export interface Challenge {
  state: string;
  started_at_ms: number;
  ends_at_ms: number;
  return: number;
  max_drawdown: number;
}
export interface Subaccount {
  entity_hotkey: string;
  subaccount_id: number;
  synthetic_hotkey: string;
  status: string;
  created_at_ms: number;
  eliminated_at_ms: number | null;
  account_size_usd: number;
  collateral_reserved_rao: string;
  challenge: Challenge;
}
export interface Entity {
  entity_hotkey: string;
  max_subaccounts: number;
  active_subaccounts: number;
  eliminated_subaccounts: number;
  frozen: boolean;
  collateral: { deposited_rao: string; free_rao: string; reserved_rao: string; slashed_rao: string } | null;
  subaccounts: Subaccount[];
}
export interface DebtCheckpoint {
  ts_ms: number;
  emission_alpha_rao: string;
  emission_tao_rao: string;
  emission_usd: number;
  realized_pnl_usd: number;
  unrealized_pnl_usd: number;
  fees_usd: number;
  portfolio_return: number;
  max_drawdown: number;
  status: string;
  owed_usd: number;
  paid_usd: number;
}
export interface PerfCheckpoint {
  ts_ms: number;
  return: number;
  max_drawdown: number;
  realized_pnl_usd: number;
  unrealized_pnl_usd: number;
}
export interface Order {
  order_uuid: string;
  trade_pair: string;
  order_type: string;
  leverage: number;
  price: number;
  processed_ms: number;
  src: string;
}
export interface Position {
  position_uuid: string;
  trade_pair: string;
  is_closed: boolean;
  net_leverage: number;
  average_entry_price: number;
  realized_pnl_usd: number;
  unrealized_pnl_usd: number;
  return: number;
  opened_at_ms: number;
  closed_at_ms: number | null;
  orders: Order[];
}
export interface Elimination {
  reason: string;
  max_drawdown: number;
  return: number;
  price: number | null;
  at_ms: number;
  slashed_rao: string;
}
