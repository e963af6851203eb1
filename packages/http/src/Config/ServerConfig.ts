/**
 * Server configuration: the INI file named by `SESH_PRO_BACKEND_INI_PATH` plus the
 * `SESH_PRO_BACKEND_*` environment overrides (domain.md §10), in both generations of keys the
 * reference has shipped (`db_url` … and the older `db_path`/`db_path_is_uri` …).
 *
 * Rules (documented in Config/README.md as well):
 * - The environment overrides the INI file, setting by setting.
 * - Within one layer (INI or environment), when an old key and a new key for the same setting are
 *   both given they must agree, otherwise start-up names the conflict.
 * - Every problem is collected and reported together; the binary exits non-zero (D4h).
 * - `SESH_PRO_BACKEND_PLATFORM_TESTING_ENV` sets the testing flag (FLAG-41 fixed, D4h).
 * - With no INI file, no database and no `SESH_PRO_BACKEND_DEV`, the server starts in dev mode on
 *   `./data/session-pro.db` (the README's zero-config `npm start`). A non-dev deployment must name its
 *   database explicitly, as in the reference.
 */
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import { Config, Context, Data, Effect, Layer, Option } from "effect"
import { parseIni, parseIniBoolean } from "./Ini.js"

// ---------------------------------------------------------------------------------------------
// Shapes

export type DatabaseTarget =
  | { readonly _tag: "Sqlite"; readonly filename: string /* absolute path or ":memory:" */; readonly url: string }
  | { readonly _tag: "Postgres"; readonly url: string }

export interface Webhook {
  readonly name: string
  readonly url: string
}

export interface AppleConfig {
  readonly appId: number | undefined
  readonly bundleId: string
  readonly issuerId: string
  readonly keyId: string
  readonly keyPath: string
  readonly rootCertPath: string
  readonly rootCertCaG2Path: string
  readonly rootCertCaG3Path: string
  readonly sandbox: boolean
}

export interface GoogleConfig {
  readonly credentialsPath: string
  readonly projectId: string
  readonly subscriptionName: string
  readonly packageName: string
  readonly subscriptionProductId: string
}

export interface SetUserErrorItem {
  readonly provider: 1 | 2
  readonly paymentId: string
  readonly set: boolean
}

export interface SetGoogleNotificationItem {
  readonly messageId: string
  readonly action: "handle" | "delete"
}

export interface ServerConfigShape {
  readonly iniPath: string | undefined
  readonly database: DatabaseTarget
  /** True when the database came from the zero-config default. */
  readonly databaseDefaulted: boolean
  readonly logPath: string | undefined
  readonly dev: boolean
  readonly unsafeLogging: boolean
  readonly platformTestingEnv: boolean
  readonly printTables: boolean
  readonly host: string
  readonly port: number
  readonly workers: number
  /** Dev only: the wall clock starts at this instant (ms) and runs on from there. */
  readonly fakeClockMs: number | undefined
  readonly webhooks: ReadonlyArray<Webhook>
  readonly apple: AppleConfig | undefined
  readonly google: GoogleConfig | undefined
  readonly setUserErrors: ReadonlyArray<SetUserErrorItem>
  readonly setGoogleNotifications: ReadonlyArray<SetGoogleNotificationItem>
  /** Non-fatal notes to log at start-up (e.g. sandbox forcing the testing flag). */
  readonly warnings: ReadonlyArray<string>
}

export class ServerConfigError extends Data.TaggedError("ServerConfigError")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return `Failed to start up, invalid configuration (${this.problems.length} problem${
      this.problems.length === 1 ? "" : "s"
    }):\n  ${this.problems.join("\n  ")}`
  }
}

export const DEFAULT_HOST = "127.0.0.1"
export const DEFAULT_PORT = 8000
export const DEFAULT_SQLITE_PATH = "./data/session-pro.db"
export const MAX_WORKERS = 256
export const WEBHOOK_NAME_MAX = 100

