import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyPluginAsync } from "fastify";

/** Where `npm run build:dashboard` (vite, dashboard/vite.config.ts) writes the app; git-ignored. */
export const DASHBOARD_DIST = fileURLToPath(new URL("../../../dist/dashboard/", import.meta.url));

/** Same origin only: the app's own scripts and styles, fetches and streams to this node, no frames, no plugins, nothing inline. */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Content-hashed file names (vite's `name-HASH.ext`) never change content: cached for a year. */
export const IMMUTABLE = "public, max-age=31536000, immutable";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(path: string): Asset {
  const body = readFileSync(path);
  return {
    body,
    type: TYPES[extname(path)] ?? "application/octet-stream",
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
  };
}

/** The built app: index.html and every file under assets/, by URL path. Read once at startup. */
export function loadDashboard(dir: string = DASHBOARD_DIST): Map<string, Asset> | null {
  const index = join(dir, "index.html");
  if (!existsSync(index)) return null;
  const files = new Map<string, Asset>([["/", asset(index)]]);
  const assets = join(dir, "assets");
  if (existsSync(assets)) for (const name of readdirSync(assets)) files.set(`/assets/${name}`, asset(join(assets, name)));
  return files;
}

const NOT_BUILT = "The dashboard is not built. Run `npm run build:dashboard` (npm install does it) and restart the node.\n";

/**
 * The dashboard (API.md "Operations": `GET /`): the vite-built app, same-origin only. The page
 * revalidates every time (it names the current hashed assets); the hashed assets are immutable.
 * Hidden from OpenAPI; any other path stays the 404 envelope.
 */
export const dashboardRoutes: FastifyPluginAsync<{ dir?: string }> = async (app, options) => {
  const files = loadDashboard(options.dir);
  const security = {
    "content-security-policy": DASHBOARD_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };
  if (files === null) {
    app.get("/", { schema: { hide: true } }, async (_request, reply) => reply.code(503).headers(security).header("cache-control", "no-cache").type("text/plain; charset=utf-8").send(NOT_BUILT));
    return;
  }
  for (const [path, file] of files) {
    app.get(path, { schema: { hide: true } }, async (request, reply) => {
      reply
        .headers(security)
        .header("cache-control", path === "/" ? "no-cache" : IMMUTABLE)
        .header("etag", file.etag)
        .type(file.type);
      if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
      return reply.send(file.body);
    });
  }
};
