// The tests Stryker runs against its mutants (`npm run mutate:stryker`, stryker.config.json): the
// fault-injection tests and the core tests of the ledger, execute and entities. Not the whole
// suite (process tests, 10,000-block runs): too slow per mutant on two cores.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "src/core/invariants/invariants.fault.test.ts",
      "src/core/ledger/ledger.test.ts",
      "src/core/machine/execute.test.ts",
      "src/core/entities/entity-commands.test.ts",
    ],
    testTimeout: 120_000,
  },
});
