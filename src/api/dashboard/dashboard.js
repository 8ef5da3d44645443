// The dashboard at GET /: plain DOM, no framework, no build step. Every API call goes through
// api() with a literal same-origin path (test/api/dashboard.test.ts checks each one against
// /openapi.json). Data is only ever rendered with textContent, never as HTML.
/* global document, fetch, AbortSignal */

export const REFRESH_MS = 5_000;
const NETUID = 1;
/** On first load, chain events are read from this many log rows before the head. */
const EVENTS_WINDOW_ROWS = 5_000;
const EVENTS_PAGE_LIMIT = 500;
const EVENTS_MAX_PAGES = 5;
const EVENTS_KEPT = 50;
const REQUEST_TIMEOUT_MS = 10_000;

// ---- pure helpers (exported for the tests) ---------------------------------------------------------

/**
 * A string of integer rao as TAO (or alpha) with all 9 decimals and grouped thousands:
 * "6001002000000000" -> "6,001,002.000000000". String math only, so any size stays exact.
 */
export function formatRao(rao) {
  if (rao === undefined || rao === null) return "—";
  const text = String(rao);
  if (!/^-?[0-9]+$/.test(text)) return text;
  const negative = text.startsWith("-");
  const digits = (negative ? text.slice(1) : text).replace(/^0+/, "").padStart(10, "0");
  const whole = digits.slice(0, -9).replace(/\B(?=([0-9]{3})+(?![0-9]))/g, ",");
  const fraction = digits.slice(-9);
  return `${negative && !/^0+$/.test(digits) ? "-" : ""}${whole}.${fraction}`;
}

/** "5FHneW…M694ty" for long keys (the full key goes in the title). */
export function shortKey(key) {
  const text = String(key ?? "");
  return text.length <= 16 ? text : `${text.slice(0, 6)}…${text.slice(-6)}`;
}

export function formatTime(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "—";
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString().replace("T", " ").replace("Z", " UTC");
}

/** The error envelope of a failed answer, or a stand-in with the same shape. */
export function errorOf(status, body) {
  const error = body !== null && typeof body === "object" ? body.error : undefined;
  if (error !== null && typeof error === "object" && typeof error.code === "string") {
    return { code: error.code, message: typeof error.message === "string" ? error.message : "" };
  }
  return { code: `HTTP_${status}`, message: "unexpected response from the node" };
}

/** GET a same-origin API path: { ok: true, data } or { ok: false, code, message }; never throws. */
export async function api(path) {
  let response;
  try {
    response = await fetch(path, {
      headers: { accept: "application/json" },
      cache: "no-store",
      credentials: "same-origin",
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (e) {
    return { ok: false, code: "NETWORK", message: `could not reach the node (${e instanceof Error ? e.message : String(e)})` };
  }
  let body;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.ok && body !== null && typeof body === "object") return { ok: true, data: body };
  return { ok: false, ...errorOf(response.status, body) };
}

// ---- DOM helpers -----------------------------------------------------------------------------------

/** An element with text content (never HTML) and attributes. */
function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  return node;
}

/** A cell: plain text, or { text, cls, title }. */
function td(cell) {
  if (cell !== null && typeof cell === "object") return el("td", cell.text, { class: cell.cls, title: cell.title });
  return el("td", cell);
}

/** columns: [{ label, num? }]; rows: [{ cells, cls? }]. */
function table(columns, rows, empty) {
  if (rows.length === 0) return el("p", empty, { class: "muted" });
  const t = el("table");
  const headRow = el("tr");
  for (const c of columns) headRow.append(el("th", c.label, { class: c.num ? "num" : undefined, scope: "col" }));
  const head = el("thead");
  head.append(headRow);
  t.append(head);
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr", undefined, { class: row.cls });
    row.cells.forEach((cell, i) => {
      const cellNode = td(cell);
      if (columns[i]?.num) cellNode.classList.add("num");
      tr.append(cellNode);
    });
    body.append(tr);
  }
  t.append(body);
  return t;
}

function definitions(pairs) {
  const dl = el("dl");
  for (const [term, value, cls] of pairs) {
    dl.append(el("dt", term));
    const dd = el("dd");
    if (value !== null && typeof value === "object" && "nodeType" in value) dd.append(value);
    else dd.textContent = String(value ?? "—");
    if (cls) dd.className = cls;
    dl.append(dd);
  }
  return dl;
}

/** Shows an answer in a section: the rendered body, or the error envelope's code and message. */
function show(sectionId, answer, render) {
  const section = document.getElementById(sectionId);
  if (!section) return;
  const error = section.querySelector(".error");
  const body = section.querySelector(".body");
  if (!answer.ok) {
    error.textContent = `${answer.code}: ${answer.message}`;
    body.replaceChildren();
    return;
  }
  try {
    const content = render(answer.data);
    error.textContent = "";
    body.replaceChildren(...(Array.isArray(content) ? content : [content]));
  } catch (e) {
    error.textContent = `BAD_RESPONSE: ${e instanceof Error ? e.message : String(e)}`;
    body.replaceChildren();
  }
}

