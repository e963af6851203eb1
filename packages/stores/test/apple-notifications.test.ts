/**
 * AppleNotifications end to end over the real core (in-memory SQLite) with JWS signed by a test chain
 * generated at test time. Every notification type of stores.md §2.7 / §4, the D4f fixes, rejection of
 * forged / foreign payloads with nothing stored, and idempotent redelivery.
 */
import { Backend, Database, Payments, PaymentStatus, ProPlan, Redemption, Revocations } from "@session-pro/core"
import { AppleConfig, AppleNotifications } from "@session-pro/stores"
import { Effect, Either, Layer, Logger } from "effect"
import * as crypto from "node:crypto"
import { beforeAll, describe, expect, it } from "vitest"
import {
  BUNDLE,
  type Chain,
  chainJws,
  DAY,
  HOUR,
  makeChain,
  notificationJws,
  notificationsConfig,
  type NotificationSpec,
  PRODUCT_1M,
  PRODUCT_3M,
  signJws,
  tamper,
  txClaims
} from "./appleTestKit.js"

let chain: Chain
let otherChain: Chain
beforeAll(() => {
  chain = makeChain()
  otherChain = makeChain({ name: "Other" })
})

const config = (over: Partial<AppleConfig.AppleNotificationsConfig> = {}): AppleConfig.AppleNotificationsConfig =>
  notificationsConfig(chain, { retryWindowMs: 0, ...over })

const makeLayer = (over: Partial<AppleConfig.AppleNotificationsConfig> = {}) =>
  AppleNotifications.layer(config(over)).pipe(Layer.provideMerge(Backend.layerSqlite(":memory:")))

type Env = Layer.Layer.Success<ReturnType<typeof makeLayer>>
const run = <A, E>(eff: Effect.Effect<A, E, Env>, over: Partial<AppleConfig.AppleNotificationsConfig> = {}) =>
  Effect.runPromise(Effect.provide(eff, makeLayer(over)))

const send = (spec: NotificationSpec | string) =>
  Effect.flatMap(AppleNotifications.AppleNotifications, (s) =>
    s.process(typeof spec === "string" ? spec : notificationJws(chain, spec)))
const sendE = (spec: NotificationSpec | string) => Effect.either(send(spec))

const rows = (table: string) =>
  Effect.flatMap(Database, (db) => db.sql.unsafe<any>(`SELECT * FROM ${table} ORDER BY rowid`)).pipe(Effect.orDie)
const paymentsOf = (orig: string) => Effect.flatMap(Payments, (p) => p.findByAppleOriginalTxId(orig)).pipe(Effect.orDie)

/** Claim an Apple payment for a fresh master key (as /add_pro_payment would). */
const claim = (appleTxId: string, now: number) =>
  Effect.gen(function*() {
    const master = new Uint8Array(crypto.randomBytes(32))
    const r = yield* (yield* Redemption).redeem({ master, now, redeemedTs: Math.ceil(now / DAY) * DAY, tx: { provider: 2, appleTxId } })
    expect(r._tag).toBe("Success")
    return master
  }).pipe(Effect.orDie)

const T0 = Date.UTC(2026, 0, 10, 12, 0, 0)
const sub = (orig: string, tx: string, purchase = T0, expires = purchase + 30 * DAY, product?: string) => ({
  orig,
  tx,
  purchase,
  expires,
  ...(product ? { product } : {})
})