/** Every environment variable the server reads. */
export const ENV_KEYS = [
  "SESH_PRO_BACKEND_INI_PATH",
  "SESH_PRO_BACKEND_DB_URL",
  "SESH_PRO_BACKEND_DB_PATH",
  "SESH_PRO_BACKEND_DB_PATH_IS_URI",
  "SESH_PRO_BACKEND_LOG_PATH",
  "SESH_PRO_BACKEND_DEV",
  "SESH_PRO_BACKEND_UNSAFE_LOGGING",
  "SESH_PRO_BACKEND_WITH_PLATFORM_APPLE",
  "SESH_PRO_BACKEND_WITH_PLATFORM_GOOGLE",
  "SESH_PRO_BACKEND_PLATFORM_TESTING_ENV",
  "SESH_PRO_BACKEND_PLATFORM_TESTING_ENVIRONMENT",
  "SESH_PRO_BACKEND_PRINT_TABLES",
  "SESH_PRO_BACKEND_SET_USER_ERRORS",
  "SESH_PRO_BACKEND_SET_GOOGLE_NOTIFICATION",
  "SESH_PRO_BACKEND_SESSION_WEBHOOK_URL",
  "SESH_PRO_BACKEND_SESSION_WEBHOOK_NAME",
  "SESH_PRO_BACKEND_HOST",
  "SESH_PRO_BACKEND_PORT",
  "SESH_PRO_BACKEND_WORKERS",
  "SESH_PRO_BACKEND_FAKE_CLOCK"
] as const
export type EnvKey = (typeof ENV_KEYS)[number]
export type Env = Readonly<Record<string, string | undefined>>

// ---------------------------------------------------------------------------------------------
// Database URLs (§10.4) and the older db_path / db_path_is_uri pair

const sqliteTarget = (filename: string, cwd: string): DatabaseTarget => {
  if (filename === "" || filename === ":memory:") return { _tag: "Sqlite", filename: ":memory:", url: "sqlite:///:memory:" }
  const abs = NodePath.resolve(cwd, filename)
  return { _tag: "Sqlite", filename: abs, url: `sqlite:///${abs}` }
}

/** `db_url`: SQLAlchemy-style URLs as the reference accepts them (driver suffixes tolerated). */
export const parseDbUrl = (url: string, cwd: string): DatabaseTarget | string => {
  const m = /^([a-z][a-z0-9]*)(?:\+[a-z0-9_]+)?:\/\/(.*)$/i.exec(url.trim())
  if (!m) return `db_url "${url}" is not a sqlite:// or postgresql:// URL`
  const scheme = m[1]!.toLowerCase()
  const rest = m[2]!
  if (scheme === "sqlite") {
    // sqlite:// and sqlite:///:memory: are in-memory; sqlite:///rel.db is relative; sqlite:////abs.db absolute.
    const noQuery = rest.split("?")[0]!
    if (noQuery === "" || noQuery === ":memory:" || noQuery === "/:memory:" || noQuery === "/") {
      return sqliteTarget(":memory:", cwd)
    }
    if (!noQuery.startsWith("/")) return `db_url "${url}" has a host part; use sqlite:///relative.db or sqlite:////absolute.db`
    return sqliteTarget(decodeURIComponent(noQuery.slice(1)), cwd)
  }
  if (scheme === "postgresql" || scheme === "postgres") {
    return { _tag: "Postgres", url: `postgresql://${rest}` }
  }
  return `db_url "${url}" uses an unsupported scheme "${scheme}" (sqlite or postgresql)`
}

/** The older `db_path`: a file path, or with `db_path_is_uri` a SQLite `file:` URI. */
export const parseDbPath = (dbPath: string, isUri: boolean, cwd: string): DatabaseTarget | string => {
  if (!isUri) return sqliteTarget(dbPath, cwd)
  if (!dbPath.startsWith("file:")) return `db_path "${dbPath}" is marked as a URI (db_path_is_uri) but does not start with file:`
  let rest = dbPath.slice("file:".length)
  const q = rest.search(/[?#]/)
  const query = q >= 0 ? rest.slice(q + 1) : ""
  if (q >= 0) rest = rest.slice(0, q)
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2)
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash)
    if (authority !== "" && authority !== "localhost") return `db_path "${dbPath}" names a remote host "${authority}"`
    rest = slash < 0 ? "" : rest.slice(slash)
  }
  if (/(^|&)mode=memory(&|$)/.test(query)) return sqliteTarget(":memory:", cwd)
  return sqliteTarget(decodeURIComponent(rest), cwd)
}

