import type { KeyringPair } from "@polkadot/keyring/types";
import { epistulaHeaders } from "../epistula/epistula.ts";

/**
 * A client for the propnet HTTP API (API.md), signing with Epistula v2. HTTP errors are answers,
 * not exceptions: every call resolves with the status and body; only an unreachable server throws.
 */

// ---- API shapes (API.md) --------------------------------------------------------------------------

export interface ApiError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface Challenge {
  state: "in_challenge" | "passed" | "failed";
  started_at_ms: number;
  ends_at_ms: number;
  return: number;
  max_drawdown: number;
}

export interface Subaccount {
  entity_hotkey: string;
  subaccount_id: number;
  subaccount_uuid: string;
  synthetic_hotkey: string;
  status: "active" | "eliminated";
  created_at_ms: number;
  eliminated_at_ms: number | null;
  account_size_usd: number;
  collateral_reserved_rao: string;
  challenge: Challenge;
}

export interface Entity {
  entity_hotkey: string;
  registered_at_ms: number;
  max_subaccounts: number;
  next_subaccount_id: number;
  active_subaccounts: number;
  eliminated_subaccounts: number;
  frozen: boolean;
  collateral: { deposited_rao: string; free_rao: string; reserved_rao: string; slashed_rao: string } | null;
  subaccounts: Subaccount[];
}

export type OrderType = "LONG" | "SHORT" | "FLAT";

export interface Order {
  order_uuid: string;
  synthetic_hotkey: string;
  trade_pair: string;
  order_type: OrderType;
  leverage: number;
  price: number;
  processed_ms: number;
  src: "organic" | "elimination" | "admin";
}

export interface Position {
  position_uuid: string;
  synthetic_hotkey: string;
  trade_pair: string;
  is_closed: boolean;
  net_leverage: number;
  average_entry_price: number;
  realized_pnl_usd: number;
  unrealized_pnl_usd: number;
  /** Fees charged so far: the spread on every order, the carry on open leverage. */
  spread_fee_usd: number;
  carry_fee_usd: number;
  return: number;
  opened_at_ms: number;
  closed_at_ms: number | null;
  orders: Order[];
}

export interface Elimination {
  reason: string;
  max_drawdown: number;
  return: number;
  price: number;
  at_ms: number;
  slashed_rao: string;
}

export interface SubaccountDetail {
  subaccount: Subaccount;
  positions: Position[];
  ledger: { return: number; max_drawdown: number; checkpoints: unknown[] };
  elimination: Elimination | null;
}

export interface Health {
  status: "ok" | "degraded";
  block: number;
  seq: number;
  stream_seq: number;
  version: string;
  problems: unknown[];
  /** Peer sync: who the mothership is, this node's role, and each peer's stream and lag. */
  sync?: {
    mothership: string | null;
    role: "mothership" | "follower";
    conflicts: number;
    pending_eliminations: number;
    peers: Array<{ url: string; stream_seq: number | null; lag: number | null; reachable: boolean; last_error: string | null }>;
  };
}

export interface ChainHead {
  block: number;
  timestamp_ms: number;
  total_issuance_rao: string;
  block_emission_rao: string;
}

export interface ChainEvent {
  block: number;
  type: string;
  data: unknown;
}

export interface OrderRequest {
  subaccount_id?: number;
  trade_pair: string;
  order_type: OrderType;
  leverage?: number;
  order_uuid?: string;
}

export interface TradePairInfo {
  id: string;
  category: "crypto" | "forex" | "valuation";
  min_leverage: number;
  max_leverage: number;
  fee: number;
  carry_per_year: number;
  tradable: boolean;
}

export interface PriceTick {
  trade_pair: string;
  price: number;
  ts_ms: number;
}

/** A success carries the typed body; a failure the error envelope (or one made up from the status). */
export type ClientResponse<T = unknown> =
  | { ok: true; status: number; headers: Headers; body: T }
  | { ok: false; status: number; headers: Headers; body: unknown; error: ApiError };

export interface RequestOptions {
  idempotencyKey?: string;
  /** Sign with Epistula v2; defaults to whether the client has a signer. */
  signed?: boolean;
}

export interface PropnetClientOptions {
  baseUrl: string;
  signer?: KeyringPair;
  /** Per request, connection to last byte; chain extrinsics wait for a block. Default 60 s. */
  timeoutMs?: number;
}

/** The server could not be reached or did not answer (connection refused, DNS, timeout, reset). */
export class ClientError extends Error {
  override readonly name = "ClientError";
}

// ---- the client --------------------------------------------------------------------------------------

const seg = encodeURIComponent;

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

function asApiError(status: number, body: unknown): ApiError {
  const error = (body as { error?: Partial<ApiError> } | null)?.error;
  if (error && typeof error.code === "string") {
    return { code: error.code, message: typeof error.message === "string" ? error.message : "", details: error.details };
  }
  // Not our envelope (a proxy, say): name the status.
  return { code: `HTTP_${status}`, message: typeof body === "string" && body ? body.slice(0, 200) : `HTTP status ${status}` };
}

export class PropnetClient {
  readonly baseUrl: string;
  readonly signer: KeyringPair | undefined;
  readonly #timeoutMs: number;
  /** Server clock minus ours, learnt from a SIGNATURE_EXPIRED answer. */
  #skewMs = 0;

