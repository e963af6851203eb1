/**
 * The Pub/Sub consumer end to end: real @google-cloud/pubsub client ↔ gRPC fake, real handler,
 * in-memory SQLite. Ack after commit, crash before commit → redelivery applied once, duplicate
 * delivery, failure → back-off nack → redelivery, and the one-consumer lease.
 */
import { GoogleNotificationHistory, Payments, UserErrors } from "@session-pro/core"
import { GooglePlayRtdn } from "../src/Google/GooglePlayRtdn.js"
import { Deferred, Effect, Fiber, Layer, ManagedRuntime } from "effect"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import {
  type ConsumerStats,
  GoogleConsumerLease,
  type GooglePubSubConsumerOptions,
  make as makeConsumer
} from "../src/Google/GooglePubSubConsumer.js"
import { AndroidPublisherFake } from "./fakes/AndroidPublisherFake.js"
import { PubSubFake } from "./fakes/PubSubFake.js"
import { googleLayer, PRODUCT, randomToken, resource, rtdnSubscription } from "./google-helpers.js"

const PROJECT = "test-project"
const SUB_NAME = "session-pro-sub"
const SUB = `projects/${PROJECT}/subscriptions/${SUB_NAME}`
const T0 = 1_760_000_000_000

let pubsub: PubSubFake
let api: AndroidPublisherFake
let rt: ManagedRuntime.ManagedRuntime<any, any>

