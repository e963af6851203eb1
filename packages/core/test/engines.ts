/** Storage engines the storage suite runs on: SQLite always, PostgreSQL when PRO_TEST_PG_URL is set. */
import * as Reactivity from "@effect/experimental/Reactivity"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const PG_URL = process.env.PRO_TEST_PG_URL

export interface Engine {
  readonly name: "sqlite" | "pg"
  readonly enabled: boolean
  /** A fresh, empty database URL (SQLite temp file / PG schema of its own). */
  readonly fresh: () => Promise<string>
}

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "session-pro-core-"))
export const tempDbPath = (name = "db") => path.join(tmpDir, `${name}-${crypto.randomUUID()}.db`)

const withSearchPath = (url: string, schema: string) =>
  `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`

export const pgSchemas: Array<string> = []

export const runPg = <A>(f: (sql: PgClient.PgClient) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(
    Effect.scoped(Effect.flatMap(PgClient.make({ url: Redacted.make(PG_URL!) }), f)).pipe(Effect.provide(Reactivity.layer)) as Effect.Effect<A, unknown, never>
  )

export const engines: ReadonlyArray<Engine> = [
  { name: "sqlite", enabled: true, fresh: async () => `sqlite:///${tempDbPath()}` },
  {
    name: "pg",
    enabled: PG_URL !== undefined && PG_URL !== "",
    fresh: async () => {
      const schema = `core_test_${crypto.randomBytes(6).toString("hex")}`
      await runPg((sql) => sql.unsafe(`CREATE SCHEMA ${schema}`))
      pgSchemas.push(schema)
      return withSearchPath(PG_URL!, schema)
    }
  }
]

export const dropPgSchemas = async () => {
  if (!PG_URL || pgSchemas.length === 0) return
  await runPg((sql) => Effect.forEach(pgSchemas.splice(0), (s) => sql.unsafe(`DROP SCHEMA IF EXISTS ${s} CASCADE`)))
}

if (!PG_URL) {
  console.warn("[core storage tests] PostgreSQL engine SKIPPED: set PRO_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it")
}
