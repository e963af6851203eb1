/**
 * Which database the admin CLI works on, and in which mode: the same configuration the server
 * reads (`packages/http/src/Config`, domain.md §10), so `--config server.ini` (or the server's own
 * `SESH_PRO_BACKEND_*` environment) always names the server's database.
 *
 * Precedence: `--db-url` > `SESH_PRO_BACKEND_DB_URL`/`_DB_PATH` > the INI's `[base] db_url`/`db_path`.
 * `--config` > `SESH_PRO_BACKEND_INI_PATH`. Without either, the server's zero-config default applies
 * (dev mode on `./data/session-pro.db`).
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { maskDbUrl, parseConfig, type DatabaseTarget, type Env } from "../Config/index.js"
import { cliError, type CliError } from "./Errors.js"

export interface CliDbOptions {
  readonly config: string | undefined
  readonly dbUrl: string | undefined
}

export interface CliDbConfig {
  readonly database: DatabaseTarget
  readonly dev: boolean
  readonly unsafeLogging: boolean
  readonly platformTestingEnv: boolean
  /** Where the database came from, for messages. */
  readonly source: string
}

/** What an operator may see of the database URL (no password). */
export const describeTarget = (d: DatabaseTarget): string => (d._tag === "Sqlite" ? d.url : maskDbUrl(d.url))

/**
 * Resolves options + environment into the database and settings. Pure apart from reading the
 * INI file; the only place that knows about the server's config module, so it can be swapped.
 */
export const resolveDbConfig = (
  opts: CliDbOptions,
  env: Env,
  cwd: string = process.cwd()
): { readonly _tag: "Right"; readonly value: CliDbConfig } | { readonly _tag: "Left"; readonly error: CliError } => {
  const iniPath = opts.config ?? (env.SESH_PRO_BACKEND_INI_PATH || undefined)
  let ini: string | undefined
  if (iniPath !== undefined) {
    try {
      ini = NodeFs.readFileSync(NodePath.resolve(cwd, iniPath), "utf8")
    } catch {
      return { _tag: "Left", error: cliError(`config file "${iniPath}" does not exist or is not readable`) }
    }
  }
  const effectiveEnv: Record<string, string | undefined> = { ...env }
  if (opts.dbUrl !== undefined) {
    // --db-url replaces every database setting of the environment layer (the old db_path pair too).
    effectiveEnv.SESH_PRO_BACKEND_DB_URL = opts.dbUrl
    delete effectiveEnv.SESH_PRO_BACKEND_DB_PATH
    delete effectiveEnv.SESH_PRO_BACKEND_DB_PATH_IS_URI
  }
  // The CLI never talks to Apple/Google: an unreadable key file on the admin's machine must not
  // make a DB command fail, so the store integrations are switched off for parsing.
  effectiveEnv.SESH_PRO_BACKEND_WITH_PLATFORM_APPLE = "0"
  effectiveEnv.SESH_PRO_BACKEND_WITH_PLATFORM_GOOGLE = "0"
  const r = parseConfig({ ini, iniPath, env: effectiveEnv, cwd })
  if (r._tag === "Left") {
    return { _tag: "Left", error: cliError(`invalid configuration: ${r.problems.join("; ")}`) }
  }
  const c = r.config
  const source = opts.dbUrl !== undefined
    ? "--db-url"
    : iniPath !== undefined
    ? `config ${iniPath}`
    : c.databaseDefaulted
    ? "default (no --config, --db-url or SESH_PRO_BACKEND_DB_URL)"
    : "environment"
  return {
    _tag: "Right",
    value: {
      database: c.database,
      dev: c.dev,
      unsafeLogging: c.unsafeLogging,
      platformTestingEnv: c.platformTestingEnv,
      source
    }
  }
}
