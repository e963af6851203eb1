import { Clock, Effect } from "effect"
import { PaymentProvider } from "./Domain/Enums.js"
import { Database, storage } from "./Storage/Database.js"
import { decodeGoogleAck, type GoogleAckRow } from "./Storage/Rows.js"

/** An outbox entry as the acknowledgement worker sees it. */
export interface GoogleAckEntry {
  readonly id: number
  readonly purchaseToken: string
  readonly orderId: string
  readonly subscriptionId: string | null
  readonly createdUnixTsMs: number
  readonly nextAttemptUnixTsMs: number
  readonly attempts: number
  readonly lastError: string | null
  readonly doneUnixTsMs: number | null
}
const toEntry = (r: GoogleAckRow): GoogleAckEntry => ({
  id: r.id,
  purchaseToken: r.purchase_token,
  orderId: r.order_id,
  subscriptionId: r.subscription_id,
  createdUnixTsMs: r.created_unix_ts_ms,
  nextAttemptUnixTsMs: r.next_attempt_unix_ts_ms,
  attempts: r.attempts,
  lastError: r.last_error,
  doneUnixTsMs: r.done_unix_ts_ms
})

/** Backoff for the n-th failure: 1 s doubling, capped at 10 min (like the reference's notification queue). */
export const defaultAckBackoffMs = (attempts: number): number => Math.min(1_000 * 2 ** Math.max(attempts - 1, 0), 600_000)

/**
 * D4c: a redemption commits first; the Google acknowledgement is queued here in the same transaction and
 * retried by the host (the http/stores worker) until Google accepts it — well inside Google's 3-day window.
 */
export class GoogleAckOutbox extends Effect.Service<GoogleAckOutbox>()("@session-pro/core/GoogleAckOutbox", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const sql = db.sql
    const cols = sql.literal(`id, purchase_token, order_id, subscription_id, created_unix_ts_ms, next_attempt_unix_ts_ms,
      attempts, last_error, done_unix_ts_ms`)

    /** Queue an acknowledgement (idempotent per token+order). Returns whether a row was added. */
    const enqueue = (input: { readonly purchaseToken: string; readonly orderId?: string | undefined; readonly subscriptionId?: string | undefined }) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* db.q`INSERT INTO google_ack_outbox (purchase_token, order_id, subscription_id, created_unix_ts_ms,
            next_attempt_unix_ts_ms, attempts) VALUES (${input.purchaseToken}, ${input.orderId ?? ""}, ${input.subscriptionId ?? null},
            ${now}, ${now}, 0) ON CONFLICT DO NOTHING RETURNING id`
        return rows.length > 0
      })

    /** Pending acknowledgements whose next attempt is due at `now`, oldest first. */
    const due = (now: number, limit = 100) =>
      storage(sql`SELECT ${cols} FROM google_ack_outbox WHERE done_unix_ts_ms IS NULL AND next_attempt_unix_ts_ms <= ${now}
        ORDER BY next_attempt_unix_ts_ms, id LIMIT ${limit}`).pipe(Effect.map((rows) => rows.map((r) => toEntry(decodeGoogleAck(r)))))

    const pending = storage(sql`SELECT ${cols} FROM google_ack_outbox WHERE done_unix_ts_ms IS NULL ORDER BY id`).pipe(
      Effect.map((rows) => rows.map((r) => toEntry(decodeGoogleAck(r))))
    )
    const all = storage(sql`SELECT ${cols} FROM google_ack_outbox ORDER BY id`).pipe(Effect.map((rows) => rows.map((r) => toEntry(decodeGoogleAck(r)))))

    const markDone = (id: number | bigint | string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* storage(sql`UPDATE google_ack_outbox SET done_unix_ts_ms = ${now}, last_error = NULL
          WHERE id = ${Number(id)} AND done_unix_ts_ms IS NULL RETURNING id`)
        return rows.length > 0
      })

    /**
     * Record a failed attempt and schedule the next one (`nextAttemptUnixTsMs`, or now + `backoffMs`, or
     * the default doubling backoff). With `recordUserError` the purchase token also gets a user error so
     * the client's `error_report` prompts support (D4c); the stores worker decides when.
     */
    const markFailed = (
      id: number | bigint | string,
      options?: {
        readonly error?: string | undefined
        readonly backoffMs?: number | undefined
        readonly nextAttemptUnixTsMs?: number | undefined
        readonly recordUserError?: boolean | undefined
      }
    ) =>
      db.transaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* storage(sql`SELECT ${cols} FROM google_ack_outbox WHERE id = ${Number(id)}`)
        if (rows.length === 0) return false
        const row = decodeGoogleAck(rows[0])
        const attempts = row.attempts + 1
        const next = options?.nextAttemptUnixTsMs ?? now + (options?.backoffMs ?? defaultAckBackoffMs(attempts))
        yield* storage(sql`UPDATE google_ack_outbox SET attempts = ${attempts}, next_attempt_unix_ts_ms = ${next},
          last_error = ${options?.error ?? null} WHERE id = ${Number(id)}`)
        if (options?.recordUserError) yield* storage(sql`INSERT INTO user_errors (payment_id, payment_provider, unix_ts_ms)
          VALUES (${row.purchase_token}, ${PaymentProvider.GooglePlayStore}, ${now}) ON CONFLICT DO NOTHING`)
        return true
      }))

    /** Drop acknowledged rows done before `ts` (called by the daily sweep). */
    const pruneDone = (ts: number) =>
      storage(sql`DELETE FROM google_ack_outbox WHERE done_unix_ts_ms IS NOT NULL AND done_unix_ts_ms <= ${ts} RETURNING id`).pipe(
        Effect.map((r) => r.length)
      )

    return { enqueue, due, pending, all, markDone, markFailed, pruneDone } as const
  })
}) {}