describe("Apple notifications: purchases and renewals", () => {
  it("SUBSCRIBED/INITIAL_BUY adds an unredeemed payment with 1 h grace, auto-renewing, and remembers the UUID", () =>
    run(Effect.gen(function*() {
      const uuid = crypto.randomUUID()
      const signedDate = Date.now()
      const o = yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", uuid, signedDate, tx: sub("100", "101") })
      expect(o._tag).toBe("Applied")
      const [p] = yield* paymentsOf("100")
      expect(p).toMatchObject({
        status: PaymentStatus.Unredeemed,
        plan: ProPlan.OneMonth,
        payment_provider: 2,
        auto_renewing: true,
        grace_period_duration_ms: HOUR,
        unredeemed_unix_ts_ms: T0,
        expiry_unix_ts_ms: T0 + 30 * DAY,
        platform_refund_expiry_unix_ts_ms: T0 + 30 * DAY,
        apple_tx_id: "101",
        apple_web_line_order_tx_id: "1019",
        apple_app_account_token: "",
        master_pkey: null
      })
      expect(yield* rows("apple_notification_uuid_history")).toEqual([{ uuid, expiry_unix_ts_ms: signedDate }])
    })))

  it("the history expiry is signedDate + the configured retry window", () =>
    run(
      Effect.gen(function*() {
        const uuid = crypto.randomUUID()
        const signedDate = Date.now()
        yield* send({ type: "SUBSCRIBED", subtype: "RESUBSCRIBE", uuid, signedDate, tx: sub("110", "111", T0, T0 + DAY, PRODUCT_3M) })
        expect(yield* rows("apple_notification_uuid_history")).toEqual([{ uuid, expiry_unix_ts_ms: signedDate + 567_000_000 }])
        expect((yield* paymentsOf("110"))[0]!.plan).toBe(ProPlan.ThreeMonth)
      }),
      { retryWindowMs: 567_000_000 }
    ))

  it("DID_RENEW of a claimed subscription is auto-redeemed to the same user", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("120", "121", T0, T0 + 30 * DAY) })
      const master = yield* claim("121", T0 + 1000)
      yield* send({ type: "DID_RENEW", tx: sub("120", "122", T0 + 30 * DAY, T0 + 60 * DAY) })
      const ps = yield* paymentsOf("120")
      expect(ps.map((p) => [p.apple_tx_id, p.status])).toEqual([["121", PaymentStatus.Redeemed], ["122", PaymentStatus.Redeemed]])
      expect(Buffer.from(ps[1]!.master_pkey!).equals(Buffer.from(master))).toBe(true)
    })))

  it("DID_RENEW/BILLING_RECOVERY and appAccountToken are stored", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "DID_RENEW", subtype: "BILLING_RECOVERY", tx: { ...sub("130", "131"), appAccountToken: "a-token" } })
      expect((yield* paymentsOf("130"))[0]!.apple_app_account_token).toBe("a-token")
    })))

  it("duplicate delivery is answered Duplicate and changes nothing", () =>
    run(Effect.gen(function*() {
      const jws = notificationJws(chain, { type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("140", "141") })
      expect((yield* send(jws))._tag).toBe("Applied")
      const before = { p: yield* rows("payments"), h: yield* rows("apple_notification_uuid_history") }
      expect((yield* send(jws))._tag).toBe("Duplicate")
      expect({ p: yield* rows("payments"), h: yield* rows("apple_notification_uuid_history") }).toEqual(before)
    })))

  it("redelivery after the UUID was pruned is still idempotent (same payment, no second row)", () =>
    run(Effect.gen(function*() {
      const jws = notificationJws(chain, { type: "DID_RENEW", tx: sub("150", "151") })
      yield* send(jws)
      yield* Effect.flatMap(Database, (db) => db.sql`DELETE FROM apple_notification_uuid_history`).pipe(Effect.orDie)
      expect((yield* send(jws))._tag).toBe("Applied")
      expect(yield* paymentsOf("150")).toHaveLength(1)
    })))

  it("an unmapped product fails (non-2xx), stores nothing but the user error", () =>
    run(Effect.gen(function*() {
      const r = yield* sendE({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("160", "161", T0, T0 + DAY, "com.other.product") })
      expect(Either.isLeft(r) && r.left._tag).toBe("AppleProcessingError")
      expect(yield* rows("payments")).toEqual([])
      expect(yield* rows("apple_notification_uuid_history")).toEqual([])
      expect((yield* rows("user_errors")).map((u: any) => [u.payment_id, u.payment_provider])).toEqual([["160", 2]])
    })))

  it("the product map is configuration (the fixtures' debug product only when configured)", () =>
    run(
      Effect.gen(function*() {
        yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("170", "171", T0, T0 + DAY, "com.getsession.org.pro_sub") })
        expect((yield* paymentsOf("170"))[0]!.plan).toBe(ProPlan.OneMonth)
      }),
      { productPlans: { ...AppleConfig.DEFAULT_PRODUCT_PLANS, ...AppleConfig.FIXTURE_TEST_PRODUCT_PLANS } }
    ))

  it("a non-subscription transaction type on SUBSCRIBED is an error", () =>
    run(Effect.gen(function*() {
      const r = yield* sendE({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: { ...sub("180", "181"), type: "Consumable" } })
      expect(Either.isLeft(r)).toBe(true)
      expect(yield* rows("payments")).toEqual([])
    })))
})

