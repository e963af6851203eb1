import type { PaymentProvider, PaymentStatus, ProPlan } from "../Domain/Enums.js"
import { bool, bytes, num, numOrNull, str } from "./Database.js"

/** A `payments` row with DB column names; byte columns as Uint8Array, nullable columns as null. */
export interface PaymentRow {
  readonly id: number
  readonly master_pkey: Uint8Array | null
  readonly status: PaymentStatus
  readonly plan: ProPlan
  readonly payment_provider: PaymentProvider
  readonly auto_renewing: boolean
  readonly unredeemed_unix_ts_ms: number
  readonly redeemed_unix_ts_ms: number | null
  readonly expiry_unix_ts_ms: number
  readonly grace_period_duration_ms: number | null
  readonly platform_refund_expiry_unix_ts_ms: number
  readonly revoked_unix_ts_ms: number | null
  readonly apple_original_tx_id: string | null
  readonly apple_tx_id: string | null
  readonly apple_web_line_order_tx_id: string | null
  readonly google_payment_token: string | null
  readonly google_order_id: string | null
  readonly rangeproof_order_id: string | null
  readonly refund_requested_unix_ts_ms: number
  readonly google_obfuscated_account_id: Uint8Array | null
  readonly apple_app_account_token: string
}

/** FLAG-21 fixed: always an explicit column list (columns of DBs migrated from v5–v7 are appended). */
export const PAYMENT_COLUMNS = `id, master_pkey, status, plan, payment_provider, auto_renewing, unredeemed_unix_ts_ms,
  redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms, platform_refund_expiry_unix_ts_ms,
  revoked_unix_ts_ms, apple_original_tx_id, apple_tx_id, apple_web_line_order_tx_id, google_payment_token,
  google_order_id, rangeproof_order_id, refund_requested_unix_ts_ms, google_obfuscated_account_id,
  apple_app_account_token`

export const decodePayment = (r: any): PaymentRow => ({
  id: num(r.id),
  master_pkey: bytes(r.master_pkey),
  status: num(r.status) as PaymentStatus,
  plan: num(r.plan) as ProPlan,
  payment_provider: num(r.payment_provider) as PaymentProvider,
  auto_renewing: bool(r.auto_renewing),
  unredeemed_unix_ts_ms: num(r.unredeemed_unix_ts_ms),
  redeemed_unix_ts_ms: numOrNull(r.redeemed_unix_ts_ms),
  expiry_unix_ts_ms: num(r.expiry_unix_ts_ms),
  grace_period_duration_ms: numOrNull(r.grace_period_duration_ms),
  platform_refund_expiry_unix_ts_ms: num(r.platform_refund_expiry_unix_ts_ms),
  revoked_unix_ts_ms: numOrNull(r.revoked_unix_ts_ms),
  apple_original_tx_id: str(r.apple_original_tx_id),
  apple_tx_id: str(r.apple_tx_id),
  apple_web_line_order_tx_id: str(r.apple_web_line_order_tx_id),
  google_payment_token: str(r.google_payment_token),
  google_order_id: str(r.google_order_id),
  rangeproof_order_id: str(r.rangeproof_order_id),
  refund_requested_unix_ts_ms: num(r.refund_requested_unix_ts_ms),
  google_obfuscated_account_id: bytes(r.google_obfuscated_account_id),
  apple_app_account_token: str(r.apple_app_account_token) ?? ""
})

export interface UserRow {
  readonly master_pkey: Uint8Array
  readonly gen_index: number
  readonly expiry_unix_ts_ms: number
  readonly grace_period_duration_ms: number
  readonly auto_renewing: boolean
  readonly refund_requested_unix_ts_ms: number
  readonly google_obfuscated_account_id: Uint8Array | null
  readonly apple_app_account_token: string
}

export const USER_COLUMNS = `master_pkey, gen_index, expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing,
  refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token`

export const decodeUser = (r: any): UserRow => ({
  master_pkey: bytes(r.master_pkey)!,
  gen_index: num(r.gen_index),
  expiry_unix_ts_ms: num(r.expiry_unix_ts_ms),
  grace_period_duration_ms: num(r.grace_period_duration_ms),
  auto_renewing: bool(r.auto_renewing),
  refund_requested_unix_ts_ms: num(r.refund_requested_unix_ts_ms),
  google_obfuscated_account_id: bytes(r.google_obfuscated_account_id),
  apple_app_account_token: str(r.apple_app_account_token) ?? ""
})

export interface RevocationRow {
  readonly gen_index: number
  readonly creation_unix_ts_ms: number
  readonly expiry_unix_ts_ms: number
}
export const decodeRevocation = (r: any): RevocationRow => ({
  gen_index: num(r.gen_index),
  creation_unix_ts_ms: num(r.creation_unix_ts_ms),
  expiry_unix_ts_ms: num(r.expiry_unix_ts_ms)
})

export interface RuntimeRow {
  readonly gen_index: number
  readonly gen_index_salt: Uint8Array
  readonly backend_key: Uint8Array
  readonly last_expire_unix_ts_ms: number
  readonly apple_notification_checkpoint_unix_ts_ms: number
  readonly revocation_ticket: number
}
export const decodeRuntime = (r: any): RuntimeRow => ({
  gen_index: num(r.gen_index),
  gen_index_salt: bytes(r.gen_index_salt)!,
  backend_key: bytes(r.backend_key)!,
  last_expire_unix_ts_ms: num(r.last_expire_unix_ts_ms),
  apple_notification_checkpoint_unix_ts_ms: num(r.apple_notification_checkpoint_unix_ts_ms),
  revocation_ticket: num(r.revocation_ticket)
})

export interface UserErrorRow {
  readonly payment_id: string
  readonly payment_provider: number
  readonly unix_ts_ms: number
}
export const decodeUserError = (r: any): UserErrorRow => ({
  payment_id: String(r.payment_id),
  payment_provider: num(r.payment_provider),
  unix_ts_ms: num(r.unix_ts_ms)
})

export interface AppleHistoryRow {
  readonly uuid: string
  readonly expiry_unix_ts_ms: number
}
export interface GoogleHistoryRow {
  /** Pub/Sub message ids can exceed 2^53, so they are read back as decimal strings. */
  readonly message_id: string
  readonly handled: boolean
  readonly payload: string | null
  readonly expiry_unix_ts_ms: number
}
export interface GoogleAckRow {
  readonly id: number
  readonly purchase_token: string
  readonly order_id: string
  readonly subscription_id: string | null
  readonly created_unix_ts_ms: number
  readonly next_attempt_unix_ts_ms: number
  readonly attempts: number
  readonly last_error: string | null
  readonly done_unix_ts_ms: number | null
}
export const decodeGoogleAck = (r: any): GoogleAckRow => ({
  id: num(r.id),
  purchase_token: String(r.purchase_token),
  order_id: String(r.order_id ?? ""),
  subscription_id: str(r.subscription_id),
  created_unix_ts_ms: num(r.created_unix_ts_ms),
  next_attempt_unix_ts_ms: num(r.next_attempt_unix_ts_ms),
  attempts: num(r.attempts),
  last_error: str(r.last_error),
  done_unix_ts_ms: numOrNull(r.done_unix_ts_ms)
})