const sameDatabase = (a: DatabaseTarget, b: DatabaseTarget) =>
  a._tag === b._tag && (a._tag === "Sqlite" ? a.filename === (b as typeof a).filename : a.url === b.url)

const describeDb = (d: DatabaseTarget) => (d._tag === "Sqlite" ? d.filename : maskDbUrl(d.url))

/** A PostgreSQL password never reaches a log line. */
export const maskDbUrl = (url: string): string => url.replace(/^([a-z+]+:\/\/[^:/@]*:)[^@]*@/i, "$1***@")

// ---------------------------------------------------------------------------------------------
// set_user_errors / set_google_notification (same syntax as the admin CLI, §12.2, §12.4-5)

export const parseSetUserErrors = (
  arg: string,
  where: string
): { items: Array<SetUserErrorItem>; problems: Array<string> } => {
  const items: Array<SetUserErrorItem> = []
  const problems: Array<string> = []
  if (arg.trim() === "") return { items, problems }
  for (const rawItem of arg.split(",")) {
    const item = rawItem.trim()
    if (item === "") continue
    const colon = item.indexOf(":")
    const eq = item.lastIndexOf("=")
    if (colon < 0 || eq < 0 || eq < colon) {
      problems.push(`${where}: "${item}" is not <provider>:<payment id>=<true|false>`)
      continue
    }
    const provText = item.slice(0, colon).trim()
    const id = item.slice(colon + 1, eq).trim()
    const flagText = item.slice(eq + 1).trim().toLowerCase()
    const provider = /^\d+$/.test(provText) ? Number(provText) : NaN
    if (Number.isNaN(provider)) {
      problems.push(`${where}: provider "${provText}" in "${item}" is not an integer`)
    } else if (provider !== 1 && provider !== 2) {
      problems.push(`${where}: provider ${provider} in "${item}" cannot have user errors (1 = Google, 2 = Apple)`)
    }
    if (id === "") problems.push(`${where}: "${item}" has an empty payment id`)
    if (flagText !== "true" && flagText !== "false") {
      problems.push(`${where}: flag "${item.slice(eq + 1).trim()}" in "${item}" is not true or false`)
    }
    if ((provider === 1 || provider === 2) && id !== "" && (flagText === "true" || flagText === "false")) {
      items.push({ provider, paymentId: id, set: flagText === "true" })
    }
  }
  return { items, problems }
}

export const parseSetGoogleNotification = (
  arg: string,
  where: string
): { items: Array<SetGoogleNotificationItem>; problems: Array<string> } => {
  const items: Array<SetGoogleNotificationItem> = []
  const problems: Array<string> = []
  const text = arg.trim()
  if (text === "") return { items, problems }
  // The CLI form `handle <id>[,…]` / `delete <id>[,…]`, or the INI form `<id>=handled|deleted[,…]`.
  const cli = /^(handle|delete)\s+(.+)$/i.exec(text)
  const entries: Array<[string, string]> = cli
    ? cli[2]!.split(",").map((id) => [id.trim(), cli[1]!.toLowerCase()])
    : text.split(",").map((it) => {
        const eq = it.indexOf("=")
        return eq < 0 ? [it.trim(), ""] : [it.slice(0, eq).trim(), it.slice(eq + 1).trim().toLowerCase()]
      })
  for (const [id, cmd] of entries) {
    if (id === "" && cmd === "") continue
    let ok = true
    if (!/^\d+$/.test(id)) {
      problems.push(`${where}: message id "${id}" is not an integer`)
      ok = false
    }
    const action = cmd === "handle" || cmd === "handled" ? "handle" : cmd === "delete" || cmd === "deleted" ? "delete" : undefined
    if (!action) {
      problems.push(`${where}: "${id}${cmd === "" ? "" : `=${cmd}`}" needs =handled or =delete`)
      ok = false
    }
    if (ok) items.push({ messageId: id, action: action! })
  }
  return { items, problems }
}

// ---------------------------------------------------------------------------------------------
// The parser

export interface ParseInput {
  /** INI text, when a file is in play. */
  readonly ini?: string | undefined
  /** The path the INI text came from (for messages, relative-path anchoring and the banner). */
  readonly iniPath?: string | undefined
  readonly env: Env
  /** Relative paths resolve against this (default `process.cwd()`). */
  readonly cwd?: string
  /** Readability check for key/cert/credential files; injectable for tests. */
  readonly isReadable?: (path: string) => boolean
}

