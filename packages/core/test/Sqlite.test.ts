/**
 * SQLite specifics: URL forms, pragmas, `BEGIN IMMEDIATE`, and opening databases written by the
 * reference (schema v9 with rows, and older v7 / v5 files that must migrate in place).
 */
import { describe, expect, it } from "@effect/vitest"
import {
  accountIdForMaster,
  Backend,
  Database,
  Ddl,
  fromHex,
  Inspect,
  parseDbUrl,
  Payments,
  ProDetails,
  Revocations,
  type SqliteDatabase,
  SqliteHandle
} from "@session-pro/core"
import Sqlite from "better-sqlite3"
import { Effect } from "effect"
import { tempDbPath } from "./engines.js"

const open = (file: string) => new Sqlite(file) as SqliteDatabase
const MASTER = fromHex("8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c")
const SALT = new Uint8Array(16).fill(3)
const SEED = new Uint8Array(32).fill(4)

describe("database URLs (§10.4)", () => {
  it("parses the reference's forms", () => {
    expect(parseDbUrl("sqlite://")).toEqual({ kind: "sqlite", filename: ":memory:" })
    expect(parseDbUrl("sqlite:///:memory:")).toEqual({ kind: "sqlite", filename: ":memory:" })
    expect(parseDbUrl("sqlite:///rel/pro.db")).toEqual({ kind: "sqlite", filename: "rel/pro.db" })
    expect(parseDbUrl("sqlite:////abs/pro.db?mode=rwc")).toEqual({ kind: "sqlite", filename: "/abs/pro.db" })
    expect(parseDbUrl("postgresql://u:p@h:5432/db")).toEqual({ kind: "pg", url: "postgresql://u:p@h:5432/db" })
    expect(() => parseDbUrl("mysql://x")).toThrow()
  })
})

describe("SQLite connection", () => {
  it.effect("WAL, synchronous=NORMAL, busy_timeout on a file DB", () =>
    Effect.gen(function*() {
      const db = yield* SqliteHandle
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal")
      expect(db.pragma("synchronous", { simple: true })).toBe(1)
      expect(db.pragma("busy_timeout", { simple: true })).toBe(5000)
    }).pipe(Effect.provide(Database.layerSqlite(tempDbPath()))))

  it.effect("a write transaction takes the write lock at BEGIN (IMMEDIATE), before its first read", () =>
    Effect.gen(function*() {
      const file = tempDbPath("immediate")
      yield* Effect.gen(function*() {
        const other = open(file)
        other.pragma("busy_timeout = 0")
        let otherCouldWrite: boolean | undefined
        yield* Database.transaction(Effect.gen(function*() {
          const db = yield* Database
          yield* db.sql`SELECT gen_index FROM runtime` // read only so far
          try {
            other.exec("BEGIN IMMEDIATE")
            other.exec("ROLLBACK")
            otherCouldWrite = true
          } catch {
            otherCouldWrite = false
          }
        }))
        expect(otherCouldWrite).toBe(false)
        other.exec("BEGIN IMMEDIATE; ROLLBACK") // free again after commit
        other.close()
      }).pipe(Effect.provide(Database.layerSqlite(file)))
    }))

  it.effect("nested transactions join the outer one and roll back with it", () =>
    Effect.gen(function*() {
      const payments = yield* Payments
      const add = (o: string) =>
        payments.addUnredeemed({
          tx: { provider: 3, rangeproofOrderId: o },
          plan: 1,
          unredeemedUnixTsMs: 1,
          expiryUnixTsMs: 2,
          platformRefundExpiryUnixTsMs: 0
        })
      const r = yield* Effect.either(Database.transaction(Effect.gen(function*() {
        yield* add("a")
        yield* add("b")
        return yield* Effect.fail("boom" as const)
      })))
      expect(r._tag).toBe("Left")
      expect((yield* (yield* Inspect).payments()).length).toBe(0)
      yield* Database.transaction(Effect.all([add("a"), add("b")]))
      expect((yield* (yield* Inspect).payments()).length).toBe(2)
    }).pipe(Effect.provide(Backend.layerSqlite(":memory:"))))
})

// ---- databases as the reference writes them -------------------------------------------------------

/** Reference v9 schema, executed verbatim from our DDL constants (they are the v9 DDL). */
const makeV9 = (file: string) => {
  const db = open(file)
  for (const s of Ddl.SQLITE_V9) db.exec(s)
  db.pragma("user_version = 9")
  return db
}

