// The dashboard at GET / over real HTTP: a real node on a temp dir, the page and its script served
// with a strict CSP, and every API path the script calls checked against /openapi.json.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Keyring } from "@polkadot/keyring";
import { cryptoWaitReady } from "@polkadot/util-crypto";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../src/api/server.ts";
import { PropnetNode } from "../../src/node/node.ts";

const TAO_RAO = 1_000_000_000n;
const DASHBOARD_JS = fileURLToPath(new URL("../../src/api/dashboard/dashboard.js", import.meta.url));

let dir: string;
let node: PropnetNode;
let app: FastifyInstance;
let base: string;
let bob: string;

beforeAll(async () => {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: "sr25519", ss58Format: 42 });
  const alice = keyring.addFromUri("//Alice").address;
  bob = keyring.addFromUri("//Bob").address;
  dir = mkdtempSync(join(tmpdir(), "propnet-dashboard-"));
  node = await PropnetNode.open({
    dataDir: dir,
    genesis: [alice, bob].map((owner) => ({ owner, amount_rao: 1_000_000n * TAO_RAO })),
    chainGenesis: { root: alice, subnets: [{ netuid: 1, ownerHotkey: alice, ownerColdkey: alice }] },
  });
  app = buildServer({ node: () => node, root: alice, startupStatus: () => "starting", version: "test" });
  await app.listen({ port: 0, host: "127.0.0.1" });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await node?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, { headers });
  return { res, text: await res.text() };
}

