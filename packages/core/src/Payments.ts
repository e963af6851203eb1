import { Clock, Effect, Option } from "effect"
import * as nodeCrypto from "node:crypto"
import { BackendKeys, type ProProof } from "./BackendKeys.js"
import * as Ed25519 from "./Crypto/Ed25519.js"
import { setPaymentRefundRequestedHash } from "./Crypto/Hashes.js"
import { AUTO_REDEEM_GOOGLE_HOLD_WINDOW_MS, DAY_MS } from "./Domain/Constants.js"
import { PaymentProvider, PaymentStatus, ProPlan } from "./Domain/Enums.js"
import { encodeOrReject, PaymentError, RequestRejected } from "./Domain/Errors.js"
import { maybeObfuscate } from "./Domain/Obfuscate.js"
import { BackendSettings } from "./Domain/Settings.js"
import { redeemedTimestamp, roundNextDayWithPlatformTesting } from "./Domain/Time.js"
import { Entitlement } from "./Entitlement.js"
import { GenerationIndex } from "./GenerationIndex.js"
import { Redemption, type UserPaymentTx } from "./Redemption.js"
import { Revocations } from "./Revocations.js"
import { blob, bytes, Database, num, raw, storage } from "./Storage/Database.js"
import { decodePayment, decodeUser, PAYMENT_COLUMNS, type PaymentRow, USER_COLUMNS } from "./Storage/Rows.js"

const USER_COLS = raw(USER_COLUMNS)

/** Full identity of a stored payment (§4.1 dedupe keys). */
export type PaymentTx =
  | { readonly provider: 1; readonly googlePaymentToken: string; readonly googleOrderId: string }
  | {
    readonly provider: 2
    readonly appleOriginalTxId: string
    readonly appleTxId: string
    readonly appleWebLineOrderTxId: string
  }
  | { readonly provider: 3; readonly rangeproofOrderId: string }

export interface AddUnredeemedInput {
  readonly tx: PaymentTx
  readonly plan: ProPlan
  readonly unredeemedUnixTsMs: number
  readonly expiryUnixTsMs: number
  readonly platformRefundExpiryUnixTsMs: number
  /** Google: 32 bytes (sha256(master) as the client gave it to Google). Required for Google. */
  readonly googleObfuscatedAccountId?: Uint8Array | undefined
  /** Apple: appAccountToken or ''. */
  readonly appleAppAccountToken?: string | undefined
}

export const paymentTxLabel = (tx: PaymentTx): string =>
  tx.provider === 1
    ? `GooglePlayStore token=${tx.googlePaymentToken} order=${tx.googleOrderId}`
    : tx.provider === 2
    ? `iOSAppStore original_tx_id=${tx.appleOriginalTxId} tx_id=${tx.appleTxId} web_line=${tx.appleWebLineOrderTxId}`
    : `Rangeproof order=${tx.rangeproofOrderId}`

/** §6.1 step 1: the ids every provider needs. */
const validateTx = (tx: PaymentTx): Effect.Effect<void, PaymentError> => {
  switch (tx.provider) {
    case PaymentProvider.GooglePlayStore:
      return tx.googlePaymentToken && tx.googleOrderId
        ? Effect.void
        : Effect.fail(new PaymentError({ message: "Google payment needs a non-empty purchase token and order id" }))
    case PaymentProvider.iOSAppStore:
      return tx.appleTxId && tx.appleOriginalTxId
        ? Effect.void
        : Effect.fail(new PaymentError({ message: "Apple payment needs a non-empty transaction id and original transaction id" }))
    case PaymentProvider.Rangeproof:
      return tx.rangeproofOrderId ? Effect.void : Effect.fail(new PaymentError({ message: "Rangeproof payment needs a non-empty order id" }))
    default:
      return Effect.fail(new PaymentError({ message: "Nil or unknown payment provider is invalid" }))
  }
}

const PLAN_DURATION_MS: Record<number, number> = {
  [ProPlan.OneMonth]: 30 * DAY_MS,
  [ProPlan.ThreeMonth]: 90 * DAY_MS,
  [ProPlan.TwelveMonth]: 365 * DAY_MS
}

