/**
 * Issue #7: the daily sweep prunes users from migration 11's prune candidates instead of probing every
 * user. The candidates must make it prune exactly the users a full `NOT EXISTS` prune would (D4g), on
 * both engines: a user whose payment rows are deleted (or re-owned) is pruned by the next sweep, a user
 * with payments is kept, a user row written without payments is pruned, and a legacy database (reference
 * v9, or ours at v10) whose users already lack payments gets them pruned after the migration.
 * PostgreSQL runs only with PRO_TEST_PG_URL (own schemas); skipped visibly otherwise.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { PgClient } from "@effect/sql-pg"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { accountIdForMaster, Backend, Database, Ddl, ExpirySweep, type ExpirySweepResult, Inspect, num, type SqliteDatabase } from "@session-pro/core"
import Sqlite from "better-sqlite3"
import { Effect, Redacted } from "effect"
import { dropPgSchemas, engines } from "./engines.js"

afterAll(() => dropPgSchemas())

const DAY = 86_400_000
const T0 = 1_790_000_000_000
const key = (n: number) => Buffer.alloc(32, n)
const FAR = T0 + 365 * DAY

/** Fixed statements, written with parameters so one text serves both engines. */
const insertPayment = (master: Buffer | null, txId: string, expiry = FAR) =>
  Effect.flatMap(Database, (db) =>
    db.sql`INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms,
      redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms, platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms,
      apple_original_tx_id, apple_tx_id, apple_web_line_order_tx_id, google_payment_token, google_order_id, rangeproof_order_id,
      refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
      VALUES (${master}, ${master === null ? 1 : 2}, 1, 2, ${db.bool(false)}, ${T0 - DAY}, ${master === null ? null : T0 - DAY},
      ${expiry}, 0, 0, NULL, ${txId}, ${txId}, '', NULL, NULL, NULL, 0, NULL, '')`)
const insertUser = (master: Buffer, gen: number) =>
  Effect.flatMap(Database, (db) =>
    db.sql`INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing,
      refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
      VALUES (${master}, ${gen}, ${FAR}, 0, ${db.bool(false)}, 0, ${Buffer.from(accountIdForMaster(master))}, '')`)
