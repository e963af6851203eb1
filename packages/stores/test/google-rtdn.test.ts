/**
 * The RTDN handler against a real (in-memory SQLite) backend and the Android Publisher fake:
 * every notification type of stores.md §3.5 / §4, voided / test / one-time notifications, parse
 * rejections, the Pub/Sub frame (dedupe by message id, history row, user errors outside the
 * rolled-back transaction) and the stored-payload retry.
 */
import { GoogleNotificationHistory, PaymentStatus, Payments, ProPlan, UserErrors } from "@session-pro/core"
import { Effect, Either, ManagedRuntime } from "effect"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { GooglePlayRtdn, type MessageOutcome } from "../src/Google/GooglePlayRtdn.js"
import { AndroidPublisherFake } from "./fakes/AndroidPublisherFake.js"
import { googleLayer, PACKAGE, PRODUCT, randomToken, resource, rtdnSubscription, rtdnTest, rtdnVoided } from "./google-helpers.js"

const T0 = 1_759_723_091_078 // 2025-10-06T03:58:11Z, as the first recorded purchase
const MIN5 = 300_000

let fake: AndroidPublisherFake
let rt: ManagedRuntime.ManagedRuntime<any, any>
let msgSeq = 1

beforeAll(async () => {
  fake = await AndroidPublisherFake.start()
})
afterAll(async () => {
  await fake.stop()
})
beforeEach(() => {
  fake.reset()
  fake.setBasePlans(PRODUCT, {
    "session-pro-1-month": { billingPeriodDuration: "P30D", gracePeriodDuration: "P2D" },
    "session-pro-3-months": { billingPeriodDuration: "P3M", gracePeriodDuration: "P7D" }
  })
  rt = ManagedRuntime.make(googleLayer(fake))
})
afterEach(async () => {
  await rt.dispose()
})

const run = <A, E>(eff: Effect.Effect<A, E, any>): Promise<A> => rt.runPromise(eff as Effect.Effect<A, E, never>)

/** Feeds one RTDN through the full Pub/Sub frame. */
const deliver = (data: string, messageId = String(1000 + msgSeq++)): Promise<MessageOutcome> =>
  run(Effect.flatMap(GooglePlayRtdn, (h) => h.processMessage({ messageId, data })))

const payments = (token: string) => run(Effect.flatMap(Payments, (p) => p.findByGoogleToken(token)))
const hasUserError = (token: string) => run(Effect.flatMap(UserErrors, (u) => u.has({ provider: 1, paymentId: token })))
const historyOf = (id: string) => run(Effect.flatMap(GoogleNotificationHistory, (h) => h.get(id)))

/** PURCHASED for a fresh token; returns the token. */
const purchase = async (opts: { orderId?: string; expiryMs?: number; basePlanId?: string; linked?: string } = {}) => {
  const token = randomToken()
  fake.setSubscription(
    token,
    resource({
      orderId: opts.orderId ?? `GPA.${token}`,
      expiryMs: opts.expiryMs ?? T0 + MIN5,
      ...(opts.basePlanId ? { basePlanId: opts.basePlanId } : {}),
      ...(opts.linked ? { linkedPurchaseToken: opts.linked } : {})
    })
  )
  const o = await deliver(rtdnSubscription(4, token, T0))
  expect(o._tag).toBe("Handled")
  return token
}

