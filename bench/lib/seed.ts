/**
 * Database seeding for the benchmark. The schema and the runtime row (dev backend key) come from the
 * core's own bootstrap (`Database.layerSqlite`); the bulk rows are then written straight through the
 * core's raw SQLite handle in one transaction, because 100k–1M rows through the per-row services
 * would take minutes. The rows are shaped exactly as the core writes them (redeemed Apple payments,
 * user rows with their cached best-payment fields, unredeemed Apple payments without an
 * appAccountToken so `/add_pro_payment` can redeem them).
 */
import { randomBytes } from "node:crypto"
import * as NodeFs from "node:fs"
import { Context, Effect, Layer } from "effect"
import { accountIdForMaster } from "../../packages/core/src/Crypto/Hashes.js"
import { Database } from "../../packages/core/src/Storage/Database.js"
import { SqliteHandle, type SqliteDatabase } from "../../packages/core/src/Storage/SqliteDriver.js"
import { openSqlite } from "../../packages/http/src/Workers/SqliteFile.js"
import type { BenchUser } from "./keys.js"

const DAY = 86_400_000

export const removeDb = (file: string) => {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) NodeFs.rmSync(f, { force: true })
}

/** Bootstraps a fresh file DB through the core and hands its raw handle to `fill`. */
export const withFreshDb = async <A>(file: string, fill: (db: SqliteDatabase) => A): Promise<A> => {
  removeDb(file)
  const layer = Database.layerSqlite(file, { dev: true })
  return Effect.runPromise(Effect.scoped(Effect.flatMap(Layer.build(layer), (ctx) => Effect.sync(() => fill(Context.get(ctx, SqliteHandle))))))
}

const tx = <A>(db: SqliteDatabase, f: () => A): A => {
  db.exec("BEGIN IMMEDIATE")
  try {
    const a = f()
    db.exec("COMMIT")
    return a
  } catch (e) {
    db.exec("ROLLBACK")
    throw e
  }
}

const PAYMENT_INSERT = `INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing,
  unredeemed_unix_ts_ms, redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms,
  platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms, apple_original_tx_id, apple_tx_id,
  apple_web_line_order_tx_id, google_payment_token, google_order_id, rangeproof_order_id,
  refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
  VALUES (?, ?, 1, 2, 0, ?, ?, ?, 0, 0, NULL, ?, ?, '', NULL, NULL, NULL, 0, NULL, '')`
const USER_INSERT = `INSERT INTO users (master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms,
  auto_renewing, refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
  VALUES (?, ?, ?, 0, 0, 0, ?, '')`

export interface RouteSeed {
  /** Total users (each with one redeemed Apple payment). */
  readonly users: number
  /** Users with real keys, placed at these user indices. */
  readonly driven: ReadonlyArray<BenchUser>
  /** Unredeemed Apple payments `bench-add-<j>` for `/add_pro_payment`. */
  readonly addPool: number
  /** Revocations of filler users' gen indices (served by `/get_pro_revocations`). */
  readonly revocations: number
  readonly now: number
}

/** Users + payments for the route benchmarks. Filler users get random master keys. */
export const seedRoutes = (file: string, s: RouteSeed) =>
  withFreshDb(file, (db) =>
    tx(db, () => {
      const pay = db.prepare(PAYMENT_INSERT)
      const user = db.prepare(USER_INSERT)
      const drivenAt = new Map(s.driven.map((u) => [u.index, u]))
      const expiry = s.now + 60 * DAY
      const filler = randomBytes(32 * s.users)
      for (let i = 0; i < s.users; i++) {
        const d = drivenAt.get(i)
        const master = d ? Buffer.from(d.master.publicKey) : filler.subarray(32 * i, 32 * i + 32)
        const txId = d ? d.appleTxId : `bench-filler-${i}`
        pay.run(master, 2, s.now - DAY, s.now - DAY, expiry, txId, txId)
        user.run(master, i, expiry, Buffer.from(accountIdForMaster(master)))
      }
      for (let j = 0; j < s.addPool; j++) {
        const id = `bench-add-${j}`
        pay.run(null, 1, s.now - DAY, null, s.now + 30 * DAY, id, id)
      }
      // Revoke filler gen indices only, never a driven user's.
      const rev = db.prepare(`INSERT INTO revocations (gen_index, creation_unix_ts_ms, expiry_unix_ts_ms) VALUES (?, ?, ?)`)
      let made = 0
      for (let g = s.users - 1; g >= 0 && made < s.revocations; g--) {
        if (drivenAt.has(g)) continue
        rev.run(g, s.now - DAY, expiry)
        made++
      }
      db.prepare(`UPDATE runtime SET gen_index = ?`).run(s.users)
    }))

