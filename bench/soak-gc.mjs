// Preloaded into the server by bench/soak.ts (`node --expose-gc --import <this> bin/propnet.js serve`):
// SIGUSR2 runs a full collection, so the soak reads the live heap rather than whatever garbage the
// collector has not reached yet. Benchmark only; the node itself never collects on request.
process.on("SIGUSR2", () => globalThis.gc?.());
