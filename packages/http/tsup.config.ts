import { defineConfig } from "tsup"

export default defineConfig({
  entry: ["src/index.ts", "src/client.ts", "src/bin/server.ts", "src/bin/admin.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20"
})
