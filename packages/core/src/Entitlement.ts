import { Effect } from "effect"
import { ENTITLEMENT_LOOKUP_WINDOW } from "./Domain/Constants.js"
import { PaymentProvider, PaymentStatus } from "./Domain/Enums.js"
import { recordProofExpiryWith } from "./GenerationIndex.js"
import { blob, bool, Database, num, numOrNull, raw, str } from "./Storage/Database.js"

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

/**
 * The lookup's window as SQL text, not a bound parameter: with a bound `LIMIT ?` SQLite (3.53) re-prepares
 * the statement on every run (`sqlite3Reprepare` ≈ 15 % of SQLite's time in /add_pro_payment; the lookup
 * alone 25 → 11 µs with the literal).
 */
const LOOKUP_LIMIT = raw(String(ENTITLEMENT_LOOKUP_WINDOW))
/** The lookup's payment columns (of `p`), decoded by `lookupRow`. */
const LOOKUP_COLS = raw(`p.expiry_unix_ts_ms, p.grace_period_duration_ms, p.auto_renewing, p.status, p.refund_requested_unix_ts_ms,
  p.payment_provider, p.apple_original_tx_id, p.google_order_id, p.rangeproof_order_id, p.revoked_unix_ts_ms`)
const lookupRow = (r: ReadonlyArray<any>, o: number): LookupRow => ({
  expiry_unix_ts_ms: num(r[o]),
  grace_period_duration_ms: numOrNull(r[o + 1]),
  auto_renewing: bool(r[o + 2]),
  status: num(r[o + 3]),
  refund_requested_unix_ts_ms: num(r[o + 4]),
  payment_provider: num(r[o + 5]),
  apple_original_tx_id: str(r[o + 6]),
  google_order_id: str(r[o + 7]),
  rangeproof_order_id: str(r[o + 8]),
  revoked_unix_ts_ms: numOrNull(r[o + 9])
})

/** Entitlement lookup (§5.9) and the shared user refresh (§6.0). */
export class Entitlement extends Effect.Service<Entitlement>()("@session-pro/core/Entitlement", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const lookup = (master: Uint8Array) =>
      db.qv`SELECT ${LOOKUP_COLS} FROM payments p WHERE p.master_pkey = ${master} AND p.status IN (2, 4, 3)
          ORDER BY p.id DESC LIMIT ${LOOKUP_LIMIT}`.pipe(
        Effect.map((rows) => computeEntitlement(rows.map((r) => lookupRow(r, 0))))
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
        let before: ReadonlyArray<any> | undefined
        let result: EntitlementResult | undefined
        if (db.dialect === "sqlite") {
          // The user row and the lookup in one statement (the same rows: the user key is unique; the
          // write transaction already holds the lock). Without a user row or without a payment it
          // returns nothing, and the two reads below tell those apart.
          const rows = yield* db.qv`SELECT u.gen_index, u.expiry_unix_ts_ms, ${LOOKUP_COLS} FROM users u, payments p
            WHERE u.master_pkey = ${m} AND p.master_pkey = ${m} AND p.status IN (2, 4, 3)
            ORDER BY p.id DESC LIMIT ${LOOKUP_LIMIT}`
          if (rows.length > 0) {
            before = rows[0]
            result = computeEntitlement(rows.map((r) => lookupRow(r, 2)))
          }
        }
        if (result === undefined) {
          const user = yield* (db.dialect === "pg"
            ? db.qv`SELECT gen_index, expiry_unix_ts_ms FROM users WHERE master_pkey = ${m} FOR UPDATE`
            : db.qv`SELECT gen_index, expiry_unix_ts_ms FROM users WHERE master_pkey = ${m}`)
          before = user[0]
          result = yield* lookup(master)
        }
        const b = result.best
        yield* db.q`UPDATE users SET expiry_unix_ts_ms = ${b.expiry}, grace_period_duration_ms = ${b.grace},
          auto_renewing = ${b.auto}, refund_requested_unix_ts_ms = ${b.refund}
          WHERE master_pkey = ${m}`
        if (before !== undefined) {
          const old = num(before[1])
          if (b.expiry < old) yield* recordProofExpiryWith(db, num(before[0]), old)
        }
        return result
      })
    return { lookup, refresh } as const
  })
}) {}
