/** Shared fixtures for the Google tests: resources, RTDN messages and a wired backend. */
import { Backend } from "@session-pro/core"
import { Layer } from "effect"
import * as nodeCrypto from "node:crypto"
import * as AndroidPublisher from "../src/Google/AndroidPublisher.js"
import * as GooglePlayRtdn from "../src/Google/GooglePlayRtdn.js"
import type { AndroidPublisherFake } from "./fakes/AndroidPublisherFake.js"

export const PACKAGE = "network.loki.messenger"
export const PRODUCT = "session_pro"
export const MASTER_SEED = new Uint8Array(32).fill(1)
/** sha256 of the fixtures' master public key (seed 32 × 0x01). */
export const ACCOUNT_HEX = "34750f98bd59fcfc946da45aaabe933be154a4b5094e1c4abf42866505f3c97e"

export const iso = (ms: number) => new Date(ms).toISOString()

export interface ResourceOptions {
  readonly state?: string
  readonly ack?: "PENDING" | "ACKNOWLEDGED"
  readonly orderId?: string | undefined
  readonly expiryMs: number
  readonly basePlanId?: string
  readonly linkedPurchaseToken?: string
  readonly account?: string | undefined
  readonly prepaid?: boolean
}

/** A `subscriptionsv2` resource shaped like the recorded ones. */
export const resource = (o: ResourceOptions) => ({
  kind: "androidpublisher#subscriptionPurchaseV2",
  startTime: iso(o.expiryMs - 300_000),
  regionCode: "AU",
  subscriptionState: `SUBSCRIPTION_STATE_${o.state ?? "ACTIVE"}`,
  latestOrderId: o.orderId,
  testPurchase: {},
  acknowledgementState: `ACKNOWLEDGEMENT_STATE_${o.ack ?? "PENDING"}`,
  ...(o.linkedPurchaseToken ? { linkedPurchaseToken: o.linkedPurchaseToken } : {}),
  ...(o.account === undefined && "account" in o ? {} : { externalAccountIdentifiers: { obfuscatedExternalAccountId: o.account ?? ACCOUNT_HEX } }),
  lineItems: [
    {
      productId: PRODUCT,
      expiryTime: iso(o.expiryMs),
      ...(o.prepaid
        ? { prepaidPlan: { allowExtendAfterTime: iso(o.expiryMs) } }
        : { autoRenewingPlan: { autoRenewEnabled: true, recurringPrice: { currencyCode: "AUD", units: "16", nanos: 990000000 } } }),
      offerDetails: { basePlanId: o.basePlanId ?? "session-pro-1-month", offerTags: ["one-month"] },
      ...(o.orderId === undefined ? {} : { latestSuccessfulOrderId: o.orderId })
    }
  ]
})

export const rtdnSubscription = (type: number, token: string, eventMs: number, packageName = PACKAGE) =>
  JSON.stringify({
    version: "1.0",
    packageName,
    eventTimeMillis: String(eventMs),
    subscriptionNotification: { version: "1.0", notificationType: type, purchaseToken: token, subscriptionId: PRODUCT }
  })

export const rtdnVoided = (token: string, orderId: string, eventMs: number, productType = 1) =>
  JSON.stringify({
    version: "1.0",
    packageName: PACKAGE,
    eventTimeMillis: String(eventMs),
    voidedPurchaseNotification: { purchaseToken: token, orderId, productType, refundType: 1 }
  })

export const rtdnTest = (eventMs: number) =>
  JSON.stringify({ version: "1.0", packageName: PACKAGE, eventTimeMillis: String(eventMs), testNotification: { version: "1.0" } })

export const randomToken = () => `tok.${nodeCrypto.randomBytes(12).toString("hex")}`

/** Backend on a fresh in-memory SQLite + Android Publisher (pointed at the fake) + the RTDN handler. */
export const googleLayer = (fake: AndroidPublisherFake, settings: { platformTestingEnv?: boolean } = { platformTestingEnv: true }) => {
  const backend = Backend.layerSqlite(":memory:", settings)
  // No client-side retries: the tests count every injected failure at the handler / outbox level.
  const publisher = AndroidPublisher.layer({ packageName: PACKAGE, subscriptionProductId: PRODUCT, apiRoot: fake.apiRoot, transientRetries: 0 })
  const rtdn = GooglePlayRtdn.layer({ packageName: PACKAGE }).pipe(Layer.provideMerge(publisher))
  return rtdn.pipe(Layer.provideMerge(backend))
}