const exec = (text: string) => Effect.flatMap(Database, (db) => db.sql.unsafe(text))
const userKeys = Effect.map(Effect.flatMap(Inspect, (i) => i.users()), (us) => us.map((u) => u.master_pkey[0]!).sort((a, b) => a - b))
const candidates = Effect.map(
  Effect.flatMap(Database, (db) => db.sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM user_prune_candidates`),
  (r) => num(r[0]!.n)
)
/** What the full D4g prune would delete right now (the pre-v11 statement, read only). */
const fullPruneWouldDelete = Effect.map(
  Effect.flatMap(Database, (db) =>
    db.sql<{ k: unknown }>`SELECT u.master_pkey AS k FROM users u
      WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.master_pkey = u.master_pkey)`),
  (r) => r.length
)

let day = 0
const sweep = () => Effect.flatMap(ExpirySweep, (s) => s.run(T0 + ++day * 1000)) as Effect.Effect<ExpirySweepResult, unknown, ExpirySweep>

/** Statements run on a database in its legacy form (no Backend, no migrations beyond `version`). */
const legacyStatements = (dialect: "sqlite" | "pg", version: 9 | 10): Array<string> => {
  const hex = (b: Buffer) => (dialect === "sqlite" ? `X'${b.toString("hex")}'` : `'\\x${b.toString("hex")}'::bytea`)
  const f = dialect === "sqlite" ? "0" : "FALSE"
  const pay = (master: Buffer | null, id: string) =>
    `INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms, redeemed_unix_ts_ms,
      expiry_unix_ts_ms, grace_period_duration_ms, platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms, apple_original_tx_id,
      apple_tx_id, apple_web_line_order_tx_id, google_payment_token, google_order_id, rangeproof_order_id, refund_requested_unix_ts_ms,
      google_obfuscated_account_id, apple_app_account_token) VALUES (${master === null ? "NULL" : hex(master)}, ${master === null ? 1 : 3},
      1, 2, ${f}, ${T0 - 90 * DAY}, NULL, ${T0 - 60 * DAY}, 0, 0, NULL, '${id}', '${id}', '', NULL, NULL, NULL, 0, NULL, '')`
  const user = (master: Buffer, gen: number) =>
    `INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing, refund_requested_unix_ts_ms,
      google_obfuscated_account_id, apple_app_account_token) VALUES (${hex(master)}, ${gen}, ${T0 - 60 * DAY}, 0, ${f}, 0,
      ${hex(Buffer.from(accountIdForMaster(master)))}, '')`
  const [, sqliteV10, pgV10] = Ddl.OUR_MIGRATIONS.find(([v]) => v === 10)!
  return [
    ...(dialect === "sqlite" ? Ddl.SQLITE_V9 : Ddl.PG_V9),
    ...(version === 10 ? (dialect === "sqlite" ? sqliteV10 : pgV10) : []),
    dialect === "sqlite" ? `PRAGMA user_version = ${version}` : `UPDATE schema_version SET version = ${version}`,
    `INSERT INTO runtime (gen_index, gen_index_salt, backend_key, last_expire_unix_ts_ms, apple_notification_checkpoint_unix_ts_ms,
      revocation_ticket) VALUES (5, ${hex(Buffer.alloc(16, 1))}, ${hex(Buffer.alloc(32, 2))}, ${T0 - DAY}, 0, 0)`,
    // Users 1 and 2 own payments (an expired one counts: payments are never deleted); 3 and 4 own none,
    // which the reference never prunes (FLAG-6: its NOT IN sees the unredeemed row's NULL key).
    pay(key(1), "p1"),
    pay(key(2), "p2"),
    pay(null, "unredeemed"),
    user(key(1), 0),
    user(key(2), 1),
    user(key(3), 2),
    user(key(4), 3)
  ]
}

for (const engine of engines) {
  describe.skipIf(!engine.enabled)(`sweep user prune on ${engine.name} (issue #7, D4g)`, () => {
    const backend = (url: string) => Backend.layer({ url, bootstrap: { salt: Buffer.alloc(16, 1), backendSeed: Buffer.alloc(32, 2) } })

    it.effect("a deleted payment's user is pruned by the next sweep; a user with payments is kept", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        yield* Effect.gen(function*() {
          yield* insertPayment(key(1), "a1")
          yield* insertPayment(key(1), "a2")
          yield* insertPayment(key(2), "b1")
          yield* insertPayment(null, "u1")
          yield* insertUser(key(1), 0)
          yield* insertUser(key(2), 1)
          expect((yield* sweep()).users).toBe(0)
          expect(yield* candidates).toBe(0) // consumed
          expect((yield* sweep()).users).toBe(0)

          yield* exec(`DELETE FROM payments WHERE apple_tx_id = 'b1'`)
          expect(yield* candidates).toBe(1)
          const r = yield* sweep()
          expect(r).toMatchObject({ alreadyDone: false, users: 1 })
          expect(yield* userKeys).toEqual([1])
          expect(yield* candidates).toBe(0)

          // One of two payments gone: kept. The other gone too: pruned.
          yield* exec(`DELETE FROM payments WHERE apple_tx_id = 'a1'`)
          expect((yield* sweep()).users).toBe(0)
          expect(yield* userKeys).toEqual([1])
          yield* exec(`DELETE FROM payments WHERE apple_tx_id = 'a2'`)
          expect((yield* sweep()).users).toBe(1)
          expect(yield* userKeys).toEqual([])
          // Deleting an unredeemed (NULL-key) payment records nothing.
          yield* exec(`DELETE FROM payments WHERE apple_tx_id = 'u1'`)
          expect(yield* candidates).toBe(0)
        }).pipe(Effect.provide(backend(url)))
      }))

    it.effect("a payment that changes owner, a user row written without payments, a payment claimed before the sweep", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        yield* Effect.gen(function*() {
          yield* insertPayment(key(1), "a1")
          yield* insertPayment(key(2), "b1")
          yield* insertPayment(null, "u1")
          yield* insertUser(key(1), 0)
          yield* insertUser(key(2), 1)
          yield* insertUser(key(3), 2) // no payment at all
          yield* insertUser(key(4), 3) // no payment yet: claims u1 before the sweep
          yield* exec(`UPDATE payments SET master_pkey = ${engine.name === "pg" ? "'\\x" + key(4).toString("hex") + "'::bytea" : "X'" + key(4).toString("hex") + "'"}, status = 2 WHERE apple_tx_id = 'u1'`)
          expect(yield* fullPruneWouldDelete).toBe(1)
          expect((yield* sweep()).users).toBe(1)
          expect(yield* userKeys).toEqual([1, 2, 4])

          // b1 moves from user 2 to user 1: user 2 has nothing left.
          const k1 = engine.name === "pg" ? `'\\x${key(1).toString("hex")}'::bytea` : `X'${key(1).toString("hex")}'`
          yield* exec(`UPDATE payments SET master_pkey = ${k1} WHERE apple_tx_id = 'b1'`)
          expect((yield* sweep()).users).toBe(1)
          expect(yield* userKeys).toEqual([1, 4])

          // A user row whose key changes to one without payments.
          const k9 = engine.name === "pg" ? `'\\x${key(9).toString("hex")}'::bytea` : `X'${key(9).toString("hex")}'`
          yield* exec(`UPDATE users SET master_pkey = ${k9} WHERE gen_index = 3`)
          expect((yield* sweep()).users).toBe(1)
          expect(yield* userKeys).toEqual([1])
        }).pipe(Effect.provide(backend(url)))
      }))

    it.effect("randomised writes: every sweep prunes exactly what the full NOT EXISTS prune would", () =>
      Effect.gen(function*() {
        const url = yield* Effect.promise(engine.fresh)
        let seed = 12345
        const rnd = (n: number) => {
          seed = (seed * 1103515245 + 12345) % 2147483648
          return seed % n
        }
        const lit = (n: number) => (engine.name === "pg" ? `'\\x${key(n).toString("hex")}'::bytea` : `X'${key(n).toString("hex")}'`)
        yield* Effect.gen(function*() {
          let tx = 0
          let gen = 0
          let pruned = 0
          for (let round = 0; round < 12; round++) {
            for (let i = 0; i < 15; i++) {
              const k = 1 + rnd(20)
              switch (rnd(6)) {
                case 0:
                case 1:
                  yield* insertPayment(rnd(4) === 0 ? null : key(k), `t${tx++}`)
                  break
                case 2:
                  yield* exec(`INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing,
                    refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
                    SELECT ${lit(k)}, ${gen++}, 0, 0, ${engine.name === "pg" ? "FALSE" : "0"}, 0, ${lit(k)}, ''
                    WHERE NOT EXISTS (SELECT 1 FROM users WHERE master_pkey = ${lit(k)})`)
                  break
                case 3:
                  yield* exec(`DELETE FROM payments WHERE id IN (SELECT id FROM payments WHERE master_pkey = ${lit(k)} ORDER BY id LIMIT 1)`)
                  break
                case 4:
                  yield* exec(`UPDATE payments SET master_pkey = ${rnd(3) === 0 ? "NULL" : lit(1 + rnd(20))}
                    WHERE id IN (SELECT id FROM payments WHERE master_pkey = ${lit(k)} ORDER BY id LIMIT 1)`)
                  break
                default:
                  yield* exec(`UPDATE payments SET master_pkey = ${lit(k)} WHERE id IN (SELECT id FROM payments WHERE master_pkey IS NULL ORDER BY id LIMIT 1)`)
              }
            }
            const expected = yield* fullPruneWouldDelete
            const r = yield* sweep()
            expect(r.users, `round ${round}`).toBe(expected)
            expect(yield* fullPruneWouldDelete).toBe(0)
            pruned += r.users
          }
          expect(pruned).toBeGreaterThan(0) // the walk did exercise the prune
        }).pipe(Effect.provide(backend(url)))
      }))

    for (const version of [9, 10] as const) {
      it.effect(`a legacy v${version} database: users already lacking payments are pruned by the first sweep after migration 11`, () =>
        Effect.gen(function*() {
          const url = yield* Effect.promise(engine.fresh)
          const statements = legacyStatements(engine.name, version)
          if (engine.name === "sqlite") {
            const raw = new Sqlite(url.replace(/^sqlite:\/\//, "")) as SqliteDatabase
            for (const s of statements) raw.exec(s)
            raw.close()
          } else {
            yield* Effect.scoped(Effect.flatMap(PgClient.make({ url: Redacted.make(url) }), (sql) => Effect.forEach(statements, (s) => sql.unsafe(s))))
              .pipe(Effect.provide(Reactivity.layer))
          }
          yield* Effect.gen(function*() {
            expect(yield* (yield* Inspect).schemaVersion()).toBe(Ddl.SCHEMA_VERSION_LATEST) // 11 or a later migration
            expect(yield* candidates).toBe(2) // seeded by the migration: users 3 and 4
            const r = yield* sweep()
            expect(r).toMatchObject({ alreadyDone: false, users: 2 })
            expect(yield* userKeys).toEqual([1, 2])
            expect(yield* candidates).toBe(0)
          }).pipe(Effect.provide(backend(url)))
          // Re-opening does not migrate (or seed) again.
          yield* Effect.gen(function*() {
            expect(yield* candidates).toBe(0)
            expect((yield* sweep()).users).toBe(0)
            expect(yield* userKeys).toEqual([1, 2])
          }).pipe(Effect.provide(backend(url)))
        }))
    }

    if (engine.name === "pg") {
      it.effect("PostgreSQL TRUNCATE payments (no row triggers) still leaves every user a candidate", () =>
        Effect.gen(function*() {
          const url = yield* Effect.promise(engine.fresh)
          yield* Effect.gen(function*() {
            yield* insertPayment(key(1), "a1")
            yield* insertUser(key(1), 0)
            expect((yield* sweep()).users).toBe(0)
            yield* exec(`TRUNCATE payments`)
            expect((yield* sweep()).users).toBe(1)
            expect(yield* userKeys).toEqual([])
          }).pipe(Effect.provide(backend(url)))
        }))
    }
  })
}

if (!engines.find((e) => e.name === "pg")!.enabled) {
  describe("sweep user prune on pg (issue #7, D4g)", () => {
    it.skip("SKIPPED: set PRO_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it", () => {})
  })
}