/** The script's API paths: every string literal starting with "/" (API calls go through api("/...")). */
function scriptPaths(js: string): string[] {
  return [...js.matchAll(/["'`](\/[^"'`\s]*)["'`]/g)].map((m) => m[1] as string);
}

/** "/v1/subaccounts/${encodeURIComponent(x)}/status?a=${b}" -> "/v1/subaccounts/{}/status". */
function normalize(path: string): string {
  return path.replace(/\$\{[^}]*\}/g, "{}").split("?")[0] as string;
}

/** Does an OpenAPI path ("/v1/chain/subnets/{netuid}") match a script path ("/v1/chain/subnets/{}" or ".../1")? */
function matches(openapiPath: string, scriptPath: string): boolean {
  const pattern = new RegExp(`^${openapiPath.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, "\\$&")).join("[^/]+")}$`);
  return pattern.test(scriptPath);
}

describe("dashboard", () => {
  it("GET / is the page: 200 text/html, no-cache, a strict same-origin CSP covering its inline style", async () => {
    const { res, text } = await get("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html; charset=utf-8/);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(csp).not.toMatch(/https?:|\*|data:/);
    // The one inline <style> is allowed by its hash and nothing else inline is there to allow.
    const style = /<style>([\s\S]*?)<\/style>/.exec(text)?.[1] ?? "";
    expect(style.length).toBeGreaterThan(0);
    expect(csp).toContain(`'sha256-${createHash("sha256").update(style, "utf8").digest("base64")}'`);
    expect(text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline scripts
    expect(text).not.toMatch(/\son[a-z]+\s*=/i); // no inline event handlers
    expect(text).not.toMatch(/\sstyle\s*=/i); // no style attributes (the CSP would block them)
    expect(text).toContain('<script type="module" src="/dashboard.js"></script>');
  });

  it("serves the script with a JavaScript content type; revalidation answers 304", async () => {
    const { res, text } = await get("/dashboard.js");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/javascript; charset=utf-8/);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(text).toBe(readFileSync(DASHBOARD_JS, "utf8"));
    const etag = res.headers.get("etag") ?? "";
    expect(etag).not.toBe("");
    const again = await get("/dashboard.js", { "if-none-match": etag });
    expect(again.res.status).toBe(304);
    expect(again.text).toBe("");
  });

  it("references only same-origin URLs", async () => {
    const html = (await get("/")).text;
    const js = (await get("/dashboard.js")).text;
    for (const text of [html, js]) {
      expect(text).not.toMatch(/https?:\/\//i);
      expect(text).not.toMatch(/["'(]\s*\/\//); // no protocol-relative URLs
      expect(text).not.toMatch(/@import|url\(/i);
    }
    const refs = [...html.matchAll(/\b(?:src|href|action)\s*=\s*"([^"]*)"/g)].map((m) => m[1] as string);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(ref).toMatch(/^\/(?!\/)/);
  });

  it("calls only API paths that exist in /openapi.json (as GETs), and they answer", async () => {
    const js = (await get("/dashboard.js")).text;
    // One fetch, inside api(): every call goes through a literal path the regex below sees.
    expect(js.match(/\bfetch\(/g)).toHaveLength(1);
    const paths = [...new Set(scriptPaths(js).map(normalize))];
    expect(paths).toEqual(
      expect.arrayContaining(["/healthz", "/v1/chain/head", "/v1/chain/subnets", "/v1/chain/subnets/{}", "/v1/chain/events", "/v1/prices", "/v1/trade-pairs", "/v1/subaccounts/{}/status"]),
    );
    const spec = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    for (const path of paths) {
      const found = Object.keys(spec.paths).filter((p) => matches(p, path) && spec.paths[p]?.get !== undefined);
      expect(found, `the dashboard calls ${path}, which is no GET route in /openapi.json`).not.toHaveLength(0);
    }
    // The dashboard's own routes stay out of the API description.
    expect(Object.keys(spec.paths)).not.toContain("/");
    expect(Object.keys(spec.paths)).not.toContain("/dashboard.js");
    // And each answers 200 on a fresh node, with the parameters the page fills in.
    const fill = (p: string) => p.replace("/v1/chain/subnets/{}", "/v1/chain/subnets/1").replace("{}", `${bob}_0`);
    for (const path of paths) {
      const { res } = await get(`${fill(path)}${path === "/v1/chain/events" ? "?after=0&limit=500" : ""}`);
      expect(res.status, path).toBe(200);
    }
  });

  it("unknown static paths stay 404 with the error envelope", async () => {
    for (const path of ["/index.html", "/dashboard.css", "/favicon.ico", "/dashboard/index.html", "/dashboard/dashboard.js", "/dashboard.js/", "/../package.json", "/%2e%2e/package.json"]) {
      const { res, text } = await get(path);
      expect(res.status, path).toBe(404);
      const body = JSON.parse(text) as { error: { code: string; message: string } };
      expect(body.error.code, path).toBe("NOT_FOUND");
      expect(typeof body.error.message).toBe("string");
    }
  });

  it("formats rao as TAO with 9 decimals in exact string math", async () => {
    const { formatRao, shortKey, errorOf } = (await import(DASHBOARD_JS)) as {
      formatRao: (rao: unknown) => string;
      shortKey: (key: string) => string;
      errorOf: (status: number, body: unknown) => { code: string; message: string };
    };
    expect(formatRao("0")).toBe("0.000000000");
    expect(formatRao("1")).toBe("0.000000001");
    expect(formatRao("1000000000")).toBe("1.000000000");
    expect(formatRao("6001002000000000")).toBe("6,001,002.000000000");
    expect(formatRao("9007199254740993")).toBe("9,007,199.254740993"); // 2^53 + 1: not a double
    expect(formatRao("123456789012345678901234567890")).toBe("123,456,789,012,345,678,901.234567890");
    expect(formatRao("-1500000000")).toBe("-1.500000000");
    expect(formatRao("-0")).toBe("0.000000000");
    expect(formatRao("000123")).toBe("0.000000123");
    expect(formatRao(undefined)).toBe("—");
    expect(formatRao("<b>x</b>")).toBe("<b>x</b>"); // shown as text, never parsed
    expect(shortKey("5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty")).toBe("5FHneW…M694ty");
    expect(shortKey("short")).toBe("short");
    expect(errorOf(404, { error: { code: "NOT_FOUND", message: "no route" } })).toEqual({ code: "NOT_FOUND", message: "no route" });
    expect(errorOf(502, null)).toEqual({ code: "HTTP_502", message: "unexpected response from the node" });
  });
});