const waitFor = async (cond: () => boolean | Promise<boolean>, ms = 10_000, what = "condition") => {
  const t0 = Date.now()
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const options = (extra: Partial<GooglePubSubConsumerOptions> = {}): GooglePubSubConsumerOptions => ({
  projectId: PROJECT,
  subscriptionName: SUB_NAME,
  apiEndpoint: pubsub.endpoint,
  retryInitial: "200 millis",
  retryMax: "1 second",
  ...extra
})

/** Starts a consumer inside the shared runtime; returns its stats and a stop function. */
const running = new Set<() => Promise<unknown>>()
const startConsumer = async (extra: Partial<GooglePubSubConsumerOptions> = {}) => {
  const ready = Deferred.unsafeMake<{ stats: Effect.Effect<ConsumerStats> }>(undefined as never)
  const fiber = rt.runFork(
    Effect.scoped(
      Effect.gen(function*() {
        const c = yield* makeConsumer(options(extra))
        yield* Deferred.succeed(ready, c)
        return yield* Effect.never
      })
    ) as Effect.Effect<never, never, never>
  )
  const c = await Effect.runPromise(Deferred.await(ready))
  const stop = () => Effect.runPromise(Fiber.interrupt(fiber))
  running.add(stop)
  return {
    stats: () => Effect.runPromise(c.stats),
    stop: () => {
      running.delete(stop)
      return stop()
    }
  }
}

const payments = (token: string) => rt.runPromise(Effect.flatMap(Payments, (p) => p.findByGoogleToken(token)) as Effect.Effect<any[], never, never>)
const hasUserError = (token: string) =>
  rt.runPromise(Effect.flatMap(UserErrors, (u) => u.has({ provider: 1, paymentId: token })) as Effect.Effect<boolean, never, never>)

beforeAll(async () => {
  pubsub = await PubSubFake.start()
  api = await AndroidPublisherFake.start()
})
afterAll(async () => {
  await pubsub.stop()
  await api.stop()
})
beforeEach(() => {
  api.reset()
  api.setBasePlans(PRODUCT, { "session-pro-1-month": { billingPeriodDuration: "P30D", gracePeriodDuration: "P2D" } })
  // One lease per runtime: every consumer started in this runtime competes for it.
  rt = ManagedRuntime.make(Layer.merge(googleLayer(api), GoogleConsumerLease.inProcess))
})
afterEach(async () => {
  // A failed test must not leave its consumer pulling into the next test.
  for (const stop of running) await stop()
  running.clear()
  await rt.dispose()
})

describe("GooglePubSubConsumer", () => {
  it("acks only after the transaction committed", async () => {
    const token = randomToken()
    api.setSubscription(token, resource({ orderId: "GPA.c1", expiryMs: T0 + 300_000 }))
    api.delays.set("purchases.subscriptionsv2.get", 300)
    const c = await startConsumer()
    let violated = false
    const id = pubsub.publish(SUB, rtdnSubscription(4, token, T0))
    await waitFor(async () => {
      const acked = pubsub.messagesOf(SUB).find((m) => m.messageId === id)?.state === "acked"
      const booked = (await payments(token)).length === 1
      if (acked && !booked) violated = true
      return acked
    }, 10_000, "ack")
    expect(violated).toBe(false)
    expect(await payments(token)).toHaveLength(1)
    expect((await c.stats()).handled).toBe(1)
    await c.stop()
  })

  it("a consumer stopped before commit leaves the message unacked; it is redelivered and applied once", async () => {
    const token = randomToken()
    api.setSubscription(token, resource({ orderId: "GPA.c2", expiryMs: T0 + 300_000 }))
    api.delays.set("purchases.subscriptionsv2.get", 2_000)
    const first = await startConsumer()
    const id = pubsub.publish(SUB, rtdnSubscription(4, token, T0))
    await waitFor(() => (api.arrived.get("purchases.subscriptionsv2.get") ?? 0) >= 1, 10_000, "handler in flight")
    await first.stop() // "crash" mid-message: before the DB transaction
    expect(await payments(token)).toHaveLength(0)
    expect(pubsub.messagesOf(SUB).find((m) => m.messageId === id)?.state).not.toBe("acked")
    expect(await hasUserError(token)).toBe(false) // an interrupted attempt is not a failure

    api.delays.clear()
    const second = await startConsumer()
    await waitFor(() => pubsub.messagesOf(SUB).find((m) => m.messageId === id)?.state === "acked", 10_000, "redelivery ack")
    expect(await payments(token)).toHaveLength(1)
    expect(pubsub.messagesOf(SUB).find((m) => m.messageId === id)!.deliveries).toBeGreaterThanOrEqual(2)
    await second.stop()
  })

  it("a duplicate delivery of a handled message is acked without re-applying it", async () => {
    const token = randomToken()
    api.setSubscription(token, resource({ orderId: "GPA.c3", expiryMs: T0 + 300_000 }))
    const c = await startConsumer()
    const id = pubsub.publish(SUB, rtdnSubscription(4, token, T0))
    await waitFor(() => pubsub.messagesOf(SUB).find((m) => m.messageId === id)?.state === "acked")
    pubsub.redeliver(SUB, id)
    await waitFor(async () => (await c.stats()).duplicates === 1, 10_000, "duplicate")
    await waitFor(() => pubsub.messagesOf(SUB).find((m) => m.messageId === id)?.state === "acked")
    expect(await payments(token)).toHaveLength(1)
    expect(api.callsOf("purchases.subscriptionsv2.get")).toHaveLength(1)
    await c.stop()
  })

  it("a failing message is nacked after back-off, redelivered and then applied; its user error is cleared", async () => {
    const token = randomToken()
    api.setSubscription(token, resource({ orderId: "GPA.c4", expiryMs: T0 + 300_000 }))
    api.failNext("purchases.subscriptionsv2.get", 2, 503)
    const c = await startConsumer()
    const id = pubsub.publish(SUB, rtdnSubscription(4, token, T0))
    await waitFor(async () => (await c.stats()).failed >= 1, 10_000, "first failure")
    expect(await hasUserError(token)).toBe(true)
    await waitFor(() => pubsub.messagesOf(SUB).find((m) => m.messageId === id)?.state === "acked", 15_000, "eventual ack")
    const s = await c.stats()
    expect(api.callsOf("purchases.subscriptionsv2.get").map((c) => c.status)).toEqual([503, 503, 200])
    expect(s.failed).toBe(2)
    expect(s.nacked).toBe(2)
    expect(s.handled).toBe(1)
    expect(await payments(token)).toHaveLength(1)
    expect(await hasUserError(token)).toBe(false)
    await c.stop()
  })

  it("only the lease holder consumes; another consumer takes over when it stops", async () => {
    const a = await startConsumer()
    await waitFor(async () => (await a.stats()).sessions === 1)
    const b = await startConsumer()
    await new Promise((r) => setTimeout(r, 300))
    expect((await b.stats()).sessions).toBe(0)
    await a.stop()
    await waitFor(async () => (await b.stats()).sessions === 1, 10_000, "take-over")
    const token = randomToken()
    api.setSubscription(token, resource({ orderId: "GPA.c5", expiryMs: T0 + 300_000 }))
    const id = pubsub.publish(SUB, rtdnSubscription(4, token, T0))
    await waitFor(() => pubsub.messagesOf(SUB).find((m) => m.messageId === id)?.state === "acked")
    expect(await payments(token)).toHaveLength(1)
    await b.stop()
  })

  it("reconnects after the server breaks the stream", async () => {
    const c = await startConsumer()
    await waitFor(() => pubsub.openStreams() > 0)
    pubsub.breakStreams()
    const token = randomToken()
    api.setSubscription(token, resource({ orderId: "GPA.c6", expiryMs: T0 + 300_000 }))
    const id = pubsub.publish(SUB, rtdnSubscription(4, token, T0))
    await waitFor(() => pubsub.messagesOf(SUB).find((m) => m.messageId === id)?.state === "acked", 20_000, "ack after reconnect")
    expect(await payments(token)).toHaveLength(1)
    await c.stop()
  })

  it("retries stored unhandled notifications (past Pub/Sub retention) at start and periodically", async () => {
    const stored = async (token: string, messageId: string) => {
      api.setSubscription(token, resource({ orderId: `GPA.${messageId}`, expiryMs: T0 + 300_000 }))
      api.failNext("purchases.subscriptionsv2.get", 1, 503)
      const o = await rt.runPromise(
        Effect.flatMap(GooglePlayRtdn, (h) => h.processMessage({ messageId, data: rtdnSubscription(4, token, T0) })) as Effect.Effect<any, never, never>
      )
      expect(o._tag).toBe("Failed")
    }
    const handled = (id: string) =>
      rt.runPromise(Effect.flatMap(GoogleNotificationHistory, (h) => h.get(id)) as Effect.Effect<{ handled: boolean } | undefined, never, never>)
    const a = randomToken()
    await stored(a, "8000000000000001")
    const c = await startConsumer({ storedRetryInterval: "300 millis" })
    await waitFor(async () => (await handled("8000000000000001"))?.handled === true, 10_000, "start-up retry")
    expect(await payments(a)).toHaveLength(1)
    const b = randomToken()
    await stored(b, "8000000000000002")
    await waitFor(async () => (await handled("8000000000000002"))?.handled === true, 10_000, "periodic retry")
    expect(await payments(b)).toHaveLength(1)
    expect(await hasUserError(b)).toBe(false)
    await c.stop()
  })
})
