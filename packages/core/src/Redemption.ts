import { Data, Effect } from "effect"
import { BackendKeys, type ProProof } from "./BackendKeys.js"
import { accountIdForMaster } from "./Crypto/Hashes.js"
import { paymentProviderName, PaymentProvider } from "./Domain/Enums.js"
import { maybeObfuscate } from "./Domain/Obfuscate.js"
import { BackendSettings } from "./Domain/Settings.js"
import { clampProofExpiry, roundUpDay } from "./Domain/Time.js"
import { Entitlement } from "./Entitlement.js"
import { GenerationIndex } from "./GenerationIndex.js"
import { blob, Database } from "./Storage/Database.js"

/** What a client names when it claims a payment (P§2.1); Rangeproof only through the CLI voucher. */
export type UserPaymentTx =
  | { readonly provider: 1; readonly googlePaymentToken: string; readonly googleOrderId: string }
  | { readonly provider: 2; readonly appleTxId: string }
  | { readonly provider: 3; readonly rangeproofOrderId: string }

export type RedeemResult =
  | { readonly _tag: "Success"; readonly genIndex: number; readonly proof: ProProof | undefined }
  | { readonly _tag: "AlreadyRedeemed"; readonly message: string }
  | { readonly _tag: "UnknownPayment"; readonly message: string }
  | { readonly _tag: "Error"; readonly message: string }

/** `{ProviderEnumName}, google=({token}/{order}), rangeproof={rp}`: the Apple tx id is never printed. */
export const safePaymentTxLabel = (tx: UserPaymentTx, unsafeLogging: boolean): string => {
  const ob = (s: string) => (unsafeLogging ? s : maybeObfuscate(s, false))
  const token = tx.provider === 1 ? ob(tx.googlePaymentToken) : ""
  const order = tx.provider === 1 ? ob(tx.googleOrderId) : ""
  const rp = tx.provider === 3 ? ob(tx.rangeproofOrderId) : ""
  return `${paymentProviderName(tx.provider)}, google=(${token}/${order}), rangeproof=${rp}`
}

class RedeemRefused extends Data.TaggedError("RedeemRefused")<{ readonly result: RedeemResult }> {}

/** §6.2: claim an unredeemed payment for a master key, allocate a gen index and (optionally) sign a proof. */
export class Redemption extends Effect.Service<Redemption>()("@session-pro/core/Redemption", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const settings = yield* BackendSettings
    const keys = yield* BackendKeys
    const entitlement = yield* Entitlement
    const genIndex = yield* GenerationIndex

    const redeem = (input: {
      readonly master: Uint8Array
      readonly rotating?: Uint8Array | undefined
      readonly now: number
      readonly redeemedTs: number
      readonly tx: UserPaymentTx
    }) =>
      Effect.gen(function*() {
        const { master, tx } = input
        const m = blob(master)
        let updated: ReadonlyArray<unknown>
        switch (tx.provider) {
          case PaymentProvider.GooglePlayStore:
            updated = yield* db.q`UPDATE payments SET master_pkey = ${m}, status = 2, redeemed_unix_ts_ms = ${input.redeemedTs}
              WHERE payment_provider = 1 AND google_payment_token = ${tx.googlePaymentToken} AND google_order_id = ${tx.googleOrderId}
              AND status = 1 AND google_obfuscated_account_id = ${accountIdForMaster(master)} RETURNING id`
            break
          case PaymentProvider.iOSAppStore:
            // FLAG-10 replicated: only purchases without an appAccountToken can be claimed.
            updated = yield* db.q`UPDATE payments SET master_pkey = ${m}, status = 2, redeemed_unix_ts_ms = ${input.redeemedTs}
              WHERE payment_provider = 2 AND apple_tx_id = ${tx.appleTxId} AND status = 1 AND apple_app_account_token = ''
              RETURNING id`
            break
          case PaymentProvider.Rangeproof:
            updated = yield* db.q`UPDATE payments SET master_pkey = ${m}, status = 2, redeemed_unix_ts_ms = ${input.redeemedTs}
              WHERE payment_provider = 3 AND rangeproof_order_id = ${tx.rangeproofOrderId} AND status = 1 RETURNING id`
            break
          default:
            return { _tag: "Error", message: "unknown payment provider" } as RedeemResult
        }
        const label = safePaymentTxLabel(tx, settings.unsafeLogging)
        if (updated.length === 0) {
          const found = yield* (tx.provider === 1
            ? db.q`SELECT COUNT(*) AS n FROM payments WHERE payment_provider = 1 AND google_payment_token = ${tx.googlePaymentToken}
                AND google_order_id = ${tx.googleOrderId} AND status > 1 AND master_pkey = ${m}`
            : tx.provider === 2
            ? db.q`SELECT COUNT(*) AS n FROM payments WHERE payment_provider = 2 AND apple_tx_id = ${tx.appleTxId}
                AND status > 1 AND master_pkey = ${m}`
            : db.q`SELECT COUNT(*) AS n FROM payments WHERE payment_provider = 3 AND rangeproof_order_id = ${tx.rangeproofOrderId}
                AND status > 1 AND master_pkey = ${m}`)
          if (Number((found[0] as any).n) > 0) {
            return { _tag: "AlreadyRedeemed", message: `Payment was not redeemed, already redeemed TX: ${label}` } as RedeemResult
          }
          return {
            _tag: "UnknownPayment",
            message: `Payment was not redeemed, no payments were found matching the request tx: ${label}`
          } as RedeemResult
        }
        const ent = yield* entitlement.lookup(master)
        if (ent.fromRedeemed.expiry <= 0) {
          // FLAG-18 fixed: the claimed row is shadowed by a newer non-redeemed row of its chain → error, no assert.
          return {
            _tag: "Error",
            message: `Payment was redeemed but the user has no usable payment (shadowed by a newer payment of the same subscription): ${label}`
          } as RedeemResult
        }
        const g = yield* genIndex.allocate(master, ent)
        let proof: ProProof | undefined
        if (input.rotating !== undefined) {
          const proposed = settings.dev ? ent.fromRedeemed.expiry : roundUpDay(ent.fromRedeemed.expiry)
          const expiry = clampProofExpiry(input.now, proposed)
          proof = keys.signProof(g, input.rotating, expiry)
          yield* genIndex.recordProofExpiry(g, expiry)
        }
        return { _tag: "Success", genIndex: g, proof } as RedeemResult
      })
    /**
     * `redeem` in its own (nested) transaction that is rolled back unless it succeeded, so a refused
     * redemption never leaves a claimed row without a gen index behind.
     */
    const redeemAtomically = (input: Parameters<typeof redeem>[0]) =>
      db.transaction(
        Effect.flatMap(redeem(input), (r) => (r._tag === "Success" ? Effect.succeed(r) : Effect.fail(new RedeemRefused({ result: r }))))
      ).pipe(Effect.catchTag("RedeemRefused", (e) => Effect.succeed(e.result)))
    return { redeem, redeemAtomically } as const
  })
}) {}
