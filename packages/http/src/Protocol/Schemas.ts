/**
 * The wire shapes as `effect/Schema`, for the OpenAPI document and a typed client. They describe
 * what a *well-formed* request/response looks like; the server's parse path is `Requests.ts`,
 * which reproduces the reference's acceptance rules and error texts (Schema's own messages differ).
 */
import * as Schema from "effect/Schema"

const hex = (chars: number, title: string) =>
  Schema.String.pipe(Schema.pattern(new RegExp(`^[0-9a-fA-F]{${chars}}$`)), Schema.annotations({ title }))

export const PublicKeyHex = hex(64, "Ed25519 public key, 64 hex characters")
export const SignatureHex = hex(128, "Ed25519 signature, 128 hex characters")
export const HashHex = hex(64, "32-byte hash, 64 hex characters")
export const Version = Schema.Literal(0).annotations({ description: "Protocol version, always 0" })
export const UnixTsMs = Schema.Int.annotations({ description: "Unix time in milliseconds" })

export const GooglePaymentTx = Schema.Struct({
  provider: Schema.Literal(1),
  google_payment_token: Schema.String,
  google_order_id: Schema.String
})
export const ApplePaymentTx = Schema.Struct({
  provider: Schema.Literal(2),
  apple_tx_id: Schema.String
})

export const AddProPaymentRequest = Schema.Struct({
  version: Version,
  master_pkey: PublicKeyHex,
  rotating_pkey: PublicKeyHex,
  master_sig: SignatureHex,
  rotating_sig: SignatureHex,
  payment_tx: Schema.Union(GooglePaymentTx, ApplePaymentTx),
  // dev mode only
  dev_plan: Schema.optional(Schema.String),
  dev_duration_ms: Schema.optional(Schema.Int),
  dev_auto_renewing: Schema.optional(Schema.Boolean)
}).annotations({ identifier: "AddProPaymentRequest" })

export const GenerateProProofRequest = Schema.Struct({
  version: Version,
  master_pkey: PublicKeyHex,
  rotating_pkey: PublicKeyHex,
  unix_ts_ms: UnixTsMs,
  master_sig: SignatureHex,
  rotating_sig: SignatureHex
}).annotations({ identifier: "GenerateProProofRequest" })

export const GetProRevocationsRequest = Schema.Struct({
  version: Version,
  ticket: Schema.Int
}).annotations({ identifier: "GetProRevocationsRequest" })

export const GetProDetailsRequest = Schema.Struct({
  version: Version,
  master_pkey: PublicKeyHex,
  master_sig: SignatureHex,
  unix_ts_ms: UnixTsMs,
  count: Schema.Int.pipe(Schema.between(0, 0xffff_ffff))
}).annotations({ identifier: "GetProDetailsRequest" })

export const SetPaymentRefundRequestedRequest = Schema.Struct({
  version: Version,
  master_pkey: PublicKeyHex,
  master_sig: SignatureHex,
  unix_ts_ms: UnixTsMs,
  refund_requested_unix_ts_ms: Schema.Int.pipe(Schema.nonNegative()),
  payment_tx: ApplePaymentTx
}).annotations({ identifier: "SetPaymentRefundRequestedRequest" })

// ---------------------------------------------------------------------------------------------
// results

export const ProProof = Schema.Struct({
  expiry_unix_ts_ms: UnixTsMs,
  gen_index_hash: HashHex,
  rotating_pkey: PublicKeyHex,
  sig: SignatureHex,
  version: Version
}).annotations({ identifier: "ProProof" })

export const RevocationItem = Schema.Struct({
  effective_unix_ts_ms: UnixTsMs,
  expiry_unix_ts_ms: UnixTsMs,
  gen_index_hash: HashHex
})

export const GetProRevocationsResult = Schema.Struct({
  items: Schema.Array(RevocationItem),
  retry_in_s: Schema.Literal(86400),
  ticket: Schema.Int,
  version: Version
}).annotations({ identifier: "GetProRevocationsResult" })

export const ProDetailsItem = Schema.Struct({
  status: Schema.Literal(2, 3, 4),
  plan: Schema.Int,
  payment_provider: Schema.Literal(1, 2, 3),
  auto_renewing: Schema.Boolean,
  unredeemed_unix_ts_ms: UnixTsMs,
  redeemed_unix_ts_ms: UnixTsMs,
  expiry_unix_ts_ms: UnixTsMs,
  grace_period_duration_ms: Schema.Int,
  platform_refund_expiry_unix_ts_ms: UnixTsMs,
  revoked_unix_ts_ms: UnixTsMs,
  refund_requested_unix_ts_ms: UnixTsMs,
  google_payment_token: Schema.optional(Schema.String),
  google_order_id: Schema.optional(Schema.String),
  apple_original_tx_id: Schema.optional(Schema.String),
  apple_tx_id: Schema.optional(Schema.String),
  apple_web_line_order_id: Schema.optional(Schema.String),
  rangeproof_order_id: Schema.optional(Schema.String)
})

export const GetProDetailsResult = Schema.Struct({
  version: Version,
  status: Schema.Literal(0, 1, 2),
  auto_renewing: Schema.Boolean,
  expiry_unix_ts_ms: UnixTsMs,
  grace_period_duration_ms: Schema.Int,
  refund_requested_unix_ts_ms: UnixTsMs,
  payments_total: Schema.Int,
  error_report: Schema.Literal(0, 1),
  items: Schema.Array(ProDetailsItem)
}).annotations({ identifier: "GetProDetailsResult" })

export const SetPaymentRefundRequestedResult = Schema.Struct({
  updated: Schema.Boolean,
  version: Version
}).annotations({ identifier: "SetPaymentRefundRequestedResult" })

// ---------------------------------------------------------------------------------------------
// envelopes (protocol.md §1.3/§1.4)

export const ErrorStatus = Schema.Literal(1, 2, 100, 101)

export const ErrorEnvelope = Schema.Struct({
  errors: Schema.NonEmptyArray(Schema.String),
  status: ErrorStatus
}).annotations({ identifier: "ErrorEnvelope" })

export const SuccessEnvelope = <A, I, R>(result: Schema.Schema<A, I, R>) =>
  Schema.Struct({ result, status: Schema.Literal(0) })

export const Envelope = <A, I, R>(result: Schema.Schema<A, I, R>) => Schema.Union(SuccessEnvelope(result), ErrorEnvelope)

/** Route table for documentation/clients: path → request and result schemas. */
export const Endpoints = {
  "/add_pro_payment": { request: AddProPaymentRequest, result: ProProof },
  "/generate_pro_proof": { request: GenerateProProofRequest, result: ProProof },
  "/get_pro_revocations": { request: GetProRevocationsRequest, result: GetProRevocationsResult },
  "/get_pro_details": { request: GetProDetailsRequest, result: GetProDetailsResult },
  "/set_payment_refund_requested": { request: SetPaymentRefundRequestedRequest, result: SetPaymentRefundRequestedResult }
} as const
