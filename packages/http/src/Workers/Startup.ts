/**
 * One-off start-up work of the server binary (domain.md §13): the `set_user_errors` and
 * `set_google_notification` edits, `print_tables`, the DB info lines and the banner.
 *
 * The edits go through the core's UserErrors / GoogleNotificationHistory with the semantics of the
 * admin CLI (§12.2, §12.4-5), each item in its own transaction. Unlike the older reference,
 * which exited after applying them, the server then carries on starting.
 */
import * as NodeFs from "node:fs"
import { Clock, Effect } from "effect"
import { Database, Ed25519, GoogleNotificationHistory, hex, UserErrors } from "@session-pro/core"
import { boxTable, renderCell } from "../Cli/Format.js"
import { maskDbUrl, type ServerConfigShape } from "../Config/ServerConfig.js"

const nn = (i: number) => String(i).padStart(2, "0")
const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v))

export const applyUserErrorEdits = (items: ServerConfigShape["setUserErrors"]) =>
  Effect.gen(function*() {
    const db = yield* Database
    const userErrors = yield* UserErrors
    let count = 0
    const lines: Array<string> = []
    for (const [i, it] of items.entries()) {
      const now = yield* Clock.currentTimeMillis
      const key = { provider: it.provider, paymentId: it.paymentId }
      const suffix = yield* db.transaction(
        it.set
          ? Effect.map(userErrors.add({ ...key, unixTsMs: now }), (added) => (added ? " (added)" : " (skipped - already exists)"))
          : Effect.map(userErrors.remove(key), (deleted) => (deleted ? " (deleted)" : " (skipped - not found)"))
      )
      if (suffix === " (added)" || suffix === " (deleted)") count++
      lines.push(`  ${nn(i)} ${it.provider}:${it.paymentId} = ${it.set ? "True" : "False"}${suffix}`)
    }
    return `Set ${count}/${items.length} user errors\n${lines.join("\n")}`
  })

export const applyGoogleNotificationEdits = (items: ServerConfigShape["setGoogleNotifications"]) =>
  Effect.gen(function*() {
    const db = yield* Database
    const history = yield* GoogleNotificationHistory
    let count = 0
    const lines: Array<string> = []
    for (const [i, it] of items.entries()) {
      const changed = yield* db.transaction(history.setHandled(it.messageId, { delete: it.action === "delete" }))
      if (changed) count++
      lines.push(`  ${nn(i)} ${it.messageId} = ${it.action === "delete" ? "Delete" : "Handled"}${changed ? "" : " (skipped - not found)"}`)
    }
    return `Set ${count}/${items.length} google notifications\n${lines.join("\n")}`
  })

/**
 * Every table, box-drawn (`print_tables`, like `db print`, §12.12). The backend's signing seed is
 * shown only as its public key unless `unsafe_logging`.
 */
