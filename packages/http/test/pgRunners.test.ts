/**
 * The conformance runner (`npm run conformance -- --db-url …`) and the fixture replay runner
 * (`npm run replay -- --db-url …`) on PostgreSQL: every set / scenario in a fresh schema of its own
 * (seen to exist while the run is going, gone afterwards), with 0 failures and the same number of
 * passing lines as on SQLite. Runs only with PRO_TEST_PG_URL; skipped visibly otherwise.
 */
import { Effect, Logger, LogLevel } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { run, type VectorsFile } from "../src/Conformance/Runner.js"
import { formatLine, runFiles } from "../src/Replay/Runner.js"

const PG_URL = process.env.PRO_TEST_PG_URL
const ROOT = fileURLToPath(new URL("../../..", import.meta.url))
const vectors = (): VectorsFile => JSON.parse(fs.readFileSync(path.join(ROOT, "test-vectors/vectors.json"), "utf8"))
const fixtures = ["apple", "google"].flatMap((d) => {
  const dir = path.join(ROOT, "test-vectors/fixtures", d)
  return fs.readdirSync(dir).filter((f) => /^\d\d_.*\.json$/.test(f)).sort().map((f) => path.join(dir, f))
})
const quiet = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e.pipe(Logger.withMinimumLogLevel(LogLevel.None)))

/** Schemas named `<prefix>…` and how many tables they hold (synchronous: usable inside the runners' line callbacks). */
const schemas = (prefix: string): Array<string> => {
  const r = spawnSync("psql", [PG_URL!, "-At", "-c",
    `SELECT n.nspname || ':' || (SELECT COUNT(*) FROM pg_tables t WHERE t.schemaname = n.nspname)
       FROM pg_namespace n WHERE n.nspname LIKE '${prefix}%' ORDER BY 1`], { encoding: "utf8" })
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`)
  return r.stdout.trim().split("\n").filter((l) => l !== "")
}

describe.skipIf(!PG_URL)("conformance and replay runners on PostgreSQL", () => {
  it("conformance: every recorded exchange passes on PostgreSQL, each set in its own schema, dropped after", { timeout: 60_000 }, async () => {
    const before = schemas("conformance_")
    const during = new Map<string, Array<string>>()
    const summary = await quiet(run(vectors(), {
      dbUrl: PG_URL,
      onLine: (l) => {
        const set = /^(?:PASS|FAIL|SETUP)\s+(\w+)\//.exec(l)?.[1]
        if (set !== undefined && !during.has(set)) during.set(set, schemas(`conformance_${set}_`).filter((s) => !before.includes(s)))
      }
    }))
    expect(summary.lines.filter((l) => l.startsWith("FAIL"))).toEqual([])
    expect(summary.failed).toBe(0)
    const onSqlite = await quiet(run(vectors()))
    expect(summary.passed).toBe(onSqlite.passed)
    console.log(`[pg conformance] ${summary.passed} passed, ${summary.failed} failed (SQLite: ${onSqlite.passed} passed); sets: ${[...during.keys()].join(", ")}`)
    // While a set ran, exactly one new schema of its own existed, bootstrapped with the 11 tables (v9 + migrations 10 and 11).
    expect([...during.keys()].sort()).toEqual(["dev", "prod"])
    for (const [set, seen] of during) {
      expect(seen, set).toHaveLength(1)
      expect(seen[0], set).toMatch(/:11$/)
    }
    expect(schemas("conformance_")).toEqual(before)
  })

  it("replay: every recorded Apple and Google scenario passes on PostgreSQL, each in its own schema, dropped after", { timeout: 60_000 }, async () => {
    expect(fixtures.length).toBe(12)
    const before = schemas("replay_")
    const seen = new Map<string, Array<string>>()
    const summary = await Effect.runPromise(runFiles(fixtures, {
      dbUrl: PG_URL,
      onStep: (l) => {
        if (!seen.has(l.scenario)) seen.set(l.scenario, schemas("replay_").filter((s) => !before.includes(s)))
      }
    }))
    expect(summary.lines.filter((l) => !l.ok).map(formatLine)).toEqual([])
    const steps = fixtures.reduce((n, f) => n + JSON.parse(fs.readFileSync(f, "utf8")).steps.length, 0)
    expect(summary.passed).toBe(steps)
    console.log(`[pg replay] ${summary.passed} passed, ${summary.failed} failed over ${fixtures.length} scenarios`)
    expect(seen.size).toBe(fixtures.length)
    for (const [scenario, s] of seen) {
      expect(s, scenario).toHaveLength(1)
      expect(s[0], scenario).toMatch(/:11$/)
    }
    expect(schemas("replay_")).toEqual(before)
  })

  it("the CLIs take --db-url and refuse a non-PostgreSQL one", () => {
    const tsx = path.join(ROOT, "node_modules/.bin/tsx")
    const bad = spawnSync(tsx, ["packages/http/src/bin/replay.ts", "--db-url", "sqlite:///x.db", fixtures[0]!], { cwd: ROOT, encoding: "utf8" })
    expect(bad.status).toBe(2)
    const ok = spawnSync(tsx, ["packages/http/src/bin/replay.ts", "--db-url", PG_URL!, fixtures[0]!], { cwd: ROOT, encoding: "utf8" })
    expect(ok.stdout.trim().split("\n").at(-1)).toMatch(/^\d+ passed, 0 failed$/)
    expect(ok.status).toBe(0)
  }, 60_000)
})

if (!PG_URL) {
  describe("conformance and replay runners on PostgreSQL", () => {
    it.skip("SKIPPED: set PRO_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run them", () => {})
  })
}
