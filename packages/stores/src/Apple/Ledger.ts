/**
 * The core operations the Apple integration uses, behind one seam. Every name here maps 1:1 to the
 * core contract (docs/core-api.md); keeping the mapping in this one file means a drift in the core's
 * surface is a one-file change, and the handler code reads in Apple's terms.
 */
import { Database, num, Payments, type PaymentError, type PaymentRow, type ProPlan, storage, type StorageError } from "@session-pro/core"
import { Context, Effect, Layer, type Option } from "effect"

/** The full identity of an Apple payment row (all three ids; §2.8). */
export interface AppleTx {
  readonly originalTxId: string
  readonly txId: string
  readonly webLineOrderTxId: string
}

export type LedgerError = PaymentError | StorageError

export interface AppleLedgerShape {
  /** One write transaction; nested calls join it. */
  readonly transaction: <A, E, R>(eff: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StorageError, R>
  readonly addUnredeemed: (input: {
    readonly tx: AppleTx
    readonly plan: ProPlan
    readonly unredeemedUnixTsMs: number
    readonly expiryUnixTsMs: number
    readonly platformRefundExpiryUnixTsMs: number
    readonly appAccountToken: string
  }) => Effect.Effect<{ readonly inserted: boolean }, LedgerError>
  /** false when no row has exactly these three ids. */
  readonly updateRenewalInfo: (
    tx: AppleTx,
    change: { readonly gracePeriodDurationMs?: number; readonly autoRenewing?: boolean }
  ) => Effect.Effect<boolean, LedgerError>
  /** Revoke every payment of the subscription (original tx id); fails when none exists. */
  readonly revokeChain: (originalTxId: string, revokedAtMs: number) => Effect.Effect<{ readonly revokedPayments: number }, LedgerError>
  /** REFUND_REVERSED: Revoked → back to what it was; false when no such row. */
  readonly restorePayment: (tx: AppleTx) => Effect.Effect<boolean, LedgerError>
  /** REFUND_DECLINED: refund_requested_unix_ts_ms = 0; false when no such row. */
  readonly clearRefundRequested: (tx: AppleTx) => Effect.Effect<boolean, LedgerError>
  readonly getPayment: (tx: AppleTx) => Effect.Effect<Option.Option<PaymentRow>, LedgerError>
  readonly historyHas: (uuid: string) => Effect.Effect<boolean, LedgerError>
  readonly historyAdd: (uuid: string, expiryUnixTsMs: number) => Effect.Effect<void, LedgerError>
  readonly checkpoint: Effect.Effect<number, LedgerError>
  readonly setCheckpoint: (ts: number) => Effect.Effect<void, LedgerError>
  /** Idempotent (ON CONFLICT DO NOTHING); keyed by the original transaction id. */
  readonly addUserError: (originalTxId: string, unixTsMs: number) => Effect.Effect<void, LedgerError>
}

export class AppleLedger extends Context.Tag("@session-pro/stores/AppleLedger")<AppleLedger, AppleLedgerShape>() {}

const coreTx = (tx: AppleTx) => ({
  provider: 2 as const,
  appleOriginalTxId: tx.originalTxId,
  appleTxId: tx.txId,
  appleWebLineOrderTxId: tx.webLineOrderTxId
})

/** The ledger over the core's services. */
export const layerCore = Layer.effect(
  AppleLedger,
  Effect.gen(function*() {
    const db = yield* Database
    const payments = yield* Payments
    const sql = db.sql
    // Interim: the core contract lists UserErrors and AppleNotificationHistory but the core does not
    // export them yet; these statements are exactly §6.12/§6.13 over the v9 tables and are to be
    // replaced by `userErrors.add` / `history.has|add|checkpoint|setCheckpoint` when they land.
    const history = {
      has: (uuid: string) =>
        storage(sql`SELECT 1 AS one FROM apple_notification_uuid_history WHERE uuid = ${uuid} LIMIT 1`).pipe(
          Effect.map((rows) => rows.length > 0)
        ),
      add: (uuid: string, expiry: number) =>
        Effect.asVoid(storage(sql`INSERT INTO apple_notification_uuid_history (uuid, expiry_unix_ts_ms) VALUES (${uuid}, ${expiry})`)),
      checkpoint: storage(sql`SELECT apple_notification_checkpoint_unix_ts_ms AS c FROM runtime LIMIT 1`).pipe(
        Effect.map((rows) => num((rows[0] as any)?.c))
      ),
      setCheckpoint: (ts: number) => Effect.asVoid(storage(sql`UPDATE runtime SET apple_notification_checkpoint_unix_ts_ms = ${ts}`))
    }
    const userErrors = {
      add: (e: { provider: 2; paymentId: string; unixTsMs: number }) =>
        storage(sql`INSERT INTO user_errors (payment_id, payment_provider, unix_ts_ms)
          VALUES (${e.paymentId}, ${e.provider}, ${e.unixTsMs}) ON CONFLICT DO NOTHING`)
    }
    const ledger: AppleLedgerShape = {
      transaction: (eff) => db.transaction(eff),
      addUnredeemed: (i) =>
        payments.addUnredeemed({
          tx: coreTx(i.tx),
          plan: i.plan,
          unredeemedUnixTsMs: i.unredeemedUnixTsMs,
          expiryUnixTsMs: i.expiryUnixTsMs,
          platformRefundExpiryUnixTsMs: i.platformRefundExpiryUnixTsMs,
          appleAppAccountToken: i.appAccountToken
        }).pipe(Effect.map((r) => ({ inserted: r.inserted }))),
      updateRenewalInfo: (tx, change) => payments.updateRenewalInfo(coreTx(tx), change),
      revokeChain: (originalTxId, revokedAtMs) =>
        payments.revokeChain({ provider: 2, chainId: originalTxId, revokedAtMs }).pipe(
          Effect.map((r) => ({ revokedPayments: r.revokedPayments }))
        ),
      restorePayment: (tx) => payments.restorePayment(coreTx(tx)).pipe(Effect.map((r) => r.restoredPayments > 0)),
      clearRefundRequested: (tx) => payments.clearRefundRequested(coreTx(tx)),
      getPayment: (tx) => payments.get(coreTx(tx)),
      historyHas: (uuid) => history.has(uuid),
      historyAdd: (uuid, expiry) => history.add(uuid, expiry),
      checkpoint: history.checkpoint,
      setCheckpoint: (ts) => history.setCheckpoint(ts),
      addUserError: (originalTxId, unixTsMs) =>
        Effect.asVoid(userErrors.add({ provider: 2, paymentId: originalTxId, unixTsMs }))
    }
    return ledger
  })
)