describe("subscription notifications (§3.5)", () => {
  it("4 PURCHASED: unredeemed payment, plan from base plan, refund window, default (testing) grace", async () => {
    const token = await purchase({ orderId: "GPA.1", basePlanId: "session-pro-3-months" })
    const [p] = await payments(token)
    expect(p.status).toBe(PaymentStatus.Unredeemed)
    expect(p.plan).toBe(ProPlan.ThreeMonth)
    expect(p.google_order_id).toBe("GPA.1")
    expect(p.unredeemed_unix_ts_ms).toBe(T0)
    expect(p.expiry_unix_ts_ms).toBe(T0 + MIN5)
    expect(p.platform_refund_expiry_unix_ts_ms).toBe(T0 + 2 * 86_400_000)
    expect(p.grace_period_duration_ms).toBe(10_000)
    expect(p.auto_renewing).toBe(true)
    expect(Buffer.from(p.google_obfuscated_account_id!).toString("hex")).toBe(
      "34750f98bd59fcfc946da45aaabe933be154a4b5094e1c4abf42866505f3c97e"
    )
    expect(fake.callsOf("purchases.subscriptionsv2.get")[0]).toMatchObject({ packageName: PACKAGE, purchaseToken: token })
  })

  it("4 PURCHASED with linkedPurchaseToken revokes the old token at the event time", async () => {
    const old = await purchase({ orderId: "GPA.old" })
    const next = randomToken()
    fake.setSubscription(next, resource({ orderId: "GPA.new", expiryMs: T0 + 2 * MIN5, linkedPurchaseToken: old, basePlanId: "session-pro-3-months" }))
    expect((await deliver(rtdnSubscription(4, next, T0 + 1000)))._tag).toBe("Handled")
    const [o] = await payments(old)
    expect(o.status).toBe(PaymentStatus.Revoked)
    expect(o.revoked_unix_ts_ms).toBe(T0 + 1000)
    expect((await payments(next))[0].status).toBe(PaymentStatus.Unredeemed)
  })

  it("4 PURCHASED already acknowledged: error when never booked, no-op when booked", async () => {
    const token = randomToken()
    fake.setSubscription(token, resource({ orderId: "GPA.a", expiryMs: T0 + MIN5, ack: "ACKNOWLEDGED" }))
    expect((await deliver(rtdnSubscription(4, token, T0)))._tag).toBe("Failed")
    expect(await payments(token)).toHaveLength(0)
    const booked = await purchase({ orderId: "GPA.b" })
    fake.setSubscription(booked, resource({ orderId: "GPA.b", expiryMs: T0 + MIN5, ack: "ACKNOWLEDGED" }))
    expect((await deliver(rtdnSubscription(4, booked, T0)))._tag).toBe("Handled")
  })

  it("4 PURCHASED: bad obfuscated account id, unknown base plan, prepaid plan, missing order id all fail", async () => {
    const cases = [
      resource({ orderId: "GPA.x", expiryMs: T0 + MIN5, account: "zz" }),
      resource({ orderId: "GPA.x", expiryMs: T0 + MIN5, basePlanId: "session-pro-2-weeks" }),
      resource({ orderId: "GPA.x", expiryMs: T0 + MIN5, prepaid: true }),
      resource({ orderId: undefined, expiryMs: T0 + MIN5 })
    ]
    for (const r of cases) {
      const token = randomToken()
      fake.setSubscription(token, r)
      expect((await deliver(rtdnSubscription(4, token, T0)))._tag).toBe("Failed")
      expect(await payments(token)).toHaveLength(0)
      expect(await hasUserError(token)).toBe(true)
    }
  })

  it("2 RENEWED and 1 RECOVERED add the new order (idempotent), with default grace", async () => {
    const token = await purchase({ orderId: "GPA.r" })
    fake.setSubscription(token, resource({ orderId: "GPA.r..0", expiryMs: T0 + 2 * MIN5 }))
    expect((await deliver(rtdnSubscription(2, token, T0 + MIN5)))._tag).toBe("Handled")
    expect((await deliver(rtdnSubscription(2, token, T0 + MIN5)))._tag).toBe("Handled") // different message id, same order
    fake.setSubscription(token, resource({ orderId: "GPA.r..1", expiryMs: T0 + 3 * MIN5 }))
    expect((await deliver(rtdnSubscription(1, token, T0 + 2 * MIN5)))._tag).toBe("Handled")
    const rows = await payments(token)
    expect(rows.map((r) => r.google_order_id)).toEqual(["GPA.r", "GPA.r..0", "GPA.r..1"])
    expect(rows.every((r) => r.grace_period_duration_ms === 10_000)).toBe(true)
  })

  it("6 IN_GRACE_PERIOD: base-plan grace from the monetization API on the last paid order (cached)", async () => {
    const token = await purchase({ orderId: "GPA.g" })
    fake.setSubscription(token, resource({ orderId: "GPA.g", expiryMs: T0 + MIN5, state: "IN_GRACE_PERIOD" }))
    expect((await deliver(rtdnSubscription(6, token, T0 + MIN5)))._tag).toBe("Handled")
    expect((await deliver(rtdnSubscription(6, token, T0 + MIN5 + 1)))._tag).toBe("Handled")
    expect((await payments(token))[0].grace_period_duration_ms).toBe(2 * 86_400_000)
    expect(fake.callsOf("monetization.subscriptions.get")).toHaveLength(1)
    expect(fake.callsOf("monetization.subscriptions.get")[0].productId).toBe(PRODUCT)
  })

  it("6 IN_GRACE_PERIOD: a failing monetization lookup fails the message and is not cached", async () => {
    const token = await purchase({ orderId: "GPA.gf" })
    fake.setSubscription(token, resource({ orderId: "GPA.gf", expiryMs: T0 + MIN5, state: "IN_GRACE_PERIOD" }))
    fake.failNext("monetization.subscriptions.get", 1, 500)
    expect((await deliver(rtdnSubscription(6, token, T0 + MIN5)))._tag).toBe("Failed")
    expect((await deliver(rtdnSubscription(6, token, T0 + MIN5)))._tag).toBe("Handled")
    expect((await payments(token))[0].grace_period_duration_ms).toBe(2 * 86_400_000)
  })

  it("3 CANCELED turns auto-renew off (grace kept), 7 RESTARTED turns it back on", async () => {
    const token = await purchase({ orderId: "GPA.c" })
    fake.setSubscription(token, resource({ orderId: "GPA.c", expiryMs: T0 + MIN5, state: "CANCELED" }))
    expect((await deliver(rtdnSubscription(3, token, T0 + 10)))._tag).toBe("Handled")
    let [p] = await payments(token)
    expect(p.auto_renewing).toBe(false)
    expect(p.grace_period_duration_ms).toBe(10_000)
    fake.setSubscription(token, resource({ orderId: "GPA.c", expiryMs: T0 + MIN5, state: "ACTIVE" }))
    expect((await deliver(rtdnSubscription(7, token, T0 + 20)))._tag).toBe("Handled")
    ;[p] = await payments(token)
    expect(p.auto_renewing).toBe(true)
    // CANCELED also applies in state EXPIRED
    fake.setSubscription(token, resource({ orderId: "GPA.c", expiryMs: T0 + MIN5, state: "EXPIRED" }))
    expect((await deliver(rtdnSubscription(3, token, T0 + 30)))._tag).toBe("Handled")
    expect((await payments(token))[0].auto_renewing).toBe(false)
  })

  it("12 REVOKED revokes every payment of the token at the event time", async () => {
    const token = await purchase({ orderId: "GPA.v" })
    fake.setSubscription(token, resource({ orderId: "GPA.v..0", expiryMs: T0 + 2 * MIN5 }))
    await deliver(rtdnSubscription(2, token, T0 + MIN5))
    fake.setSubscription(token, resource({ orderId: "GPA.v..0", expiryMs: T0 + 2 * MIN5, state: "EXPIRED" }))
    expect((await deliver(rtdnSubscription(12, token, T0 + MIN5 + 5)))._tag).toBe("Handled")
    const rows = await payments(token)
    expect(rows.map((r) => [r.status, r.revoked_unix_ts_ms, r.auto_renewing])).toEqual([
      [PaymentStatus.Revoked, T0 + MIN5 + 5, false],
      [PaymentStatus.Revoked, T0 + MIN5 + 5, false]
    ])
  })

  for (const [type, state] of [[13, "EXPIRED"], [5, "ON_HOLD"]] as const) {
    it(`${type} ${state}: lapsed payment untouched; over-entitled payment revoked (10 s testing buckets)`, async () => {
      const lapsed = await purchase({ orderId: "GPA.l", expiryMs: T0 + MIN5 })
      fake.setSubscription(lapsed, resource({ orderId: "GPA.l", expiryMs: T0 + MIN5, state }))
      expect((await deliver(rtdnSubscription(type, lapsed, T0 + MIN5 + 2)))._tag).toBe("Handled")
      expect((await payments(lapsed))[0].status).toBe(PaymentStatus.Unredeemed)

      const over = await purchase({ orderId: "GPA.o", expiryMs: T0 + MIN5 })
      fake.setSubscription(over, resource({ orderId: "GPA.o", expiryMs: T0 + MIN5, state }))
      expect((await deliver(rtdnSubscription(type, over, T0 + 60_000)))._tag).toBe("Handled")
      const [p] = await payments(over)
      expect(p.status).toBe(PaymentStatus.Revoked)
      expect(p.revoked_unix_ts_ms).toBe(T0 + 60_000)
    })
  }

  it("13 EXPIRED for an order never booked fails (retried later)", async () => {
    const token = randomToken()
    fake.setSubscription(token, resource({ orderId: "GPA.none", expiryMs: T0 + MIN5, state: "EXPIRED" }))
    expect((await deliver(rtdnSubscription(13, token, T0 + MIN5)))._tag).toBe("Failed")
    expect(await hasUserError(token)).toBe(true)
  })

  it("9 DEFERRED, 10 PAUSED, 11 PAUSE_SCHEDULE_CHANGED fail (unsupported)", async () => {
    const token = await purchase({ orderId: "GPA.p" })
    for (const type of [9, 10, 11]) {
      const o = await deliver(rtdnSubscription(type, token, T0 + 1))
      expect(o._tag).toBe("Failed")
    }
    expect(await hasUserError(token)).toBe(true)
  })

  it("8, 19, 20, 22 are handled no-ops (the resource must still parse)", async () => {
    const token = await purchase({ orderId: "GPA.n" })
    const before = await payments(token)
    for (const type of [8, 19, 20, 22]) expect((await deliver(rtdnSubscription(type, token, T0 + 1)))._tag).toBe("Handled")
    expect(await payments(token)).toEqual(before)
    fake.setSubscription(token, resource({ orderId: undefined, expiryMs: T0 + MIN5 }))
    expect((await deliver(rtdnSubscription(20, token, T0 + 2)))._tag).toBe("Failed")
  })

  it("a state that does not match the type is a handled no-op", async () => {
    const token = await purchase({ orderId: "GPA.s" })
    fake.setSubscription(token, resource({ orderId: "GPA.s", expiryMs: T0 + MIN5, state: "ACTIVE" }))
    expect((await deliver(rtdnSubscription(12, token, T0 + 1)))._tag).toBe("Handled") // REVOKED needs EXPIRED
    expect((await deliver(rtdnSubscription(3, token, T0 + 1)))._tag).toBe("Handled") // CANCELED needs CANCELED/EXPIRED
    const [p] = await payments(token)
    expect(p.status).toBe(PaymentStatus.Unredeemed)
    expect(p.auto_renewing).toBe(true)
  })

  it("subscriptionsv2.get failure fails the message (nothing applied) and records a user error", async () => {
    const token = randomToken()
    fake.setSubscription(token, resource({ orderId: "GPA.f", expiryMs: T0 + MIN5 }))
    fake.failNext("purchases.subscriptionsv2.get", 1, 503)
    expect((await deliver(rtdnSubscription(4, token, T0)))._tag).toBe("Failed")
    expect(await payments(token)).toHaveLength(0)
    expect(await hasUserError(token)).toBe(true)
  })
})

