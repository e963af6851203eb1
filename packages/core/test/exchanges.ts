/** Replays the http_exchanges of vectors.json at the core level (the request values, not the HTTP parsing). */
import {
  accountIdForMaster,
  fromHex,
  hex,
  Inspect,
  Payments,
  ProDetails,
  type ProPlan,
  Proofs,
  proofToJson,
  Revocations
} from "@session-pro/core"
import { expect } from "@effect/vitest"
import { Effect } from "effect"
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

/** The `db_setup_prod` context through the core API (what the HTTP conformance runner seeds). */
export const seedProd = Effect.gen(function*() {
  const payments = yield* Payments
  const g = ctx.db_setup_prod.google_G1
  const a = ctx.db_setup_prod.apple_A1
  const master = fromHex(ctx.keys.master.pub)
  yield* payments.addUnredeemed({
    tx: { provider: 1, googlePaymentToken: g.google_payment_token, googleOrderId: g.google_order_id },
    plan: g.plan,
    unredeemedUnixTsMs: g.unredeemed_unix_ts_ms,
    expiryUnixTsMs: g.expiry_unix_ts_ms,
    platformRefundExpiryUnixTsMs: g.platform_refund_expiry_unix_ts_ms,
    googleObfuscatedAccountId: accountIdForMaster(master)
  })
  yield* payments.addUnredeemed({
    tx: {
      provider: 2,
      appleOriginalTxId: a.apple_original_tx_id,
      appleTxId: a.apple_tx_id,
      appleWebLineOrderTxId: a.apple_web_line_order_tx_id
    },
    plan: a.plan,
    unredeemedUnixTsMs: a.unredeemed_unix_ts_ms,
    expiryUnixTsMs: a.expiry_unix_ts_ms,
    platformRefundExpiryUnixTsMs: a.platform_refund_expiry_unix_ts_ms,
    appleAppAccountToken: a.apple_app_account_token
  })
})

export const outcome = <A>(eff: Effect.Effect<A, any, any>, map: (a: A) => unknown) =>
  Effect.map(Effect.either(eff), (r) =>
    r._tag === "Right"
      ? { status: 0, result: map(r.right) }
      : { status: (r.left as any).status, errors: (r.left as any).errors })

/** Only exchanges whose outcome the core decides. */
export const coreDecides = (e: any): boolean => {
  if (!e.path || e.response.http_status !== 200) return false
  let b: any
  try {
    b = body(e)
  } catch {
    return false
  }
  if (b === null || typeof b !== "object" || Array.isArray(b)) return false
  const exp = expected(e)
  if (exp.status === 2) return e.path !== "/get_pro_revocations" && exp.errors[0] === "Signature failed to be verified"
  if (e.path === "/set_payment_refund_requested" && b.payment_tx?.provider !== 2) return false
  return true
}

export const replay = (e: any) =>
  Effect.gen(function*() {
    const b = body(e)
    switch (e.path) {
      case "/add_pro_payment":
        return yield* outcome((yield* Proofs).addProPayment(addReq(b)), proofToJson)
      case "/generate_pro_proof":
        return yield* outcome((yield* Proofs).generateProProof(genReq(b)), proofToJson)
      case "/get_pro_revocations":
        return yield* outcome((yield* Revocations).list(b.ticket), (r) => ({ ...r, retry_in_s: 86400, version: b.version }))
      case "/get_pro_details":
        return yield* outcome((yield* ProDetails).get(detailsReq(b)), (r) => r)
      case "/set_payment_refund_requested":
        return yield* outcome((yield* Payments).setRefundRequested(refundReq(b)), (r) => ({ ...r, version: 0 }))
    }
    throw new Error(`unexpected path ${e.path}`)
  })

export const finalState = (want: any) =>
  Effect.gen(function*() {
    const inspect = yield* Inspect
    const rt = yield* inspect.runtime()
    expect(rt.gen_index).toBe(want.gen_index_next)
    expect(hex(rt.gen_index_salt)).toBe(want.salt)
    expect(rt.revocation_ticket).toBe(want.revocation_ticket)
    const users = yield* inspect.users()
    expect(users.map((u) => ({
      master_pkey: hex(u.master_pkey),
      gen_index: u.gen_index,
      expiry_unix_ts_ms: u.expiry_unix_ts_ms,
      grace_period_duration_ms: u.grace_period_duration_ms,
      auto_renewing: u.auto_renewing
    }))).toEqual(want.users)
    expect(yield* inspect.revocations()).toEqual(want.revocations)
  })

