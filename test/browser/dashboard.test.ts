// The dashboard in real headless Chromium (Debian's /usr/bin/chromium through playwright-core):
// a devnet node with an entity of 500 subaccounts, some trading; each view is opened and what it
// shows is checked against the API; sign-in uses a development key in the browser; a subaccount
// is followed from the entity table to its charts; live blocks arrive without a reload; a stopped
// node leaves the last data on screen, marked stale. Screenshots go to test-results/.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_DIST } from "../../src/api/routes/dashboard.ts";
import { RateLimits } from "../../src/api/rate-limit.ts";
import { buildServer } from "../../src/api/server.ts";
import { BlockProducer } from "../../src/node/block-producer.ts";
import { PropnetNode } from "../../src/node/node.ts";
import { devnetWeights, WeightSetter } from "../../src/node/weight-setter.ts";
import { alpha, percent, tao, time } from "../../dashboard/src/format.ts";
import { type Answer, api, devSigners, listen, type Signer } from "../support/http.ts";

/** Performance is measured (printed, in the closing note), not asserted: this only says "usable at all". */
const USABLE_WITHIN_MS = 5_000;
const ROOT_DIR = fileURLToPath(new URL("../../", import.meta.url));
const SHOTS = join(ROOT_DIR, "test-results");
const CHROMIUM = "/usr/bin/chromium";
const SUBACCOUNTS = 500;
const TAO_RAO = 1_000_000_000n;
const TRADERS = 12;
/** Short, so that an epoch runs and the validator sets weights during setup. */
const TEMPO = 5;

let dir: string;
let node: PropnetNode;
let producer: BlockProducer;
let app: FastifyInstance;
let base = "";
let browser: BrowserContext;
let page: Page;
let keys: Record<"Alice" | "Bob" | "Charlie", Signer>;
/** What the first view took to become usable, measured in the page (ms from navigation start). */
let firstViewMs = 0;
/** What the page reported against the CSP, and its uncaught errors, over the whole run: none expected. */
const cspViolations: string[] = [];
const pageErrors: string[] = [];

const { get, post } = api(() => base);

const must = (a: Answer, status: number, what: string): Answer => {
  if (a.status !== status) throw new Error(`setup: ${what}: ${a.status} ${a.text}`);
  return a;
};

/** Builds the app when the build output is missing or older than its sources (`prepare` not run, or sources edited since). */
function ensureBuilt(): void {
  const index = join(DASHBOARD_DIST, "index.html");
  const sources = join(ROOT_DIR, "dashboard");
  const newest = Math.max(...[sources, join(sources, "src")].flatMap((d) => readdirSync(d).map((f) => statSync(join(d, f)).mtimeMs)));
  if (existsSync(index) && statSync(index).mtimeMs >= newest) return;
  execFileSync(process.execPath, [join(ROOT_DIR, "node_modules/vite/bin/vite.js"), "build", "--config", join(ROOT_DIR, "dashboard/vite.config.ts")], { cwd: ROOT_DIR, stdio: "pipe" });
}

let priceTs = Date.now() - 60_000;
const prices = (btc: number) => post("/v1/prices", keys.Alice, { prices: [{ trade_pair: "BTCUSD", price: btc, ts_ms: (priceTs += 200) }, { trade_pair: "ETHUSD", price: btc / 25, ts_ms: priceTs }] });

