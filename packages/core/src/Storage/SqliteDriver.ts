/**
 * A better-sqlite3 SqlClient that starts every transaction with `BEGIN IMMEDIATE`.
 *
 * `@effect/sql-sqlite-node` 0.53 hard-codes a deferred `BEGIN` (it passes no `beginTransaction` to
 * `SqlClient.make`), so a read-then-write guard inside a transaction (dedupe, sweep guard, …) would take
 * its write lock only at the first write and could race another process. This driver is the same
 * single-connection design (a lock serialises in-process use) with the begin statement swapped and
 * the pragmas we need (WAL, synchronous=NORMAL, busy_timeout). A file DB's WAL is checkpointed by a worker
 * thread on its own connection, not inside this connection's commits (`Checkpointer.ts`).
 *
 * It also provides `SqliteDirect`, the fast path `Database.q` and `Database.transaction` use: cached
 * prepared statements run synchronously, and transactions made of prepared BEGIN/COMMIT/ROLLBACK/SAVEPOINT
 * statements, without the per-statement span/scope/compile of `@effect/sql`.
 *
 * The single connection is guarded by one lock (`ConnectionLock`), held by a transaction (fast or
 * `sql.withTransaction`) for its whole life, by `sql.reserve`, and by a plain `sql` statement while it
 * runs. A plain fast statement needs no permit of its own (JS is single-threaded and better-sqlite3 is
 * synchronous): it runs at once when the lock is free or when its fiber is inside the transaction holding
 * it (`TransactionConnection` in its context), and otherwise waits until the lock is released — so a
 * statement outside a transaction never runs inside another fiber's open transaction.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Client from "@effect/sql/SqlClient"
import { TransactionConnection } from "@effect/sql/SqlClient"
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
  readonly inTransaction: boolean
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
import { Context, Effect, Exit, FiberRef, Layer, Scope } from "effect"
import * as Checkpointer from "./Checkpointer.js"

export interface SqliteDriverOptions {
  readonly filename: string
  readonly busyTimeoutMs?: number
  /** SQLite `mmap_size` for a file DB (default 1 GiB of address space, not memory; 0 turns it off). */
  readonly mmapSizeBytes?: number
  /**
   * WAL checkpoints of a file DB in a worker thread instead of inside the COMMIT that crosses SQLite's
   * autocheckpoint threshold (see `Checkpointer.ts`; default on, with its defaults); `false` keeps
   * SQLite's autocheckpoint on this connection.
   */
  readonly backgroundCheckpoint?: boolean | Omit<Checkpointer.CheckpointerOptions, "filename">
}
export const DEFAULT_MMAP_SIZE = 1024 * 1024 * 1024

/** The raw handle, for backups and legacy-schema tests. */
export class SqliteHandle extends Context.Tag("@session-pro/core/SqliteHandle")<SqliteHandle, SqliteDb>() {}

/** The fast path over the driver's single connection (used by `Database`; see the module comment). */
export interface SqliteDirectShape {
  readonly db: SqliteDb
  /** Prepare `sql` (cached by text). Throws as better-sqlite3 does. */
  readonly prepare: (sql: string) => SqliteStatement
  /**
   * Run `f` (synchronous, returns the result as an Effect) on the connection: at once when no
   * transaction holds the connection or this fiber is inside the one that does, else after it ends.
   */
  readonly use: <A, E>(f: () => Effect.Effect<A, E>) => Effect.Effect<A, E>
  /**
   * One `BEGIN IMMEDIATE` transaction with `TransactionConnection` in the context (so `sql` statements
   * inside use it); nested calls join it with a savepoint. Rolled back on failure, defect and interruption.
   */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
}
export class SqliteDirect extends Context.Tag("@session-pro/core/SqliteDirect")<SqliteDirect, SqliteDirectShape>() {}

/**
 * The connection's lock: a flag plus the fibers waiting for it to clear. Waiting is interruptible and
 * takes nothing; the lock is taken synchronously by the waiter once it runs again (callers are
 * uninterruptible there), so an interrupted waiter can never leak it. Every release wakes every waiter
 * (each re-checks), so no wake-up is lost.
 */