const defaultIsReadable = (p: string) => {
  try {
    NodeFs.accessSync(p, NodeFs.constants.R_OK)
    return NodeFs.statSync(p).isFile()
  } catch {
    return false
  }
}

export type ParseResult =
  | { readonly _tag: "Right"; readonly config: ServerConfigShape }
  | { readonly _tag: "Left"; readonly problems: ReadonlyArray<string>; readonly warnings: ReadonlyArray<string> }

export const parseConfig = (input: ParseInput): ParseResult => {
  const problems: Array<string> = []
  const warnings: Array<string> = []
  const cwd = input.cwd ?? process.cwd()
  const isReadable = input.isReadable ?? defaultIsReadable
  const envGet = (k: EnvKey): string | undefined => {
    const v = input.env[k]
    // An empty variable counts as unset: `FOO= cmd` is how shells "clear" things.
    return v === undefined || v === "" ? undefined : v
  }

  // ----- INI layer
  const file = input.ini === undefined ? undefined : parseIni(input.ini, input.iniPath ?? "INI")
  if (file) problems.push(...file.errors)
  const section = (name: string) => file?.sections.get(name)
  const base = section("base")
  if (file && !base) problems.push(`[base] section is missing from ${input.iniPath ?? "the INI file"}`)

  const iniStr = (sec: string, key: string): string | undefined => section(sec)?.get(key)
  const iniBool = (sec: string, key: string): boolean | undefined => {
    const v = iniStr(sec, key)
    if (v === undefined) return undefined
    const b = parseIniBoolean(v)
    if (b === undefined) problems.push(`[${sec}] ${key}: "${v}" is not a boolean (1/yes/true/on or 0/no/false/off)`)
    return b
  }
  const envBool = (k: EnvKey): boolean | undefined => {
    const v = envGet(k)
    if (v === undefined) return undefined
    // The reference accepts exactly 0 or 1; the configparser words are accepted too.
    const b = parseIniBoolean(v)
    if (b === undefined) problems.push(`${k}: "${v}" is not a boolean (0 or 1)`)
    return b
  }
  /** Old and new spellings of one setting within a layer must agree. */
  const agree = <A>(
    a: { label: string; value: A | undefined },
    b: { label: string; value: A | undefined },
    eq: (x: A, y: A) => boolean = (x, y) => x === y,
    show: (x: A) => string = (x) => JSON.stringify(x)
  ): A | undefined => {
    if (a.value !== undefined && b.value !== undefined && !eq(a.value, b.value)) {
      problems.push(`${a.label} (${show(a.value)}) and ${b.label} (${show(b.value)}) disagree; set one of them`)
    }
    return a.value ?? b.value
  }
  const intOf = (label: string, v: string | undefined, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined
    const t = v.trim()
    if (!/^[+-]?\d+$/.test(t) || Number(t) < min || Number(t) > max) {
      problems.push(`${label}: "${v}" is not an integer between ${min} and ${max}`)
      return undefined
    }
    return Number(t)
  }

  // ----- booleans
  const dev = envBool("SESH_PRO_BACKEND_DEV") ?? iniBool("base", "dev")
  const unsafeLogging = envBool("SESH_PRO_BACKEND_UNSAFE_LOGGING") ?? iniBool("base", "unsafe_logging") ?? false
  const withApple = envBool("SESH_PRO_BACKEND_WITH_PLATFORM_APPLE") ?? iniBool("base", "with_platform_apple") ?? false
  const withGoogle = envBool("SESH_PRO_BACKEND_WITH_PLATFORM_GOOGLE") ?? iniBool("base", "with_platform_google") ?? false
  let platformTestingEnv =
    agree(
      { label: "SESH_PRO_BACKEND_PLATFORM_TESTING_ENV", value: envBool("SESH_PRO_BACKEND_PLATFORM_TESTING_ENV") },
      { label: "SESH_PRO_BACKEND_PLATFORM_TESTING_ENVIRONMENT", value: envBool("SESH_PRO_BACKEND_PLATFORM_TESTING_ENVIRONMENT") }
    ) ??
      agree(
        { label: "[base] platform_testing_env", value: iniBool("base", "platform_testing_env") },
        { label: "[base] platform_testing_environment", value: iniBool("base", "platform_testing_environment") }
      ) ??
      false
  const printTables = envBool("SESH_PRO_BACKEND_PRINT_TABLES") ?? iniBool("base", "print_tables") ?? false

  // ----- database
  const dbLayer = (
    layer: string,
    url: string | undefined,
    path: string | undefined,
    isUri: boolean
  ): DatabaseTarget | undefined => {
    const fromUrl = url === undefined || url.trim() === "" ? undefined : parseDbUrl(url, cwd)
    const fromPath = path === undefined || path.trim() === "" ? undefined : parseDbPath(path.trim(), isUri, cwd)
    if (typeof fromUrl === "string") problems.push(`${layer}: ${fromUrl}`)
    if (typeof fromPath === "string") problems.push(`${layer}: ${fromPath}`)
    const u = typeof fromUrl === "string" ? undefined : fromUrl
    const p = typeof fromPath === "string" ? undefined : fromPath
    if (u && p && !sameDatabase(u, p)) {
      problems.push(
        `${layer}: db_path (${describeDb(p)}) and db_url (${describeDb(u)}) name different databases; set one of them`
      )
    }
    return u ?? p
  }
  const iniDb = dbLayer(
    "[base]",
    iniStr("base", "db_url"),
    iniStr("base", "db_path"),
    iniBool("base", "db_path_is_uri") ?? false
  )
  const envDb = dbLayer(
    "environment",
    envGet("SESH_PRO_BACKEND_DB_URL"),
    envGet("SESH_PRO_BACKEND_DB_PATH"),
    envBool("SESH_PRO_BACKEND_DB_PATH_IS_URI") ?? iniBool("base", "db_path_is_uri") ?? false
  )
  let database = envDb ?? iniDb
  const dbGiven =
    [iniStr("base", "db_url"), iniStr("base", "db_path"), envGet("SESH_PRO_BACKEND_DB_URL"), envGet("SESH_PRO_BACKEND_DB_PATH")]
      .some((v) => v !== undefined && v.trim() !== "")
  // Zero-config: nothing at all configured -> dev mode on the default file (README quick start).
  const zeroConfig = file === undefined && !dbGiven && dev === undefined
  const devMode = dev ?? zeroConfig
  let databaseDefaulted = false
  if (!database && !dbGiven) {
    if (devMode) {
      database = sqliteTarget(DEFAULT_SQLITE_PATH, cwd)
      databaseDefaulted = true
    } else {
      problems.push("no database configured: set [base] db_url (or db_path), or SESH_PRO_BACKEND_DB_URL")
    }
  }

  // ----- listen address and processes
  const host = (envGet("SESH_PRO_BACKEND_HOST") ?? iniStr("base", "host") ?? DEFAULT_HOST).trim()
  if (host === "") problems.push("[base] host is empty")
  const port =
    intOf("SESH_PRO_BACKEND_PORT", envGet("SESH_PRO_BACKEND_PORT"), 0, 65535) ??
      (envGet("SESH_PRO_BACKEND_PORT") === undefined ? intOf("[base] port", iniStr("base", "port"), 0, 65535) : undefined) ??
      DEFAULT_PORT
  const workers =
    intOf("SESH_PRO_BACKEND_WORKERS", envGet("SESH_PRO_BACKEND_WORKERS"), 1, MAX_WORKERS) ??
      (envGet("SESH_PRO_BACKEND_WORKERS") === undefined ? intOf("[base] workers", iniStr("base", "workers"), 1, MAX_WORKERS) : undefined) ??
      1
  if (workers > 1 && database?._tag === "Sqlite" && database.filename === ":memory:") {
    problems.push(`workers = ${workers} needs a database file or PostgreSQL: processes cannot share an in-memory SQLite database`)
  }

  // ----- fake clock (dev only)
  const fakeClockText = envGet("SESH_PRO_BACKEND_FAKE_CLOCK") ?? iniStr("base", "fake_clock")
  let fakeClockMs: number | undefined
  if (fakeClockText !== undefined && fakeClockText.trim() !== "") {
    const t = fakeClockText.trim()
    fakeClockMs = /^\d+$/.test(t) ? Number(t) : Date.parse(t)
    if (!Number.isFinite(fakeClockMs)) {
      problems.push(`fake_clock: "${t}" is neither a Unix time in ms nor an ISO-8601 date`)
      fakeClockMs = undefined
    } else if (!devMode) {
      problems.push("fake_clock is only allowed in dev mode (set dev = true)")
    }
  }

  // ----- logging
  const logPathRaw = envGet("SESH_PRO_BACKEND_LOG_PATH") ?? iniStr("base", "log_path") ?? ""
  const logPath = logPathRaw.trim() === "" ? undefined : NodePath.resolve(cwd, logPathRaw.trim())

  // ----- webhooks: [session_webhook.N] (consecutive from 0) and the older single URL
  const iniWebhooks: Array<Webhook> = []
  let anyWebhookSection = false
  for (let i = 0; section(`session_webhook.${i}`); i++) {
    anyWebhookSection = true
    const label = `[session_webhook.${i}]`
    const enabledText = iniStr(`session_webhook.${i}`, "enabled")
    const url = iniStr(`session_webhook.${i}`, "url")
    const name = iniStr(`session_webhook.${i}`, "name")
    if (enabledText === undefined) problems.push(`${label} is missing 'enabled'`)
    if (url === undefined) problems.push(`${label} is missing 'url'`)
    if (name === undefined) problems.push(`${label} is missing 'name'`)
    const enabled = enabledText === undefined ? undefined : iniBool(`session_webhook.${i}`, "enabled")
    if (name !== undefined && name.length > WEBHOOK_NAME_MAX) {
      problems.push(`${label} name is ${name.length} characters; at most ${WEBHOOK_NAME_MAX} are allowed`)
    }
    if (enabled && url !== undefined && !/^https?:\/\/\S+$/i.test(url)) problems.push(`${label} url "${url}" is not an http(s) URL`)
    if (enabled && url !== undefined && name !== undefined) iniWebhooks.push({ name, url })
  }
  let consecutive = 0
  while (section(`session_webhook.${consecutive}`)) consecutive++
  for (const s of file?.sections.keys() ?? []) {
    const m = /^session_webhook\.(\d+)$/.exec(s)
    if (m && Number(m[1]) >= consecutive) {
      warnings.push(`[${s}] is ignored: webhook sections must be numbered consecutively from 0`)
    }
  }

  const oldWebhook = (layer: string, url: string | undefined, name: string | undefined): Webhook | undefined => {
    if (url === undefined || url.trim() === "") return undefined
    if (!/^https?:\/\/\S+$/i.test(url.trim())) problems.push(`${layer} session_webhook_url "${url}" is not an http(s) URL`)
    const n = name === undefined || name.trim() === "" ? "Session Pro Backend" : name.trim()
    if (n.length > WEBHOOK_NAME_MAX) problems.push(`${layer} session_webhook_name is ${n.length} characters; at most ${WEBHOOK_NAME_MAX} are allowed`)
    return { name: n, url: url.trim() }
  }
  const iniOld = oldWebhook("[base]", iniStr("base", "session_webhook_url"), iniStr("base", "session_webhook_name"))
  const envOld = oldWebhook(
    "SESH_PRO_BACKEND_SESSION_WEBHOOK_URL",
    envGet("SESH_PRO_BACKEND_SESSION_WEBHOOK_URL"),
    envGet("SESH_PRO_BACKEND_SESSION_WEBHOOK_NAME")
  )
  let webhooks: Array<Webhook>
  if (envOld) {
    webhooks = [envOld] // the environment overrides the file's webhooks
  } else if (iniOld && anyWebhookSection) {
    if (!iniWebhooks.some((w) => w.url === iniOld.url)) {
      problems.push(
        `[base] session_webhook_url (${iniOld.url}) disagrees with the [session_webhook.N] sections; keep one generation`
      )
    }
    webhooks = iniWebhooks
  } else {
    webhooks = iniOld ? [iniOld] : iniWebhooks
  }

  // ----- Apple
  let apple: AppleConfig | undefined
  if (withApple) {
    const a = section("apple")
    if (!a) {
      problems.push("Platform Apple was enabled but the [apple] section is missing")
    } else {
      const g = (k: string) => (a.get(k) ?? "").trim()
      for (const k of ["key_id", "issuer_id", "bundle_id", "key_path", "root_cert_path", "root_cert_ca_g2_path", "root_cert_ca_g3_path"]) {
        if (g(k) === "") problems.push(`Platform Apple was enabled but [apple] ${k} was not specified`)
      }
      const sandbox = iniBool("apple", "sandbox_env") ?? false
      const opt = (k: string) => (g(k) === "" ? undefined : g(k))
      const appId = agree(
        { label: "[apple] app_id", value: intOf("[apple] app_id", opt("app_id"), 0, Number.MAX_SAFE_INTEGER) },
        {
          label: "[apple] production_app_id",
          value: intOf("[apple] production_app_id", opt("production_app_id"), 0, Number.MAX_SAFE_INTEGER)
        }
      )
      if (!sandbox && opt("app_id") === undefined && opt("production_app_id") === undefined) {
        problems.push("Platform Apple was enabled in production (sandbox_env = false) but [apple] app_id was not specified")
      }
      if (sandbox && !platformTestingEnv) {
        warnings.push("Platform Apple is in sandbox mode but platform_testing_env was false; forcing it to true")
        platformTestingEnv = true
      }
      for (const k of ["key_path", "root_cert_path", "root_cert_ca_g2_path", "root_cert_ca_g3_path"]) {
        if (g(k) !== "" && !isReadable(NodePath.resolve(cwd, g(k)))) {
          problems.push(`Platform Apple was enabled but [apple] ${k} "${g(k)}" is not a readable file`)
        }
      }
      apple = {
        appId,
        bundleId: g("bundle_id"),
        issuerId: g("issuer_id"),
        keyId: g("key_id"),
        keyPath: g("key_path") === "" ? "" : NodePath.resolve(cwd, g("key_path")),
        rootCertPath: g("root_cert_path") === "" ? "" : NodePath.resolve(cwd, g("root_cert_path")),
        rootCertCaG2Path: g("root_cert_ca_g2_path") === "" ? "" : NodePath.resolve(cwd, g("root_cert_ca_g2_path")),
        rootCertCaG3Path: g("root_cert_ca_g3_path") === "" ? "" : NodePath.resolve(cwd, g("root_cert_ca_g3_path")),
        sandbox
      }
    }
  }

  // ----- Google
  let google: GoogleConfig | undefined
  if (withGoogle) {
    const gs = section("google")
    if (!gs) {
      problems.push("Platform Google was enabled but the [google] section is missing")
    } else {
      const pair = (newKey: string, oldKey: string) => {
        const n = gs.get(newKey)?.trim()
        const o = gs.get(oldKey)?.trim()
        return agree({ label: `[google] ${newKey}`, value: n === "" ? undefined : n }, { label: `[google] ${oldKey}`, value: o === "" ? undefined : o }) ?? ""
      }
      const credentialsPath = pair("cloud_app_credentials_path", "application_credentials_path")
      const projectId = pair("cloud_project_id", "project_name")
      const subscriptionName = pair("cloud_subscription_name", "subscription_name")
      const packageName = (gs.get("package_name") ?? "").trim()
      const subscriptionProductId = (gs.get("subscription_product_id") ?? "").trim()
      const need: Array<[string, string]> = [
        ["cloud_app_credentials_path", credentialsPath],
        ["cloud_project_id", projectId],
        ["cloud_subscription_name", subscriptionName],
        ["package_name", packageName],
        ["subscription_product_id", subscriptionProductId]
      ]
      for (const [k, v] of need) if (v === "") problems.push(`Platform Google was enabled but [google] ${k} was not specified`)
      if (credentialsPath !== "" && !isReadable(NodePath.resolve(cwd, credentialsPath))) {
        problems.push(`Platform Google was enabled but [google] cloud_app_credentials_path "${credentialsPath}" is not a readable file`)
      }
      google = {
        credentialsPath: credentialsPath === "" ? "" : NodePath.resolve(cwd, credentialsPath),
        projectId,
        subscriptionName,
        packageName,
        subscriptionProductId
      }
    }
  }

  // ----- start-up edits
  const userErrArg = envGet("SESH_PRO_BACKEND_SET_USER_ERRORS") ?? iniStr("base", "set_user_errors") ?? ""
  const userErrs = parseSetUserErrors(
    userErrArg,
    envGet("SESH_PRO_BACKEND_SET_USER_ERRORS") !== undefined ? "SESH_PRO_BACKEND_SET_USER_ERRORS" : "[base] set_user_errors"
  )
  problems.push(...userErrs.problems)
  const googleArg = envGet("SESH_PRO_BACKEND_SET_GOOGLE_NOTIFICATION") ?? iniStr("base", "set_google_notification") ?? ""
  const googleEdits = parseSetGoogleNotification(
    googleArg,
    envGet("SESH_PRO_BACKEND_SET_GOOGLE_NOTIFICATION") !== undefined
      ? "SESH_PRO_BACKEND_SET_GOOGLE_NOTIFICATION"
      : "[base] set_google_notification"
  )
  problems.push(...googleEdits.problems)

  if (problems.length > 0 || !database) return { _tag: "Left", problems, warnings }
  return {
    _tag: "Right",
    config: {
      iniPath: input.iniPath,
      database,
      databaseDefaulted,
      logPath,
      dev: devMode,
      unsafeLogging,
      platformTestingEnv,
      printTables,
      host,
      port,
      workers,
      fakeClockMs,
      webhooks,
      apple,
      google,
      setUserErrors: userErrs.items,
      setGoogleNotifications: googleEdits.items,
      warnings
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Loading: env + the file it names

/** Reads the INI file named by `SESH_PRO_BACKEND_INI_PATH` (if any) and parses everything. */
export const loadConfig = (env: Env, cwd = process.cwd()): ParseResult => {
  const iniPath = env.SESH_PRO_BACKEND_INI_PATH
  if (iniPath === undefined || iniPath === "") return parseConfig({ env, cwd })
  let text: string
  try {
    text = NodeFs.readFileSync(NodePath.resolve(cwd, iniPath), "utf8")
  } catch {
    return {
      _tag: "Left",
      problems: [`INI config file "${iniPath}" (SESH_PRO_BACKEND_INI_PATH) does not exist or is not readable`],
      warnings: []
    }
  }
  return parseConfig({ ini: text, iniPath, env, cwd })
}

/** The same, as an Effect; failures carry every problem. */
export const load = (env: Env, cwd?: string): Effect.Effect<ServerConfigShape, ServerConfigError> =>
  Effect.suspend(() => {
    const r = loadConfig(env, cwd)
    return r._tag === "Right" ? Effect.succeed(r.config) : Effect.fail(new ServerConfigError({ problems: r.problems }))
  })

/** Every `SESH_PRO_BACKEND_*` variable read through Effect's `Config`, so a `ConfigProvider` can stand in. */
export const envConfig: Config.Config<Env> = Config.all(
  Object.fromEntries(ENV_KEYS.map((k) => [k, Config.option(Config.string(k))])) as Record<
    EnvKey,
    Config.Config<Option.Option<string>>
  >
).pipe(Config.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Option.getOrUndefined(v)])) as Env))