/** Store/admin payment operations (§6.1, §6.7–6.9, D4d/D4e/D4f). */
export class Payments extends Effect.Service<Payments>()("@session-pro/core/Payments", {
  accessors: true,
  effect: Effect.gen(function*() {
    const db = yield* Database
    const settings = yield* BackendSettings
    const keys = yield* BackendKeys
    const entitlement = yield* Entitlement
    const genIndex = yield* GenerationIndex
    const redemption = yield* Redemption
    const revocations = yield* Revocations
    const sql = db.sql

    const whereIdentity = (tx: PaymentTx) =>
      tx.provider === 1
        ? sql`payment_provider = 1 AND google_payment_token = ${tx.googlePaymentToken} AND google_order_id = ${tx.googleOrderId}`
        : tx.provider === 2
        ? sql`payment_provider = 2 AND apple_original_tx_id = ${tx.appleOriginalTxId} AND apple_tx_id = ${tx.appleTxId}
            AND apple_web_line_order_tx_id = ${tx.appleWebLineOrderTxId}`
        : sql`payment_provider = 3 AND rangeproof_order_id = ${tx.rangeproofOrderId}`

    const selectPayments = (where: ReturnType<typeof whereIdentity>) =>
      storage(sql`SELECT ${sql.literal(PAYMENT_COLUMNS)} FROM payments WHERE ${where} ORDER BY id`).pipe(
        Effect.map((rows) => rows.map(decodePayment))
      )

    const get = (tx: PaymentTx) => selectPayments(whereIdentity(tx)).pipe(Effect.map((rows) => Option.fromNullable(rows[0])))
    const findByGoogleToken = (token: string) =>
      selectPayments(sql`payment_provider = 1 AND google_payment_token = ${token}`)
    const findByGoogleOrderId = (orderId: string) =>
      selectPayments(sql`payment_provider = 1 AND google_order_id = ${orderId}`)
    const findByAppleOriginalTxId = (id: string) =>
      selectPayments(sql`payment_provider = 2 AND apple_original_tx_id = ${id}`)
    const findByAppleTxId = (id: string) => selectPayments(sql`payment_provider = 2 AND apple_tx_id = ${id}`)
    const findByRangeproofOrderId = (id: string) => selectPayments(sql`payment_provider = 3 AND rangeproof_order_id = ${id}`)
    const listUnredeemed = selectPayments(sql`status = 1`)
    const listForMaster = (master: Uint8Array) => selectPayments(sql`master_pkey = ${blob(master)}`)

    const getUser = (master: Uint8Array) =>
      Effect.map(db.q`SELECT ${USER_COLS} FROM users WHERE master_pkey = ${master}`, (rows) => (rows.length === 0 ? undefined : decodeUser(rows[0])))

    /** §6.1 step 4: claim a witnessed renewal for the key that owns its subscription chain. */
    const autoRedeem = (input: AddUnredeemedInput) =>
      Effect.gen(function*() {
        const tx = input.tx
        if (tx.provider === 3) return undefined
        const owner = yield* storage(
          tx.provider === 1
            ? sql`SELECT master_pkey FROM payments WHERE payment_provider = 1 AND google_payment_token = ${tx.googlePaymentToken}
                AND master_pkey IS NOT NULL ORDER BY id DESC LIMIT 1`
            : sql`SELECT master_pkey FROM payments WHERE payment_provider = 2 AND apple_original_tx_id = ${tx.appleOriginalTxId}
                AND master_pkey IS NOT NULL ORDER BY id DESC LIMIT 1`
        )
        if (owner.length === 0) return undefined
        const master = bytes((owner[0] as any).master_pkey)!
        const user = yield* getUser(master)
        if (user === undefined) return undefined
        // FLAG-9 replicated: the Apple deadline counts grace twice (user expiry already includes it).
        const deadline = tx.provider === 1
          ? user.expiry_unix_ts_ms + (user.auto_renewing ? AUTO_REDEEM_GOOGLE_HOLD_WINDOW_MS - user.grace_period_duration_ms : 0)
          : user.expiry_unix_ts_ms + (user.auto_renewing ? user.grace_period_duration_ms : 0)
        if (input.unredeemedUnixTsMs > deadline) return undefined
        const userTx: UserPaymentTx = tx.provider === 1
          ? { provider: 1, googlePaymentToken: tx.googlePaymentToken, googleOrderId: tx.googleOrderId }
          : { provider: 2, appleTxId: tx.appleTxId }
        const result = yield* redemption.redeemAtomically({
          master,
          now: input.unredeemedUnixTsMs,
          redeemedTs: redeemedTimestamp(input.unredeemedUnixTsMs, settings.dev),
          tx: userTx
        })
        if (result._tag === "Success") return master
        // FLAG-19 quietened: a duplicate notification of an already-claimed payment is expected, not an error.
        if (result._tag === "AlreadyRedeemed") yield* Effect.logDebug(`Auto-redeem skipped: ${result.message}`)
        else yield* Effect.logError(`Auto-redeem failed: ${result.message}`)
        return undefined
      })

    /** §6.1: insert if the identity is new (FLAG-20: backed by a unique index), then try auto-redeem. */
    const addUnredeemed = (input: AddUnredeemedInput) =>
      db.transaction(Effect.gen(function*() {
        const tx = input.tx
        yield* validateTx(tx)
        if (tx.provider === 1 && input.googleObfuscatedAccountId?.length !== 32) {
          return yield* Effect.fail(new PaymentError({ message: "Google payment needs a 32-byte obfuscated account id" }))
        }
        const auto = db.bool(tx.provider !== 3)
        const obf = tx.provider === 1 ? blob(input.googleObfuscatedAccountId!) : null
        const appleToken = tx.provider === 2 ? input.appleAppAccountToken ?? "" : ""
        // Check-then-insert (serialised by the write transaction) plus ON CONFLICT on the FLAG-20 indexes.
        const existing = yield* storage(sql`SELECT id FROM payments WHERE ${whereIdentity(tx)} LIMIT 1`)
        const inserted = existing.length > 0 ? [] : yield* storage(sql`INSERT INTO payments (master_pkey, status, plan, payment_provider, auto_renewing,
            unredeemed_unix_ts_ms, redeemed_unix_ts_ms, expiry_unix_ts_ms, grace_period_duration_ms,
            platform_refund_expiry_unix_ts_ms, revoked_unix_ts_ms, apple_original_tx_id, apple_tx_id,
            apple_web_line_order_tx_id, google_payment_token, google_order_id, rangeproof_order_id,
            refund_requested_unix_ts_ms, google_obfuscated_account_id, apple_app_account_token)
          VALUES (NULL, 1, ${input.plan}, ${tx.provider}, ${auto}, ${input.unredeemedUnixTsMs}, NULL, ${input.expiryUnixTsMs}, 0,
            ${input.platformRefundExpiryUnixTsMs}, NULL,
            ${tx.provider === 2 ? tx.appleOriginalTxId : null}, ${tx.provider === 2 ? tx.appleTxId : null},
            ${tx.provider === 2 ? tx.appleWebLineOrderTxId ?? "" : null},
            ${tx.provider === 1 ? tx.googlePaymentToken : null}, ${tx.provider === 1 ? tx.googleOrderId : null},
            ${tx.provider === 3 ? tx.rangeproofOrderId : null}, 0, ${obf}, ${appleToken})
          ON CONFLICT DO NOTHING RETURNING id`)
        const autoRedeemedFor = yield* autoRedeem(input)
        return { inserted: inserted.length > 0, autoRedeemedFor } as { inserted: boolean; autoRedeemedFor?: Uint8Array | undefined }
      }))

    /** §6.8: grace/auto-renew change on one payment (no status filter), then refresh its owner. */
    const updateRenewalInfo = (
      tx: PaymentTx,
      change: { readonly gracePeriodDurationMs?: number | undefined; readonly autoRenewing?: boolean | undefined }
    ) =>
      db.transaction(Effect.gen(function*() {
        yield* validateTx(tx)
        if (change.gracePeriodDurationMs === undefined && change.autoRenewing === undefined) return true
        // Google matches on token and order only (no provider filter), exactly as the reference.
        const where = tx.provider === 1
          ? sql`google_payment_token = ${tx.googlePaymentToken} AND google_order_id = ${tx.googleOrderId}`
          : whereIdentity(tx)
        const sets = [
          ...(change.gracePeriodDurationMs !== undefined ? [sql`grace_period_duration_ms = ${change.gracePeriodDurationMs}`] : []),
          ...(change.autoRenewing !== undefined ? [sql`auto_renewing = ${db.bool(change.autoRenewing)}`] : [])
        ]
        const rows = yield* storage(sql`UPDATE payments SET ${sql.csv(sets)} WHERE ${where} RETURNING master_pkey`)
        if (rows.length === 0) return false
        const master = bytes((rows[0] as any).master_pkey)
        if (master !== null) yield* entitlement.refresh(master)
        return true
      }))

    /**
     * Move the expiry (and optionally the platform refund deadline) of one payment — Apple
     * RENEWAL_EXTENDED (a subscription renewal date extension). Matches the exact identity (all ids, as
     * `get`), any status but Nil and Revoked (a refunded payment stays ended); PaymentError when nothing
     * matches. Then the owner is refreshed (§6.0) as `updateRenewalInfo` does.
     *
     * Never earlier unless asked: by default each stored value becomes max(stored, given), so a stale or
     * out-of-order notification cannot shorten a period that was paid for (the result says `changed:
     * false`). `allowEarlier: true` stores the given values as they are (an explicit correction); the
     * refresh then keeps the proof-expiry watermark of the user's gen index (D4e), so proofs already
     * issued stay covered by any later revocation.
     *
     * A payment the daily sweep already marked Expired goes back to Redeemed (Unredeemed when never
     * claimed) when its new expiry is after the last sweep point (`runtime.last_expire_unix_ts_ms`):
     * the sweep's own rule (`ts >= expiry`) would not have expired it.
     */
    const updateExpiry = (
      tx: PaymentTx,
      change: {
        readonly expiryUnixTsMs: number
        readonly platformRefundExpiryUnixTsMs?: number | undefined
        readonly allowEarlier?: boolean | undefined
      }
    ) =>
      db.transaction(Effect.gen(function*() {
        yield* validateTx(tx)
        const label = () => maybeObfuscate(paymentTxLabel(tx), settings.unsafeLogging)
        for (const v of [change.expiryUnixTsMs, change.platformRefundExpiryUnixTsMs]) {
          if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) {
            return yield* Effect.fail(new PaymentError({ message: `Failed to update the expiry of ${label()}: bad timestamp ${v}` }))
          }
        }
        const rows = yield* selectPayments(sql`${whereIdentity(tx)} AND status IN (1, 2, 3)`)
        if (rows.length === 0) {
          return yield* Effect.fail(
            new PaymentError({ message: `Failed to update the expiry of ${label()}: no matching payment was found (revoked payments are not changed)` })
          )
        }
        const pick = (stored: number, given: number) => (change.allowEarlier ? given : Math.max(stored, given))
        let sweptAt: number | undefined
        let changed = false
        let result = { expiryUnixTsMs: 0, platformRefundExpiryUnixTsMs: 0 }
        const masters = new Map<string, Uint8Array>()
        // Normally one row (FLAG-20 unique identity); an old reference DB may hold duplicates: all of them move.
        for (const row of rows) {
          const expiry = pick(row.expiry_unix_ts_ms, change.expiryUnixTsMs)
          const refund = change.platformRefundExpiryUnixTsMs === undefined
            ? row.platform_refund_expiry_unix_ts_ms
            : pick(row.platform_refund_expiry_unix_ts_ms, change.platformRefundExpiryUnixTsMs)
          let status: PaymentStatus = row.status
          if (status === PaymentStatus.Expired) {
            if (sweptAt === undefined) {
              const rt = yield* storage(sql`SELECT last_expire_unix_ts_ms FROM runtime`)
              sweptAt = rt.length === 0 ? 0 : num((rt[0] as any).last_expire_unix_ts_ms)
            }
            if (expiry > sweptAt) status = row.master_pkey === null ? PaymentStatus.Unredeemed : PaymentStatus.Redeemed
          }
          result = { expiryUnixTsMs: expiry, platformRefundExpiryUnixTsMs: refund }
          if (expiry === row.expiry_unix_ts_ms && refund === row.platform_refund_expiry_unix_ts_ms && status === row.status) continue
          yield* storage(sql`UPDATE payments SET expiry_unix_ts_ms = ${expiry}, platform_refund_expiry_unix_ts_ms = ${refund},
            status = ${status} WHERE id = ${row.id}`)
          changed = true
          if (row.master_pkey !== null) masters.set(Buffer.from(row.master_pkey).toString("hex"), row.master_pkey)
        }
        for (const master of masters.values()) yield* entitlement.refresh(master)
        return { changed, ...result } as {
          /** false: the stored values already were at or beyond the given ones (nothing written). */
          readonly changed: boolean
          /** The values now stored. */
          readonly expiryUnixTsMs: number
          readonly platformRefundExpiryUnixTsMs: number
        }
      }))

    /**
     * §6.9 revoke a subscription chain (Google token / Apple original tx id) at `revokedAtMs`.
     * FLAG-7 fixed: only masters whose payment actually changed state are revoked, so a repeat is a no-op.
     * FLAG-2 fixed: an existing revocation is extended, never a PK crash. FLAG-1 fixed (D4e): the
     * revocation expiry is the latest of the user's expiry before and after the refresh and of every
     * proof issued under the gen index.
     */
    const revokeChain = (input: { readonly provider: 1 | 2; readonly chainId: string; readonly revokedAtMs: number }) =>
      db.transaction(Effect.gen(function*() {
        const rows = yield* (input.provider === 1 ? findByGoogleToken(input.chainId) : findByAppleOriginalTxId(input.chainId))
        if (rows.length === 0) {
          return yield* Effect.fail(
            new PaymentError({
              message: `Failed to revoke ${input.provider === 1 ? "Google purchase token" : "Apple original transaction id"} ${
                maybeObfuscate(input.chainId, settings.unsafeLogging)
              }: no matching payments were found`
            })
          )
        }
        return yield* revokeRows(rows, input.revokedAtMs)
      }))

    /** Revoke one payment by its full identity (e.g. a single voided Google order), same rules as a chain. */
    const revokePayment = (tx: PaymentTx, revokedAtMs: number) =>
      db.transaction(Effect.gen(function*() {
        const rows = yield* selectPayments(whereIdentity(tx))
        if (rows.length === 0) {
          return yield* Effect.fail(new PaymentError({ message: `Failed to revoke ${maybeObfuscate(paymentTxLabel(tx), settings.unsafeLogging)}: no matching payment was found` }))
        }
        return yield* revokeRows(rows, revokedAtMs)
      }))

    const revokeRows = (rows: ReadonlyArray<PaymentRow>, revokedAtMs: number) =>
      Effect.gen(function*() {
        const R = revokedAtMs
        const masters = new Map<string, { master: Uint8Array; expiry: number }>()
        let revokedPayments = 0
        for (const row of rows) {
          const changed = yield* storage(sql`UPDATE payments SET status = 4, revoked_unix_ts_ms = ${R}, auto_renewing = ${db.bool(false)}
            WHERE id = ${row.id} AND status IN (1, 2) RETURNING id`)
          if (changed.length === 0) continue
          revokedPayments++
          if (row.master_pkey === null) continue
          const k = Buffer.from(row.master_pkey).toString("hex")
          const prev = masters.get(k)
          // The entitlement this payment gave, grace included while it auto-renewed (proofs may reach that far).
          const gave = row.expiry_unix_ts_ms + (row.auto_renewing ? row.grace_period_duration_ms ?? 0 : 0)
          masters.set(k, { master: row.master_pkey, expiry: Math.max(prev?.expiry ?? 0, gave) })
        }
        // FLAG-12 replicated: the revoke path always rounds to a real day.
        const rNext = roundNextDayWithPlatformTesting(PaymentProvider.Nil, R, settings.platformTestingEnv)
        const revokedGenIndexes: Array<number> = []
        for (const { master, expiry } of masters.values()) {
          const before = yield* getUser(master)
          const ent = yield* entitlement.refresh(master)
          if (before === undefined || expiry <= rNext) continue // proofs self-expire by the end of the day
          const g = before.gen_index
          const watermark = yield* genIndex.maxProofExpiry(g)
          const revExpiry = Math.max(before.expiry_unix_ts_ms, ent.best.expiry, watermark)
          yield* revocations.upsert(g, R, revExpiry, "extend")
          revokedGenIndexes.push(g)
          if (ent.fromRedeemed.expiry > 0) yield* genIndex.allocate(master, ent)
        }
        return { revokedPayments, revokedGenIndexes }
      })

    /** After a restore: refresh, and give the user a fresh gen index if the current one is revoked. */
    const reinstate = (master: Uint8Array) =>
      Effect.gen(function*() {
        const ent = yield* entitlement.refresh(master)
        const user = yield* getUser(master)
        if (user !== undefined && ent.fromRedeemed.expiry > 0 && (yield* revocations.isRevoked(user.gen_index))) {
          yield* genIndex.allocate(master, ent)
        }
      })

    const restoreRows = (rows: ReadonlyArray<PaymentRow>) =>
      Effect.gen(function*() {
        let restored = 0
        const masters = new Map<string, Uint8Array>()
        for (const row of rows) {
          if (row.status !== PaymentStatus.Revoked) continue
          const next = row.master_pkey === null ? PaymentStatus.Unredeemed : PaymentStatus.Redeemed
          yield* storage(sql`UPDATE payments SET status = ${next}, revoked_unix_ts_ms = NULL WHERE id = ${row.id} AND status = 4`)
          restored++
          if (row.master_pkey !== null) masters.set(Buffer.from(row.master_pkey).toString("hex"), row.master_pkey)
        }
        for (const m of masters.values()) yield* reinstate(m)
        return { restoredPayments: restored }
      })

    /** D4f (Apple REFUND_REVERSED): every revoked payment of the chain goes back to Redeemed (Unredeemed if never claimed). */
    const restoreChain = (input: { readonly provider: 1 | 2; readonly chainId: string }) =>
      db.transaction(Effect.gen(function*() {
        const rows = yield* (input.provider === 1 ? findByGoogleToken(input.chainId) : findByAppleOriginalTxId(input.chainId))
        if (rows.length === 0) return yield* Effect.fail(new PaymentError({ message: "Failed to restore: no matching payments were found" }))
        return yield* restoreRows(rows)
      }))

    /** D4f: restore one payment by its full identity. */
    const restorePayment = (tx: PaymentTx) =>
      db.transaction(Effect.gen(function*() {
        const rows = yield* selectPayments(whereIdentity(tx))
        if (rows.length === 0) return yield* Effect.fail(new PaymentError({ message: "Failed to restore: no matching payment was found" }))
        return yield* restoreRows(rows)
      }))

    /** Refresh the owners of the rows an `UPDATE … RETURNING master_pkey` changed; whether any row changed. */
    const refreshUpdated = <E, R>(update: Effect.Effect<ReadonlyArray<any>, E, R>) =>
      Effect.gen(function*() {
        const rows = yield* update
        for (const r of rows) {
          // FLAG-14 fixed: an unredeemed payment has no owner to refresh.
          const m = bytes((r as any).master_pkey)
          if (m !== null) yield* entitlement.refresh(m)
        }
        return rows.length > 0
      })

    /** D4f (Apple REFUND_DECLINED): clear the refund-request flag. */
    const clearRefundRequested = (tx: PaymentTx) =>
      db.transaction(refreshUpdated(storage(sql`UPDATE payments SET refund_requested_unix_ts_ms = 0 WHERE ${whereIdentity(tx)} RETURNING master_pkey`)))

    /**
     * P§2.5 / §6.7: verify the master signature (failure = status 2), then flag/unflag the Apple payment.
     * D4d / FLAG-13 fixed: only a payment owned by `masterPkey` is touched; others answer `updated: false`.
     */
    const setRefundRequested = (req: {
      readonly version?: number | undefined
      readonly masterPkey: Uint8Array
      readonly masterSig: Uint8Array
      readonly unixTsMs: number | bigint
      readonly refundRequestedUnixTsMs: number | bigint
      readonly paymentTx: { readonly provider: 2; readonly appleTxId: string }
    }) =>
      Effect.gen(function*() {
        const refund = BigInt(req.refundRequestedUnixTsMs)
        if (refund < 0n || refund >= 1n << 64n) {
          return yield* Effect.fail(new RequestRejected({ status: 2, errors: [`Refund requested timestamp out of range: ${refund}`] }))
        }
        if (req.paymentTx.provider !== 2) {
          return yield* Effect.fail(new RequestRejected({ status: 2, errors: ["Bad payment provider given"] }))
        }
        const hash = yield* encodeOrReject(() =>
          setPaymentRefundRequestedHash(req.version ?? 0, req.masterPkey, req.unixTsMs, refund, {
            provider: 2,
            appleTxId: req.paymentTx.appleTxId
          })
        )
        if (!Ed25519.verify(req.masterSig, hash, req.masterPkey)) {
          return yield* Effect.fail(new RequestRejected({ status: 2, errors: ["Signature failed to be verified"] }))
        }
        const value = refund <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(refund) : refund
        const updated = yield* db.transaction(
          refreshUpdated(db.q`UPDATE payments SET refund_requested_unix_ts_ms = ${value}
            WHERE payment_provider = 2 AND apple_tx_id = ${req.paymentTx.appleTxId} AND master_pkey = ${req.masterPkey}
            RETURNING master_pkey`)
        )
        return { updated }
      })

    /**
     * CLI voucher (§12.1): a Rangeproof payment for `masterPkey`, redeemed at once with a proof, in one
     * transaction. Without a rotating key a throwaway one is generated and its seed returned.
     */
    const redeemVoucher = (input: {
      readonly masterPkey: Uint8Array
      readonly plan: ProPlan
      readonly rotatingPkey?: Uint8Array | undefined
      readonly durationMs?: number | undefined
      readonly orderId?: string | undefined
    }) =>
      db.transaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const duration = input.durationMs || PLAN_DURATION_MS[input.plan]
        if (!duration) return yield* Effect.fail(new PaymentError({ message: `Bad plan for a voucher: ${input.plan}` }))
        const orderId = input.orderId ?? nodeCrypto.randomUUID()
        let rotatingSeed: Uint8Array | undefined
        let rotating = input.rotatingPkey
        if (rotating === undefined) {
          rotatingSeed = Ed25519.randomSeed()
          rotating = Ed25519.publicKeyFromSeed(rotatingSeed)
        }
        yield* addUnredeemed({
          tx: { provider: 3, rangeproofOrderId: orderId },
          plan: input.plan,
          unredeemedUnixTsMs: now,
          expiryUnixTsMs: now + duration,
          platformRefundExpiryUnixTsMs: 0
        })
        const result = yield* redemption.redeem({
          master: input.masterPkey,
          rotating,
          now,
          redeemedTs: redeemedTimestamp(now, settings.dev),
          tx: { provider: 3, rangeproofOrderId: orderId }
        })
        if (result._tag !== "Success") return yield* Effect.fail(new PaymentError({ message: result.message }))
        return { orderId, genIndex: result.genIndex, proof: result.proof as ProProof, rotatingPkey: rotating, rotatingSeed }
      }))

    return {
      get,
      findByGoogleToken,
      findByGoogleOrderId,
      findByAppleOriginalTxId,
      findByAppleTxId,
      findByRangeproofOrderId,
      listUnredeemed,
      listForMaster,
      getUser,
      addUnredeemed,
      updateRenewalInfo,
      updateExpiry,
      revokeChain,
      revokePayment,
      restoreChain,
      restorePayment,
      clearRefundRequested,
      setRefundRequested,
      redeemVoucher,
      backendPublicKey: keys.publicKey
    } as const
  })
}) {}