describe("Apple notifications: renewal state", () => {
  it("DID_CHANGE_RENEWAL_STATUS AUTO_RENEW_DISABLED / ENABLED flip auto-renew on that transaction, grace kept", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("200", "201") })
      yield* send({ type: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_DISABLED", tx: sub("200", "201") })
      expect((yield* paymentsOf("200"))[0]).toMatchObject({ auto_renewing: false, grace_period_duration_ms: HOUR })
      yield* send({ type: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_ENABLED", tx: sub("200", "201") })
      expect((yield* paymentsOf("200"))[0]).toMatchObject({ auto_renewing: true, grace_period_duration_ms: HOUR })
    })))

  it("DID_CHANGE_RENEWAL_STATUS before its purchase arrived fails so Apple redelivers, with a user error", () =>
    run(Effect.gen(function*() {
      const r = yield* sendE({ type: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_DISABLED", tx: sub("210", "211") })
      expect(Either.isLeft(r) && r.left._tag).toBe("AppleProcessingError")
      expect(yield* rows("apple_notification_uuid_history")).toEqual([])
      expect((yield* rows("user_errors")).map((u: any) => u.payment_id)).toEqual(["210"])
    })))

  it("DID_FAIL_TO_RENEW/GRACE_PERIOD stores grace = gracePeriodExpiresDate − expiresDate (D4f)", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("220", "221") })
      yield* send({ type: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_DISABLED", tx: sub("220", "221") })
      yield* send({
        type: "DID_FAIL_TO_RENEW",
        subtype: "GRACE_PERIOD",
        tx: sub("220", "221"),
        renewal: { gracePeriodExpiresDate: T0 + 30 * DAY + 16 * DAY, isInBillingRetryPeriod: true }
      })
      expect((yield* paymentsOf("220"))[0]).toMatchObject({ grace_period_duration_ms: 16 * DAY, auto_renewing: true })
    })))

  it("DID_FAIL_TO_RENEW without subtype and without gracePeriodExpiresDate is a logged no-op", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("230", "231") })
      const o = yield* send({ type: "DID_FAIL_TO_RENEW", tx: sub("230", "231"), renewal: { isInBillingRetryPeriod: true } })
      expect(o._tag).toBe("NoAction")
      expect((yield* paymentsOf("230"))[0]).toMatchObject({ grace_period_duration_ms: HOUR, auto_renewing: true })
    })))

  it("DID_FAIL_TO_RENEW/GRACE_PERIOD without renewal info fails", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("240", "241") })
      expect(Either.isLeft(yield* sendE({ type: "DID_FAIL_TO_RENEW", subtype: "GRACE_PERIOD", tx: sub("240", "241") }))).toBe(true)
    })))

  it("DID_CHANGE_RENEWAL_PREF/DOWNGRADE turns auto-renew back on with 1 h grace; no subtype is a no-op", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("250", "251") })
      yield* send({ type: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_DISABLED", tx: sub("250", "251") })
      const d = yield* send({ type: "DID_CHANGE_RENEWAL_PREF", subtype: "DOWNGRADE", tx: sub("250", "251") })
      expect(d._tag).toBe("Applied")
      expect((yield* paymentsOf("250"))[0]!.auto_renewing).toBe(true)
      const before = yield* rows("payments")
      const n = yield* send({ type: "DID_CHANGE_RENEWAL_PREF", tx: sub("250", "251") })
      expect(n._tag).toBe("NoAction")
      expect(yield* rows("payments")).toEqual(before)
    })))
})

