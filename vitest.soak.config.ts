import { defineConfig, mergeConfig } from "vitest/config"
import base from "./vitest.config.js"

// `npm run soak`: the reliability suites with every run count multiplied (PRO_RELIABILITY_SCALE)
// and longer crash/race loops; sized to finish in a few minutes on 2 cores.
export default mergeConfig(base, defineConfig({
  test: {
    include: ["packages/*/test/reliability/**/*.test.ts", "packages/*/test/reliability*.test.ts"],
    env: { PRO_RELIABILITY_SCALE: "4" },
    testTimeout: 600_000,
    hookTimeout: 120_000
  }
}))