const makeLock = () => {
  let held = false
  const waiters = new Set<() => void>()
  const waitFree: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (!held) return resume(Effect.void)
    const w = () => resume(Effect.void)
    waiters.add(w)
    return Effect.sync(() => {
      waiters.delete(w)
    })
  })
  const release = () => {
    held = false
    if (waiters.size > 0) {
      const ws = Array.from(waiters)
      waiters.clear()
      for (const w of ws) w()
    }
  }
  /** Take the lock; call inside `uninterruptibleMask`, `restore` makes only the waiting interruptible. */
  const take = (restore: <A, E, R>(e: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (!held) {
        held = true
        return Effect.void
      }
      return Effect.flatMap(restore(waitFree), () => take(restore))
    })
  const tryTake = () => {
    if (held) return false
    held = true
    return true
  }
  return { isHeld: () => held, waitFree, release, take, tryTake }
}

const make = (options: SqliteDriverOptions) =>
  Effect.gen(function*() {
    const compiler = Statement.makeCompilerSqlite()
    const scope = yield* Effect.scope
    const db = openDb(options.filename)
    yield* Scope.addFinalizer(scope, Effect.sync(() => db.close()))
    if (options.filename !== ":memory:" && options.filename !== "") db.pragma("journal_mode = WAL")
    db.pragma("synchronous = NORMAL")
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`)
    // Reads of the main DB file through a memory map instead of pread + a copy into SQLite's 2 MiB page
    // cache: on a DB larger than that cache every point lookup otherwise pays read syscalls (measured at
    // 100k users: /get_pro_details 0.74 → 0.56 CPU ms per request). WAL frames are still read as before.
    const mmap = options.mmapSizeBytes ?? DEFAULT_MMAP_SIZE
    if (mmap > 0 && options.filename !== ":memory:" && options.filename !== "") db.pragma(`mmap_size = ${Math.trunc(mmap)}`)
    // Acquired after the connection, so released before it closes (the final checkpoint runs first).
    const bg = options.backgroundCheckpoint ?? true
    if (bg !== false && options.filename !== ":memory:" && options.filename !== "") {
      yield* Checkpointer.make(db, { ...(bg === true ? {} : bg), filename: options.filename })
    }

    const cache = new Map<string, SqliteStatement>()
    const prepareCached = (sql: string) => {
      let s = cache.get(sql)
      if (s === undefined) {
        s = db.prepare(sql)
        if (cache.size > 500) cache.clear()
        cache.set(sql, s)
      }
      return s
    }
    const prepare = (sql: string) =>
      Effect.try({
        try: () => prepareCached(sql),
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

    const lock = makeLock()
    /** The connection with the lock held until the acquiring scope closes (plain `sql`, transactions, reserve). */
    const lockedConnection = Effect.uninterruptibleMask((restore) =>
      Effect.zipRight(
        lock.take(restore),
        Effect.as(Effect.tap(Effect.scope, (scope) => Scope.addFinalizer(scope, Effect.sync(lock.release))), connection)
      )
    )
    const acquirer = lockedConnection
    const transactionAcquirer = lockedConnection

    const inOurTransaction = (context: Context.Context<never>) => {
      const tx = context.unsafeMap.get(TransactionConnection.key) as readonly [Connection, number] | undefined
      return tx !== undefined && tx[0] === connection ? tx[1] : -1
    }
    const use = <A, E>(f: () => Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.withFiberRuntime((fiber) => {
        if (!lock.isHeld() || inOurTransaction(fiber.currentContext) >= 0) return f()
        return Effect.flatMap(lock.waitFree, () => use(f))
      })

    const begin = db.prepare("BEGIN IMMEDIATE")
    const commit = db.prepare("COMMIT")
    const rollback = db.prepare("ROLLBACK")
    const savepoints: Array<{ save: SqliteStatement; release: SqliteStatement; rollbackTo: SqliteStatement }> = []
    const savepoint = (id: number) =>
      savepoints[id] ??= {
        save: db.prepare(`SAVEPOINT effect_sql_${id}`),
        release: db.prepare(`RELEASE SAVEPOINT effect_sql_${id}`),
        rollbackTo: db.prepare(`ROLLBACK TO SAVEPOINT effect_sql_${id}`)
      }
    const txError = (message: string) => (cause: unknown) => new SqlError({ cause, message })
    const inContext = <A, E, R>(effect: Effect.Effect<A, E, R>, context: Context.Context<never>, id: number) =>
      Effect.locally(effect, FiberRef.currentContext, Context.add(context, TransactionConnection, [connection, id] as const))

    /** Outermost: lock (held until the end), BEGIN IMMEDIATE, the effect, COMMIT or ROLLBACK, unlock. */
    const outer = <A, E, R>(effect: Effect.Effect<A, E, R>, context: Context.Context<never>): Effect.Effect<A, E | SqlError, R> =>
      Effect.uninterruptibleMask((restore) => {
        const run = (): Effect.Effect<A, E | SqlError, R> => {
          try {
            begin.run()
          } catch (cause) {
            lock.release()
            return Effect.fail(txError("Failed to begin transaction")(cause))
          }
          return Effect.flatMap(Effect.exit(inContext(restore(effect), context, 0)), (exit): Effect.Effect<A, E | SqlError> => {
            try {
              if (Exit.isSuccess(exit)) {
                try {
                  commit.run()
                } catch (cause) {
                  if (db.inTransaction) rollback.run()
                  return Effect.fail(txError("Failed to commit transaction")(cause))
                }
                return exit
              }
              if (db.inTransaction) rollback.run()
              return exit
            } catch (cause) {
              return Effect.die(txError("Failed to roll back transaction")(cause))
            } finally {
              lock.release()
            }
          })
        }
        return lock.tryTake() ? run() : Effect.flatMap(lock.take(restore), run)
      })

    /** Nested: joins the outer transaction with a savepoint (released on success, rolled back to on failure). */
    const nested = <A, E, R>(effect: Effect.Effect<A, E, R>, context: Context.Context<never>, id: number): Effect.Effect<A, E | SqlError, R> =>
      Effect.uninterruptibleMask((restore) => {
        const sp = savepoint(id)
        try {
          sp.save.run()
        } catch (cause) {
          return Effect.fail(txError("Failed to create savepoint")(cause))
        }
        return Effect.flatMap(Effect.exit(inContext(restore(effect), context, id)), (exit): Effect.Effect<A, E | SqlError> => {
          try {
            if (Exit.isSuccess(exit)) {
              try {
                sp.release.run()
              } catch (cause) {
                return Effect.fail(txError("Failed to release savepoint")(cause))
              }
              return exit
            }
            if (db.inTransaction) {
              sp.rollbackTo.run()
              sp.release.run()
            }
            return exit
          } catch (cause) {
            return Effect.die(txError("Failed to roll back to savepoint")(cause))
          }
        })
      })

    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
      Effect.withFiberRuntime((fiber) => {
        const context = fiber.currentContext
        const depth = inOurTransaction(context)
        return depth >= 0 ? nested(effect, context, depth + 1) : outer(effect, context)
      })

    const direct: SqliteDirectShape = { db, prepare: prepareCached, use, transaction }
    const client = yield* Client.make({
      acquirer,
      compiler,
      transactionAcquirer,
      beginTransaction: "BEGIN IMMEDIATE",
      spanAttributes: [["db.system.name", "sqlite"]]
    })
    return { client, db, direct }
  })

/**
 * Provides `SqlClient` (and the driver's own `SqliteClient` tag, so code written against the stock
 * driver keeps working) plus the raw handle.
 */
export const layer = (
  options: SqliteDriverOptions
): Layer.Layer<Client.SqlClient | SqliteClient.SqliteClient | SqliteHandle | SqliteDirect, never> =>
  Layer.scopedContext(
    Effect.map(make(options), ({ client, db, direct }) => {
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
        Context.add(SqliteHandle, db),
        Context.add(SqliteDirect, direct)
      )
    })
  ).pipe(Layer.provide(Reactivity.layer))