// ---- sections --------------------------------------------------------------------------------------

function renderNode(health) {
  const status = String(health.status);
  const badge = el("span", status, { class: `badge ${status === "ok" ? "ok" : "degraded"}` });
  const list = Array.isArray(health.problems) ? health.problems : [];
  const problems = list.length === 0 ? el("p", "no problems", { class: "muted" }) : el("ul", undefined, { class: "problems" });
  for (const p of list) problems.append(el("li", p));
  return [
    definitions([
      ["status", badge],
      ["block", health.block, "mono"],
      ["seq", health.seq, "mono"],
      ["stream seq", health.stream_seq, "mono"],
      ["version", health.version, "mono"],
    ]),
    problems,
  ];
}

function renderHead(head) {
  return definitions([
    ["block", head.block, "mono"],
    ["time", formatTime(head.timestamp_ms), "mono"],
    ["total issuance", `${formatRao(head.total_issuance_rao)} TAO`, "mono"],
    ["block emission", `${formatRao(head.block_emission_rao)} TAO`, "mono"],
  ]);
}

function renderSubnets(data) {
  const rows = data.subnets.map((s) => ({
    cls: s.emission_paused ? "held" : undefined,
    cells: [
      s.netuid,
      String(s.price),
      formatRao(s.tao_in_rao),
      formatRao(s.alpha_in_rao),
      formatRao(s.alpha_out_rao),
      { text: s.emission_paused ? "paused" : "no", cls: s.emission_paused ? "bad" : undefined },
    ],
  }));
  return table(
    [
      { label: "netuid", num: true },
      { label: "price (TAO/α)", num: true },
      { label: "tao_in (TAO)", num: true },
      { label: "alpha_in (α)", num: true },
      { label: "alpha_out (α)", num: true },
      { label: "emission paused" },
    ],
    rows,
    "no subnets",
  );
}

function renderNeurons(data) {
  const rows = data.neurons.map((n) => ({
    cells: [n.uid, { text: shortKey(n.hotkey), cls: "mono", title: n.hotkey }, formatRao(n.stake_alpha_rao), String(n.incentive), n.is_entity ? "yes" : "no"],
  }));
  return table(
    [{ label: "uid", num: true }, { label: "hotkey" }, { label: "stake (α)", num: true }, { label: "incentive", num: true }, { label: "entity" }],
    rows,
    `no neurons on subnet ${NETUID}`,
  );
}

function renderPrices(data) {
  const prices = data.prices ?? {};
  const held = Array.isArray(data.held) ? data.held : [];
  const pairs = [...new Set([...Object.keys(prices), ...held.map((h) => h.trade_pair)])].sort();
  const rows = [];
  for (const pair of pairs) {
    const latest = prices[pair];
    const heldHere = held.filter((h) => h.trade_pair === pair);
    rows.push({
      cls: heldHere.length > 0 ? "held" : undefined,
      cells: [pair, latest ? String(latest.price) : "—", latest ? formatTime(latest.ts_ms) : "no accepted price", heldHere.length > 0 ? { text: "has held ticks", cls: "warn" } : ""],
    });
    for (const h of heldHere) {
      rows.push({
        cls: "held",
        cells: [{ text: `↳ ${pair}`, cls: "muted" }, String(h.price), formatTime(h.ts_ms), { text: `held: more than 20% from ${h.last_price}`, cls: "warn" }],
      });
    }
  }
  const out = [];
  if (held.length > 0) {
    out.push(el("p", `${held.length} held tick${held.length === 1 ? "" : "s"}; root applies or discards them with POST /v1/prices/held/resolve`, { class: "warn" }));
  }
  out.push(table([{ label: "pair" }, { label: "price", num: true }, { label: "time" }, { label: "" }], rows, "no prices yet"));
  return out;
}

function renderPairs(data) {
  const rows = data.trade_pairs.map((p) => ({
    cells: [p.id, p.category, String(p.min_leverage), String(p.max_leverage), String(p.fee)],
  }));
  return table(
    [{ label: "pair" }, { label: "category" }, { label: "min leverage", num: true }, { label: "max leverage", num: true }, { label: "fee", num: true }],
    rows,
    "no trade pairs",
  );
}

// ---- chain events: followed from a cursor, newest shown first ------------------------------------

const events = { cursor: null, lastBlock: -1, recent: [] };

