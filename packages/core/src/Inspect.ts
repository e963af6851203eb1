import { Effect } from "effect"
import { bool, Database, num, storage, str } from "./Storage/Database.js"
import {
  decodeGoogleAck,
  decodePayment,
  decodeRevocation,
  decodeRuntime,
  decodeUser,
  decodeUserError,
  PAYMENT_COLUMNS,
  USER_COLUMNS
} from "./Storage/Rows.js"

/** Read helpers (tests, CLI `db print`/`db info`, fixture replay): DB column names, bytes as Uint8Array. */
export class Inspect extends Effect.Service<Inspect>()("@session-pro/core/Inspect", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const sql = db.sql
    const payments = () =>
      storage(sql`SELECT ${sql.literal(PAYMENT_COLUMNS)} FROM payments ORDER BY id`).pipe(Effect.map((r) => r.map(decodePayment)))
    const users = () =>
      storage(sql`SELECT ${sql.literal(USER_COLUMNS)} FROM users ORDER BY gen_index`).pipe(Effect.map((r) => r.map(decodeUser)))
    const revocations = () =>
      storage(sql`SELECT gen_index, creation_unix_ts_ms, expiry_unix_ts_ms FROM revocations ORDER BY gen_index`).pipe(
        Effect.map((r) => r.map(decodeRevocation))
      )
    const runtime = () =>
      storage(sql`SELECT gen_index, gen_index_salt, backend_key, last_expire_unix_ts_ms, apple_notification_checkpoint_unix_ts_ms,
        revocation_ticket FROM runtime LIMIT 1`).pipe(Effect.map((r) => decodeRuntime(r[0])))
    const userErrors = () =>
      storage(sql`SELECT payment_id, payment_provider, unix_ts_ms FROM user_errors ORDER BY payment_provider, payment_id`).pipe(
        Effect.map((r) => r.map(decodeUserError))
      )
    const appleHistory = () =>
      storage(sql`SELECT uuid, expiry_unix_ts_ms FROM apple_notification_uuid_history`).pipe(
        Effect.map((r) => r.map((x: any) => ({ uuid: String(x.uuid), expiry_unix_ts_ms: num(x.expiry_unix_ts_ms) })))
      )
    const googleHistory = () =>
      storage(sql`SELECT CAST(message_id AS TEXT) AS message_id, handled, payload, expiry_unix_ts_ms FROM google_notification_history`).pipe(
        Effect.map((r) =>
          r.map((x: any) => ({
            message_id: String(x.message_id),
            handled: bool(x.handled),
            payload: str(x.payload),
            expiry_unix_ts_ms: num(x.expiry_unix_ts_ms)
          }))
        )
      )
    const googleAckOutbox = () =>
      storage(sql`SELECT id, purchase_token, order_id, subscription_id, created_unix_ts_ms, next_attempt_unix_ts_ms, attempts,
        last_error, done_unix_ts_ms FROM google_ack_outbox ORDER BY id`).pipe(Effect.map((r) => r.map(decodeGoogleAck)))
    /** Row counts for `db info`. */
    const counts = () =>
      storage(sql`SELECT
          (SELECT COUNT(*) FROM users) AS users,
          (SELECT COUNT(*) FROM revocations) AS revocations,
          (SELECT COUNT(*) FROM payments) AS payments,
          (SELECT COUNT(*) FROM payments WHERE status = 1) AS unredeemed,
          (SELECT COUNT(*) FROM user_errors) AS user_errors,
          (SELECT COUNT(*) FROM google_notification_history) AS google_notifications,
          (SELECT COUNT(*) FROM apple_notification_uuid_history) AS apple_notifications`).pipe(
        Effect.map((r) => {
          const x = r[0] as any
          return {
            users: num(x.users),
            revocations: num(x.revocations),
            payments: num(x.payments),
            unredeemed: num(x.unredeemed),
            userErrors: num(x.user_errors),
            googleNotifications: num(x.google_notifications),
            appleNotifications: num(x.apple_notifications)
          }
        })
      )
    /** Schema version as stored (SQLite `PRAGMA user_version`, PG `schema_version`). */
    const schemaVersion = () =>
      storage(db.dialect === "sqlite" ? sql.unsafe(`PRAGMA user_version`) : sql`SELECT version AS user_version FROM schema_version LIMIT 1`).pipe(
        Effect.map((r) => num((r[0] as any)?.user_version))
      )
    return { payments, users, revocations, runtime, userErrors, appleHistory, googleHistory, googleAckOutbox, counts, schemaVersion } as const
  })
}) {}