  constructor(opts: PropnetClientOptions) {
    this.baseUrl = new URL(opts.baseUrl).href.replace(/\/+$/, "");
    this.signer = opts.signer;
    this.#timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /**
   * One request; `body` is sent as JSON (stringified once: those bytes are what is signed). Resolves
   * with any HTTP status. A signed request refused as SIGNATURE_EXPIRED is signed again once with
   * the server's clock (an expired request consumes nothing, so this is safe).
   */
  async request(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<ClientResponse> {
    const raw = body === undefined ? "" : JSON.stringify(body);
    const signed = opts.signed ?? this.signer !== undefined;
    if (signed && !this.signer) throw new TypeError(`${method} ${path} must be signed: give PropnetClient a signer`);
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {};
      if (body !== undefined) headers["content-type"] = "application/json";
      if (opts.idempotencyKey !== undefined) headers["idempotency-key"] = opts.idempotencyKey;
      // Signed just before sending, so the timestamp is as fresh as it can be.
      if (signed) Object.assign(headers, epistulaHeaders(this.signer as KeyringPair, raw, Date.now() + this.#skewMs));
      const response = await this.#send(method, path, headers, body === undefined ? undefined : raw);
      if (signed && attempt === 0 && !response.ok && response.error.code === "SIGNATURE_EXPIRED") {
        const serverTime = response.error.details?.server_time_ms;
        if (typeof serverTime === "number") {
          this.#skewMs = serverTime - Date.now();
          continue;
        }
      }
      return response;
    }
  }

  async #send(method: string, path: string, headers: Record<string, string>, raw: string | undefined): Promise<ClientResponse> {
    const url = `${this.baseUrl}${path}`;
    try {
      const response = await fetch(url, { method, headers, body: raw, signal: AbortSignal.timeout(this.#timeoutMs) });
      const text = await response.text();
      let parsed: unknown = text === "" ? null : text;
      try {
        if (text !== "") parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      if (response.ok) return { ok: true, status: response.status, headers: response.headers, body: parsed };
      return { ok: false, status: response.status, headers: response.headers, body: parsed, error: asApiError(response.status, parsed) };
    } catch (error) {
      throw new ClientError(`cannot reach ${this.baseUrl} (${method} ${path}): ${describeFetchError(error, this.#timeoutMs)}`, {
        cause: error,
      });
    }
  }

  #get<T>(path: string, signed: boolean): Promise<ClientResponse<T>> {
    return this.request("GET", path, undefined, { signed }) as Promise<ClientResponse<T>>;
  }

  #post<T>(path: string, body: unknown, opts: RequestOptions = {}): Promise<ClientResponse<T>> {
    return this.request("POST", path, body, { signed: true, ...opts }) as Promise<ClientResponse<T>>;
  }

  /** Registers the signer as an entity. */
  registerEntity(maxSubaccounts?: number, opts?: RequestOptions): Promise<ClientResponse<{ entity: Entity }>> {
    return this.#post("/v1/entities", maxSubaccounts === undefined ? {} : { max_subaccounts: maxSubaccounts }, opts);
  }

  getEntity(hotkey: string): Promise<ClientResponse<{ entity: Entity }>> {
    return this.#get(`/v1/entities/${seg(hotkey)}`, true);
  }

  createSubaccount(entityHotkey: string, accountSizeUsd?: number, opts?: RequestOptions): Promise<ClientResponse<{ subaccount: Subaccount }>> {
    const body = accountSizeUsd === undefined ? {} : { account_size_usd: accountSizeUsd };
    return this.#post(`/v1/entities/${seg(entityHotkey)}/subaccounts`, body, opts);
  }

  listSubaccounts(
    entityHotkey: string,
    filter: { status?: string; challenge_state?: string; cursor?: string; limit?: number } = {},
  ): Promise<ClientResponse<{ subaccounts: Subaccount[]; next_cursor: string | null }>> {
    return this.#get(`/v1/entities/${seg(entityHotkey)}/subaccounts${query(filter)}`, true);
  }

  /** Public: active, eliminated or unknown. */
  subaccountStatus(synthetic: string): Promise<ClientResponse<{ synthetic_hotkey: string; status: "active" | "eliminated" | "unknown" }>> {
    return this.#get(`/v1/subaccounts/${seg(synthetic)}/status`, false);
  }

  getSubaccount(synthetic: string): Promise<ClientResponse<SubaccountDetail>> {
    return this.#get(`/v1/subaccounts/${seg(synthetic)}`, true);
  }

  eliminate(synthetic: string, reason?: string, opts?: RequestOptions): Promise<ClientResponse<{ subaccount: Subaccount }>> {
    return this.#post(`/v1/subaccounts/${seg(synthetic)}/eliminate`, reason === undefined ? {} : { reason }, opts);
  }

  placeOrder(order: OrderRequest, opts?: RequestOptions): Promise<ClientResponse<{ order: Order; position: Position; duplicate?: boolean }>> {
    return this.#post("/v1/orders", order, opts);
  }

  /** Public: every trade pair with its leverage range and fees. */
  tradePairs(): Promise<ClientResponse<{ trade_pairs: TradePairInfo[] }>> {
    return this.#get("/v1/trade-pairs", false);
  }

  time(): Promise<ClientResponse<{ server_time_ms: number }>> {
    return this.#get("/v1/time", false);
  }

  health(): Promise<ClientResponse<Health>> {
    return this.#get("/healthz", false);
  }

  chainHead(): Promise<ClientResponse<ChainHead>> {
    return this.#get("/v1/chain/head", false);
  }

  /** A devnet extrinsic signed by the client's key; answered once its block is committed. */
  chainExtrinsic(
    call: string,
    args: Record<string, unknown>,
    opts?: RequestOptions,
  ): Promise<ClientResponse<{ included_in_block: number; events: ChainEvent[] }>> {
    return this.#post("/v1/chain/extrinsics", { call, args }, opts);
  }

  /** Oracle or root. */
  postPrices(prices: PriceTick[], opts?: RequestOptions): Promise<ClientResponse<{ accepted: number; held: number; skipped: number }>> {
    return this.#post("/v1/prices", { prices }, opts);
  }
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError") return `no answer within ${timeoutMs} ms`;
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}