describe("Apple notifications: renewal date extension (RENEWAL_EXTENDED)", () => {
  it("moves the stored expiry and refund deadline to the new expiresDate; the owner's proofs reach further", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("600", "601", T0, T0 + 30 * DAY) })
      const master = yield* claim("601", T0 + 1000)
      const userExpiry = Effect.map(rows("users"), (us) => us.find((u: any) => Buffer.from(u.master_pkey).equals(Buffer.from(master)))!.expiry_unix_ts_ms)
      expect(yield* userExpiry).toBe(T0 + 30 * DAY + HOUR) // auto-renewing: 1 h grace included
      const uuid = crypto.randomUUID()
      const o = yield* send({ type: "RENEWAL_EXTENDED", uuid, tx: sub("600", "601", T0, T0 + 37 * DAY) })
      expect(o._tag).toBe("Applied")
      const [p] = yield* paymentsOf("600")
      expect(p).toMatchObject({
        status: PaymentStatus.Redeemed,
        expiry_unix_ts_ms: T0 + 37 * DAY,
        platform_refund_expiry_unix_ts_ms: T0 + 37 * DAY,
        grace_period_duration_ms: HOUR,
        auto_renewing: true
      })
      expect(yield* userExpiry).toBe(T0 + 37 * DAY + HOUR)
      expect((yield* rows("apple_notification_uuid_history")).map((h: any) => h.uuid)).toContain(uuid)
      // The next renewal is auto-redeemed to the same user: the claim deadline follows the new expiry.
      yield* send({ type: "DID_RENEW", tx: sub("600", "602", T0 + 37 * DAY, T0 + 67 * DAY) })
      const ps = yield* paymentsOf("600")
      expect(ps.map((x) => [x.apple_tx_id, x.status])).toEqual([["601", PaymentStatus.Redeemed], ["602", PaymentStatus.Redeemed]])
    })))

  it("a stale extension never moves the expiry earlier (NoAction, unchanged); redelivery is a Duplicate", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("610", "611", T0, T0 + 30 * DAY) })
      const later = notificationJws(chain, { type: "RENEWAL_EXTENDED", tx: sub("610", "611", T0, T0 + 40 * DAY) })
      expect((yield* send(later))._tag).toBe("Applied")
      const before = yield* rows("payments")
      // An older extension (delivered out of order) and the original expiry: both leave the later value.
      expect((yield* send({ type: "RENEWAL_EXTENDED", tx: sub("610", "611", T0, T0 + 35 * DAY) }))._tag).toBe("NoAction")
      expect((yield* send({ type: "RENEWAL_EXTENDED", tx: sub("610", "611", T0, T0 + 30 * DAY) }))._tag).toBe("NoAction")
      expect((yield* send(later))._tag).toBe("Duplicate")
      expect(yield* rows("payments")).toEqual(before)
      expect((yield* paymentsOf("610"))[0]!.expiry_unix_ts_ms).toBe(T0 + 40 * DAY)
    })))

  it("extends an unredeemed payment (claimable with the new expiry) and only the exact transaction", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("620", "621", T0, T0 + 30 * DAY) })
      yield* send({ type: "DID_RENEW", tx: sub("620", "622", T0 + 30 * DAY, T0 + 60 * DAY) })
      expect((yield* send({ type: "RENEWAL_EXTENDED", tx: sub("620", "622", T0 + 30 * DAY, T0 + 70 * DAY) }))._tag).toBe("Applied")
      expect((yield* paymentsOf("620")).map((x) => [x.apple_tx_id, x.status, x.expiry_unix_ts_ms])).toEqual([
        ["621", PaymentStatus.Unredeemed, T0 + 30 * DAY],
        ["622", PaymentStatus.Unredeemed, T0 + 70 * DAY]
      ])
      yield* claim("622", T0 + 31 * DAY)
      expect((yield* paymentsOf("620"))[1]!.status).toBe(PaymentStatus.Redeemed)
    })))

  it("before its purchase arrived: booked as the purchase, already extended; the late SUBSCRIBED keeps the extension", () =>
    run(Effect.gen(function*() {
      const o = yield* send({ type: "RENEWAL_EXTENDED", tx: sub("630", "631", T0, T0 + 40 * DAY) })
      expect(o._tag).toBe("Applied")
      expect((yield* paymentsOf("630"))[0]).toMatchObject({
        status: PaymentStatus.Unredeemed,
        expiry_unix_ts_ms: T0 + 40 * DAY,
        platform_refund_expiry_unix_ts_ms: T0 + 40 * DAY,
        grace_period_duration_ms: HOUR,
        auto_renewing: true
      })
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("630", "631", T0, T0 + 30 * DAY) })
      const ps = yield* paymentsOf("630")
      expect(ps.map((x) => x.expiry_unix_ts_ms)).toEqual([T0 + 40 * DAY])
    })))

  it("a revoked (refunded) payment is not brought back: NoAction, nothing changes", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("640", "641") })
      yield* claim("641", T0 + 1000)
      yield* send({ type: "REFUND", tx: { ...sub("640", "641"), revocationDate: T0 + DAY } })
      const before = { p: yield* rows("payments"), u: yield* rows("users"), r: yield* rows("revocations") }
      expect((yield* send({ type: "RENEWAL_EXTENDED", tx: sub("640", "641", T0, T0 + 50 * DAY) }))._tag).toBe("NoAction")
      expect({ p: yield* rows("payments"), u: yield* rows("users"), r: yield* rows("revocations") }).toEqual(before)
    })))

  it("without transaction info or expiresDate it fails (non-2xx) with nothing stored but the user error", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("650", "651") })
      const before = yield* rows("payments")
      const history = yield* rows("apple_notification_uuid_history")
      const noTx = yield* sendE({ type: "RENEWAL_EXTENDED" })
      expect(Either.isLeft(noTx) && noTx.left._tag).toBe("AppleProcessingError")
      const noExpiry = yield* sendE({ type: "RENEWAL_EXTENDED", tx: { ...sub("650", "651"), expires: undefined } })
      expect(Either.isLeft(noExpiry) && noExpiry.left._tag).toBe("AppleProcessingError")
      expect(yield* rows("payments")).toEqual(before)
      expect(yield* rows("apple_notification_uuid_history")).toEqual(history)
      expect((yield* rows("user_errors")).map((u: any) => u.payment_id)).toEqual(["650"])
    })))

  it("a forged RENEWAL_EXTENDED (other chain, tampered expiry) is rejected and changes nothing", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("660", "661") })
      const before = { p: yield* rows("payments"), h: yield* rows("apple_notification_uuid_history") }
      const forged = notificationJws(otherChain, { type: "RENEWAL_EXTENDED", tx: sub("660", "661", T0, T0 + 365 * DAY) })
      const r1 = yield* sendE(forged)
      expect(Either.isLeft(r1) && r1.left._tag).toBe("AppleVerificationError")
      const genuine = notificationJws(chain, { type: "RENEWAL_EXTENDED", tx: sub("660", "661", T0, T0 + 31 * DAY) })
      const r2 = yield* sendE(tamper(genuine, (c) => ({ ...c, notificationUUID: crypto.randomUUID() })))
      expect(Either.isLeft(r2) && r2.left._tag).toBe("AppleVerificationError")
      expect({ p: yield* rows("payments"), h: yield* rows("apple_notification_uuid_history") }).toEqual(before)
    })))
})

