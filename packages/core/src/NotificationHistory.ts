import { Effect } from "effect"
import { bool, Database, num, storage } from "./Storage/Database.js"

/** §6.13 Apple: UUIDs of processed notifications (kept for Apple's retry window) and the catch-up checkpoint. */
export class AppleNotificationHistory extends Effect.Service<AppleNotificationHistory>()("@session-pro/core/AppleNotificationHistory", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const sql = db.sql
    const has = (uuid: string) =>
      storage(sql`SELECT 1 AS x FROM apple_notification_uuid_history WHERE uuid = ${uuid} LIMIT 1`).pipe(Effect.map((r) => r.length > 0))
    const add = (uuid: string, expiryUnixTsMs: number) =>
      storage(sql`INSERT INTO apple_notification_uuid_history (uuid, expiry_unix_ts_ms) VALUES (${uuid}, ${expiryUnixTsMs})`).pipe(Effect.asVoid)
    const checkpoint = storage(sql`SELECT apple_notification_checkpoint_unix_ts_ms AS c FROM runtime LIMIT 1`).pipe(
      Effect.map((r) => num((r[0] as any)?.c))
    )
    const setCheckpoint = (ts: number) =>
      storage(sql`UPDATE runtime SET apple_notification_checkpoint_unix_ts_ms = ${ts}`).pipe(Effect.asVoid)
    const list = storage(sql`SELECT uuid, expiry_unix_ts_ms FROM apple_notification_uuid_history`).pipe(
      Effect.map((rows) => rows.map((r: any) => ({ uuid: String(r.uuid), expiry_unix_ts_ms: num(r.expiry_unix_ts_ms) })))
    )
    return { has, add, checkpoint, setCheckpoint, list } as const
  })
}) {}

export type MessageId = string | number | bigint

/** §6.13 / §8.3 Google: Pub/Sub message history (dedupe + durable retry of unhandled messages). */
export class GoogleNotificationHistory extends Effect.Service<GoogleNotificationHistory>()("@session-pro/core/GoogleNotificationHistory", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const sql = db.sql
    // Message ids can exceed 2^53: bind as bigint (SQLite) / decimal string (PG), read back as text.
    const id = (m: MessageId) => (db.dialect === "pg" ? BigInt(m).toString() : BigInt(m))

    /** `{ handled }` of the first matching row, or undefined when the id was never stored. */
    const get = (messageId: MessageId) =>
      storage(sql`SELECT handled FROM google_notification_history WHERE message_id = ${id(messageId)} LIMIT 1`).pipe(
        Effect.map((r) => (r.length === 0 ? undefined : { handled: bool((r[0] as any).handled) }))
      )
    /** Inserts `handled = false`; an empty payload is stored as NULL. */
    const add = (messageId: MessageId, expiryUnixTsMs: number, payload?: string | null) =>
      storage(sql`INSERT INTO google_notification_history (message_id, handled, payload, expiry_unix_ts_ms)
        VALUES (${id(messageId)}, ${db.bool(false)}, ${payload ? payload : null}, ${expiryUnixTsMs})`).pipe(Effect.asVoid)
    /** Delete every row of the id, or mark them handled and drop the payload. Returns whether any row matched. */
    const setHandled = (messageId: MessageId, options?: { readonly delete?: boolean }) =>
      storage(
        options?.delete
          ? sql`DELETE FROM google_notification_history WHERE message_id = ${id(messageId)} RETURNING expiry_unix_ts_ms`
          : sql`UPDATE google_notification_history SET handled = ${db.bool(true)}, payload = NULL
              WHERE message_id = ${id(messageId)} RETURNING expiry_unix_ts_ms`
      ).pipe(Effect.map((r) => r.length > 0))
    const unhandled = storage(sql`SELECT CAST(message_id AS TEXT) AS message_id, payload, expiry_unix_ts_ms
        FROM google_notification_history WHERE handled = ${db.bool(false)} ORDER BY expiry_unix_ts_ms`).pipe(
      Effect.map((rows) =>
        rows.map((r: any) => ({
          messageId: String(r.message_id),
          payload: r.payload === null || r.payload === undefined ? null : String(r.payload),
          expiry: num(r.expiry_unix_ts_ms)
        }))
      )
    )
    return { get, add, setHandled, unhandled: () => unhandled, unhandledList: unhandled } as const
  })
}) {}