async function refreshEvents(headSeq) {
  if (events.cursor !== null && headSeq !== null && headSeq < events.cursor) {
    // The log is shorter than where we were (a fresh data directory): start over.
    events.cursor = null;
    events.lastBlock = -1;
    events.recent = [];
  }
  if (events.cursor === null) {
    if (headSeq === null) return { ok: false, code: "UNAVAILABLE", message: "waiting for /healthz to know the log head" };
    events.cursor = Math.max(0, headSeq - EVENTS_WINDOW_ROWS);
  }
  for (let page = 0; page < EVENTS_MAX_PAGES; page++) {
    const answer = await api(`/v1/chain/events?after=${events.cursor}&limit=${EVENTS_PAGE_LIMIT}`);
    if (!answer.ok) return answer;
    if (!Array.isArray(answer.data.events)) return { ok: false, code: "BAD_RESPONSE", message: "/v1/chain/events answered without an events list" };
    // A block's events never straddle pages and blocks come in order: anything at or below the
    // last block seen was already shown (a rescan after an unknown end repeats them).
    const fresh = answer.data.events.filter((e) => e.block > events.lastBlock);
    for (const e of fresh) events.lastBlock = Math.max(events.lastBlock, e.block);
    events.recent = [...events.recent, ...fresh].slice(-EVENTS_KEPT);
    if (answer.data.next === null) {
      // At the end: /healthz's seq was read before this page, so everything up to it is seen.
      if (headSeq !== null && headSeq > events.cursor) events.cursor = headSeq;
      break;
    }
    events.cursor = answer.data.next;
  }
  return { ok: true, data: { events: events.recent } };
}

function renderEvents(data) {
  const rows = [...data.events].reverse().map((e) => {
    const json = JSON.stringify(e.data ?? {});
    return {
      cls: e.type === "CriticalInvariantViolation" || e.type === "SubnetEmissionPaused" ? "held" : undefined,
      cells: [e.block, e.type, { text: json.length > 240 ? `${json.slice(0, 240)}…` : json, cls: "mono wrap", title: json.length > 240 ? json : undefined }],
    };
  });
  return [
    table([{ label: "block", num: true }, { label: "type" }, { label: "data" }], rows, `no chain events in the last ${EVENTS_WINDOW_ROWS.toLocaleString("en")} log entries`),
  ];
}

// ---- subaccount lookup ----------------------------------------------------------------------------

let lookedUp = null;

async function lookup(synthetic) {
  // "." and ".." would be resolved away as dot segments of the URL before reaching the node.
  const answer = /^\.{1,2}$/.test(synthetic)
    ? { ok: false, code: "INVALID_SYNTHETIC_HOTKEY", message: `${synthetic} is not <entity SS58>_<id>` }
    : await api(`/v1/subaccounts/${encodeURIComponent(synthetic)}/status`);
  if (synthetic !== lookedUp) return; // a newer lookup replaced this one
  show("lookup", answer, (data) =>
    definitions([
      ["synthetic hotkey", data.synthetic_hotkey, "mono"],
      ["status", el("span", data.status, { class: `badge ${data.status === "active" ? "ok" : data.status === "eliminated" ? "bad" : "warn"}` })],
    ]),
  );
}

function installLookup() {
  const form = document.getElementById("lookup-form");
  const input = document.getElementById("lookup-input");
  if (!form || !input) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const synthetic = input.value.trim();
    if (synthetic === "") {
      lookedUp = null;
      show("lookup", { ok: true, data: null }, () => el("p", "paste a synthetic hotkey: <entity SS58>_<id>", { class: "muted" }));
      return;
    }
    lookedUp = synthetic;
    void lookup(synthetic);
  });
}

// ---- refresh loop ---------------------------------------------------------------------------------

async function refresh() {
  const [health, head, subnets, subnet, prices, pairs] = await Promise.all([
    api("/healthz"),
    api("/v1/chain/head"),
    api("/v1/chain/subnets"),
    api(`/v1/chain/subnets/${NETUID}`),
    api("/v1/prices"),
    api("/v1/trade-pairs"),
  ]);
  show("node", health, renderNode);
  show("head", head, renderHead);
  show("subnets", subnets, renderSubnets);
  show("neurons", subnet, renderNeurons);
  show("prices", prices, renderPrices);
  show("pairs", pairs, renderPairs);
  const headSeq = health.ok && Number.isSafeInteger(health.data.seq) ? health.data.seq : null;
  const chainEvents = await refreshEvents(headSeq).catch((e) => ({ ok: false, code: "BAD_RESPONSE", message: e instanceof Error ? e.message : String(e) }));
  show("events", chainEvents, renderEvents);
  if (lookedUp !== null) await lookup(lookedUp);
  const updated = document.getElementById("updated");
  if (updated) updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function loop() {
  refresh()
    .catch((e) => {
      const updated = document.getElementById("updated");
      if (updated) updated.textContent = `refresh failed: ${e instanceof Error ? e.message : String(e)}`;
    })
    .finally(() => setTimeout(loop, REFRESH_MS));
}

if (typeof document !== "undefined") {
  installLookup();
  loop();
}