describe("other notification kinds", () => {
  it("voided subscription order (D4f): current period revoked; unknown order and one-time product are no-ops", async () => {
    const token = await purchase({ orderId: "GPA.void" })
    expect((await deliver(rtdnVoided(token, "GPA.unknown", T0 + 5)))._tag).toBe("Handled")
    expect((await payments(token))[0].status).toBe(PaymentStatus.Unredeemed)
    expect((await deliver(rtdnVoided(token, "GPA.void", T0 + 5, 2)))._tag).toBe("Handled")
    expect((await payments(token))[0].status).toBe(PaymentStatus.Unredeemed)
    expect((await deliver(rtdnVoided(token, "GPA.void", T0 + 6)))._tag).toBe("Handled")
    const [p] = await payments(token)
    expect(p.status).toBe(PaymentStatus.Revoked)
    expect(p.revoked_unix_ts_ms).toBe(T0 + 6)
    expect(fake.callsOf("purchases.subscriptionsv2.get")).toHaveLength(1) // voided needs no API read
  })

  it("voided order of an older period leaves the chain alone", async () => {
    const token = await purchase({ orderId: "GPA.vo" })
    fake.setSubscription(token, resource({ orderId: "GPA.vo..0", expiryMs: T0 + 2 * MIN5 }))
    await deliver(rtdnSubscription(2, token, T0 + MIN5))
    expect((await deliver(rtdnVoided(token, "GPA.vo", T0 + MIN5 + 1)))._tag).toBe("Handled")
    expect((await payments(token)).map((r) => r.status)).toEqual([PaymentStatus.Unredeemed, PaymentStatus.Unredeemed])
  })

  it("test and one-time product notifications are handled no-ops", async () => {
    expect((await deliver(rtdnTest(T0)))._tag).toBe("Handled")
    const oneTime = JSON.stringify({
      version: "1.0",
      packageName: PACKAGE,
      eventTimeMillis: String(T0),
      oneTimeProductNotification: { version: "1.0", notificationType: 1, purchaseToken: "x", sku: "y" }
    })
    expect((await deliver(oneTime))._tag).toBe("Handled")
    expect(fake.calls).toHaveLength(0)
  })

  it("rejects malformed messages (discarded: not stored, not acked)", async () => {
    const bad = [
      "not json",
      rtdnSubscription(4, "t", T0, "com.other.app"),
      rtdnSubscription(14, "t", T0),
      rtdnSubscription(21, "t", T0),
      JSON.stringify({ version: "1.0", packageName: PACKAGE, eventTimeMillis: String(T0) }),
      JSON.stringify({ version: "1.0", packageName: PACKAGE, eventTimeMillis: "soon", testNotification: {} }),
      JSON.stringify({
        version: "1.0",
        packageName: PACKAGE,
        eventTimeMillis: String(T0),
        testNotification: {},
        voidedPurchaseNotification: { purchaseToken: "t", orderId: "o", productType: 1, refundType: 1 }
      })
    ]
    for (const data of bad) {
      const id = String(5000 + msgSeq++)
      expect((await deliver(data, id))._tag).toBe("Discarded")
      expect(await historyOf(id)).toBeUndefined()
    }
    const parsed = await run(Effect.map(GooglePlayRtdn, (h) => h.parse(rtdnSubscription(4, "tok", T0))))
    expect(Either.isRight(parsed)).toBe(true)
  })
})

