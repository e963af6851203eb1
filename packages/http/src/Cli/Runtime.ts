/** What every admin command shares: its environment, the database options and opening the database. */
import { HelpDoc, Options } from "@effect/cli"
import * as Span from "@effect/cli/HelpDoc/Span"
import { Backend, type StorageError } from "@session-pro/core"
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import * as NodeFs from "node:fs"
import type { Env } from "../Config/index.js"
import { type CliDbConfig, describeTarget, resolveDbConfig } from "./CliConfig.js"
import { cliError, CliError, oneLine } from "./Errors.js"

/** The process environment and working directory, injectable so in-process tests stay hermetic. */
export class CliEnvironment extends Context.Reference<CliEnvironment>()("@session-pro/http/Cli/CliEnvironment", {
  defaultValue: (): { readonly env: Env; readonly cwd: string } => ({ env: process.env, cwd: process.cwd() })
}) {}

export const dbOptions = {
  config: Options.text("config").pipe(
    Options.withDescription(
      "The server's INI file (as SESH_PRO_BACKEND_INI_PATH). SESH_PRO_BACKEND_* variables override it, as for the server."
    ),
    Options.optional
  ),
  dbUrl: Options.text("db-url").pipe(
    Options.withDescription("Database URL, overriding the config: sqlite:///relative.db, sqlite:////abs.db or postgresql://…"),
    Options.optional
  )
}
export interface DbOptionValues {
  readonly config: Option.Option<string>
  readonly dbUrl: Option.Option<string>
}

export const dryRunOption = Options.boolean("dry-run").pipe(
  Options.withDescription("Show what would change without changing anything")
)

/** A command description followed by worked examples (shown by --help). */
export const help = (summary: string, examples: ReadonlyArray<string>): HelpDoc.HelpDoc =>
  HelpDoc.blocks([
    HelpDoc.p(summary),
    HelpDoc.p(Span.strong("Examples:")),
    ...examples.map((e) => HelpDoc.p(Span.code(`  ${e}`)))
  ])

/** Resolves the configuration of a DB command. */
export const dbConfig = (opts: DbOptionValues): Effect.Effect<CliDbConfig, CliError> =>
  Effect.flatMap(CliEnvironment, ({ cwd, env }) => {
    const r = resolveDbConfig({ config: Option.getOrUndefined(opts.config), dbUrl: Option.getOrUndefined(opts.dbUrl) }, env, cwd)
    return r._tag === "Left" ? Effect.fail(r.error) : Effect.succeed(r.value)
  })

/**
 * A database without the backend's tables is almost certainly the wrong one (a typo in the URL, the
 * `postgres` maintenance DB, an empty file): refuse it rather than create the schema and a new key.
 * The check opens SQLite read-only.
 */
const requireSchema = (db: CliDbConfig["database"]) => {
  const check = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = db._tag === "Postgres"
      ? yield* sql<{ present: unknown }>`SELECT to_regclass('public.runtime') IS NOT NULL AS present`
      : yield* sql<{ present: unknown }>`SELECT COUNT(*) AS present FROM sqlite_master WHERE type = 'table' AND name = 'runtime'`
    return rows[0]?.present === true || Number(rows[0]?.present) === 1
  })
  const client: Layer.Layer<SqlClient.SqlClient, unknown> = db._tag === "Postgres"
    ? PgClient.layer({ url: Redacted.make(db.url) }).pipe(Layer.provide(Reactivity.layer))
    : SqliteClient.layer({ filename: db.filename, readonly: true, disableWAL: true }).pipe(Layer.provide(Reactivity.layer))
  return check.pipe(
    Effect.provide(client),
    Effect.scoped,
    Effect.mapError((e) => cliError(`Database error (${describeTarget(db)}): ${oneLine(e)}`)),
    Effect.flatMap((present) =>
      present
        ? Effect.void
        : Effect.fail(
          cliError(`database ${describeTarget(db)} has no Session Pro tables; start the server on it once, or check --config/--db-url`)
        )
    )
  )
}

/**
 * Runs `body` against the configured database through the core's Backend layer, so the CLI sees
 * exactly the server's schema, keys and settings. A SQLite file that does not exist is an error:
 * an admin tool must never create an empty database (with a fresh random key) by a typo.
 */
export const withDatabase = <A, E, R>(
  opts: DbOptionValues,
  body: (config: CliDbConfig) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const config = yield* dbConfig(opts)
    const db = config.database
    if (db._tag === "Sqlite" && db.filename !== ":memory:" && !NodeFs.existsSync(db.filename)) {
      return yield* Effect.fail(
        cliError(`database file ${db.filename} does not exist (from ${config.source}); check --config or --db-url`)
      )
    }
    if (db._tag === "Postgres" || db.filename !== ":memory:") yield* requireSchema(db)
    const layer = Backend.layer({
      url: db.url,
      settings: { dev: config.dev, unsafeLogging: config.unsafeLogging, platformTestingEnv: config.platformTestingEnv }
    })
    return yield* body(config).pipe(
      Effect.provide(layer),
      // Opening, migrating or querying failed: name the database (never its password) in one line.
      Effect.catchIf(
        (e): e is Extract<E, { readonly _tag: "StorageError" }> | StorageError =>
          typeof e === "object" && e !== null && ((e as { _tag?: unknown })._tag === "StorageError" || (e as { _tag?: unknown })._tag === "SqlError"),
        (e) => Effect.fail(cliError(`Database error (${describeTarget(db)}): ${oneLine(e)}`))
      )
    )
  })

export { CliError }