beforeAll(async () => {
  ensureBuilt();
  mkdirSync(SHOTS, { recursive: true });
  keys = await devSigners(["Alice", "Bob", "Charlie"] as const);
  dir = mkdtempSync(join(tmpdir(), "propnet-browser-"));
  node = await PropnetNode.open({
    dataDir: dir,
    genesis: [keys.Alice, keys.Bob, keys.Charlie].map((k) => ({ owner: k.address, amount_rao: 1_000_000n * TAO_RAO })),
    chainGenesis: { root: keys.Alice.address, subnets: [{ netuid: 1, ownerHotkey: keys.Alice.address, ownerColdkey: keys.Alice.address, tempo: TEMPO, registerOwner: true, validators: [{ hotkey: keys.Bob.address, coldkey: keys.Bob.address, stake_rao: 1_000n * TAO_RAO }] }] },
  });
  producer = new BlockProducer(node, 0);
  producer.start();
  app = buildServer({ node: () => node, producer: () => producer, root: keys.Alice.address, startupStatus: () => "starting", version: "test", limits: new RateLimits({ enabled: false }) });
  base = await listen(app);

  // //Charlie: an entity of 500 subaccounts; a few of them trade through a rally and a slide.
  const charlie = keys.Charlie;
  must(await post("/v1/chain/extrinsics", keys.Bob, { call: "subtensor.burned_register", args: { netuid: 1, hotkey: charlie.address } }), 200, "register");
  must(await post("/v1/chain/extrinsics", keys.Bob, { call: "collateral.deposit", args: { hotkey: charlie.address, amount_rao: (5_000n * TAO_RAO).toString() } }), 200, "deposit");
  must(await post("/v1/chain/extrinsics", keys.Bob, { call: "subtensor.add_stake", args: { hotkey: charlie.address, netuid: 1, amount_rao: (100n * TAO_RAO).toString() } }), 200, "stake");
  must(await post("/v1/entities", charlie, { max_subaccounts: SUBACCOUNTS }), 201, "entity");
  const batch = 25;
  for (let i = 0; i < SUBACCOUNTS; i += batch) {
    await Promise.all(Array.from({ length: batch }, () => post(`/v1/entities/${charlie.address}/subaccounts`, charlie, {}).then((a) => must(a, 201, "subaccount"))));
  }
  must(await prices(50_000), 200, "prices");
  for (let id = 0; id < TRADERS; id++) {
    must(await post("/v1/orders", charlie, { subaccount_id: id, trade_pair: "BTCUSD", order_type: id % 3 === 0 ? "SHORT" : "LONG", leverage: 0.1 + 0.1 * (id % 4) }), 201, "order");
  }
  for (const btc of [50_500, 51_000, 51_500, 51_000, 50_000, 48_500, 49_000, 50_200]) must(await prices(btc), 200, "prices");
  must(await post("/v1/orders", charlie, { subaccount_id: 1, trade_pair: "BTCUSD", order_type: "FLAT" }), 201, "flat");
  // The node's validator (//Bob here) scores and sets weights, as `propnet serve` does once per tempo.
  const round = await new WeightSetter(node, devnetWeights(producer), keys.Bob.address, 12_000, () => undefined).setNow();
  if (!round.set) throw new Error(`setup: weights not set: ${JSON.stringify(round)}`);

  // A fresh profile (--user-data-dir) each run: playwright passes it for a persistent context.
  browser = await chromium.launchPersistentContext(join(dir, "chromium"), {
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1200, height: 900 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await producer?.stop();
  await node?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const text = async (testid: string) => (await page.getByTestId(testid).first().textContent())?.trim() ?? "";

describe("dashboard in Chromium", () => {
  it("serves the built app with a strict CSP, a revalidated page and immutable hashed assets", async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const csp = index.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await index.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1] ?? "";
    const asset = await fetch(`${base}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect(asset.headers.get("content-type")).toContain("javascript");
  });

  it("validator view: head, subnets, invariants and events as the API says, usable at once", async () => {
    await page.goto(`${base}/#/`);
    await page.waitForSelector('main[data-view="validator"]');
    firstViewMs = await page.evaluate(() => performance.now());
    // Page code as strings: the repo's tsconfig has no DOM types.
    const timing = (await page.evaluate('(() => { const n = performance.getEntriesByType("navigation")[0]; return { response: n.responseEnd, domContentLoaded: n.domContentLoadedEventEnd }; })()')) as { response: number; domContentLoaded: number };
    console.log(`first view usable after ${firstViewMs.toFixed(0)} ms (page received ${timing.response.toFixed(0)} ms, DOMContentLoaded ${timing.domContentLoaded.toFixed(0)} ms)`);
    // The figure (well under 1 s on a quiet machine) is printed and reported; the test asserts only
    // that the view becomes usable at all in reasonable time, since a loaded CI machine is noisy.
    expect(firstViewMs).toBeLessThan(USABLE_WITHIN_MS);
    const head = (await get("/v1/chain/head")).json;
    expect(Number(await text("head-block"))).toBeGreaterThanOrEqual(head.block);
    expect(await text("head-issuance")).toBe(tao(head.total_issuance_rao));
    const subnet = (await get("/v1/chain/subnets")).json.subnets[0];
    const row = page.getByTestId("subnets").locator("tbody tr").first();
    await expect.poll(async () => row.textContent()).toContain(tao(subnet.tao_in_rao));
    expect(await row.textContent()).toContain(alpha(subnet.alpha_in_rao));
    const health = (await get("/healthz")).json;
    await expect.poll(async () => text("health")).toBe([`Node ${health.status}`, health.role, "version test", "no problems reported"].filter(Boolean).join(" · "));
    const btc = (await get("/v1/prices")).json.prices.BTCUSD;
    await expect.poll(async () => page.getByTestId("prices").locator("tbody tr").first().textContent()).toBe(`BTCUSD${btc.price}${time(btc.ts_ms)}`);
    const invariants = (await get("/v1/chain/invariants")).json.invariants as Array<{ ok: boolean }>;
    await expect.poll(async () => text("invariants-summary")).toContain(`all ${invariants.length} hold`);
    expect(await page.getByTestId("invariants").locator("tbody tr").count()).toBe(invariants.length);
    // Events in words and TAO, not JSON: the stake //Bob added for //Charlie.
    await expect.poll(async () => text("events")).toContain("StakeAdded");
    const events = await text("events");
    expect(events).toContain("100.0000 TAO");
    expect(events).toContain("Charlie");
    expect(events).not.toContain("{\"");
    const weights = (await get("/v1/weights")).json;
    await expect.poll(async () => text("weights-block")).toBe(`Set at block ${weights.set_at_block} on subnet 1: ${weights.weights.length} uids.`);
    expect(await page.getByTestId("weights").locator("tbody tr").count()).toBe(weights.weights.length);
  });

  it("live: a new block appears without a reload", async () => {
    const before = Number(await text("head-block"));
    await expect.poll(async () => page.locator("#live").textContent()).toBe("live");
    must(await post("/v1/chain/extrinsics", keys.Bob, { call: "balances.transfer", args: { dest: keys.Alice.address, amount_rao: "1000000000" } }), 200, "transfer");
    await expect.poll(async () => Number(await text("head-block")), { timeout: 5_000 }).toBeGreaterThan(before);
    await expect.poll(async () => text("events"), { timeout: 5_000 }).toContain("Transfer");
    must(await prices(50_321.5), 200, "prices");
    await expect.poll(async () => text("prices"), { timeout: 5_000 }).toContain("50321.5");
    // A few more blocks, so the issuance chart (collected in the page) has a line.
    for (let i = 0; i < 8; i++) {
      must(await post("/v1/chain/extrinsics", keys.Bob, { call: "balances.transfer", args: { dest: keys.Charlie.address, amount_rao: `${(i + 1) * 250_000_000}` } }), 200, "transfer");
      await new Promise((r) => setTimeout(r, 150));
    }
    await expect.poll(async () => Number(await text("head-block")), { timeout: 5_000 }).toBe((await get("/v1/chain/head")).json.block);
    await page.screenshot({ path: join(SHOTS, "dashboard-validator.png"), fullPage: true });
    await page.screenshot({ path: join(SHOTS, "dashboard-readme.png") }); // the README's picture (docs/dashboard.png)
  });

  it("entity view: sign in with a development key, 500 subaccounts sortable and filterable", async () => {
    await page.goto(`${base}/#/entity`);
    await page.getByTestId("dev-key").selectOption("//Charlie");
    await page.getByTestId("signin-dev").click();
    await page.waitForSelector('[data-testid="subaccounts"] tbody tr');
    const entity = (await get(`/v1/entities/${keys.Charlie.address}`, keys.Charlie)).json.entity;
    expect(await page.getByTestId("subaccount-rows").locator("tr").count()).toBe(SUBACCOUNTS);
    expect(await text("sub-count")).toBe(`${SUBACCOUNTS} of ${SUBACCOUNTS} subaccounts`);
    expect(await text("entity-free")).toBe(tao(entity.collateral.free_rao));
    expect(await text("entity-reserved")).toBe(tao(entity.collateral.reserved_rao));
    expect(await text("entity-active")).toBe(`${SUBACCOUNTS} of ${SUBACCOUNTS}`);
    const ledger = (await get(`/v1/entities/${keys.Charlie.address}/ledger`, keys.Charlie)).json;
    expect(await text("entity-emission")).toBe(alpha(ledger.attribution.paid_alpha_rao));
    expect(ledger.attribution.paid_alpha_rao).not.toBe("0"); // the epochs in setup paid the entity
    // Sorting by return puts the best trader first, as the API ranks them.
    const subs = entity.subaccounts as Array<{ subaccount_id: number; challenge: { return: number } }>;
    const best = [...subs].sort((a, b) => b.challenge.return - a.challenge.return || a.subaccount_id - b.subaccount_id)[0];
    // Sorting 500 rows, timed in the page (the handler reorders the existing rows synchronously).
    const sortMs = (await page.evaluate(`(() => { const start = performance.now(); document.querySelector('th[data-sort="return"]').click(); return performance.now() - start; })()`)) as number;
    console.log(`sorting ${SUBACCOUNTS} rows: ${sortMs.toFixed(1)} ms in the page`);
    expect(sortMs).toBeLessThan(1_000);
    const first = page.getByTestId("subaccount-rows").locator("tr").first();
    expect(await first.getAttribute("data-id")).toBe(String(best?.subaccount_id));
    expect(await first.textContent()).toContain(percent(best?.challenge.return));
    await page.getByTestId("sub-filter").fill("42");
    expect(await page.getByTestId("subaccount-rows").locator("tr").count()).toBe(subs.filter((s) => String(s.subaccount_id).includes("42")).length);
    await page.getByTestId("sub-filter").fill("");
    await page.screenshot({ path: join(SHOTS, "dashboard-entity.png") });
    // Opened afresh (signed in): the table of 500 rows is there well within a second.
    await page.reload();
    await page.waitForFunction(`document.querySelectorAll('[data-testid="subaccount-rows"] tr').length === ${SUBACCOUNTS}`);
    const entityMs = await page.evaluate(() => performance.now());
    console.log(`entity view with ${SUBACCOUNTS} subaccounts usable after ${entityMs.toFixed(0)} ms`);
    expect(entityMs).toBeLessThan(USABLE_WITHIN_MS);
  });

  it("follows a subaccount from the entity table to its equity and drawdown charts", async () => {
    await page.getByTestId("sub-link-0").click();
    await page.waitForSelector('main[data-view="subaccount"]');
    const synthetic = `${keys.Charlie.address}_0`;
    const detail = (await get(`/v1/subaccounts/${synthetic}`, keys.Charlie)).json;
    expect(await text("sub-return")).toBe(percent(detail.subaccount.challenge.return));
    expect(await text("sub-drawdown")).toBe(percent(detail.subaccount.challenge.max_drawdown, false));
    expect(await page.getByTestId("positions").locator("tbody tr").count()).toBe(detail.positions.length);
    expect(await page.getByTestId("orders").locator("tbody tr").count()).toBeGreaterThan(0);
    expect(await page.getByTestId("equity-chart").locator("canvas").count()).toBe(1);
    expect(await page.getByTestId("drawdown-chart").locator("canvas").count()).toBe(1);
    expect(await text("elimination")).toBe("Not eliminated.");
    await page.screenshot({ path: join(SHOTS, "dashboard-subaccount.png"), fullPage: true });
  });

  it("keeps the last data on screen, marked stale, when the node is unreachable", async () => {
    await page.goto(`${base}/#/`);
    await page.waitForSelector('main[data-view="validator"]');
    const block = await text("head-block");
    await app.close();
    await expect.poll(async () => page.locator("#stale").isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await text("head-block")).toBe(block);
    expect(await page.locator("#stale").textContent()).toContain("showing the last data");
    await page.screenshot({ path: join(SHOTS, "dashboard-stale.png") });
    expect(cspViolations).toEqual([]);
    expect(pageErrors, pageErrors.join("\n")).toEqual([]);
  });
});
