import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts", "dashboard/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Crash and server tests spawn real processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
