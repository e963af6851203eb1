/**
 * A better-sqlite3 SqlClient that starts every transaction with `BEGIN IMMEDIATE`.
 *
 * `@effect/sql-sqlite-node` 0.53 hard-codes a deferred `BEGIN` (it passes no `beginTransaction` to
 * `SqlClient.make`), so a read-then-write guard inside a transaction (dedupe, sweep guard, …) would take
 * its write lock only at the first write and could race another process. This driver is the same
 * single-connection design (a semaphore serialises in-process use) with the begin statement swapped and
 * the pragmas we need (WAL, synchronous=NORMAL, busy_timeout).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Client from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import { SqliteClient } from "@effect/sql-sqlite-node"
import Sqlite from "better-sqlite3"

export interface SqliteStatement {
  readonly reader: boolean
  run(...params: ReadonlyArray<unknown>): { changes: number; lastInsertRowid: number | bigint }
  all(...params: ReadonlyArray<unknown>): Array<unknown>
  get(...params: ReadonlyArray<unknown>): unknown
  raw(toggle?: boolean): this
}
/** The part of a better-sqlite3 `Database` the core uses. */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement
  exec(sql: string): this
  pragma(sql: string, options?: { simple?: boolean }): unknown
  close(): this
  serialize(): Buffer
  backup(destination: string): Promise<unknown>
  loadExtension(path: string): this
}
type SqliteDb = SqliteDatabase
const openDb = (filename: string): SqliteDatabase => new Sqlite(filename) as SqliteDatabase
import { Context, Effect, Layer, Scope } from "effect"

export interface SqliteDriverOptions {
  readonly filename: string
  readonly busyTimeoutMs?: number
}

/** The raw handle, for backups and legacy-schema tests. */
export class SqliteHandle extends Context.Tag("@session-pro/core/SqliteHandle")<SqliteHandle, SqliteDb>() {}

const make = (options: SqliteDriverOptions) =>
  Effect.gen(function*() {
    const compiler = Statement.makeCompilerSqlite()
    const scope = yield* Effect.scope
    const db = openDb(options.filename)
    yield* Scope.addFinalizer(scope, Effect.sync(() => db.close()))
    if (options.filename !== ":memory:" && options.filename !== "") db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`)

    const cache = new Map<string, SqliteStatement>()
    const prepare = (sql: string) =>
      Effect.try({
        try: () => {
          let s = cache.get(sql)
          if (s === undefined) {
            s = db.prepare(sql)
            if (cache.size > 500) cache.clear()
            cache.set(sql, s)
          }
          return s
        },
        catch: (cause) => new SqlError({ cause, message: "Failed to prepare statement" })
      })
    const runStatement = (statement: SqliteStatement, params: ReadonlyArray<unknown>, raw: boolean) =>
      Effect.try({
        try: () => {
          if (statement.reader) return statement.all(...params) as Array<any>
          const result = statement.run(...params)
          return raw ? (result as any) : []
        },
        catch: (cause) => new SqlError({ cause, message: "Failed to execute statement" })
      })
    const run = (sql: string, params: ReadonlyArray<unknown>, raw = false) =>
      Effect.flatMap(prepare(sql), (s) => runStatement(s, params, raw))

    const connection: Connection = {
      execute(sql, params, transformRows) {
        return transformRows ? Effect.map(run(sql, params), transformRows) : run(sql, params)
      },
      executeRaw(sql, params) {
        return run(sql, params, true)
      },
      executeValues(sql, params) {
        return Effect.flatMap(prepare(sql), (s) =>
          Effect.try({
            try: () => {
              if (!s.reader) {
                s.run(...params)
                return []
              }
              s.raw(true)
              try {
                return s.all(...params) as Array<Array<any>>
              } finally {
                s.raw(false)
              }
            },
            catch: (cause) => new SqlError({ cause, message: "Failed to execute statement" })
          }))
      },
      executeUnprepared(sql, params, transformRows) {
        const eff = Effect.flatMap(
          Effect.try({ try: () => db.prepare(sql), catch: (cause) => new SqlError({ cause, message: "Failed to prepare statement" }) }),
          (s) => runStatement(s, params ?? [], false)
        )
        return transformRows ? Effect.map(eff, transformRows) : eff
      },
      executeStream() {
        return Effect.dieMessage("executeStream not implemented") as any
      }
    }

    const semaphore = yield* Effect.makeSemaphore(1)
    const acquirer = semaphore.withPermits(1)(Effect.succeed(connection))
    const transactionAcquirer = Effect.uninterruptibleMask((restore) =>
      Effect.as(
        Effect.zipRight(
          restore(semaphore.take(1)),
          Effect.tap(Effect.scope, (scope) => Scope.addFinalizer(scope, semaphore.release(1)))
        ),
        connection
      )
    )
    const client = yield* Client.make({
      acquirer,
      compiler,
      transactionAcquirer,
      beginTransaction: "BEGIN IMMEDIATE",
      spanAttributes: [["db.system.name", "sqlite"]]
    })
    return { client, db }
  })

/**
 * Provides `SqlClient` (and the driver's own `SqliteClient` tag, so code written against the stock
 * driver keeps working) plus the raw handle.
 */
export const layer = (options: SqliteDriverOptions): Layer.Layer<Client.SqlClient | SqliteClient.SqliteClient | SqliteHandle, never> =>
  Layer.scopedContext(
    Effect.map(make(options), ({ client, db }) => {
      const sqlite = Object.assign(client, {
        [SqliteClient.TypeId]: SqliteClient.TypeId,
        config: { filename: options.filename },
        export: Effect.try({ try: () => db.serialize() as Uint8Array, catch: (cause) => new SqlError({ cause, message: "Failed to export database" }) }),
        backup: (destination: string) =>
          Effect.tryPromise({ try: () => db.backup(destination), catch: (cause) => new SqlError({ cause, message: "Failed to backup database" }) }),
        loadExtension: (path: string) =>
          Effect.try({ try: () => { db.loadExtension(path) }, catch: (cause) => new SqlError({ cause, message: "Failed to load extension" }) })
      }) as unknown as SqliteClient.SqliteClient
      return Context.make(Client.SqlClient, client).pipe(
        Context.add(SqliteClient.SqliteClient, sqlite),
        Context.add(SqliteHandle, db)
      )
    })
  ).pipe(Layer.provide(Reactivity.layer))
