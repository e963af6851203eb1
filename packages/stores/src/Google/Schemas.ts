/**
 * Wire shapes of Google Play: the RTDN message carried in Pub/Sub `message.data` (stores.md §3.3),
 * the `purchases.subscriptionsv2` resource (§3.2) and the monetization subscription resource.
 * Structs ignore unknown keys on decode, so Google adding fields never breaks parsing.
 */
import { ParseResult, Schema } from "effect"

/** A decimal string holding an integer (Google sends int64 as strings). */
const IntString = Schema.NumberFromString.pipe(Schema.int())

export const SubscriptionNotification = Schema.Struct({
  version: Schema.optional(Schema.String),
  notificationType: Schema.Number.pipe(Schema.int()),
  purchaseToken: Schema.String.pipe(Schema.minLength(1)),
  subscriptionId: Schema.optional(Schema.String)
})
export type SubscriptionNotification = typeof SubscriptionNotification.Type

export const OneTimeProductNotification = Schema.Struct({
  version: Schema.optional(Schema.String),
  notificationType: Schema.optional(Schema.Number),
  purchaseToken: Schema.optional(Schema.String),
  sku: Schema.optional(Schema.String)
})

export const VoidedPurchaseNotification = Schema.Struct({
  purchaseToken: Schema.String.pipe(Schema.minLength(1)),
  orderId: Schema.String.pipe(Schema.minLength(1)),
  /** 1 = subscription, 2 = one-time product. */
  productType: Schema.Number.pipe(Schema.int()),
  /** 1 = full refund, 2 = quantity-based partial refund. */
  refundType: Schema.optional(Schema.Number.pipe(Schema.int()))
})
export type VoidedPurchaseNotification = typeof VoidedPurchaseNotification.Type

export const TestNotification = Schema.Struct({ version: Schema.optional(Schema.String) })

/** The decoded `message.data` JSON. Exactly one of the four notification objects must be present. */
export const RtdnMessage = Schema.Struct({
  version: Schema.String,
  packageName: Schema.String,
  eventTimeMillis: IntString,
  subscriptionNotification: Schema.optional(SubscriptionNotification),
  oneTimeProductNotification: Schema.optional(OneTimeProductNotification),
  voidedPurchaseNotification: Schema.optional(VoidedPurchaseNotification),
  testNotification: Schema.optional(TestNotification)
})
export type RtdnMessage = typeof RtdnMessage.Type

/** `subscriptionNotification.notificationType` values (§3.3). */
export const NotificationType = {
  RECOVERED: 1,
  RENEWED: 2,
  CANCELED: 3,
  PURCHASED: 4,
  ON_HOLD: 5,
  IN_GRACE_PERIOD: 6,
  RESTARTED: 7,
  PRICE_CHANGE_CONFIRMED: 8,
  DEFERRED: 9,
  PAUSED: 10,
  PAUSE_SCHEDULE_CHANGED: 11,
  REVOKED: 12,
  EXPIRED: 13,
  PRICE_CHANGE_UPDATED: 19,
  PENDING_PURCHASE_CANCELED: 20,
  PRICE_STEP_UP_CONSENT_UPDATED: 22
} as const
export type NotificationType = (typeof NotificationType)[keyof typeof NotificationType]
export const notificationTypeName = (n: number): string =>
  Object.entries(NotificationType).find(([, v]) => v === n)?.[0] ?? `UNKNOWN(${n})`
export const isKnownNotificationType = (n: number): n is NotificationType =>
  Object.values(NotificationType).includes(n as NotificationType)

export const SubscriptionState = {
  UNSPECIFIED: "SUBSCRIPTION_STATE_UNSPECIFIED",
  PENDING: "SUBSCRIPTION_STATE_PENDING",
  ACTIVE: "SUBSCRIPTION_STATE_ACTIVE",
  PAUSED: "SUBSCRIPTION_STATE_PAUSED",
  IN_GRACE_PERIOD: "SUBSCRIPTION_STATE_IN_GRACE_PERIOD",
  ON_HOLD: "SUBSCRIPTION_STATE_ON_HOLD",
  CANCELED: "SUBSCRIPTION_STATE_CANCELED",
  EXPIRED: "SUBSCRIPTION_STATE_EXPIRED",
  PENDING_PURCHASE_CANCELED: "SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED"
} as const

