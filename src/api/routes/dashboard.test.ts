// The dashboard's static serving over fastify inject: a built app (a temp dir shaped like vite's
// output) with the strict CSP, a revalidated page, immutable hashed assets, 304s, the 404 envelope
// elsewhere, and a clear 503 when the app was never built.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installErrorEnvelope } from "../error-envelope.ts";
import { DASHBOARD_CSP, dashboardRoutes, IMMUTABLE } from "./dashboard.ts";

let dir: string;
const apps: FastifyInstance[] = [];

async function serve(from: string): Promise<FastifyInstance> {
  const app = Fastify();
  installErrorEnvelope(app);
  await app.register(dashboardRoutes, { dir: from });
  await app.ready();
  apps.push(app);
  return app;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "propnet-dashboard-dist-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), '<!doctype html><script type="module" src="/assets/index-AbC123.js"></script>');
  writeFileSync(join(dir, "assets", "index-AbC123.js"), "console.log('hi')");
  writeFileSync(join(dir, "assets", "index-XyZ789.css"), "body{}");
});

afterAll(async () => {
  for (const app of apps) await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("GET / and the hashed assets", () => {
  it("serves the page with no-cache and the strict CSP (no 'unsafe-inline', same origin only)", async () => {
    const app = await serve(dir);
    const res = await app.inject({ url: "/" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.headers["content-security-policy"]).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).toContain("connect-src 'self'");
    expect(DASHBOARD_CSP).not.toContain("unsafe");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.body).toContain("/assets/index-AbC123.js");
  });

  it("serves hashed assets as immutable with their types; a matching If-None-Match answers 304", async () => {
    const app = await serve(dir);
    const js = await app.inject({ url: "/assets/index-AbC123.js" });
    expect(js.statusCode).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe(IMMUTABLE);
    const css = await app.inject({ url: "/assets/index-XyZ789.css" });
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    const again = await app.inject({ url: "/assets/index-AbC123.js", headers: { "if-none-match": String(js.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe("");
    const page = await app.inject({ url: "/" });
    expect((await app.inject({ url: "/", headers: { "if-none-match": String(page.headers.etag) } })).statusCode).toBe(304);
  });

  it("leaves every other path to the 404 envelope (no directory walking)", async () => {
    const app = await serve(dir);
    for (const url of ["/assets/missing.js", "/assets/../index.html", "/index.html", "/assets/"]) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code, url).toBe("NOT_FOUND");
    }
  });

  it("answers 503 with the command to run when the app was never built", async () => {
    const app = await serve(join(dir, "nowhere"));
    const res = await app.inject({ url: "/" });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain("npm run build:dashboard");
    expect(res.headers["content-security-policy"]).toBe(DASHBOARD_CSP);
  });
});

describe("the app talks only to the public API", () => {
  it("every API path in dashboard/src is a GET or POST route in /openapi.json", async () => {
    const { readdirSync, readFileSync } = await import("node:fs");
    const { buildServer } = await import("../server.ts");
    const app = buildServer({ node: () => null, startupStatus: () => "starting", version: "test" });
    await app.ready();
    apps.push(app);
    const spec = (await app.inject({ url: "/openapi.json" })).json() as { paths: Record<string, Record<string, unknown>> };
    const src = new URL("../../../dashboard/src/", import.meta.url);
    const used = new Set<string>();
    for (const file of readdirSync(src).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))) {
      const code = readFileSync(new URL(file, src), "utf8");
      for (const m of code.matchAll(/["'`](\/(?:v1|healthz)[^"'`\s]*)["'`]/g)) used.add((m[1] as string).replace(/\$\{[^}]*\}/g, "{}").split("?")[0] as string);
    }
    expect(used.size).toBeGreaterThan(10);
    const known = Object.keys(spec.paths).map((p) => new RegExp(`^${p.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, "\\$&")).join("[^/]+")}$`));
    for (const path of used) expect(known.some((re) => re.test(path.replaceAll("{}", "x"))), path).toBe(true);
  });
});
