import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import type { SqliteClient } from "@effect/sql-sqlite-node"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import * as nodeCrypto from "node:crypto"
import { accountIdForMaster } from "../Crypto/Hashes.js"
import { DEV_BACKEND_SEED } from "../Domain/Constants.js"
import { StorageError } from "../Domain/Errors.js"
import { IDENTITY_INDEXES, OUR_MIGRATIONS, PG_V9, SCHEMA_VERSION_LATEST, SQLITE_V9 } from "./Ddl.js"
import * as SqliteDriver from "./SqliteDriver.js"
import type { SqliteStatement } from "./SqliteDriver.js"

export type Dialect = "sqlite" | "pg"

export interface BootstrapOptions {
  /** Ed25519 seed for a fresh DB (default: random, or 0xCD×32 in dev mode). Ignored for an existing runtime row. */
  readonly backendSeed?: Uint8Array
  /** 16-byte gen_index salt for a fresh DB (default: random). */
  readonly salt?: Uint8Array
  /** Dev mode: the dev seed on a fresh DB, and the stored key must be the dev key (§5.14). */
  readonly dev?: boolean
}

export interface DatabaseShape {
  readonly dialect: Dialect
  readonly sql: SqlClient.SqlClient
  /**
   * One write transaction (`BEGIN IMMEDIATE` on SQLite); nested calls join the outer one (savepoint).
   * Rolled back on failure, defect and interruption; `sql` statements and `q` inside run in it.
   */
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StorageError, R>
  /** Dialect-correct boolean parameter (SQLite stores 0/1, PG BOOLEAN). */
  readonly bool: (b: boolean) => number | boolean
  /**
   * The fast statement path for hot code: a tagged template whose values are parameters, except
   * `raw(...)` values, which are spliced in as SQL text (constant column lists). Returns the rows (`[]`
   * for a statement without result rows; use `RETURNING` to learn what a write touched).
   *
   * The compiled text (`?` placeholders on SQLite, `$n` on PostgreSQL) is cached per call site (the
   * template strings array) and per distinct set of `raw` texts at it (up to 64 variants per site; past that
   * a variant is compiled and prepared afresh on every call, so keep a site's raw texts few). SQLite runs the cached better-sqlite3 prepared statement synchronously
   * (waiting only while another fiber's transaction holds the connection); PostgreSQL runs
   * `sql.unsafe(text, params)`. Both use the current transaction when there is one. Parameters:
   * `boolean` → `bool(b)`, `Uint8Array` → `Buffer`, `undefined` → `NULL`. No span per statement.
   */
  readonly q: <Row = any>(strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Row>, StorageError>
  /**
   * `q` for hot reads returning each row as an array of its column values, in the order selected (no
   * per-row object with named keys; better-sqlite3 `raw` mode on SQLite, `.values` on PostgreSQL).
   * Same parameters and caching as `q`; the statement must return rows.
   */
  readonly qv: (strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<ReadonlyArray<any>>, StorageError>
}

/** SQL text spliced verbatim into a `db.q` template (see `raw`). */
export class RawSql {
  constructor(readonly text: string) {}
}
/** Constant SQL text for a `db.q` template, e.g. ``db.q`SELECT ${USER_COLS} FROM users` `` with `USER_COLS = raw(USER_COLUMNS)`. Never user input. */
export const raw = (text: string): RawSql => new RawSql(text)

export const toStorageError = (e: SqlError | unknown): StorageError =>
  new StorageError({ message: e instanceof Error ? e.message + (hasCause(e) ? `: ${String((e as any).cause)}` : "") : String(e), cause: e })
const hasCause = (e: unknown) => typeof e === "object" && e !== null && "cause" in e && (e as any).cause !== undefined

/** Map every SqlError of an effect to StorageError. */
export const storage = <A, E, R>(eff: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | StorageError, R> =>
  Effect.catchIf(eff, (e): e is Extract<E, SqlError> => (e as any)?._tag === "SqlError", (e) => Effect.fail(toStorageError(e))) as any

/** Row helpers: PG returns BIGINT as strings and BYTEA as Buffer; SQLite returns numbers and Buffer. */
export const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v))
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
export const bool = (v: unknown): boolean => v === true || v === "t" || Number(v) === 1
export const bytes = (v: unknown): Uint8Array | null =>
  v === null || v === undefined ? null : v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array(Buffer.from(v as any))
export const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v))
/** Byte parameter for either driver. */
export const blob = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

export class Database extends Context.Tag("@session-pro/core/Database")<Database, DatabaseShape>() {
  /** Run `effect` in one write transaction of the current Database. */
  static transaction<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | StorageError, R | Database> {
    return Effect.flatMap(Database, (db) => db.transaction(effect))
  }

