/**
 * Schemas for the decoded App Store Server Notifications V2 payloads.
 *
 * The library has already verified the signatures and its own loose shape checks; these schemas only
 * pin down the fields the handlers read (everything else passes through untouched), so a payload of
 * an unexpected shape becomes a typed error instead of an `undefined` deep inside a handler.
 */
import { Schema } from "effect"

/** Epoch milliseconds as Apple sends them (JSON numbers). */
const Millis = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

export const NotificationData = Schema.Struct({
  environment: Schema.optional(Schema.String),
  appAppleId: Schema.optional(Schema.Number),
  bundleId: Schema.optional(Schema.String),
  signedTransactionInfo: Schema.optional(Schema.String),
  signedRenewalInfo: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Number)
})

export const NotificationSummary = Schema.Struct({
  environment: Schema.optional(Schema.String),
  bundleId: Schema.optional(Schema.String),
  productId: Schema.optional(Schema.String),
  requestIdentifier: Schema.optional(Schema.String),
  succeededCount: Schema.optional(Schema.Number),
  failedCount: Schema.optional(Schema.Number)
})

/** ResponseBodyV2DecodedPayload. `notificationUUID` and `signedDate` are what dedupe needs. */
export const NotificationPayload = Schema.Struct({
  notificationType: Schema.String,
  subtype: Schema.optional(Schema.String),
  notificationUUID: Schema.String.pipe(Schema.minLength(1)),
  version: Schema.optional(Schema.String),
  signedDate: Millis,
  data: Schema.optional(NotificationData),
  summary: Schema.optional(NotificationSummary),
  externalPurchaseToken: Schema.optional(Schema.Unknown),
  appData: Schema.optional(Schema.Unknown)
})
export type NotificationPayload = typeof NotificationPayload.Type

/** JWSTransactionDecodedPayload: every field optional here; each handler states what it needs. */
export const TransactionInfo = Schema.Struct({
  originalTransactionId: Schema.optional(Schema.String),
  transactionId: Schema.optional(Schema.String),
  webOrderLineItemId: Schema.optional(Schema.String),
  bundleId: Schema.optional(Schema.String),
  productId: Schema.optional(Schema.String),
  purchaseDate: Schema.optional(Millis),
  originalPurchaseDate: Schema.optional(Millis),
  expiresDate: Schema.optional(Millis),
  type: Schema.optional(Schema.String),
  appAccountToken: Schema.optional(Schema.String),
  signedDate: Schema.optional(Millis),
  revocationReason: Schema.optional(Schema.Number),
  revocationDate: Schema.optional(Millis),
  isUpgraded: Schema.optional(Schema.Boolean),
  environment: Schema.optional(Schema.String),
  transactionReason: Schema.optional(Schema.String),
  offerType: Schema.optional(Schema.Number)
})
export type TransactionInfo = typeof TransactionInfo.Type

/** JWSRenewalInfoDecodedPayload. */
export const RenewalInfo = Schema.Struct({
  originalTransactionId: Schema.optional(Schema.String),
  productId: Schema.optional(Schema.String),
  autoRenewProductId: Schema.optional(Schema.String),
  autoRenewStatus: Schema.optional(Schema.Number),
  expirationIntent: Schema.optional(Schema.Number),
  isInBillingRetryPeriod: Schema.optional(Schema.Boolean),
  gracePeriodExpiresDate: Schema.optional(Millis),
  renewalDate: Schema.optional(Millis),
  signedDate: Schema.optional(Millis),
  environment: Schema.optional(Schema.String)
})
export type RenewalInfo = typeof RenewalInfo.Type

/** The webhook body Apple POSTs. */
export const WebhookBody = Schema.Struct({ signedPayload: Schema.String.pipe(Schema.minLength(1)) })

export const AUTO_RENEWABLE = "Auto-Renewable Subscription"
export const NON_RENEWING = "Non-Renewing Subscription"
