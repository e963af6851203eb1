/**
 * The core operations the Apple integration uses, behind one seam. Every name here maps 1:1 to the
 * core contract (docs/core-api.md); keeping the mapping in this one file means a drift in the core's
 * surface is a one-file change, and the handler code reads in Apple's terms.
 */
import {
  AppleNotificationHistory,
  Database,
  Payments,
  type PaymentError,
  type PaymentRow,
  type ProPlan,
  type StorageError,
  UserErrors
} from "@session-pro/core"
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
  /**
   * RENEWAL_EXTENDED: move the expiry (and refund deadline) of exactly this payment later, never earlier
   * (the core keeps max(stored, given)); fails when no such non-revoked row exists.
   */
  readonly updateExpiry: (
    tx: AppleTx,
    change: { readonly expiryUnixTsMs: number; readonly platformRefundExpiryUnixTsMs?: number }
  ) => Effect.Effect<{ readonly changed: boolean; readonly expiryUnixTsMs: number }, LedgerError>
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
    const userErrors = yield* UserErrors
    const history = yield* AppleNotificationHistory
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
      updateExpiry: (tx, change) =>
        payments.updateExpiry(coreTx(tx), change).pipe(
          Effect.map((r) => ({ changed: r.changed, expiryUnixTsMs: r.expiryUnixTsMs }))
        ),
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
