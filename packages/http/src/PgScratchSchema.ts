/**
 * A throw-away PostgreSQL schema for one run (a conformance set, a replay scenario, a test): created
 * when acquired, `DROP SCHEMA … CASCADE` when the scope closes. The returned URL points at it through
 * `options=-c search_path=<schema>`, so every connection of the backend's pool lands in it.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted, type Scope } from "effect"
import * as NodeCrypto from "node:crypto"

export const isPgUrl = (url: string | undefined): url is string =>
  url !== undefined && (url.startsWith("postgresql://") || url.startsWith("postgres://"))

/** `url` with its connections' search_path set to `schema`. */
export const withSearchPath = (url: string, schema: string) =>
  `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`

const exec = (url: string, stmt: string) =>
  Effect.scoped(Effect.flatMap(PgClient.make({ url: Redacted.make(url) }), (sql) => sql.unsafe(stmt))).pipe(
    Effect.provide(Reactivity.layer),
    Effect.asVoid
  )

/** Creates `<prefix>_<random>` next to `url`'s database; yields its URL; drops it when the scope closes. */
export const scratchSchema = (url: string, prefix: string): Effect.Effect<string, unknown, Scope.Scope> => {
  const schema = `${prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_")}_${NodeCrypto.randomBytes(5).toString("hex")}`
  return Effect.acquireRelease(
    Effect.as(exec(url, `CREATE SCHEMA ${schema}`), withSearchPath(url, schema)),
    () => Effect.ignore(exec(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  )
}
