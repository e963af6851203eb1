/**
 * D4c acknowledgement outbox worker against the Android Publisher fake: failing-then-succeeding
 * acknowledge with exponential back-off, user error while it fails, already-acknowledged
 * purchases, and the background loop.
 */
import { GoogleAckOutbox, UserErrors } from "@session-pro/core"
import { Duration, Effect, Layer, ManagedRuntime, TestClock, TestContext } from "effect"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import * as AndroidPublisher from "../src/Google/AndroidPublisher.js"
import * as Worker from "../src/Google/GoogleAckOutboxWorker.js"
import { AndroidPublisherFake } from "./fakes/AndroidPublisherFake.js"
import { googleLayer, PRODUCT, randomToken, resource } from "./google-helpers.js"

let fake: AndroidPublisherFake
let rt: ManagedRuntime.ManagedRuntime<any, any>

beforeAll(async () => {
  fake = await AndroidPublisherFake.start()
})
afterAll(async () => {
  await fake.stop()
})
beforeEach(() => {
  fake.reset()
  // The outbox schedules by Effect's Clock: a TestClock makes the back-off exact and load-independent.
  rt = ManagedRuntime.make(
    Worker.layerService({ backoffInitial: "10 seconds", backoffMax: "1 hour" }).pipe(
      Layer.provideMerge(googleLayer(fake)),
      Layer.provideMerge(TestContext.TestContext)
    )
  )
})
afterEach(async () => {
  await rt.dispose()
})

const run = <A>(eff: Effect.Effect<A, any, any>): Promise<A> => rt.runPromise(eff as Effect.Effect<A, never, never>)
const enqueue = (token: string) =>
  run(Effect.flatMap(GoogleAckOutbox, (o) => o.enqueue({ purchaseToken: token, orderId: `GPA.${token}` })))
const runOnce = () => run(Effect.flatMap(Worker.GoogleAckOutboxWorker, (w) => w.runOnce))
const entries = () => run(Effect.flatMap(GoogleAckOutbox, (o) => o.all))
const hasUserError = (token: string) => run(Effect.flatMap(UserErrors, (u) => u.has({ provider: 1, paymentId: token })))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const advance = (ms: number) => run(TestClock.adjust(ms))
const now = () => run(TestClock.currentTimeMillis)

describe("Google acknowledgement outbox worker", () => {
  it("backoffAfter doubles from the initial delay up to the cap", () => {
    const d = (n: number) => Duration.toMillis(Worker.backoffAfter(n, Duration.seconds(10), Duration.hours(1)))
    expect([1, 2, 3, 4, 9, 10, 50].map(d)).toEqual([10_000, 20_000, 40_000, 80_000, 2_560_000, 3_600_000, 3_600_000])
  })

  it("retries a failing acknowledge with back-off until Google accepts it", async () => {
    const token = randomToken()
    fake.setSubscription(token, resource({ orderId: `GPA.${token}`, expiryMs: 1_760_000_300_000 }))
    fake.failNext("purchases.subscriptions.acknowledge", 2, 503)
    expect(await enqueue(token)).toBe(true)
    expect(await enqueue(token)).toBe(false) // idempotent per token + order

    expect(await runOnce()).toEqual({ acknowledged: 0, alreadyAcknowledged: 0, failed: 1 })
    let [e] = await entries()
    expect(e.attempts).toBe(1)
    expect(e.lastError).toContain("503")
    expect(e.doneUnixTsMs).toBeNull()
    expect(await hasUserError(token)).toBe(true)
    expect(e.nextAttemptUnixTsMs - (await now())).toBe(10_000)
    // Not due yet: nothing happens before the back-off elapses.
    await advance(9_999)
    expect(await runOnce()).toEqual({ acknowledged: 0, alreadyAcknowledged: 0, failed: 0 })

    await advance(1)
    expect(await runOnce()).toEqual({ acknowledged: 0, alreadyAcknowledged: 0, failed: 1 })
    ;[e] = await entries()
    expect(e.attempts).toBe(2)
    expect(e.nextAttemptUnixTsMs - (await now())).toBe(20_000) // doubled

    await advance(20_000)
    expect(await runOnce()).toEqual({ acknowledged: 1, alreadyAcknowledged: 0, failed: 0 })
    ;[e] = await entries()
    expect(e.doneUnixTsMs).not.toBeNull()
    expect(await hasUserError(token)).toBe(false)
    const acks = fake.callsOf("purchases.subscriptions.acknowledge")
    expect(acks.map((c) => c.status)).toEqual([503, 503, 200])
    expect(acks[2]).toMatchObject({ purchaseToken: token, subscriptionId: PRODUCT }) // quirk 11 fixed
    expect(await runOnce()).toEqual({ acknowledged: 0, alreadyAcknowledged: 0, failed: 0 })
  })

  it("skips the acknowledge call when Google already shows the purchase acknowledged", async () => {
    const token = randomToken()
    fake.setSubscription(token, resource({ orderId: `GPA.${token}`, expiryMs: 1_760_000_300_000, ack: "ACKNOWLEDGED" }))
    await enqueue(token)
    expect(await runOnce()).toEqual({ acknowledged: 0, alreadyAcknowledged: 1, failed: 0 })
    expect(fake.callsOf("purchases.subscriptions.acknowledge")).toHaveLength(0)
  })

  it("a failing subscriptionsv2 read counts as a failed attempt", async () => {
    const token = randomToken()
    await enqueue(token) // the fake does not know the token → 404
    expect(await runOnce()).toEqual({ acknowledged: 0, alreadyAcknowledged: 0, failed: 1 })
    expect((await entries())[0].lastError).toContain("404")
  })

  it("the layer's background loop drains the outbox", async () => {
    const token = randomToken()
    fake.setSubscription(token, resource({ orderId: `GPA.${token}`, expiryMs: 1_760_000_300_000 }))
    const loop = ManagedRuntime.make(
      Worker.layer({ pollInterval: "50 millis" }).pipe(Layer.provideMerge(googleLayer(fake)))
    )
    await loop.runPromise(
      Effect.flatMap(GoogleAckOutbox, (o) => o.enqueue({ purchaseToken: token })) as Effect.Effect<boolean, never, never>
    )
    const t0 = Date.now()
    while (fake.callsOf("purchases.subscriptions.acknowledge").length === 0 && Date.now() - t0 < 5_000) await sleep(20)
    expect(fake.callsOf("purchases.subscriptions.acknowledge")).toHaveLength(1)
    await loop.dispose()
  })

  it("AndroidPublisher.layerConfig reads its options from Config", async () => {
    const { ConfigProvider } = await import("effect")
    const { Config } = await import("effect")
    const layer = AndroidPublisher.layerConfig({
      packageName: Config.string("PKG"),
      subscriptionProductId: Config.string("PRODUCT"),
      apiRoot: Config.string("ROOT")
    }).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["PKG", "p"], ["PRODUCT", "s"], ["ROOT", fake.apiRoot]])))))
    const opts = await Effect.runPromise(Effect.map(AndroidPublisher.AndroidPublisher, (p) => p.options).pipe(Effect.provide(layer)))
    expect(opts).toMatchObject({ packageName: "p", subscriptionProductId: "s", apiRoot: fake.apiRoot })
  })
})

