/**
 * Signed request bodies for the five routes (protocol.md §2), built from key material with the
 * core's hash functions (§3.2). Pure: the caller supplies the timestamps. The returned objects are
 * the `Encoded` side of the Protocol schemas, i.e. exactly what goes on the wire.
 */
import {
  addProPaymentHash,
  generateProProofHash,
  getProDetailsHash,
  hex,
  type PaymentIdentity,
  setPaymentRefundRequestedHash
} from "@session-pro/core"
import type * as Schema from "effect/Schema"
import type * as Schemas from "../Protocol/Schemas.js"
import { type KeyInput, signingKey } from "./Keys.js"

export type AddProPaymentBody = Schema.Schema.Encoded<typeof Schemas.AddProPaymentRequest>
export type GenerateProProofBody = Schema.Schema.Encoded<typeof Schemas.GenerateProProofRequest>
export type GetProRevocationsBody = Schema.Schema.Encoded<typeof Schemas.GetProRevocationsRequest>
export type GetProDetailsBody = Schema.Schema.Encoded<typeof Schemas.GetProDetailsRequest>
export type SetPaymentRefundRequestedBody = Schema.Schema.Encoded<typeof Schemas.SetPaymentRefundRequestedRequest>

/** The store payment being redeemed (Google purchase token + order id, or Apple transaction id). */
export type Payment =
  | { readonly provider: "google"; readonly purchaseToken: string; readonly orderId: string }
  | { readonly provider: "apple"; readonly transactionId: string }

export type PlanName = "OneMonth" | "ThreeMonth" | "TwelveMonth"

/** Dev-mode only (§3.7): ids starting with `DEV.` create the payment on the fly with these. */
export interface DevPaymentOptions {
  readonly plan?: PlanName
  readonly durationMs?: number
  readonly autoRenewing?: boolean
}

const wireTx = (p: Payment) =>
  p.provider === "google"
    ? { provider: 1 as const, google_payment_token: p.purchaseToken, google_order_id: p.orderId }
    : { provider: 2 as const, apple_tx_id: p.transactionId }

const identity = (p: Payment): PaymentIdentity =>
  p.provider === "google"
    ? { provider: 1, googlePaymentToken: p.purchaseToken, googleOrderId: p.orderId }
    : { provider: 2, appleTxId: p.transactionId }

export const addProPayment = (input: {
  readonly master: KeyInput
  readonly rotating: KeyInput
  readonly payment: Payment
  readonly dev?: DevPaymentOptions | undefined
}): AddProPaymentBody => {
  const master = signingKey(input.master)
  const rotating = signingKey(input.rotating)
  const h = addProPaymentHash(0, master.publicKey, rotating.publicKey, identity(input.payment))
  return {
    version: 0,
    master_pkey: hex(master.publicKey),
    rotating_pkey: hex(rotating.publicKey),
    master_sig: hex(master.sign(h)),
    rotating_sig: hex(rotating.sign(h)),
    payment_tx: wireTx(input.payment),
    ...(input.dev?.plan !== undefined ? { dev_plan: input.dev.plan } : {}),
    ...(input.dev?.durationMs !== undefined ? { dev_duration_ms: input.dev.durationMs } : {}),
    ...(input.dev?.autoRenewing !== undefined ? { dev_auto_renewing: input.dev.autoRenewing } : {})
  }
}

export const generateProProof = (input: {
  readonly master: KeyInput
  readonly rotating: KeyInput
  readonly unixTsMs: number
}): GenerateProProofBody => {
  const master = signingKey(input.master)
  const rotating = signingKey(input.rotating)
  const h = generateProProofHash(0, master.publicKey, rotating.publicKey, input.unixTsMs)
  return {
    version: 0,
    master_pkey: hex(master.publicKey),
    rotating_pkey: hex(rotating.publicKey),
    unix_ts_ms: input.unixTsMs,
    master_sig: hex(master.sign(h)),
    rotating_sig: hex(rotating.sign(h))
  }
}

export const getProRevocations = (input: { readonly ticket: number }): GetProRevocationsBody => ({
  version: 0,
  ticket: input.ticket
})

export const getProDetails = (input: {
  readonly master: KeyInput
  readonly unixTsMs: number
  readonly count: number
}): GetProDetailsBody => {
  const master = signingKey(input.master)
  const h = getProDetailsHash(0, master.publicKey, input.unixTsMs, input.count)
  return {
    version: 0,
    master_pkey: hex(master.publicKey),
    master_sig: hex(master.sign(h)),
    unix_ts_ms: input.unixTsMs,
    count: input.count
  }
}

/** Apple only (the route refuses other providers); `refundRequestedUnixTsMs = 0` clears the flag. */
export const setPaymentRefundRequested = (input: {
  readonly master: KeyInput
  readonly appleTransactionId: string
  readonly refundRequestedUnixTsMs: number
  readonly unixTsMs: number
}): SetPaymentRefundRequestedBody => {
  const master = signingKey(input.master)
  const payment: Payment = { provider: "apple", transactionId: input.appleTransactionId }
  const h = setPaymentRefundRequestedHash(0, master.publicKey, input.unixTsMs, input.refundRequestedUnixTsMs, identity(payment))
  return {
    version: 0,
    master_pkey: hex(master.publicKey),
    master_sig: hex(master.sign(h)),
    unix_ts_ms: input.unixTsMs,
    refund_requested_unix_ts_ms: input.refundRequestedUnixTsMs,
    payment_tx: { provider: 2, apple_tx_id: input.appleTransactionId }
  }
}
