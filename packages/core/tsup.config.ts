import { defineConfig } from "tsup"

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
  // Native module used by the SQLite driver; resolved at run time (installed with @effect/sql-sqlite-node).
  external: ["better-sqlite3"]
})