describe("Apple notifications: plan changes", () => {
  it("DID_CHANGE_RENEWAL_PREF/UPGRADE revokes the chain at the new purchaseDate and adds the new plan for the same user", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("300", "301", T0, T0 + 90 * DAY, PRODUCT_3M) })
      const master = yield* claim("301", T0 + 1000)
      const upAt = T0 + 2 * DAY
      const jws = notificationJws(chain, { type: "DID_CHANGE_RENEWAL_PREF", subtype: "UPGRADE", tx: sub("300", "302", upAt, upAt + 30 * DAY) })
      yield* send(jws)
      const ps = yield* paymentsOf("300")
      expect(ps.map((p) => [p.apple_tx_id, p.status, p.revoked_unix_ts_ms, p.plan])).toEqual([
        ["301", PaymentStatus.Revoked, upAt, ProPlan.ThreeMonth],
        ["302", PaymentStatus.Redeemed, null, ProPlan.OneMonth]
      ])
      expect(Buffer.from(ps[1]!.master_pkey!).equals(Buffer.from(master))).toBe(true)
      expect(ps[1]!.grace_period_duration_ms).toBe(HOUR)
      // The 3-month payment ran well past the upgrade day, so its proofs are revoked.
      expect((yield* (yield* Revocations).all).length).toBe(1)
      // Redelivered after the UUID history was pruned: the new payment must survive.
      yield* Effect.flatMap(Database, (db) => db.sql`DELETE FROM apple_notification_uuid_history`).pipe(Effect.orDie)
      yield* send(jws)
      expect((yield* paymentsOf("300")).map((p) => p.status)).toEqual([PaymentStatus.Revoked, PaymentStatus.Redeemed])
    })))

  it("UPGRADE of an unknown subscription fails so it is retried", () =>
    run(Effect.gen(function*() {
      const r = yield* sendE({ type: "DID_CHANGE_RENEWAL_PREF", subtype: "UPGRADE", tx: sub("310", "311") })
      expect(Either.isLeft(r)).toBe(true)
      expect(yield* rows("payments")).toEqual([])
    })))

  it("OFFER_REDEEMED (no subtype) is booked like the purchase it is (FLAG-37 fixed)", () =>
    run(Effect.gen(function*() {
      const o = yield* send({ type: "OFFER_REDEEMED", tx: sub("320", "321") })
      expect(o._tag).toBe("Applied")
      expect((yield* paymentsOf("320"))[0]).toMatchObject({ status: PaymentStatus.Unredeemed, grace_period_duration_ms: HOUR, auto_renewing: true })
    })))

  it("OFFER_REDEEMED/UPGRADE revokes and adds; OFFER_REDEEMED/DOWNGRADE is a no-op", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("330", "331", T0, T0 + 90 * DAY, PRODUCT_3M) })
      yield* send({ type: "DID_CHANGE_RENEWAL_STATUS", subtype: "AUTO_RENEW_DISABLED", tx: sub("330", "331", T0, T0 + 90 * DAY, PRODUCT_3M) })
      const up = yield* send({ type: "OFFER_REDEEMED", subtype: "UPGRADE", tx: sub("330", "332", T0 + DAY, T0 + 31 * DAY) })
      expect(up._tag).toBe("Applied")
      const ps = yield* paymentsOf("330")
      expect(ps.map((p) => [p.apple_tx_id, p.status, p.auto_renewing])).toEqual([
        ["331", PaymentStatus.Revoked, false],
        ["332", PaymentStatus.Unredeemed, true]
      ])
      const before = yield* rows("payments")
      expect((yield* send({ type: "OFFER_REDEEMED", subtype: "DOWNGRADE", tx: sub("330", "332", T0 + DAY, T0 + 31 * DAY) }))._tag).toBe("NoAction")
      expect(yield* rows("payments")).toEqual(before)
    })))
})