export const printTables = (unsafeLogging: boolean) =>
  Effect.gen(function*() {
    const db = yield* Database
    const sql = db.sql
    const tables = db.dialect === "sqlite"
      ? (yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
        .map((r) => r.name)
      : (yield* sql<{ tablename: string }>`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`)
        .map((r) => r.tablename)
    const out: Array<string> = []
    for (const table of tables) {
      // Columns from the catalogue, so an empty table still prints its header.
      const columns: Array<{ name: string; bigint: boolean }> = db.dialect === "sqlite"
        ? (yield* sql.unsafe<{ name: string }>(`PRAGMA table_info("${table.replace(/"/g, "\"\"")}")`)).map((c) => ({ name: c.name, bigint: false }))
        : (yield* sql<{ column_name: string; data_type: string }>`SELECT column_name, data_type FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = ${table} ORDER BY ordinal_position`).map((c) => ({
            name: c.column_name,
            bigint: c.data_type === "bigint"
          }))
      const rows = yield* sql.unsafe<Record<string, unknown>>(`SELECT * FROM "${table.replace(/"/g, "\"\"")}"`)
      const cell = (c: { name: string; bigint: boolean }, v: unknown) =>
        !unsafeLogging && table === "runtime" && c.name === "backend_key" && v instanceof Uint8Array && v.length === 32
          ? `(secret seed hidden; public key ${hex(Ed25519.publicKeyFromSeed(v))})`
          : renderCell(table, c.name, v, c.bigint)
      out.push(`Table: ${table}`)
      out.push(boxTable(columns.map((c) => c.name), rows.map((r) => columns.map((c) => cell(c, r[c.name])))))
    }
    return out.join("\n")
  })

const formatSize = (n: number): string => {
  const units = ["TB", "GB", "MB", "kB"]
  for (const [i, u] of units.entries()) {
    const f = 1024 ** (4 - i)
    if (n >= f) return `${(n / f).toFixed(2)} ${u}`
  }
  return `${n.toFixed(2)} B`
}

/** The five `db info` lines (§12.11). */
export const dbInfo = (config: ServerConfigShape) =>
  Effect.gen(function*() {
    const db = yield* Database
    const sql = db.sql
    const count = (table: string, where = "") =>
      Effect.map(sql.unsafe<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${table} ${where}`), (r) => num(r[0]?.n))
    const users = yield* count("users")
    const revocs = yield* count("revocations")
    const payments = yield* count("payments")
    const unredeemed = yield* count("payments", "WHERE status = 1")
    const errors = yield* count("user_errors")
    const google = yield* count("google_notification_history")
    const apple = yield* count("apple_notification_uuid_history")
    const runtime = yield* sql<{ gen_index: unknown; backend_key: Uint8Array }>`SELECT gen_index, backend_key FROM runtime LIMIT 1`
    const size = config.database._tag === "Sqlite" && config.database.filename !== ":memory:"
      ? (() => {
        try {
          return NodeFs.statSync(config.database.filename).size
        } catch {
          return 0
        }
      })()
      : 0
    const url = config.database._tag === "Sqlite" ? config.database.url : maskDbUrl(config.database.url)
    const pub = runtime[0] ? hex(Ed25519.publicKeyFromSeed(new Uint8Array(runtime[0].backend_key))) : "(none)"
    const label = (l: string) => `  ${l.padEnd(34)}`
    return [
      `${label("DB:")}${url} (${formatSize(size)})`,
      `${label("Users/Revocs/Payments/Unredeemed:")}${users}/${revocs}/${payments}/${unredeemed}`,
      `${label("U.Errors/Google/Apple Notifs.:")}${errors}/${google}/${apple}`,
      `${label("Gen Index:")}${num(runtime[0]?.gen_index)}`,
      `${label("Backend Key:")}${pub}`
    ].join("\n")
  })

const DEV_BOX = [
  "######################################",
  "###                                ###",
  "###        Dev Mode Enabled        ###",
  "###                                ###",
  "######################################"
].join("\n")

/** The start-up banner (§13 step 8). Only masked values: it also goes to the webhooks. */
export const banner = (config: ServerConfigShape, info: string, listening: string): string => {
  const f: Array<string> = []
  if (config.iniPath) f.push(`    Config .INI file loaded: ${config.iniPath}`)
  const db = config.database._tag === "Sqlite" ? config.database.filename : maskDbUrl(config.database.url)
  f.push(`    DB loaded from: ${db}${config.databaseDefaulted ? " (default)" : ""}`)
  f.push(`    Logging to: ${config.logPath ?? "disabled"}`)
  if (config.unsafeLogging) f.push("    Unsafe logging enabled (this must NOT be used in production)")
  if (config.platformTestingEnv) {
    f.push("    Platform testing environment enabled (special behaviour for rounding timestamps to EOD)")
  }
  if (config.apple) {
    f.push(`    Platform: ${config.apple.sandbox ? "Sandbox" : "Production"} Apple iOS App Store notification handling enabled`)
  }
  if (config.google) f.push("    Platform: Google Play Store notification handling enabled")
  for (const w of config.webhooks) f.push(`    Webhook Logger: Enabled (display name: ${w.name})`)
  if (config.fakeClockMs !== undefined) f.push(`    Fake clock: started at ${new Date(config.fakeClockMs).toISOString()}`)
  f.push(`    HTTP: ${listening}`)
  const body = `Session Pro Backend\n${info}\n  Features:\n${f.join("\n")}`
  return config.dev ? `\n${DEV_BOX}\n${body}\n${DEV_BOX}` : `\n${body}`
}