describe("Pub/Sub frame: history, dedupe, user errors", () => {
  it("a handled message is recorded handled and a second delivery of the same id is a duplicate", async () => {
    const token = randomToken()
    fake.setSubscription(token, resource({ orderId: "GPA.d", expiryMs: T0 + MIN5 }))
    const data = rtdnSubscription(4, token, T0)
    expect((await deliver(data, "777000111222333444"))._tag).toBe("Handled")
    expect(await historyOf("777000111222333444")).toEqual({ handled: true })
    expect((await deliver(data, "777000111222333444"))._tag).toBe("Duplicate")
    expect(await payments(token)).toHaveLength(1)
    expect(fake.callsOf("purchases.subscriptionsv2.get")).toHaveLength(1)
  })

  it("failure: effects rolled back, history row kept unhandled with payload, user error written; success later clears both", async () => {
    const token = randomToken()
    fake.setSubscription(token, resource({ orderId: "GPA.e", expiryMs: T0 + MIN5 }))
    // The linked token does not exist yet → revokeChain fails after nothing else was written.
    fake.setSubscription(token, resource({ orderId: "GPA.e", expiryMs: T0 + MIN5, linkedPurchaseToken: "missing-token" }))
    const id = "9000000000000001"
    expect((await deliver(rtdnSubscription(4, token, T0), id))._tag).toBe("Failed")
    expect(await payments(token)).toHaveLength(0)
    expect(await historyOf(id)).toEqual({ handled: false })
    expect(await hasUserError(token)).toBe(true)
    const stored = await run(Effect.flatMap(GoogleNotificationHistory, (h) => h.unhandled()))
    expect(stored.find((r) => r.messageId === id)?.payload).toContain(Buffer.from(rtdnSubscription(4, token, T0)).toString("base64"))

    // Google fixes its side; the stored payload is retried (start-up catch-up) and applied once.
    fake.setSubscription(token, resource({ orderId: "GPA.e", expiryMs: T0 + MIN5 }))
    const r = await run(Effect.flatMap(GooglePlayRtdn, (h) => h.retryUnhandled))
    expect(r).toEqual({ handled: 1, failed: 0 })
    expect(await historyOf(id)).toEqual({ handled: true })
    expect(await hasUserError(token)).toBe(false)
    expect(await payments(token)).toHaveLength(1)
    expect((await deliver(rtdnSubscription(4, token, T0), id))._tag).toBe("Duplicate")
  })

  it("handle() (no history) is what the fixture replay uses", async () => {
    const token = randomToken()
    fake.setSubscription(token, resource({ orderId: "GPA.h", expiryMs: T0 + MIN5 }))
    const r = await run(
      Effect.flatMap(GooglePlayRtdn, (h) => Effect.flatMap(h.parse(rtdnSubscription(4, token, T0)), h.handle))
    )
    expect(r.action).toContain("PURCHASED")
    expect(await payments(token)).toHaveLength(1)
  })
})