  /** `sqlite://…` (domain.md §10.4) or `postgresql://…` / `postgres://…`. */
  static layer(options: { readonly url: string; readonly bootstrap?: BootstrapOptions }): Layer.Layer<Database | SqlClient.SqlClient, StorageError> {
    const target = parseDbUrl(options.url)
    return target.kind === "sqlite"
      ? Database.layerSqlite(target.filename, options.bootstrap)
      : Database.layerPg(target.url, options.bootstrap)
  }

  static layerSqlite(
    filename: string,
    bootstrap?: BootstrapOptions
  ): Layer.Layer<Database | SqlClient.SqlClient | SqliteDriver.SqliteHandle | SqliteClient.SqliteClient, StorageError> {
    return Layer.effect(Database, makeDatabase("sqlite", bootstrap)).pipe(
      Layer.provideMerge(SqliteDriver.layer({ filename }))
    )
  }

  static layerPg(url: string, bootstrap?: BootstrapOptions): Layer.Layer<Database | SqlClient.SqlClient, StorageError> {
    const pg = Layer.mapError(PgClient.layer({ url: Redacted.make(url) }), toStorageError).pipe(Layer.provide(Reactivity.layer))
    return Layer.effect(Database, makeDatabase("pg", bootstrap)).pipe(Layer.provideMerge(pg))
  }

  /** Wrap an existing SqlClient (e.g. the host's), bootstrapping it. */
  static layerFromClient(dialect: Dialect, bootstrap?: BootstrapOptions): Layer.Layer<Database, StorageError, SqlClient.SqlClient> {
    return Layer.effect(Database, makeDatabase(dialect, bootstrap))
  }
}

export type DbTarget = { readonly kind: "sqlite"; readonly filename: string } | { readonly kind: "pg"; readonly url: string }

/**
 * URL forms of §10.4: `sqlite://` and `sqlite:///:memory:` are in-memory; `sqlite:///rel.db` is relative,
 * `sqlite:////abs.db` absolute; query strings are dropped. `postgresql://` / `postgres://` pass through.
 */
export const parseDbUrl = (url: string): DbTarget => {
  if (url.startsWith("postgresql://") || url.startsWith("postgres://")) return { kind: "pg", url }
  if (url.startsWith("sqlite://")) {
    const rest = url.slice("sqlite://".length).split("?")[0]!
    if (rest === "" || rest === "/" || rest === "/:memory:" || rest === ":memory:") return { kind: "sqlite", filename: ":memory:" }
    // "/rel.db" -> "rel.db"; "//abs.db" -> "/abs.db"
    return { kind: "sqlite", filename: rest.startsWith("/") ? rest.slice(1) : rest }
  }
  throw new Error(`Unsupported database URL (expected sqlite:// or postgresql://): ${url.split("@").pop()}`)
}

/** One call site of `db.q`, compiled. */
interface Compiled {
  /** The spliced `raw` text per value position (undefined = a parameter). */
  readonly raws: ReadonlyArray<string | undefined>
  readonly text: string
  /** Prepared on first use (SQLite fast path). */
  stmt: SqliteStatement | undefined
  /** `qv`'s own statement in raw mode (not the shared cached one, whose mode `q` relies on). */
  rawStmt: SqliteStatement | undefined
}

const compile = (dialect: Dialect, strings: TemplateStringsArray, values: ReadonlyArray<unknown>): Compiled => {
  let text = strings[0]!
  let n = 0
  const raws: Array<string | undefined> = []
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v instanceof RawSql) {
      raws.push(v.text)
      text += v.text
    } else {
      raws.push(undefined)
      text += dialect === "pg" ? `$${++n}` : "?"
    }
    text += strings[i + 1]!
  }
  return { raws, text, stmt: undefined, rawStmt: undefined }
}

const sameRaws = (c: Compiled, values: ReadonlyArray<unknown>): boolean => {
  const raws = c.raws
  for (let i = 0; i < raws.length; i++) {
    const r = raws[i]
    const v = values[i]
    if (r === undefined ? v instanceof RawSql : !(v instanceof RawSql) || v.text !== r) return false
  }
  return true
}

/** Compiled variants kept per `db.q` call site (see `compiled`). */
const MAX_SITE_VARIANTS = 64

const sqlError = (message: string) => (cause: unknown) => toStorageError(new SqlError({ cause, message }))
const execError = sqlError("Failed to execute statement")
const prepareError = sqlError("Failed to prepare statement")