/**
 * What is done to a seeded DB before the server opens it: nothing, a truncating WAL checkpoint (the
 * DB file holds every page, the WAL is empty), or VACUUM (rebuilt, defragmented) then the checkpoint.
 * Returns the DB and WAL sizes afterwards, MiB.
 */
export type DbPreparation = "none" | "checkpoint" | "vacuum"
export const prepareDb = (file: string, how: DbPreparation): { readonly dbMiB: number; readonly walMiB: number } => {
  if (how !== "none") {
    const db = openSqlite(file, { fileMustExist: true })
    try {
      if (how === "vacuum") db.exec("VACUUM")
      db.pragma("wal_checkpoint(TRUNCATE)")
    } finally {
      db.close()
    }
  }
  const size = (f: string) => (NodeFs.existsSync(f) ? NodeFs.statSync(f).size / 1048576 : 0)
  return { dbMiB: size(file), walMiB: size(`${file}-wal`) }
}

export interface SweepSeed {
  readonly payments: number
  readonly now: number
  /**
   * The sweep's user-prune candidates (schema v11) pending at `now`. The bulk insert below bypasses the
   * core, so the user-insert trigger makes every user a candidate, as if all of them had been created
   * since the last sweep. "daily" (default) models a DB the core has been running: yesterday's sweep
   * consumed the candidates of older users, so pending are the users created since (1/30 of them, the
   * same churn as the ~1/30 of payments that expire per day) plus every user without payments (the
   * invariant the triggers keep; it also keeps the `users` count equal to a full prune's). "all" keeps
   * every user pending: the first sweep after a bulk import of users, the worst case.
   */
  readonly candidates?: "daily" | "all"
}

/**
 * A DB for the daily sweep: `payments` rows over `payments / 2` users, expiries spread over 60 days so
 * ~1/30 of the live rows expire at `now`; 5% unredeemed, 5% already expired; 1% revoked gen indices;
 * notification history rows with expiries spread the same way.
 */
export const seedSweep = (file: string, s: SweepSeed) =>
  withFreshDb(file, (db) =>
    tx(db, () => {
      const pay = db.prepare(PAYMENT_INSERT)
      const user = db.prepare(USER_INSERT)
      const users = Math.max(1, Math.floor(s.payments / 2))
      const masters = randomBytes(32 * users)
      const m = (u: number) => masters.subarray(32 * u, 32 * u + 32)
      const expiryOf = (i: number) => s.now - DAY + (i % 60) * DAY
      for (let u = 0; u < users; u++) user.run(m(u), u, s.now + 30 * DAY, Buffer.from(accountIdForMaster(m(u))))
      for (let i = 0; i < s.payments; i++) {
        const kind = i % 20
        const id = `sweep-${i}`
        if (kind === 0) pay.run(null, 1, s.now - DAY, null, expiryOf(i), id, id)
        else if (kind === 1) pay.run(m(i % users), 3, s.now - 90 * DAY, s.now - 90 * DAY, s.now - 60 * DAY, id, id)
        else pay.run(m(i % users), 2, s.now - DAY, s.now - DAY, expiryOf(i), id, id)
      }
      const rev = db.prepare(`INSERT INTO revocations (gen_index, creation_unix_ts_ms, expiry_unix_ts_ms) VALUES (?, ?, ?)`)
      for (let g = 0; g < Math.floor(users / 100); g++) rev.run(g, s.now - DAY, expiryOf(g))
      const apple = db.prepare(`INSERT INTO apple_notification_uuid_history (uuid, expiry_unix_ts_ms) VALUES (?, ?)`)
      for (let i = 0; i < Math.floor(s.payments / 10); i++) apple.run(`uuid-${i}`, expiryOf(i))
      db.prepare(`UPDATE runtime SET gen_index = ?`).run(users)
      if ((s.candidates ?? "daily") === "daily") {
        db.exec(`DELETE FROM user_prune_candidates`)
        db.exec(`INSERT INTO user_prune_candidates (master_pkey) SELECT u.master_pkey FROM users u WHERE u.gen_index % 30 = 0
          OR NOT EXISTS (SELECT 1 FROM payments p WHERE p.master_pkey = u.master_pkey)`)
      }
    }))