describe("Apple notifications: refunds", () => {
  it("REFUND revokes every payment of the original transaction id at revocationDate, with a revocation row mid-period", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("400", "401", T0, T0 + 30 * DAY) })
      yield* claim("401", T0 + 1000)
      yield* send({ type: "DID_RENEW", tx: sub("400", "402", T0 + 30 * DAY, T0 + 60 * DAY) })
      const at = T0 + 35 * DAY
      const jws = notificationJws(chain, { type: "REFUND", tx: { ...sub("400", "402", T0 + 30 * DAY, T0 + 60 * DAY), revocationDate: at } })
      yield* send(jws)
      const ps = yield* paymentsOf("400")
      expect(ps.map((p) => [p.status, p.revoked_unix_ts_ms, p.auto_renewing])).toEqual([
        [PaymentStatus.Revoked, at, false],
        [PaymentStatus.Revoked, at, false]
      ])
      expect((yield* (yield* Revocations).all).length).toBe(1)
      // Idempotent: redelivery after pruning does not revoke anything new.
      yield* Effect.flatMap(Database, (db) => db.sql`DELETE FROM apple_notification_uuid_history`).pipe(Effect.orDie)
      yield* send(jws)
      expect((yield* (yield* Revocations).all).length).toBe(1)
    })))

  it("REVOKE (family sharing) behaves like REFUND", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("410", "411") })
      yield* send({ type: "REVOKE", tx: { ...sub("410", "411"), revocationDate: T0 + DAY } })
      expect((yield* paymentsOf("410"))[0]).toMatchObject({ status: PaymentStatus.Revoked, revoked_unix_ts_ms: T0 + DAY })
    })))

  it("REFUND of a subscription never seen fails (non-2xx) and flags a user error", () =>
    run(Effect.gen(function*() {
      const r = yield* sendE({ type: "REFUND", tx: { ...sub("420", "421"), revocationDate: T0 + DAY } })
      expect(Either.isLeft(r) && r.left._tag).toBe("AppleProcessingError")
      expect((yield* rows("user_errors")).map((u: any) => u.payment_id)).toEqual(["420"])
    })))

  it("REFUND_DECLINED clears the refund-request flag (D4f)", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("430", "431") })
      yield* Effect.flatMap(Database, (db) => db.sql`UPDATE payments SET refund_requested_unix_ts_ms = ${T0 + 5}`).pipe(Effect.orDie)
      const o = yield* send({ type: "REFUND_DECLINED", tx: sub("430", "431") })
      expect(o._tag).toBe("Applied")
      expect((yield* paymentsOf("430"))[0]!.refund_requested_unix_ts_ms).toBe(0)
    })))

  it("REFUND_DECLINED for an unknown payment is a logged no-op", () =>
    run(Effect.gen(function*() {
      expect((yield* send({ type: "REFUND_DECLINED", tx: sub("440", "441") }))._tag).toBe("NoAction")
    })))

  it("REFUND_REVERSED restores the refunded payment (D4f)", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("450", "451") })
      yield* claim("451", T0 + 1000)
      yield* send({ type: "REFUND", tx: { ...sub("450", "451"), revocationDate: T0 + DAY } })
      expect((yield* paymentsOf("450"))[0]!.status).toBe(PaymentStatus.Revoked)
      const o = yield* send({ type: "REFUND_REVERSED", tx: sub("450", "451") })
      expect(o._tag).toBe("Applied")
      expect((yield* paymentsOf("450"))[0]).toMatchObject({ status: PaymentStatus.Redeemed, revoked_unix_ts_ms: null })
    })))

  it("REFUND_REVERSED of a payment never seen books it as the purchase it is", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "REFUND_REVERSED", tx: sub("460", "461") })
      expect((yield* paymentsOf("460"))[0]!.status).toBe(PaymentStatus.Unredeemed)
    })))
})

