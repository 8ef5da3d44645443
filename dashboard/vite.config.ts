// The dashboard's build: `vite build --config dashboard/vite.config.ts` writes dist/dashboard
// (index.html + content-hashed assets/), which `propnet serve` serves at / (src/api/routes/dashboard.ts).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    // The strict CSP has no 'unsafe-inline': no inline polyfill script, no inlined data: modules.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 2_000,
  },
});
