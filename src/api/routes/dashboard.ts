import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { FastifyPluginAsync } from "fastify";

const DASHBOARD_DIR = new URL("../dashboard/", import.meta.url);

/** CSP hash sources ('sha256-...') of the page's inline <style> blocks, so no 'unsafe-inline' is needed. */
export function inlineStyleHashes(html: string): string[] {
  return [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map(
    (m) => `'sha256-${createHash("sha256").update(m[1] ?? "", "utf8").digest("base64")}'`,
  );
}

/** Same origin only: the page's own script and styles, fetches to this node, no frames, no plugins. */
export function dashboardCsp(html: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    ["style-src 'self'", ...inlineStyleHashes(html)].join(" "),
    "img-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

async function asset(name: string, type: string): Promise<Asset> {
  const body = await readFile(new URL(name, DASHBOARD_DIR));
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

/**
 * The dashboard (API.md "Operations": `GET /`): one static page and its script, read once at
 * startup, same-origin only. Hidden from OpenAPI; anything else stays the 404 envelope.
 */
export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const page = await asset("index.html", "text/html; charset=utf-8");
  const script = await asset("dashboard.js", "text/javascript; charset=utf-8");
  const csp = dashboardCsp(page.body.toString("utf8"));
  for (const [path, file] of [["/", page], ["/dashboard.js", script]] as const) {
    app.get(path, { schema: { hide: true } }, async (request, reply) => {
      reply
        .header("content-security-policy", csp)
        .header("cache-control", "no-cache")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("etag", file.etag)
        .type(file.type);
      if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
      return reply.send(file.body);
    });
  }
};
