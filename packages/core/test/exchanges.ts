/** Replays the http_exchanges of vectors.json at the core level (the request values, not the HTTP parsing). */
import { fromHex, type ProPlan } from "@session-pro/core"
import { vectors } from "./vectors.js"

export const ctx = vectors.http_exchanges.context
export const NOW: number = ctx.server_now_ms
export const SALT = fromHex(ctx.gen_index_salt)
export const exchanges = (mode: "prod" | "dev"): Array<any> => vectors.http_exchanges[mode]
export const exchange = (mode: "prod" | "dev", id: string): any => exchanges(mode).find((e) => e.id === id)
export const body = (e: any): any => JSON.parse(e.request_body)
export const expected = (e: any): any => JSON.parse(e.response.body)

export const addReq = (b: any) => ({
  version: Number(b.version),
  masterPkey: fromHex(b.master_pkey),
  rotatingPkey: fromHex(b.rotating_pkey),
  masterSig: fromHex(b.master_sig),
  rotatingSig: fromHex(b.rotating_sig),
  paymentTx: Number(b.payment_tx.provider) === 1
    ? { provider: 1 as const, googlePaymentToken: b.payment_tx.google_payment_token, googleOrderId: b.payment_tx.google_order_id }
    : { provider: 2 as const, appleTxId: b.payment_tx.apple_tx_id },
  dev: {
    ...(b.dev_plan !== undefined ? { plan: ({ onemonth: 1, threemonth: 2, twelvemonth: 3 } as any)[String(b.dev_plan).toLowerCase()] as ProPlan } : {}),
    ...(b.dev_duration_ms !== undefined ? { durationMs: b.dev_duration_ms } : {}),
    ...(b.dev_auto_renewing !== undefined ? { autoRenewing: b.dev_auto_renewing } : {})
  }
})

export const genReq = (b: any) => ({
  version: Number(b.version),
  masterPkey: fromHex(b.master_pkey),
  rotatingPkey: fromHex(b.rotating_pkey),
  masterSig: fromHex(b.master_sig),
  rotatingSig: fromHex(b.rotating_sig),
  unixTsMs: b.unix_ts_ms
})

export const detailsReq = (b: any) => ({
  masterPkey: fromHex(b.master_pkey),
  masterSig: fromHex(b.master_sig),
  unixTsMs: b.unix_ts_ms,
  count: b.count
})

export const refundReq = (b: any) => ({
  masterPkey: fromHex(b.master_pkey),
  masterSig: fromHex(b.master_sig),
  unixTsMs: b.unix_ts_ms,
  refundRequestedUnixTsMs: b.refund_requested_unix_ts_ms,
  paymentTx: { provider: 2 as const, appleTxId: b.payment_tx.apple_tx_id }
})
