import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const packages = fileURLToPath(new URL("./packages", import.meta.url))

// Tests import the workspaces by package name and run straight from source: no build first.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@session-pro\/(core|stores|http)$/, replacement: `${packages}/$1/src/index.ts` },
      { find: /^@session-pro\/(core|stores|http)\/(.*)$/, replacement: `${packages}/$1/src/$2.ts` }
    ]
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