const makeDatabase = (dialect: Dialect, bootstrapOptions?: BootstrapOptions) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const direct = dialect === "sqlite" ? Option.getOrUndefined(yield* Effect.serviceOption(SqliteDriver.SqliteDirect)) : undefined
    const bool = dialect === "pg" ? (b: boolean) => b : (b: boolean) => (b ? 1 : 0)
    const param = (v: unknown): unknown =>
      typeof v === "boolean" ? bool(v) : v === undefined ? null : v instanceof Uint8Array && !Buffer.isBuffer(v) ? blob(v) : v
    const params = (c: Compiled, values: ReadonlyArray<unknown>): Array<unknown> => {
      const out: Array<unknown> = []
      for (let i = 0; i < values.length; i++) if (c.raws[i] === undefined) out.push(param(values[i]))
      return out
    }

    // Per call site, its compiled variants (one per distinct set of `raw` texts; the first is the usual
    // one). Bounded, so a site whose raw text varies without limit compiles the rest afresh.
    const sites = new WeakMap<TemplateStringsArray, Array<Compiled>>()
    const compiled = (strings: TemplateStringsArray, values: ReadonlyArray<unknown>): Compiled => {
      const cs = sites.get(strings)
      if (cs === undefined) {
        const fresh = compile(dialect, strings, values)
        sites.set(strings, [fresh])
        return fresh
      }
      const first = cs[0]!
      if (first.raws.length === 0) return first
      for (let i = 0; i < cs.length; i++) if (sameRaws(cs[i]!, values)) return cs[i]!
      const fresh = compile(dialect, strings, values)
      if (cs.length < MAX_SITE_VARIANTS) cs.push(fresh)
      return fresh
    }

    /**
     * SQLite: the call site's cached statement run synchronously under the driver's lock. `q` uses the
     * driver's shared statement (rows as objects); `qv` its own statement in raw mode (rows as arrays).
     */
    const runDirect = (sqlite: SqliteDriver.SqliteDirectShape, strings: TemplateStringsArray, values: ReadonlyArray<unknown>, arrays: boolean) => {
      const c = compiled(strings, values)
      const ps = params(c, values)
      return sqlite.use(() => {
        let stmt = arrays ? c.rawStmt : c.stmt
        if (stmt === undefined) {
          try {
            stmt = arrays ? (c.rawStmt = sqlite.db.prepare(c.text).raw(true)) : (c.stmt = sqlite.prepare(c.text))
          } catch (cause) {
            return Effect.fail(prepareError(cause))
          }
        }
        try {
          if (stmt.reader) return Effect.succeed(stmt.all(...ps) as Array<any>)
          stmt.run(...ps)
          return Effect.succeed([])
        } catch (cause) {
          return Effect.fail(execError(cause))
        }
      })
    }

    const q: DatabaseShape["q"] = direct !== undefined
      ? (strings, ...values) => runDirect(direct, strings, values, false)
      : (strings, ...values) => {
        const c = compiled(strings, values)
        return storage(sql.unsafe<any>(c.text, params(c, values)))
      }

    const qv: DatabaseShape["qv"] = direct !== undefined
      ? (strings, ...values) => runDirect(direct, strings, values, true)
      : (strings, ...values) => {
        const c = compiled(strings, values)
        return storage(sql.unsafe(c.text, params(c, values)).values)
      }

    const db: DatabaseShape = {
      dialect,
      sql,
      transaction: direct !== undefined
        ? (effect) => storage(direct.transaction(effect)) as any
        : (effect) => storage(sql.withTransaction(effect)) as any,
      bool,
      q,
      qv
    }
    yield* bootstrap(db, bootstrapOptions ?? {})
    return db
  })

const readVersion = (db: DatabaseShape) =>
  Effect.gen(function*() {
    if (db.dialect === "sqlite") {
      const rows = yield* db.sql.unsafe<{ user_version: number }>("PRAGMA user_version")
      return num(rows[0]?.user_version)
    }
    const rows = yield* db.sql<{ version: unknown }>`SELECT version FROM schema_version LIMIT 1`
    return num(rows[0]?.version)
  })

const writeVersion = (db: DatabaseShape, v: number) =>
  db.dialect === "sqlite"
    ? db.sql.unsafe(`PRAGMA user_version = ${Math.trunc(v)}`)
    : db.sql`UPDATE schema_version SET version = ${v}`

/**
 * Bootstrap (§4.10): v9 DDL with IF NOT EXISTS, version 0 teleports to 9, 5→6→7→8→9 as the reference,
 * then our additive migrations, then the runtime row. One transaction (SQLite: BEGIN IMMEDIATE; PG: an
 * advisory lock), so concurrent starts serialise.
 */