describe("Apple notifications: recorded without action (200 + log line)", () => {
  const noops: ReadonlyArray<[string, string | undefined]> = [
    ["EXPIRED", "VOLUNTARY"],
    ["EXPIRED", "BILLING_RETRY"],
    ["EXPIRED", "PRICE_INCREASE"],
    ["EXPIRED", "PRODUCT_NOT_FOR_SALE"],
    ["EXPIRED", undefined],
    ["GRACE_PERIOD_EXPIRED", undefined],
    ["PRICE_INCREASE", "PENDING"],
    ["PRICE_INCREASE", "ACCEPTED"],
    ["PRICE_CHANGE", undefined],
    ["CONSUMPTION_REQUEST", undefined],
    ["METADATA_UPDATE", undefined],
    ["MIGRATION", undefined],
    ["RESCIND_CONSENT", undefined],
    ["SOMETHING_NEW_FROM_APPLE", undefined]
  ]
  for (const [type, subtype] of noops) {
    it(`${type}${subtype ? "/" + subtype : ""}`, () =>
      run(Effect.gen(function*() {
        yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("500", "501") })
        const before = yield* rows("payments")
        const uuid = crypto.randomUUID()
        const o = yield* send({ type, ...(subtype ? { subtype } : {}), uuid, tx: sub("500", "501") })
        expect(o._tag).toBe("NoAction")
        expect(yield* rows("payments")).toEqual(before)
        expect((yield* rows("apple_notification_uuid_history")).map((h: any) => h.uuid)).toContain(uuid)
      })))
  }

  it("TEST (no transaction, no renewal info) → NoAction (D4f: 200)", () =>
    run(Effect.gen(function*() {
      expect((yield* send({ type: "TEST" }))._tag).toBe("NoAction")
    })))

  it("RENEWAL_EXTENSION/SUMMARY (summary, no data) → NoAction", () =>
    run(Effect.gen(function*() {
      const o = yield* send({
        type: "RENEWAL_EXTENSION",
        subtype: "SUMMARY",
        noData: true,
        summary: { bundleId: BUNDLE, environment: "Sandbox", appAppleId: 1470168868, productId: "x", requestIdentifier: "r", succeededCount: 1, failedCount: 0 }
      })
      expect(o._tag).toBe("NoAction")
    })))

  it("RENEWAL_EXTENSION/SUMMARY logs its no-op; RENEWAL_EXTENSION/FAILURE leaves the payment's expiry alone", async () => {
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => logs.push(Array.isArray(message) ? message.join(" ") : String(message)))
    await run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("540", "541") })
      const before = yield* rows("payments")
      const uuid = crypto.randomUUID()
      const o = yield* send({
        type: "RENEWAL_EXTENSION",
        subtype: "SUMMARY",
        uuid,
        noData: true,
        summary: { bundleId: BUNDLE, environment: "Sandbox", appAppleId: 1470168868, productId: PRODUCT_1M, requestIdentifier: "r", succeededCount: 3, failedCount: 1 }
      })
      expect(o).toMatchObject({ _tag: "NoAction", type: "RENEWAL_EXTENSION", subtype: "SUMMARY" })
      const f = yield* send({ type: "RENEWAL_EXTENSION", subtype: "FAILURE", tx: sub("540", "541") })
      expect(f._tag).toBe("NoAction")
      expect(yield* rows("payments")).toEqual(before)
      expect(logs.filter((l) => l.includes(`RENEWAL_EXTENSION/SUMMARY ${uuid}: no action needed: mass renewal-extension summary`))).toHaveLength(1)
      expect(logs.some((l) => l.includes("RENEWAL_EXTENSION/FAILURE") && l.includes("no action needed"))).toBe(true)
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))
  })

  it("EXTERNAL_PURCHASE_TOKEN (externalPurchaseToken instead of data) → NoAction", () =>
    run(Effect.gen(function*() {
      const jws = chainJws(chain, {
        notificationType: "EXTERNAL_PURCHASE_TOKEN",
        subtype: "UNREPORTED",
        notificationUUID: crypto.randomUUID(),
        signedDate: Date.now(),
        externalPurchaseToken: { externalPurchaseId: "SANDBOX_abc", tokenCreationDate: Date.now(), appAppleId: 1470168868, bundleId: BUNDLE }
      })
      expect((yield* send(jws))._tag).toBe("NoAction")
      expect(yield* rows("payments")).toEqual([])
    })))

  it("DID_CHANGE_RENEWAL_STATUS with an unexpected subtype leaves the payment alone", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("530", "531") })
      const before = yield* rows("payments")
      expect((yield* send({ type: "DID_CHANGE_RENEWAL_STATUS", subtype: "SOMETHING", tx: sub("530", "531") }))._tag).toBe("NoAction")
      expect(yield* rows("payments")).toEqual(before)
    })))

  it("ONE_TIME_CHARGE of a non-subscription product → NoAction", () =>
    run(Effect.gen(function*() {
      const o = yield* send({ type: "ONE_TIME_CHARGE", tx: { orig: "510", tx: "510", purchase: T0, type: "Consumable", product: "coins" } })
      expect(o._tag).toBe("NoAction")
      expect(yield* rows("payments")).toEqual([])
    })))

  it("ONE_TIME_CHARGE of a mapped non-renewing subscription with an expiry is booked, not auto-renewing", () =>
    run(Effect.gen(function*() {
      yield* send({ type: "ONE_TIME_CHARGE", tx: { ...sub("520", "520"), type: "Non-Renewing Subscription" } })
      expect((yield* paymentsOf("520"))[0]).toMatchObject({ status: PaymentStatus.Unredeemed, auto_renewing: false, grace_period_duration_ms: 0 })
    })))
})