describe("AndroidPublisher client", () => {
  it("sends the auth client's headers and decodes answers with Schema", async () => {
    const token = randomToken()
    fake.setSubscription(token, resource({ orderId: "GPA.auth", expiryMs: 1_760_000_300_000 }))
    const calls: Array<string | undefined> = []
    const layer = AndroidPublisher.layer({
      packageName: "network.loki.messenger",
      subscriptionProductId: PRODUCT,
      apiRoot: fake.apiRoot,
      authClient: {
        getRequestHeaders: async (url?: string) => {
          calls.push(url)
          return new Headers({ authorization: "Bearer test-token" })
        }
      }
    })
    const sub = await Effect.runPromise(
      Effect.flatMap(AndroidPublisher.AndroidPublisher, (p) => p.getSubscriptionV2(token)).pipe(Effect.provide(layer))
    )
    expect(sub.lineItems[0].latestSuccessfulOrderId).toBe("GPA.auth")
    expect(typeof sub.lineItems[0].expiryTime).toBe("number")
    expect(fake.calls.at(-1)?.authorization).toBe("Bearer test-token")
    expect(calls[0]).toContain("/purchases/subscriptionsv2/tokens/")
  })

  it("retries transient read failures (5xx, 429) but not 4xx", async () => {
    const layer = AndroidPublisher.layer({ packageName: "network.loki.messenger", subscriptionProductId: PRODUCT, apiRoot: fake.apiRoot })
    const token = randomToken()
    fake.setSubscription(token, resource({ orderId: "GPA.retry", expiryMs: 1_760_000_300_000 }))
    fake.failNext("purchases.subscriptionsv2.get", 1, 503)
    fake.failNext("purchases.subscriptionsv2.get", 1, 429)
    const get = (t: string) =>
      Effect.runPromise(Effect.flatMap(AndroidPublisher.AndroidPublisher, (p) => Effect.either(p.getSubscriptionV2(t))).pipe(Effect.provide(layer)))
    expect((await get(token))._tag).toBe("Right")
    expect(fake.callsOf("purchases.subscriptionsv2.get").map((c) => c.status)).toEqual([503, 429, 200])
    expect((await get("unknown"))._tag).toBe("Left")
    expect(fake.callsOf("purchases.subscriptionsv2.get").map((c) => c.status)).toEqual([503, 429, 200, 404])
  })

  it("maps HTTP errors, bad bodies and unknown base plans to AndroidPublisherError", async () => {
    const layer = AndroidPublisher.layer({
      packageName: "network.loki.messenger",
      subscriptionProductId: PRODUCT,
      apiRoot: fake.apiRoot,
      transientRetries: 0
    })
    const token = randomToken()
    fake.setSubscription(token, { kind: "androidpublisher#somethingElse" })
    fake.setBasePlans(PRODUCT, { "session-pro-1-month": { gracePeriodDuration: "P2D" } })
    const errors = await Effect.runPromise(
      Effect.gen(function*() {
        const p = yield* AndroidPublisher.AndroidPublisher
        return [
          yield* Effect.flip(p.getSubscriptionV2("missing")),
          yield* Effect.flip(p.getSubscriptionV2(token)),
          yield* Effect.flip(p.getBasePlan("session-pro-7-years"))
        ]
      }).pipe(Effect.provide(layer))
    )
    expect(errors.map((e) => e._tag)).toEqual(["AndroidPublisherError", "AndroidPublisherError", "AndroidPublisherError"])
    expect(errors[0].status).toBe(404)
    expect(errors[1].message).toContain("unexpected answer")
    expect(errors[2].message).toContain("base plan session-pro-7-years not found")
  })
})