/** The same tables before 5→6→7→8→9: no obfuscated/account-token columns, no rangeproof id, no creation ts. */
const makeV5 = (file: string, version: 5 | 7) => {
  const db = open(file)
  const strip = (ddl: string, cols: ReadonlyArray<string>) =>
    ddl.split("\n").filter((l) => !cols.some((c) => l.trim().startsWith(c + " "))).join("\n").replace(/,(\s*\))\s*$/, "$1")
  const payCols = version === 5
    ? ["rangeproof_order_id", "google_obfuscated_account_id", "apple_app_account_token"]
    : ["rangeproof_order_id"]
  const userCols = version === 5 ? ["google_obfuscated_account_id", "apple_app_account_token"] : []
  const [payments, users, revocations, ...rest] = Ddl.SQLITE_V9
  db.exec(strip(payments!, payCols))
  db.exec(strip(users!, userCols))
  db.exec(strip(revocations!, ["creation_unix_ts_ms"]))
  for (const s of rest) db.exec(s)
  if (version === 7) {
    // v6→v7 columns come last in a migrated reference DB, with the reference's STRING type (FLAG-22).
    db.exec("ALTER TABLE payments DROP COLUMN apple_app_account_token")
    db.exec("ALTER TABLE payments DROP COLUMN google_obfuscated_account_id")
    db.exec("ALTER TABLE payments ADD COLUMN google_obfuscated_account_id BLOB")
    db.exec("ALTER TABLE payments ADD COLUMN apple_app_account_token STRING NOT NULL DEFAULT ''")
  }
  db.pragma(`user_version = ${version}`)
  return db
}

const insertRuntime = (db: SqliteDatabase, ticket = 1) =>
  db.prepare(`INSERT INTO runtime (gen_index, gen_index_salt, backend_key, last_expire_unix_ts_ms,
    apple_notification_checkpoint_unix_ts_ms, revocation_ticket) VALUES (3, ?, ?, 1767225600000, 0, ?)`).run(
      Buffer.from(SALT),
      Buffer.from(SEED),
      ticket
    )