export const AcknowledgementState = {
  UNSPECIFIED: "ACKNOWLEDGEMENT_STATE_UNSPECIFIED",
  PENDING: "ACKNOWLEDGEMENT_STATE_PENDING",
  ACKNOWLEDGED: "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED"
} as const

/** RFC 3339 timestamp → integer ms (Date.parse keeps millisecond precision; finer digits are dropped). */
export const Rfc3339Ms = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (s, _, ast) => {
    const ms = Date.parse(s)
    return Number.isFinite(ms)
      ? ParseResult.succeed(ms)
      : ParseResult.fail(new ParseResult.Type(ast, s, `not an RFC 3339 timestamp: ${s}`))
  },
  encode: (ms) => ParseResult.succeed(new Date(ms).toISOString())
})

const Money = Schema.Struct({
  currencyCode: Schema.String,
  units: Schema.optional(Schema.String),
  nanos: Schema.optional(Schema.Number)
})

export const SubscriptionLineItem = Schema.Struct({
  productId: Schema.String,
  expiryTime: Rfc3339Ms,
  offerDetails: Schema.Struct({
    basePlanId: Schema.String,
    offerTags: Schema.optional(Schema.Array(Schema.String)),
    offerId: Schema.optional(Schema.String)
  }),
  latestSuccessfulOrderId: Schema.optional(Schema.String),
  autoRenewingPlan: Schema.optional(
    Schema.Struct({
      autoRenewEnabled: Schema.optional(Schema.Boolean),
      recurringPrice: Schema.optional(Money),
      priceChangeDetails: Schema.optional(Schema.Unknown),
      installmentDetails: Schema.optional(Schema.Unknown),
      priceStepUpConsentDetails: Schema.optional(Schema.Unknown)
    })
  ),
  prepaidPlan: Schema.optional(Schema.Unknown)
})

/** `purchases.subscriptionsv2.get` answer; the state of record for a purchase token. */
export const SubscriptionPurchaseV2 = Schema.Struct({
  kind: Schema.Literal("androidpublisher#subscriptionPurchaseV2"),
  startTime: Rfc3339Ms,
  subscriptionState: Schema.String,
  acknowledgementState: Schema.String,
  latestOrderId: Schema.optional(Schema.String),
  linkedPurchaseToken: Schema.optional(Schema.String),
  regionCode: Schema.optional(Schema.String),
  testPurchase: Schema.optional(Schema.Unknown),
  pausedStateContext: Schema.optional(Schema.Unknown),
  canceledStateContext: Schema.optional(Schema.Unknown),
  inGracePeriodStateContext: Schema.optional(Schema.Unknown),
  onHoldStateContext: Schema.optional(Schema.Unknown),
  externalAccountIdentifiers: Schema.optional(
    Schema.Struct({
      obfuscatedExternalAccountId: Schema.optional(Schema.String),
      obfuscatedExternalProfileId: Schema.optional(Schema.String)
    })
  ),
  lineItems: Schema.NonEmptyArray(SubscriptionLineItem)
})
export type SubscriptionPurchaseV2 = typeof SubscriptionPurchaseV2.Type

/** `monetization.subscriptions.get` answer, reduced to what the grace lookup reads. */
export const MonetizationSubscription = Schema.Struct({
  productId: Schema.optional(Schema.String),
  basePlans: Schema.optionalWith(
    Schema.Array(
      Schema.Struct({
        basePlanId: Schema.String,
        state: Schema.optional(Schema.String),
        autoRenewingBasePlanType: Schema.optional(
          Schema.Struct({
            billingPeriodDuration: Schema.optional(Schema.String),
            gracePeriodDuration: Schema.optional(Schema.String),
            accountHoldDuration: Schema.optional(Schema.String)
          })
        )
      })
    ),
    { default: () => [] }
  )
})
export type MonetizationSubscription = typeof MonetizationSubscription.Type