export class ServerConfig extends Context.Tag("@session-pro/http/ServerConfig")<ServerConfig, ServerConfigShape>() {
  /** A fixed configuration (tests, embedding). */
  static layer(config: ServerConfigShape): Layer.Layer<ServerConfig> {
    return Layer.succeed(ServerConfig, config)
  }
  /** Environment (through the current `ConfigProvider`) plus the INI file it names. */
  static readonly layerConfig: Layer.Layer<ServerConfig, ServerConfigError> = Layer.effect(
    ServerConfig,
    Effect.flatMap(
      Effect.mapError(envConfig, (e) => new ServerConfigError({ problems: [String(e)] })),
      (env) => load(env)
    )
  )
}

/** For tests and embedding: a full config from a few overrides (dev, in-memory SQLite). */
export const testConfig = (overrides: Partial<ServerConfigShape> = {}): ServerConfigShape => ({
  iniPath: undefined,
  database: { _tag: "Sqlite", filename: ":memory:", url: "sqlite:///:memory:" },
  databaseDefaulted: false,
  logPath: undefined,
  dev: true,
  unsafeLogging: false,
  platformTestingEnv: false,
  printTables: false,
  host: DEFAULT_HOST,
  port: 0,
  workers: 1,
  fakeClockMs: undefined,
  webhooks: [],
  apple: undefined,
  google: undefined,
  setUserErrors: [],
  setGoogleNotifications: [],
  warnings: [],
  ...overrides
})
