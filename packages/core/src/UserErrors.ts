import { Effect } from "effect"
import { PaymentProvider } from "./Domain/Enums.js"
import { PaymentError } from "./Domain/Errors.js"
import { Database, raw, storage } from "./Storage/Database.js"
import { decodeUserError } from "./Storage/Rows.js"

/**
 * The join of a payment `p` to its chain's error `ue` (§6.12): an Apple payment by its original
 * transaction id, a Google one by its purchase token (FLAG-35 replicated: `ue.payment_provider` is not
 * compared). One equality on `ue.payment_id` instead of the reference's `(… AND …) OR (… AND …)`, so
 * each payment is one probe of the `user_errors` unique index (the OR needed two and a rowid set).
 * A provider without a chain id gives NULL, which matches nothing, as before.
 */
export const USER_ERROR_JOIN = raw(
  `ue.payment_id = CASE p.payment_provider WHEN 2 THEN p.apple_original_tx_id WHEN 1 THEN p.google_payment_token END`
)

export interface UserErrorKey {
  /** Google: purchase token; Apple: original transaction id. */
  readonly provider: number
  readonly paymentId: string
}

/** §6.12 / §9: payment chains the backend failed to book-keep (surfaced as `error_report`). */
export class UserErrors extends Effect.Service<UserErrors>()("@session-pro/core/UserErrors", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const sql = db.sql

    /** Idempotent (`ON CONFLICT DO NOTHING`); returns whether a row was added. Rangeproof/Nil cannot have errors. */
    const add = (e: UserErrorKey & { readonly unixTsMs: number }) =>
      Effect.gen(function*() {
        if (e.provider !== PaymentProvider.GooglePlayStore && e.provider !== PaymentProvider.iOSAppStore) {
          return yield* Effect.fail(new PaymentError({ message: `User errors are only recorded for Google or Apple payments, got provider ${e.provider}` }))
        }
        if (!e.paymentId) return yield* Effect.fail(new PaymentError({ message: "User error needs a non-empty payment id" }))
        const rows = yield* storage(sql`INSERT INTO user_errors (payment_id, payment_provider, unix_ts_ms)
          VALUES (${e.paymentId}, ${e.provider}, ${e.unixTsMs}) ON CONFLICT DO NOTHING RETURNING payment_id`)
        return rows.length > 0
      })

    const remove = (e: UserErrorKey) =>
      storage(sql`DELETE FROM user_errors WHERE payment_id = ${e.paymentId} AND payment_provider = ${e.provider} RETURNING payment_id`).pipe(
        Effect.map((r) => r.length > 0)
      )

    const has = (e: UserErrorKey) =>
      storage(sql`SELECT 1 AS x FROM user_errors WHERE payment_id = ${e.paymentId} AND payment_provider = ${e.provider}`).pipe(
        Effect.map((r) => r.length > 0)
      )

    /** FLAG-35 replicated: the join ignores `user_errors.payment_provider`. */
    const hasForMaster = (master: Uint8Array) =>
      Effect.map(
        db.q`SELECT EXISTS (SELECT 1 FROM payments p JOIN user_errors ue ON ${USER_ERROR_JOIN} WHERE p.master_pkey = ${master}) AS e`,
        (r) => Number(r[0].e) === 1 || r[0].e === true
      )

    const list = storage(sql`SELECT payment_id, payment_provider, unix_ts_ms FROM user_errors ORDER BY payment_provider, payment_id`).pipe(
      Effect.map((rows) => rows.map(decodeUserError))
    )

    return { add, delete: remove, remove, has, hasForMaster, list } as const
  })
}) {}
