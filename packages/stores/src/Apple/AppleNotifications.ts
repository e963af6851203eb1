/**
 * App Store Server Notifications V2 → core operations (stores.md §2, domain.md §8.1, README D4f).
 *
 * One notification = verify (outer JWS, then whichever inner JWS it carries) → one DB transaction
 * (dedupe by notificationUUID, dispatch, remember the UUID for Apple's retry window). Outcomes:
 *  - `Applied` / `NoAction` / `Duplicate`: answer 200 (every no-op is logged with its reason);
 *  - `AppleVerificationError`: not Apple's (forged, tampered, wrong chain/bundle/environment) → 4xx,
 *    nothing stored;
 *  - `AppleVerificationUnavailable` / `AppleProcessingError`: could not be applied now → non-2xx so
 *    Apple redelivers; the transaction is rolled back and a user error is written in a separate
 *    transaction when the subscription is known (FLAG-26/40 fixed).
 */
import { BackendSettings, DEFAULT_APPLE_GRACE_PERIOD_MS, PaymentStatus, type ProPlan } from "@session-pro/core"
import { Cause, Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { type AppleNotificationsConfig, fromConfig } from "./Config.js"
import { type AppleLedgerShape, type AppleTx, AppleLedger, layerCore } from "./Ledger.js"
import { AUTO_RENEWABLE, NON_RENEWING, type NotificationPayload, type RenewalInfo, type TransactionInfo } from "./Schemas.js"
import { type AppleVerifier, makeVerifier, type VerifyError } from "./Verifier.js"

export { AppleVerificationError, AppleVerificationUnavailable } from "./Verifier.js"

export type AppleOutcome =
  | { readonly _tag: "Applied"; readonly uuid: string; readonly type: string; readonly subtype: string | undefined; readonly detail: string }
  | { readonly _tag: "NoAction"; readonly uuid: string; readonly type: string; readonly subtype: string | undefined; readonly reason: string }
  | { readonly _tag: "Duplicate"; readonly uuid: string; readonly type: string; readonly subtype: string | undefined }

/** The notification is genuine but could not be applied now (rolled back; Apple should redeliver). */
export class AppleProcessingError extends Schema.TaggedError<AppleProcessingError>()("AppleProcessingError", {
  uuid: Schema.String,
  notificationType: Schema.String,
  subtype: Schema.optional(Schema.String),
  message: Schema.String
}) {}

export type AppleNotificationError = VerifyError | AppleProcessingError

export interface AppleNotificationsShape {
  readonly config: AppleNotificationsConfig
  /** Verify and apply one `signedPayload` (webhook body or a catch-up history item). */
  readonly process: (signedPayload: string) => Effect.Effect<AppleOutcome, AppleNotificationError>
  /** Verify only (no storage): the decoded notification, e.g. for the catch-up's checkpoint maths. */
  readonly verify: (signedPayload: string) => Effect.Effect<NotificationPayload, VerifyError>
}

export class AppleNotifications extends Context.Tag("@session-pro/stores/AppleNotifications")<
  AppleNotifications,
  AppleNotificationsShape
>() {}

/** A handler refusing the notification (a missing field, an unknown product, no such payment…). */
class HandlerFailure extends Schema.TaggedError<HandlerFailure>()("HandlerFailure", { message: Schema.String }) {}
const fail = (message: string) => Effect.fail(new HandlerFailure({ message }))

interface Ctx {
  readonly n: NotificationPayload
  readonly tx: TransactionInfo | undefined
  readonly renewal: RenewalInfo | undefined
}

/** `s[:k] + "…" + s[-k:]`, k = max(floor(0.3 n), 1) (domain.md §11.2). */
const obfuscate = (s: string): string => {
  const cps = Array.from(s)
  if (cps.length < 3) return s
  const k = Math.max(Math.floor(cps.length * 0.3), 1)
  return cps.slice(0, k).join("") + "\u2026" + cps.slice(cps.length - k).join("")
}

export const make = (config: AppleNotificationsConfig) =>
  Effect.gen(function*() {
    const ledger = yield* AppleLedger
    const settings = yield* BackendSettings
    const verifier = makeVerifier(config)
    return makeWith(config, verifier, ledger, settings.unsafeLogging)
  })

/** Exposed for tests that need a custom verifier; `make` is the normal entry point. */
export const makeWith = (
  config: AppleNotificationsConfig,
  verifier: AppleVerifier,
  ledger: AppleLedgerShape,
  unsafeLogging: boolean
): AppleNotificationsShape => {
  const mask = (v: string | undefined) => (v === undefined ? "None" : unsafeLogging ? v : obfuscate(v))
  const label = (t: AppleTx) => `orig=${mask(t.originalTxId)} tx=${mask(t.txId)}`

  // ---- field requirements ("needs X" of §2.7: a missing field is an error → redelivery)
  const requireTx = (ctx: Ctx) =>
    ctx.tx === undefined ? fail(`${ctx.n.notificationType} carries no signedTransactionInfo`) : Effect.succeed(ctx.tx)

  const idsOf = (tx: TransactionInfo) =>
    tx.originalTransactionId && tx.transactionId
      ? Effect.succeed<AppleTx>({
        originalTxId: tx.originalTransactionId,
        txId: tx.transactionId,
        webLineOrderTxId: tx.webOrderLineItemId ?? ""
      })
      : fail("transaction info lacks originalTransactionId/transactionId")

  const planOf = (productId: string | undefined) => {
    const plan = productId === undefined ? undefined : config.productPlans[productId]
    return plan === undefined
      ? fail(`product id ${productId ?? "(none)"} does not map to a Session Pro plan (configure it)`)
      : Effect.succeed<ProPlan>(plan)
  }

  /** §6.1 + §6.8: the payment of this transaction, then its renewal state. */
  const addPurchase = (tx: TransactionInfo, renewal: { grace: number; auto: boolean | undefined }) =>
    Effect.gen(function*() {
      const ids = yield* idsOf(tx)
      if (tx.purchaseDate === undefined || tx.expiresDate === undefined) {
        return yield* fail("transaction info lacks purchaseDate/expiresDate")
      }
      const plan = yield* planOf(tx.productId)
      const { inserted } = yield* ledger.addUnredeemed({
        tx: ids,
        plan,
        unredeemedUnixTsMs: tx.purchaseDate,
        expiryUnixTsMs: tx.expiresDate,
        // Apple publishes no refund deadline; the reference assumes the whole period (§2.5).
        platformRefundExpiryUnixTsMs: tx.expiresDate,
        appAccountToken: tx.appAccountToken ?? ""
      })
      const matched = yield* ledger.updateRenewalInfo(ids, {
        gracePeriodDurationMs: renewal.grace,
        ...(renewal.auto === undefined ? {} : { autoRenewing: renewal.auto })
      })
      if (!matched) return yield* fail(`payment ${label(ids)} vanished after insert`)
      return `${inserted ? "added" : "already had"} payment ${label(ids)} plan ${plan} expiry ${tx.expiresDate}`
    })

  const requireAutoRenewable = (tx: TransactionInfo) =>
    tx.type === AUTO_RENEWABLE ? Effect.void : fail(`transaction type is "${tx.type ?? "(none)"}", expected "${AUTO_RENEWABLE}"`)

  /**
   * Upgrade (DID_CHANGE_RENEWAL_PREF/UPGRADE, OFFER_REDEEMED/UPGRADE): the old plan ends at the new
   * purchase (every payment of the subscription revoked at the new purchaseDate, as recorded), the new
   * transaction is added (normally auto-redeemed to the same user).
   */
  const upgrade = (ctx: Ctx, auto: boolean | undefined) =>
    Effect.gen(function*() {
      const tx = yield* requireTx(ctx)
      yield* requireAutoRenewable(tx)
      const ids = yield* idsOf(tx)
      if (tx.purchaseDate === undefined) return yield* fail("UPGRADE transaction lacks purchaseDate")
      // Redelivery after the history row was pruned: the new payment exists, so the revoke already
      // happened; revoking again would also revoke the new payment (it shares the original tx id).
      const existing = yield* ledger.getPayment(ids)
      let revoked = "revoke already applied"
      if (Option.isNone(existing)) {
        const r = yield* ledger.revokeChain(ids.originalTxId, tx.purchaseDate)
        revoked = `revoked ${r.revokedPayments} payment(s) at ${tx.purchaseDate}`
      }
      const added = yield* addPurchase(tx, { grace: DEFAULT_APPLE_GRACE_PERIOD_MS, auto })
      return `${revoked}; ${added}`
    })

  const applied = (ctx: Ctx, detail: string): AppleOutcome => ({
    _tag: "Applied",
    uuid: ctx.n.notificationUUID,
    type: ctx.n.notificationType,
    subtype: ctx.n.subtype,
    detail
  })
  const noAction = (ctx: Ctx, reason: string): Effect.Effect<AppleOutcome> =>
    Effect.succeed({ _tag: "NoAction", uuid: ctx.n.notificationUUID, type: ctx.n.notificationType, subtype: ctx.n.subtype, reason })

  const dispatch = (ctx: Ctx): Effect.Effect<AppleOutcome, HandlerFailure | import("./Ledger.js").LedgerError> =>
    Effect.gen(function*() {
      const { n } = ctx
      switch (n.notificationType) {
        case "SUBSCRIBED": // INITIAL_BUY, RESUBSCRIBE
        case "DID_RENEW": { // (none), BILLING_RECOVERY
          const tx = yield* requireTx(ctx)
          yield* requireAutoRenewable(tx)
          return applied(ctx, yield* addPurchase(tx, { grace: DEFAULT_APPLE_GRACE_PERIOD_MS, auto: true }))
        }
        case "OFFER_REDEEMED": {
          // D4f / FLAG-37 fixed: handled like the purchase / renewal / plan change it is.
          if (n.subtype === "UPGRADE") return applied(ctx, yield* upgrade(ctx, true))
          if (n.subtype === "DOWNGRADE") {
            return yield* noAction(ctx, "downgrade offer takes effect at the next renewal (arrives as DID_RENEW)")
          }
          const tx = yield* requireTx(ctx)
          yield* requireAutoRenewable(tx)
          return applied(ctx, yield* addPurchase(tx, { grace: DEFAULT_APPLE_GRACE_PERIOD_MS, auto: true }))
        }
        case "DID_CHANGE_RENEWAL_PREF": {
          if (n.subtype === "UPGRADE") return applied(ctx, yield* upgrade(ctx, undefined))
          if (n.subtype === "DOWNGRADE") {
            const tx = yield* requireTx(ctx)
            yield* requireAutoRenewable(tx)
            const ids = yield* idsOf(tx)
            const ok = yield* ledger.updateRenewalInfo(ids, { gracePeriodDurationMs: DEFAULT_APPLE_GRACE_PERIOD_MS, autoRenewing: true })
            if (!ok) return yield* fail(`no payment ${label(ids)} to mark auto-renewing (its purchase has not arrived yet?)`)
            return applied(ctx, `downgrade queued; payment ${label(ids)} auto-renewing, grace 1 h`)
          }
          return yield* noAction(ctx, "queued plan change cancelled; the current period is unchanged")
        }
        case "DID_CHANGE_RENEWAL_STATUS": {
          if (n.subtype !== "AUTO_RENEW_ENABLED" && n.subtype !== "AUTO_RENEW_DISABLED") {
            return yield* noAction(ctx, `unexpected subtype ${n.subtype ?? "(none)"}; renewal state left as is`)
          }
          const ids = yield* idsOf(yield* requireTx(ctx))
          const auto = n.subtype === "AUTO_RENEW_ENABLED"
          const ok = yield* ledger.updateRenewalInfo(ids, { autoRenewing: auto })
          if (!ok) return yield* fail(`no payment ${label(ids)} to set auto-renewing=${auto} (its purchase has not arrived yet?)`)
          return applied(ctx, `payment ${label(ids)} auto-renewing=${auto}`)
        }
        case "DID_FAIL_TO_RENEW": {
          if (n.subtype !== "GRACE_PERIOD") {
            // FLAG-2 fixed: gracePeriodExpiresDate is optional here.
            return yield* noAction(ctx, "billing retry without a grace period; the payment lapses at its expiry")
          }
          const tx = yield* requireTx(ctx)
          const ids = yield* idsOf(tx)
          const gpe = ctx.renewal?.gracePeriodExpiresDate
          if (gpe === undefined) return yield* fail("DID_FAIL_TO_RENEW/GRACE_PERIOD without renewal info gracePeriodExpiresDate")
          if (tx.expiresDate === undefined) return yield* fail("DID_FAIL_TO_RENEW/GRACE_PERIOD transaction lacks expiresDate")
          // D4f / FLAG-29 fixed: a duration, not the absolute timestamp.
          const grace = Math.max(0, gpe - tx.expiresDate)
          const ok = yield* ledger.updateRenewalInfo(ids, { gracePeriodDurationMs: grace, autoRenewing: true })
          if (!ok) return yield* fail(`no payment ${label(ids)} to put in grace`)
          return applied(ctx, `payment ${label(ids)} in billing grace for ${grace} ms`)
        }
        case "REFUND":
        case "REVOKE": {
          const tx = yield* requireTx(ctx)
          if (!tx.originalTransactionId || tx.revocationDate === undefined) {
            return yield* fail(`${n.notificationType} transaction lacks originalTransactionId/revocationDate`)
          }
          // §6.9, FLAG-15 kept: every payment of the subscription, not only the refunded transaction.
          const r = yield* ledger.revokeChain(tx.originalTransactionId, tx.revocationDate)
          return applied(ctx, `revoked ${r.revokedPayments} payment(s) of orig=${mask(tx.originalTransactionId)} at ${tx.revocationDate}`)
        }
        case "REFUND_DECLINED": {
          // D4f / FLAG-30 fixed.
          const ids = yield* idsOf(yield* requireTx(ctx))
          const ok = yield* ledger.clearRefundRequested(ids)
          return ok
            ? applied(ctx, `refund request cleared on payment ${label(ids)}`)
            : yield* noAction(ctx, `no stored payment ${label(ids)}; nothing to clear`)
        }
        case "REFUND_REVERSED": {
          // D4f / FLAG-28 fixed: the refunded payment stands again.
          const tx = yield* requireTx(ctx)
          const ids = yield* idsOf(tx)
          const existing = yield* ledger.getPayment(ids)
          if (Option.isSome(existing)) {
            const restored = yield* ledger.restorePayment(ids)
            return applied(ctx, restored ? `payment ${label(ids)} restored` : `payment ${label(ids)} was not revoked; unchanged`)
          }
          // Never seen (its purchase notification was lost): record it as the purchase it is.
          yield* requireAutoRenewable(tx)
          return applied(ctx, yield* addPurchase(tx, { grace: DEFAULT_APPLE_GRACE_PERIOD_MS, auto: true }))
        }
        case "ONE_TIME_CHARGE": {
          // Quirk 1 fixed: no renewal info required. Session Pro sells only auto-renewable plans, so a
          // one-time charge is booked only if it is a mapped non-renewing subscription with an expiry.
          const tx = ctx.tx
          if (
            tx === undefined || tx.type !== NON_RENEWING || tx.expiresDate === undefined ||
            tx.productId === undefined || config.productPlans[tx.productId] === undefined
          ) {
            return yield* noAction(ctx, `one-time purchase of ${tx?.productId ?? "an unknown product"} is not a Session Pro subscription`)
          }
          return applied(ctx, yield* addPurchase(tx, { grace: 0, auto: false }))
        }
        case "EXPIRED":
          return yield* noAction(ctx, "subscription expired; proofs self-expire and the daily sweep marks the payment Expired")
        case "GRACE_PERIOD_EXPIRED":
          return yield* noAction(ctx, "grace ended; the user's expiry already includes the grace, proofs self-expire")
        case "PRICE_INCREASE":
        case "PRICE_CHANGE":
          return yield* noAction(ctx, "price change consent does not change the current period")
        case "CONSUMPTION_REQUEST":
          return yield* noAction(ctx, "consumption data is not sent (not a consumable)")
        case "RENEWAL_EXTENDED": {
          // Apple moved this subscription's renewal date: the transaction carries the new expiresDate.
          const tx = yield* requireTx(ctx)
          const ids = yield* idsOf(tx)
          if (tx.expiresDate === undefined) return yield* fail("RENEWAL_EXTENDED transaction lacks expiresDate")
          const existing = yield* ledger.getPayment(ids)
          if (Option.isNone(existing)) {
            // Its purchase notification has not arrived (or was lost): book it as the purchase it is,
            // already extended; a later SUBSCRIBED/DID_RENEW of the same ids is a duplicate and keeps it.
            yield* requireAutoRenewable(tx)
            return applied(ctx, yield* addPurchase(tx, { grace: DEFAULT_APPLE_GRACE_PERIOD_MS, auto: true }))
          }
          if (existing.value.status === PaymentStatus.Revoked) {
            // Refunded or replaced by an upgrade: it stays ended (the core refuses revoked payments).
            return yield* noAction(ctx, `payment ${label(ids)} is revoked; an extension does not bring it back`)
          }
          // The refund deadline follows the expiry, as for new payments (§2.5). Never earlier: a stale
          // or out-of-order extension leaves the stored (later) values.
          const r = yield* ledger.updateExpiry(ids, { expiryUnixTsMs: tx.expiresDate, platformRefundExpiryUnixTsMs: tx.expiresDate })
          return r.changed
            ? applied(ctx, `payment ${label(ids)} expiry extended to ${r.expiryUnixTsMs}`)
            : yield* noAction(ctx, `payment ${label(ids)} already expires at ${r.expiryUnixTsMs} (not before ${tx.expiresDate}); unchanged`)
        }
        case "RENEWAL_EXTENSION":
          // SUMMARY: Apple finished a mass extension (counts only); FAILURE: one subscription was not
          // extended, so its stored expiry is already right. Each extended subscription arrives as RENEWAL_EXTENDED.
          return yield* noAction(
            ctx,
            n.subtype === "FAILURE"
              ? "renewal-date extension failed for this subscription; its expiry is unchanged"
              : "mass renewal-extension summary; per-subscription changes arrive as RENEWAL_EXTENDED"
          )
        case "TEST":
          return yield* noAction(ctx, "test notification")
        case "EXTERNAL_PURCHASE_TOKEN":
          return yield* noAction(ctx, "external purchases are not used by Session Pro")
        case "RESCIND_CONSENT":
        case "METADATA_UPDATE":
        case "MIGRATION":
          return yield* noAction(ctx, `${n.notificationType} carries no entitlement change for Session Pro`)
        default:
          return yield* noAction(ctx, `unknown notification type ${n.notificationType}; recorded without action`)
      }
    })

  const verify = (signedPayload: string) => verifier.notification(signedPayload)

  const process = (signedPayload: string): Effect.Effect<AppleOutcome, AppleNotificationError> =>
    Effect.gen(function*() {
      const n = yield* verifier.notification(signedPayload)
      // Quirk 1 fixed: only the inner JWS that are present are verified; each type states what it needs.
      const tx = n.data?.signedTransactionInfo ? yield* verifier.transaction(n.data.signedTransactionInfo) : undefined
      const renewal = n.data?.signedRenewalInfo ? yield* verifier.renewal(n.data.signedRenewalInfo) : undefined
      const ctx: Ctx = { n, tx, renewal }
      const what = `${n.notificationType}${n.subtype ? "/" + n.subtype : ""} ${n.notificationUUID}`

      const outcome = yield* ledger.transaction(
        Effect.gen(function*() {
          if (yield* ledger.historyHas(n.notificationUUID)) {
            return { _tag: "Duplicate", uuid: n.notificationUUID, type: n.notificationType, subtype: n.subtype } as AppleOutcome
          }
          const o = yield* dispatch(ctx)
          yield* ledger.historyAdd(n.notificationUUID, n.signedDate + config.retryWindowMs)
          return o
        })
      ).pipe(
        Effect.catchAllCause((cause): Effect.Effect<never, AppleProcessingError> =>
          Cause.isInterruptedOnly(cause)
            ? Effect.interrupt
            : Effect.gen(function*() {
              const squashed = Cause.squash(cause)
              const message = squashed instanceof Error ? squashed.message : Cause.pretty(cause)
              // Outside the rolled-back transaction, so the flag survives (FLAG-40 fixed).
              const orig = tx?.originalTransactionId
              if (orig) {
                const now = yield* Clock.currentTimeMillis
                yield* ledger.transaction(ledger.addUserError(orig, now)).pipe(
                  Effect.catchAllCause((c) => Effect.logError(`Apple ${what}: recording the user error failed`, c))
                )
              }
              yield* Effect.logError(`Apple ${what}: not applied, Apple will redeliver: ${message}`)
              return yield* new AppleProcessingError({
                uuid: n.notificationUUID,
                notificationType: n.notificationType,
                subtype: n.subtype,
                message
              })
            })
        )
      )
      switch (outcome._tag) {
        case "Applied":
          yield* Effect.logInfo(`Apple ${what}: ${outcome.detail}`)
          break
        case "NoAction":
          yield* Effect.logInfo(`Apple ${what}: no action needed: ${outcome.reason}`)
          break
        case "Duplicate":
          yield* Effect.logInfo(`Apple ${what}: already handled (duplicate delivery)`)
          break
      }
      return outcome
    }).pipe(
      Effect.tapErrorTag("AppleVerificationError", (e) => Effect.logWarning(`Apple notification rejected: ${e.message}`)),
      Effect.tapErrorTag("AppleVerificationUnavailable", (e) => Effect.logWarning(`Apple notification not verifiable now: ${e.message}`))
    )

  return { config, process, verify }
}

/** Needs the core services (Database, Payments, UserErrors, AppleNotificationHistory, BackendSettings). */
export const layer = (config: AppleNotificationsConfig) =>
  Layer.effect(AppleNotifications, make(config)).pipe(Layer.provide(layerCore))

/** Reads the `apple` config namespace (see Config.fromConfig). */
export const layerConfig = Layer.effect(AppleNotifications, Effect.flatMap(fromConfig, make)).pipe(Layer.provide(layerCore))
