/**
 * Nothing the server binary imports may use the "@effect/platform" / "@effect/platform-node"
 * barrels: the platform one also loads the bundled Scalar/Swagger UIs (~20 MiB of heap strings,
 * never served), which cost the idle server ~22 MiB of heap and ~40 MiB of RSS. Static walk of the
 * import graph from bin/server.ts (relative imports and the @session-pro/* workspace packages).
 */
import { existsSync, readFileSync } from "node:fs"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const packages = NodePath.resolve(NodePath.dirname(fileURLToPath(import.meta.url)), "../..")
const importRe = /(?:import|export)\s[^"']*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g

const resolveSpec = (from: string, spec: string): string | undefined => {
  const ws = /^@session-pro\/(core|stores|http)$/.exec(spec)
  if (ws) return NodePath.join(packages, ws[1]!, "src/index.ts")
  if (!spec.startsWith(".")) return undefined
  const p = NodePath.resolve(NodePath.dirname(from), spec).replace(/\.js$/, ".ts")
  return existsSync(p) ? p : NodePath.join(p.replace(/\.ts$/, ""), "index.ts")
}

describe("server import graph", () => {
  it("reaches no @effect/platform(-node) barrel", () => {
    const seen = new Set<string>()
    const offenders: Array<string> = []
    const todo = [NodePath.join(packages, "http/src/bin/server.ts")]
    while (todo.length > 0) {
      const file = todo.pop()!
      if (seen.has(file)) continue
      seen.add(file)
      const src = readFileSync(file, "utf8")
      for (const m of src.matchAll(importRe)) {
        const spec = (m[1] ?? m[2])!
        // Type-only imports are erased and load nothing.
        if (/^(?:import|export)\s+type\s/.test(m[0])) continue
        if (spec === "@effect/platform" || spec === "@effect/platform-node") {
          offenders.push(`${NodePath.relative(packages, file)}: ${spec}`)
        }
        const next = resolveSpec(file, spec)
        if (next !== undefined) todo.push(next)
      }
    }
    expect(seen.size).toBeGreaterThan(20)
    expect(offenders).toEqual([])
  })
})
