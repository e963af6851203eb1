import { describe, expect, it } from "@effect/vitest"
import {
  accountIdForMaster,
  Backend,
  DEV_BACKEND_SEED,
  fromHex,
  hex,
  Payments,
  Proofs,
  proofToJson,
  Revocations
} from "@session-pro/core"
import { Effect, Layer, TestClock } from "effect"
import { addReq, body, ctx, exchange, expected, genReq, NOW, SALT } from "./exchanges.js"

const prodLayer = () => Backend.layerSqlite(":memory:", {}, { salt: SALT, backendSeed: DEV_BACKEND_SEED })

/** The `db_setup_prod` context through the core API. */
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
    tx: { provider: 2, appleOriginalTxId: a.apple_original_tx_id, appleTxId: a.apple_tx_id, appleWebLineOrderTxId: a.apple_web_line_order_tx_id },
    plan: a.plan,
    unredeemedUnixTsMs: a.unredeemed_unix_ts_ms,
    expiryUnixTsMs: a.expiry_unix_ts_ms,
    platformRefundExpiryUnixTsMs: a.platform_refund_expiry_unix_ts_ms,
    appleAppAccountToken: a.apple_app_account_token
  })
})

const addOutcome = (id: string) =>
  Effect.gen(function*() {
    const proofs = yield* Proofs
    const r = yield* Effect.either(proofs.addProPayment(addReq(body(exchange("prod", id)))))
    return r._tag === "Right" ? { status: 0, result: proofToJson(r.right) } : { status: (r.left as any).status, errors: (r.left as any).errors }
  })
const genOutcome = (id: string) =>
  Effect.gen(function*() {
    const proofs = yield* Proofs
    const r = yield* Effect.either(proofs.generateProProof(genReq(body(exchange("prod", id)))))
    return r._tag === "Right" ? { status: 0, result: proofToJson(r.right) } : { status: (r.left as any).status, errors: (r.left as any).errors }
  })

describe("http_exchanges prod at the core level", () => {
  it.effect("add / generate / revocations reproduce the recorded results", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      yield* seedProd
      const revs = yield* Revocations
      expect(yield* revs.list(0)).toEqual({ ticket: 0, items: [] })
      for (const id of ["add_google_ok", "add_google_already_redeemed", "add_google_unknown", "add_apple_unknown"]) {
        expect(yield* addOutcome(id), id).toEqual(expected(exchange("prod", id)))
      }
      expect(yield* genOutcome("generate_ok")).toEqual(expected(exchange("prod", "generate_ok")))
      expect(yield* addOutcome("add_apple_ok")).toEqual(expected(exchange("prod", "add_apple_ok")))
      // setup_revoke_google: a Google refund notification at NOW
      const payments = yield* Payments
      const rev = yield* payments.revokeChain({ provider: 1, chainId: "google-token-1", revokedAtMs: NOW })
      expect(rev).toEqual({ revokedPayments: 1, revokedGenIndexes: [1] })
      const r0 = yield* revs.list(0)
      const exp0 = expected(exchange("prod", "revocations_ticket0")).result
      expect(r0).toEqual({ ticket: exp0.ticket, items: exp0.items })
      expect((yield* revs.list(1)).items).toEqual([])
      expect((yield* revs.list(5)).items).toEqual([])
      expect(yield* genOutcome("generate_after_revoke")).toEqual(expected(exchange("prod", "generate_after_revoke")))
      for (const id of ["err_add_master_eq_rotating", "err_add_bad_master_sig", "err_generate_bad_sig", "err_generate_unknown_user"]) {
        const e = exchange("prod", id)
        const out = e.path === "/add_pro_payment" ? yield* addOutcome(id) : yield* genOutcome(id)
        expect(out, id).toEqual(expected(e))
      }
      // D2 repeat: the revocation is idempotent (FLAG-2/FLAG-7 fixed)
      const again = yield* payments.revokeChain({ provider: 1, chainId: "google-token-1", revokedAtMs: NOW })
      expect(again).toEqual({ revokedPayments: 0, revokedGenIndexes: [] })
      expect((yield* revs.list(0)).ticket).toBe(1)
    }).pipe(Effect.provide(prodLayer())))
})

void hex
void Layer