describe("opening reference databases", () => {
  it.effect("schema v9 file with rows: read exactly, migrated to v12 in place", () =>
    Effect.gen(function*() {
      const file = tempDbPath("v9")
      const raw = makeV9(file)
      insertRuntime(raw, 0)
      raw.prepare(`INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms,
        redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms, platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms,
        apple_original_tx_id, apple_tx_id, apple_web_line_order_tx_id, google_payment_token, google_order_id, rangeproof_order_id,
        refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
        VALUES (?, 2, 1, 1, 1, 1767234345500, 1767312000000, 1769829945500, 3600000, 1767410745500, NULL,
        NULL, NULL, NULL, 'tok', 'GPA.1', NULL, 0, ?, '')`).run(Buffer.from(MASTER), Buffer.from(accountIdForMaster(MASTER)))
      raw.prepare(`INSERT INTO users VALUES (?, 2, 1769833545500, 3600000, 1, 0, ?, '')`).run(
        Buffer.from(MASTER),
        Buffer.from(accountIdForMaster(MASTER))
      )
      raw.prepare(`INSERT INTO revocations VALUES (1, 1767237945500, 1775013945500)`).run()
      raw.prepare(`INSERT INTO user_errors VALUES ('tok', 1, 5)`).run()
      raw.prepare(`INSERT INTO apple_notification_uuid_history VALUES ('u-1', 99)`).run()
      raw.prepare(`INSERT INTO google_notification_history VALUES (123456789012345678, 0, '{}', 77)`).run()
      expect((raw.prepare("SELECT revocation_ticket AS t FROM runtime").get() as any).t).toBe(1) // trigger fired
      raw.close()

      yield* Effect.gen(function*() {
        const inspect = yield* Inspect
        expect(yield* inspect.schemaVersion()).toBe(12)
        const rt = yield* inspect.runtime()
        expect(rt).toMatchObject({ gen_index: 3, gen_index_salt: SALT, backend_key: SEED, revocation_ticket: 1 })
        const [p] = yield* inspect.payments()
        expect(p).toMatchObject({
          id: 1,
          master_pkey: MASTER,
          status: 2,
          auto_renewing: true,
          expiry_unix_ts_ms: 1769829945500,
          grace_period_duration_ms: 3600000,
          revoked_unix_ts_ms: null,
          google_payment_token: "tok",
          google_order_id: "GPA.1",
          apple_app_account_token: ""
        })
        expect((yield* inspect.users())[0]).toMatchObject({ gen_index: 2, expiry_unix_ts_ms: 1769833545500, auto_renewing: true })
        expect(yield* inspect.revocations()).toEqual([{ gen_index: 1, creation_unix_ts_ms: 1767237945500, expiry_unix_ts_ms: 1775013945500 }])
        expect(yield* inspect.userErrors()).toEqual([{ payment_id: "tok", payment_provider: 1, unix_ts_ms: 5 }])
        expect(yield* inspect.googleHistory()).toEqual([{ message_id: "123456789012345678", handled: false, payload: "{}", expiry_unix_ts_ms: 77 }])
        expect((yield* (yield* Revocations).list(0)).ticket).toBe(1)
        // The key from the file signs; the user's error shows up in details.
        const payments = yield* Payments
        expect(payments.backendPublicKey.length).toBe(32)
        void ProDetails
      }).pipe(Effect.provide(Backend.layer({ url: `sqlite:///${file}` })))
      // Our indexes exist now.
      const after = open(file)
      const idx = after.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'payments_%'").all()
      expect(idx.length).toBeGreaterThanOrEqual(5)
      after.close()
    }))

  for (const version of [5, 7] as const) {
    it.effect(`schema v${version} file migrates 5→…→9→10→11→12 and keeps its rows`, () =>
      Effect.gen(function*() {
        const file = tempDbPath(`v${version}`)
        const raw = makeV5(file, version)
        insertRuntime(raw, 0)
        raw.prepare(`INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms,
          redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms, platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms,
          apple_original_tx_id, apple_tx_id, apple_web_line_order_tx_id, google_payment_token, google_order_id,
          refund_requested_unix_ts_ms) VALUES (?, 2, 2, 2, 1, 10, 86400000, 999999999999, 0, 0, NULL, 'orig', 'tx', 'web', NULL, NULL, 7)`)
          .run(Buffer.from(MASTER))
        if (version === 5) {
          raw.prepare(`INSERT INTO users VALUES (?, 2, 999999999999, 0, 1, 7)`).run(Buffer.from(MASTER))
        } else {
          raw.prepare(`INSERT INTO users VALUES (?, 2, 999999999999, 0, 1, 7, ?, '')`).run(Buffer.from(MASTER), Buffer.from(accountIdForMaster(MASTER)))
        }
        raw.prepare(`INSERT INTO revocations (gen_index, expiry_unix_ts_ms) VALUES (1, 5000)`).run()
        raw.close()

        yield* Effect.gen(function*() {
          const inspect = yield* Inspect
          expect(yield* inspect.schemaVersion()).toBe(12)
          const [p] = yield* inspect.payments()
          // FLAG-21 fixed: appended columns are read by name, not position.
          expect(p).toMatchObject({
            master_pkey: MASTER,
            status: 2,
            plan: 2,
            payment_provider: 2,
            apple_original_tx_id: "orig",
            apple_tx_id: "tx",
            apple_web_line_order_tx_id: "web",
            rangeproof_order_id: null,
            refund_requested_unix_ts_ms: 7,
            google_obfuscated_account_id: null,
            apple_app_account_token: ""
          })
          const [u] = yield* inspect.users()
          expect(u!.google_obfuscated_account_id).toEqual(accountIdForMaster(MASTER)) // 5→6 fills sha256(master)
          expect(u!.apple_app_account_token).toBe("")
          expect(yield* inspect.revocations()).toEqual([{ gen_index: 1, creation_unix_ts_ms: 0, expiry_unix_ts_ms: 5000 }])
          // And the migrated DB is fully usable: a Rangeproof voucher needs the v8 column.
          const v = yield* (yield* Payments).redeemVoucher({ masterPkey: MASTER, plan: 1 })
          expect(v.genIndex).toBe(3)
        }).pipe(Effect.provide(Backend.layer({ url: `sqlite:///${file}` })))
      }))
  }

  it.effect("FLAG-20: a reference DB that already holds duplicate identities still opens; dedupe still works", () =>
    Effect.gen(function*() {
      const file = tempDbPath("dups")
      const raw = makeV9(file)
      insertRuntime(raw, 0)
      const ins = raw.prepare(`INSERT INTO payments (status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms,
        expiry_unix_ts_ms, platform_refund_expiry_unix_ts_ms, google_payment_token, google_order_id, refund_requested_unix_ts_ms,
        google_obfuscated_account_id) VALUES (1, 1, 1, 1, 1, 2, 0, 'tok', 'dup', 0, ?)`)
      ins.run(Buffer.from(accountIdForMaster(MASTER)))
      ins.run(Buffer.from(accountIdForMaster(MASTER)))
      raw.close()
      yield* Effect.gen(function*() {
        const r = yield* (yield* Payments).addUnredeemed({
          tx: { provider: 1, googlePaymentToken: "tok", googleOrderId: "dup" },
          plan: 1,
          unredeemedUnixTsMs: 1,
          expiryUnixTsMs: 2,
          platformRefundExpiryUnixTsMs: 0,
          googleObfuscatedAccountId: accountIdForMaster(MASTER)
        })
        expect(r.inserted).toBe(false)
        expect((yield* (yield* Inspect).payments()).length).toBe(2)
      }).pipe(Effect.provide(Backend.layer({ url: `sqlite:///${file}` })))
      const after = open(file)
      const names = after.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all().map((r: any) => r.name)
      expect(names).not.toContain("payments_google_identity")
      expect(names).toContain("payments_apple_identity")
      after.close()
    }))

  it.effect("versions 1–4 are refused (FLAG-23 replicated)", () =>
    Effect.gen(function*() {
      const file = tempDbPath("v4")
      const raw = open(file)
      raw.pragma("user_version = 4")
      raw.close()
      const r = yield* Effect.exit(Effect.void.pipe(Effect.provide(Database.layerSqlite(file))))
      expect(String(r)).toMatch(/unsupported schema version 4/)
    }))
})