export const bootstrap = (db: DatabaseShape, options: BootstrapOptions): Effect.Effect<void, StorageError> =>
  db.transaction(
    Effect.gen(function*() {
      const sql = db.sql
      if (db.dialect === "pg") yield* sql`SELECT pg_advisory_xact_lock(7242100)`
      for (const stmt of db.dialect === "sqlite" ? SQLITE_V9 : PG_V9) yield* sql.unsafe(stmt)
      let v = yield* readVersion(db)
      if (v === 0) v = 9
      if (v === 5) {
        if (db.dialect === "sqlite") {
          // FLAG-22 replicated: STRING (NUMERIC affinity) exactly as the reference's migration.
          yield* sql.unsafe(`ALTER TABLE users ADD COLUMN google_obfuscated_account_id BLOB NOT NULL DEFAULT X''`)
          yield* sql.unsafe(`ALTER TABLE users ADD COLUMN apple_app_account_token STRING NOT NULL DEFAULT ''`)
          const users = yield* sql<{ master_pkey: unknown }>`SELECT master_pkey FROM users`
          for (const u of users) {
            const m = bytes(u.master_pkey)!
            yield* sql`UPDATE users SET google_obfuscated_account_id = ${blob(accountIdForMaster(m))} WHERE master_pkey = ${blob(m)}`
          }
        }
        v = 6
      }
      if (v === 6) {
        if (db.dialect === "sqlite") {
          yield* sql.unsafe(`ALTER TABLE payments ADD COLUMN google_obfuscated_account_id BLOB`)
          yield* sql.unsafe(`ALTER TABLE payments ADD COLUMN apple_app_account_token STRING NOT NULL DEFAULT ''`)
        }
        v = 7
      }
      if (v === 7) {
        yield* sql.unsafe(
          db.dialect === "pg"
            ? `ALTER TABLE payments ADD COLUMN IF NOT EXISTS rangeproof_order_id TEXT`
            : `ALTER TABLE payments ADD COLUMN rangeproof_order_id TEXT`
        )
        v = 8
      }
      if (v === 8) {
        yield* sql.unsafe(
          db.dialect === "pg"
            ? `ALTER TABLE revocations ADD COLUMN IF NOT EXISTS creation_unix_ts_ms BIGINT NOT NULL DEFAULT 0`
            : `ALTER TABLE revocations ADD COLUMN creation_unix_ts_ms INTEGER NOT NULL DEFAULT 0`
        )
        v = 9
      }
      // FLAG-23 replicated: versions 1–4 (and unknown future versions) cannot be opened.
      if (v < 9 || v > SCHEMA_VERSION_LATEST) {
        return yield* Effect.fail(new StorageError({ message: `Failed to bootstrap DB tables: unsupported schema version ${v}` }))
      }
      for (const [version, sqliteStmts, pgStmts] of OUR_MIGRATIONS) {
        if (v >= version) continue
        for (const stmt of db.dialect === "sqlite" ? sqliteStmts : pgStmts) yield* sql.unsafe(stmt)
        v = version
      }
      yield* writeVersion(db, v)
      for (const idx of IDENTITY_INDEXES) {
        const dup = yield* sql.unsafe<{ n: unknown }>(idx.duplicates)
        if (num(dup[0]?.n) === 0) yield* sql.unsafe(idx.create)
        else yield* Effect.logWarning(`${idx.name} not created: ${num(dup[0]?.n)} duplicated payment identities exist (FLAG-20)`)
      }

      const runtime = yield* sql<{ backend_key: unknown }>`SELECT backend_key FROM runtime LIMIT 1`
      if (runtime.length === 0) {
        const salt = options.salt ?? new Uint8Array(nodeCrypto.randomBytes(16))
        const seed = options.backendSeed ?? (options.dev ? DEV_BACKEND_SEED : new Uint8Array(nodeCrypto.randomBytes(32)))
        if (salt.length !== 16) return yield* Effect.fail(new StorageError({ message: "gen_index salt must be 16 bytes" }))
        if (seed.length !== 32) return yield* Effect.fail(new StorageError({ message: "backend seed must be 32 bytes" }))
        yield* sql`INSERT INTO runtime (gen_index, gen_index_salt, backend_key, last_expire_unix_ts_ms,
          apple_notification_checkpoint_unix_ts_ms, revocation_ticket) VALUES (0, ${blob(salt)}, ${blob(seed)}, 0, 0, 0)`
      }
      if (options.dev) {
        // §5.14: a dev deployment must run with the dev key (the reference asserts at start-up).
        const again = yield* sql<{ backend_key: unknown }>`SELECT backend_key FROM runtime LIMIT 1`
        const key = bytes(again[0]!.backend_key)!
        if (Buffer.compare(Buffer.from(key), Buffer.from(DEV_BACKEND_SEED)) !== 0) {
          return yield* Effect.fail(new StorageError({ message: "Dev mode requires the dev backend key (0xCD×32) but the database holds a different key" }))
        }
      }
    })
  ).pipe(storage, Effect.mapError((e) => (e._tag === "StorageError" ? e : toStorageError(e))))
