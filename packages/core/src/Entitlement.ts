import { Effect } from "effect"
import { ENTITLEMENT_LOOKUP_WINDOW } from "./Domain/Constants.js"
import { PaymentProvider, PaymentStatus } from "./Domain/Enums.js"
import { recordProofExpiryWith } from "./GenerationIndex.js"
import { blob, bool, Database, num, numOrNull, str } from "./Storage/Database.js"

/** One accumulator of the lookup (§5.9): expiry includes grace when auto-renewing. */
export interface EntitlementAcc {
  readonly expiry: number
  readonly grace: number
  readonly refund: number
  readonly auto: boolean
}

export interface EntitlementResult {
  /** Feeds the user row. */
  readonly best: EntitlementAcc
  /** `fromRedeemed.expiry > 0` means the user has a usable payment; it is the proposed proof expiry at redemption. */
  readonly fromRedeemed: EntitlementAcc
}

export interface LookupRow {
  readonly expiry_unix_ts_ms: number
  readonly grace_period_duration_ms: number | null
  readonly auto_renewing: boolean
  readonly status: number
  readonly refund_requested_unix_ts_ms: number
  readonly payment_provider: number
  readonly apple_original_tx_id: string | null
  readonly google_order_id: string | null
  readonly rangeproof_order_id: string | null
  readonly revoked_unix_ts_ms: number | null
}

const ZERO: EntitlementAcc = { expiry: 0, grace: 0, refund: 0, auto: false }

/**
 * §5.9 over rows newest first: only the newest payment of each chain counts; the result is a max over
 * chains, never a sum; strict comparisons so the newer row wins ties.
 */
export const computeEntitlement = (rows: ReadonlyArray<LookupRow>): EntitlementResult => {
  let best = ZERO
  let fromRedeemed = ZERO
  const googleOrders: Array<string> = []
  const appleSeen = new Set<string>()
  const rangeproofSeen = new Set<string>()
  for (const row of rows) {
    switch (row.payment_provider) {
      case PaymentProvider.GooglePlayStore: {
        const order = row.google_order_id ?? ""
        const prefix = order.split("..")[0]!
        if (googleOrders.some((o) => o.startsWith(prefix))) continue
        googleOrders.push(order)
        break
      }
      case PaymentProvider.iOSAppStore: {
        const id = row.apple_original_tx_id ?? ""
        if (appleSeen.has(id)) continue
        appleSeen.add(id)
        break
      }
      case PaymentProvider.Rangeproof: {
        const id = row.rangeproof_order_id ?? ""
        if (rangeproofSeen.has(id)) continue
        rangeproofSeen.add(id)
        break
      }
      default:
        continue
    }
    const curBestWoGrace = best.expiry - (best.auto ? best.grace : 0)
    const curRedWoGrace = fromRedeemed.expiry - (fromRedeemed.auto ? fromRedeemed.grace : 0)
    const grace = row.grace_period_duration_ms ?? 0
    let cand: number
    let paymentExpiry: number
    // FLAG-17 fixed: a revoked row counts as not auto-renewing instead of asserting.
    let auto = row.auto_renewing
    if (row.status === PaymentStatus.Revoked) {
      cand = paymentExpiry = row.revoked_unix_ts_ms ?? 0
      auto = false
    } else {
      cand = row.expiry_unix_ts_ms
      paymentExpiry = row.expiry_unix_ts_ms + (auto ? grace : 0)
    }
    const acc: EntitlementAcc = { expiry: paymentExpiry, grace, refund: row.refund_requested_unix_ts_ms, auto }
    if (row.status === PaymentStatus.Redeemed && cand > curRedWoGrace) fromRedeemed = acc
    if (cand > curBestWoGrace) best = acc
  }
  return { best, fromRedeemed }
}

/** Entitlement lookup (§5.9) and the shared user refresh (§6.0). */
export class Entitlement extends Effect.Service<Entitlement>()("@session-pro/core/Entitlement", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const lookup = (master: Uint8Array) =>
      db.qv`SELECT expiry_unix_ts_ms, grace_period_duration_ms, auto_renewing, status, refund_requested_unix_ts_ms,
          payment_provider, apple_original_tx_id, google_order_id, rangeproof_order_id, revoked_unix_ts_ms
          FROM payments WHERE master_pkey = ${master} AND status IN (2, 4, 3)
          ORDER BY id DESC LIMIT ${ENTITLEMENT_LOOKUP_WINDOW}`.pipe(
        Effect.map((rows) =>
          computeEntitlement(rows.map((r): LookupRow => ({
            expiry_unix_ts_ms: num(r[0]),
            grace_period_duration_ms: numOrNull(r[1]),
            auto_renewing: bool(r[2]),
            status: num(r[3]),
            refund_requested_unix_ts_ms: num(r[4]),
            payment_provider: num(r[5]),
            apple_original_tx_id: str(r[6]),
            google_order_id: str(r[7]),
            rangeproof_order_id: str(r[8]),
            revoked_unix_ts_ms: numOrNull(r[9])
          })))
        )
      )
    /**
     * §6.0: recompute and store the user's cached best-payment fields (no-op without a user row).
     * D4e: when the user's expiry goes down, the old value is kept as the proof-expiry watermark of the
     * current gen index — every proof `/generate_pro_proof` issued under it expires no later than that, so
     * generating proofs stays read-only. On PG the user row is locked first (SQLite: BEGIN IMMEDIATE).
     */
    const refresh = (master: Uint8Array) =>
      Effect.gen(function*() {
        const m = blob(master)
        const before = yield* (db.dialect === "pg"
          ? db.q`SELECT gen_index, expiry_unix_ts_ms FROM users WHERE master_pkey = ${m} FOR UPDATE`
          : db.q`SELECT gen_index, expiry_unix_ts_ms FROM users WHERE master_pkey = ${m}`)
        const result = yield* lookup(master)
        const b = result.best
        yield* db.q`UPDATE users SET expiry_unix_ts_ms = ${b.expiry}, grace_period_duration_ms = ${b.grace},
          auto_renewing = ${b.auto}, refund_requested_unix_ts_ms = ${b.refund}
          WHERE master_pkey = ${m}`
        if (before.length > 0) {
          const old = num(before[0].expiry_unix_ts_ms)
          if (b.expiry < old) yield* recordProofExpiryWith(db, num(before[0].gen_index), old)
        }
        return result
      })
    return { lookup, refresh } as const
  })
}) {}
