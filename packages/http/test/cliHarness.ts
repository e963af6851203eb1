/** Shared helpers of the admin CLI tests: run the CLI in-process, make and seed databases. */
import { SqlClient } from "@effect/sql"
import { Backend, Database } from "@session-pro/core"
import { Effect, Layer } from "effect"
import * as NodeFs from "node:fs"
import * as NodeOs from "node:os"
import * as NodePath from "node:path"
import { vi } from "vitest"
import { runAdmin } from "../src/Cli/Main.js"
import { CliEnvironment } from "../src/Cli/Runtime.js"

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `session-pro-admin <args>` in-process with a hermetic environment, capturing the console. */
export const runCli = async (args: ReadonlyArray<string>, env: Record<string, string> = {}, cwd = NodeOs.tmpdir()): Promise<CliResult> => {
  const out: Array<string> = []
  const err: Array<string> = []
  const log = vi.spyOn(console, "log").mockImplementation((...a: Array<unknown>) => {
    out.push(a.map(String).join(" "))
  })
  const error = vi.spyOn(console, "error").mockImplementation((...a: Array<unknown>) => {
    err.push(a.map(String).join(" "))
  })
  try {
    const code = await Effect.runPromise(
      runAdmin(["node", "session-pro-admin", ...args]).pipe(Effect.provideService(CliEnvironment, { env, cwd }))
    )
    return { code, stdout: out.join("\n"), stderr: err.join("\n") }
  } finally {
    log.mockRestore()
    error.mockRestore()
  }
}

export const tmpDir = () => NodeFs.mkdtempSync(NodePath.join(NodeOs.tmpdir(), "pro-cli-"))

/** A database the way the server leaves it: bootstrapped by the core (dev key, fixed salt). */
export const SALT = Uint8Array.from({ length: 16 }, (_, i) => i)

export interface TestDb {
  readonly url: string
  readonly kind: "sqlite" | "pg"
  /** Run an effect against it (seeding, assertions). */
  readonly run: <A, E>(eff: Effect.Effect<A, E, Backend.BackendServices>) => Promise<A>
  readonly cleanup: () => Promise<void>
}

export const sqliteDb = (): TestDb => {
  const dir = tmpDir()
  const file = NodePath.join(dir, "pro.db")
  const url = `sqlite:///${file}`
  const layer = Backend.layer({ url, settings: { dev: true }, bootstrap: { salt: SALT } })
  return {
    url,
    kind: "sqlite",
    run: (eff) => Effect.runPromise(Effect.provide(eff, layer)),
    cleanup: async () => NodeFs.rmSync(dir, { recursive: true, force: true })
  }
}

let pgCounter = 0
const pgRun = async (url: string, stmt: string) => {
  const { PgClient } = await import("@effect/sql-pg")
  const { Redacted } = await import("effect")
  return Effect.runPromise(
    Effect.scoped(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<Record<string, unknown>>(stmt))).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(url) }))
    )
  )
}
/** A new, empty PostgreSQL database next to PRO_TEST_PG_URL's. */
const createPgDatabase = async (baseUrl: string) => {
  const name = `pro_cli_${process.pid}_${Date.now()}_${pgCounter++}`
  await pgRun(baseUrl, `CREATE DATABASE ${name}`)
  const u = new URL(baseUrl)
  u.pathname = `/${name}`
  return { url: u.toString(), drop: () => pgRun(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined) }
}

export interface EmptyDb {
  readonly url: string
  readonly tables: () => Promise<Array<string>>
  readonly cleanup: () => Promise<void>
}

export const emptySqliteDb = (): EmptyDb => {
  const dir = tmpDir()
  const file = NodePath.join(dir, "empty.db")
  NodeFs.writeFileSync(file, "")
  return {
    url: `sqlite:///${file}`,
    tables: async () => (NodeFs.statSync(file).size === 0 ? [] : ["(file was written)"]),
    cleanup: async () => NodeFs.rmSync(dir, { recursive: true, force: true })
  }
}

export const emptyPgDb = async (baseUrl: string): Promise<EmptyDb> => {
  const { url, drop } = await createPgDatabase(baseUrl)
  return {
    url,
    tables: async () => (await pgRun(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).map((r) => String(r.tablename)),
    cleanup: drop
  }
}

/** A fresh PostgreSQL database per test group, created next to PRO_TEST_PG_URL's and dropped after. */
export const pgDb = async (baseUrl: string): Promise<TestDb> => {
  const { url, drop } = await createPgDatabase(baseUrl)
  const layer = Backend.layer({ url, settings: { dev: true }, bootstrap: { salt: SALT } })
  return {
    url,
    kind: "pg",
    run: (eff) => Effect.runPromise(Effect.provide(eff, layer)),
    cleanup: drop
  }
}

// ---------------------------------------------------------------------------------------------
// Seeding with plain SQL so the data is exactly what the assertions expect

export interface SeedPayment {
  readonly master?: Uint8Array | null
  readonly status: number
  readonly plan: number
  readonly provider: 1 | 2 | 3
  readonly auto: boolean
  readonly unredeemed: number
  readonly expiry: number
  readonly refundRequested?: number
  readonly revoked?: number | null
  readonly id: string
}

const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

export const insertPayment = (p: SeedPayment) =>
  Effect.gen(function*() {
    const db = yield* Database
    const sql = db.sql
    const google = p.provider === 1
    const apple = p.provider === 2
    yield* sql`INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms,
      redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms, platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms,
      apple_original_tx_id, apple_tx_id, apple_web_line_order_tx_id, google_payment_token, google_order_id, rangeproof_order_id,
      refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
      VALUES (${p.master ? buf(p.master) : null}, ${p.status}, ${p.plan}, ${p.provider}, ${db.bool(p.auto)}, ${p.unredeemed},
      ${p.status >= 2 && p.master ? p.unredeemed : null}, ${p.expiry}, 0, 0, ${p.revoked ?? null},
      ${apple ? `orig-${p.id}` : null}, ${apple ? `tx-${p.id}` : null}, ${apple ? "" : null},
      ${google ? `token-${p.id}` : null}, ${google ? `order-${p.id}` : null}, ${p.provider === 3 ? `rp-${p.id}` : null},
      ${p.refundRequested ?? 0}, ${null}, '')`
  })

export const insertUser = (master: Uint8Array, genIndex: number, expiry: number) =>
  Effect.gen(function*() {
    const db = yield* Database
    yield* db.sql`INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing,
      refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
      VALUES (${buf(master)}, ${genIndex}, ${expiry}, 0, ${db.bool(false)}, 0, ${buf(new Uint8Array(32))}, '')`
  })

export const query = (text: string) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<Record<string, unknown>>(text))

export { Layer }
