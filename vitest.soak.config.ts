import { defineConfig } from "vitest/config"
import base from "./vitest.config.js"

// `npm run soak`: only the reliability suites, with every run count multiplied
// (PRO_RELIABILITY_SCALE) and longer crash/race loops; sized for a few minutes on 2 cores.
// (Not mergeConfig: that would concatenate `include` with the base's whole test set.)
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ["packages/*/test/reliability/**/*.test.ts"],
    env: { PRO_RELIABILITY_SCALE: "3" },
    // one file at a time: the crash suite's server processes and the fuzzers otherwise starve
    // vitest's own RPC on 2 cores ("Timeout calling onTaskUpdate")
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000
  }
})