describe("Apple notifications: verification (4xx, nothing stored)", () => {
  const nothingStored = Effect.gen(function*() {
    expect(yield* rows("payments")).toEqual([])
    expect(yield* rows("apple_notification_uuid_history")).toEqual([])
    expect(yield* rows("user_errors")).toEqual([])
  })
  const rejected = (jws: string, reason?: string, over: Partial<AppleConfig.AppleNotificationsConfig> = {}) =>
    run(
      Effect.gen(function*() {
        const r = yield* sendE(jws)
        expect(Either.isLeft(r) && r.left._tag).toBe("AppleVerificationError")
        if (reason && Either.isLeft(r) && r.left._tag === "AppleVerificationError") expect(r.left.reason).toBe(reason)
        yield* nothingStored
      }),
      over
    )
  const good = (): NotificationSpec => ({ type: "SUBSCRIBED", subtype: "INITIAL_BUY", tx: sub("600", "601") })

  it("tampered outer payload", () =>
    rejected(tamper(notificationJws(chain, good()), (c) => ({ ...c, notificationType: "REFUND" })), "VERIFICATION_FAILURE"))

  it("tampered inner transaction (re-signed outer impossible, so a swapped inner JWS signed by another chain)", () => {
    const foreignTx = chainJws(otherChain, txClaims({ orig: "600", tx: "601", purchase: T0, expires: T0 + DAY }, Date.now()))
    const outer = chainJws(chain, {
      notificationType: "SUBSCRIBED",
      subtype: "INITIAL_BUY",
      notificationUUID: crypto.randomUUID(),
      signedDate: Date.now(),
      data: { bundleId: BUNDLE, environment: "Sandbox", appAppleId: 1470168868, signedTransactionInfo: foreignTx }
    })
    return rejected(outer, "VERIFICATION_FAILURE")
  })

  it("tampered inner transaction payload (edited expiry)", () => {
    const tx = tamper(chainJws(chain, txClaims(sub("600", "601"), Date.now())), (c) => ({ ...c, expiresDate: c.expiresDate + 365 * DAY }))
    const outer = chainJws(chain, {
      notificationType: "SUBSCRIBED",
      subtype: "INITIAL_BUY",
      notificationUUID: crypto.randomUUID(),
      signedDate: Date.now(),
      data: { bundleId: BUNDLE, environment: "Sandbox", appAppleId: 1470168868, signedTransactionInfo: tx }
    })
    return rejected(outer, "VERIFICATION_FAILURE")
  })

  it("a chain under an untrusted root", () => rejected(notificationJws(otherChain, good()), "VERIFICATION_FAILURE"))

  it("a self-signed root presented as the whole chain", () => {
    const jws = signJws({ notificationType: "TEST", notificationUUID: crypto.randomUUID(), signedDate: Date.now() }, chain.root.key, [
      chain.root.der,
      chain.root.der,
      chain.root.der
    ])
    return rejected(jws, "VERIFICATION_FAILURE")
  })

  it("the trusted root's key signing directly (leaf = intermediate = root)", () => {
    const payload = { notificationType: "TEST", notificationUUID: crypto.randomUUID(), signedDate: Date.now(), data: { bundleId: BUNDLE, environment: "Sandbox" } }
    return rejected(signJws(payload, chain.intermediate.key, [chain.intermediate.der, chain.intermediate.der, chain.root.der]), "VERIFICATION_FAILURE")
  })

  it("an intermediate without Apple's marker OID", () => {
    const c = makeChain({ intermediateOid: false, name: "NoOid" })
    return rejected(notificationJws(c, good()), "VERIFICATION_FAILURE", { rootCertificates: [c.root.der] })
  })

  it("a leaf without Apple's marker OID", () => {
    const c = makeChain({ leafOid: false, name: "NoLeafOid" })
    return rejected(notificationJws(c, good()), "VERIFICATION_FAILURE", { rootCertificates: [c.root.der] })
  })

  // The library reports its own chain-length check as INVALID_CERTIFICATE (it rewraps inside its try).
  it("x5c with two certificates", () =>
    rejected(
      signJws({ notificationType: "TEST", notificationUUID: crypto.randomUUID(), signedDate: Date.now() }, chain.leaf.key, [chain.leaf.der, chain.intermediate.der]),
      "INVALID_CERTIFICATE"
    ))

  it("signed by a key that is not the leaf's", () =>
    rejected(
      signJws({ notificationType: "TEST", notificationUUID: crypto.randomUUID(), signedDate: Date.now(), data: { bundleId: BUNDLE, environment: "Sandbox" } }, otherChain.leaf.key, [
        chain.leaf.der,
        chain.intermediate.der,
        chain.root.der
      ]),
      "VERIFICATION_FAILURE"
    ))

  it("wrong bundle id", () => rejected(notificationJws(chain, { ...good(), bundleId: "com.evil.app" }), "INVALID_APP_IDENTIFIER"))

  it("wrong environment (production payload to a sandbox verifier)", () =>
    rejected(notificationJws(chain, { ...good(), environment: "Production" }), "INVALID_ENVIRONMENT"))

  it("wrong app id in production", () =>
    rejected(notificationJws(chain, { ...good(), environment: "Production", appAppleId: 42 }), "INVALID_APP_IDENTIFIER", {
      environment: "Production"
    }))

  it("a signedDate outside the chain's validity (offline checks use the JWS's own date)", () =>
    rejected(notificationJws(chain, { ...good(), signedDate: Date.UTC(2001, 0, 1) }), "INVALID_CERTIFICATE"))

  it("garbage", () => rejected("not.a.jws"))

  it("production notifications verify with the production verifier", () =>
    run(
      Effect.gen(function*() {
        const o = yield* send({ ...good(), environment: "Production" })
        expect(o._tag).toBe("Applied")
      }),
      { environment: "Production" }
    ))
})
