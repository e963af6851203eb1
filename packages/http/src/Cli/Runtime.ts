/** What every admin command shares: its environment, the database options and opening the database. */
import { HelpDoc, Options } from "@effect/cli"
import * as Span from "@effect/cli/HelpDoc/Span"
import { Backend, type StorageError } from "@session-pro/core"
import { Context, Effect, Option } from "effect"
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
