/**
 * Google crash safety through the real consumer: @google-cloud/pubsub ↔ the gRPC Pub/Sub fake,
 * the RTDN handler against the Android Publisher fake, on a SQLite file. The consumer's runtime
 * is torn down in the middle of a burst (its gRPC streams broken at the same moment, so acks in
 * flight are lost), then a new runtime opens the same file. Checked right after the crash: every
 * message the fake saw acknowledged has its payment on disk (ack only after commit). After the
 * restart: every message is eventually acknowledged, each purchase booked exactly once.
 */
import { Backend } from "@session-pro/core"
import { Deferred, Effect, Fiber, Layer, ManagedRuntime } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { openSqlite } from "../../../http/src/Workers/SqliteFile.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as AndroidPublisher from "../../src/Google/AndroidPublisher.js"
import * as GooglePlayRtdn from "../../src/Google/GooglePlayRtdn.js"
import { GoogleConsumerLease, make as makeConsumer } from "../../src/Google/GooglePubSubConsumer.js"
import { AndroidPublisherFake } from "../fakes/AndroidPublisherFake.js"
import { PubSubFake } from "../fakes/PubSubFake.js"
import { PACKAGE, PRODUCT, resource, rtdnSubscription } from "../google-helpers.js"
import * as Logging from "../../../http/src/Observability/Logging.js"
import { WebhookSink } from "../../../http/src/Observability/Webhooks.js"
import * as nodeCrypto from "node:crypto"

const SCALE = Number(process.env.PRO_RELIABILITY_SCALE ?? 1)
const PROJECT = "test-project"
const SUB_NAME = "session-pro-sub"
const SUB = `projects/${PROJECT}/subscriptions/${SUB_NAME}`
const T0 = 1_760_000_000_000

let pubsub: PubSubFake
let api: AndroidPublisherFake
beforeAll(async () => {
  pubsub = await PubSubFake.start()
  api = await AndroidPublisherFake.start()
  api.setBasePlans(PRODUCT, { "session-pro-1-month": { billingPeriodDuration: "P30D", gracePeriodDuration: "P2D" } })
})
afterAll(async () => {
  await pubsub?.stop()
  await api?.stop()
})

const logLines: Array<string> = []
/** Shaped like real ones: a ~150-char purchase token, a GPA order id. */
const realisticToken = () => `${nodeCrypto.randomBytes(12).toString("hex")}.AO-J1O${nodeCrypto.randomBytes(96).toString("base64url")}`
const orderId = (i: number) => `GPA.${String(3300 + i).padStart(4, "0")}-3745-5570-${String(25000 + i).padStart(5, "0")}`

const waitFor = async (cond: () => boolean, ms: number, what: string) => {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const layerFor = (file: string) => {
  const backend = Backend.layerSqlite(file, { platformTestingEnv: true }, { salt: new Uint8Array(16), backendSeed: new Uint8Array(32).fill(9) })
  const publisher = AndroidPublisher.layer({ packageName: PACKAGE, subscriptionProductId: PRODUCT, apiRoot: api.apiRoot })
  const rtdn = GooglePlayRtdn.layer({ packageName: PACKAGE }).pipe(Layer.provideMerge(publisher))
  // the server's logger, unsafe_logging off, captured: no token or order id may show in full
  const logger = Logging.layer({ unsafeLogging: false, stdout: (l) => void logLines.push(l) }).pipe(Layer.provide(WebhookSink.none))
  return Layer.mergeAll(rtdn.pipe(Layer.provideMerge(backend)), GoogleConsumerLease.inProcess, logger)
}

/** A runtime on `file` with a consumer pulling; `crash` tears it down without a graceful stop. */
const startConsumer = async (file: string) => {
  const rt = ManagedRuntime.make(layerFor(file))
  const ready = Deferred.unsafeMake<void>(undefined as never)
  const fiber = rt.runFork(Effect.scoped(Effect.gen(function*() {
    yield* makeConsumer({ projectId: PROJECT, subscriptionName: SUB_NAME, apiEndpoint: pubsub.endpoint, retryInitial: "100 millis", retryMax: "500 millis" })
    yield* Deferred.succeed(ready, undefined)
    return yield* Effect.never
  })) as Effect.Effect<never, never, never>)
  await Effect.runPromise(Deferred.await(ready))
  return {
    crash: async () => {
      pubsub.breakStreams()
      await Promise.all([Effect.runPromise(Fiber.interrupt(fiber)), rt.dispose()])
    }
  }
}

const bookedTokens = (file: string): Map<string, number> => {
  const db = openSqlite(file, { readonly: true })
  try {
    const rows = db.prepare("SELECT google_payment_token AS t, COUNT(*) AS n FROM payments WHERE payment_provider = 1 GROUP BY t").all() as Array<{ t: string; n: number }>
    expect(db.prepare("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }])
    return new Map(rows.map((r) => [r.t, r.n]))
  } finally {
    db.close()
  }
}

describe("Google: consumer crash mid-burst, restart on the same file", () => {
  it(`no acknowledged message is lost; all ${60 * SCALE} are booked exactly once after the restart`, async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "google-crash-")), "pro.db")
    const n = 60 * SCALE
    const tokenOf = new Map<string, string>()
    const start = pubsub.messagesOf(SUB).length
    for (let i = 0; i < n; i++) {
      const token = realisticToken()
      api.setSubscription(token, resource({ orderId: orderId(i), expiryMs: T0 + 30 * 86_400_000 }))
      tokenOf.set(pubsub.publish(SUB, rtdnSubscription(4, token, T0)), token)
    }
    const mine = () => pubsub.messagesOf(SUB).slice(start)
    const acked = () => mine().filter((m) => m.state === "acked")

    const first = await startConsumer(file)
    await waitFor(() => acked().length >= n / 4, 60_000, "some acks before the crash")
    await first.crash()
    const ackedAtCrash = acked().map((m) => m.messageId)
    expect(ackedAtCrash.length).toBeLessThan(n) // the crash really was mid-burst
    const onDisk = bookedTokens(file)
    for (const id of ackedAtCrash) expect(onDisk.get(tokenOf.get(id)!), `acked message ${id} lost`).toBe(1)

    const second = await startConsumer(file)
    await waitFor(() => acked().length === n, 60_000, "every message acked after the restart")
    await second.crash()
    const booked = bookedTokens(file)
    for (const token of tokenOf.values()) expect(booked.get(token), token).toBe(1)
    const secrets = [...tokenOf.values(), ...Array.from({ length: n }, (_, i) => orderId(i))]
    expect(logLines.filter((l) => secrets.some((x) => l.includes(x)))).toEqual([])
    console.log(`google crash: ${logLines.length} log lines clean; ${ackedAtCrash.length}/${n} acked before the crash, all ${n} after the restart, each booked once`)
  }, 180_000)
})

describe("Google: a message held past the ack deadline", () => {
  // Regression: the consumer passed maxExtensionTime as a number; the library's lease extender
  // (which fires at a random point within 0.9 × the 10 s ack deadline while a message is held)
  // then threw `maxExtensionTime.totalOf is not a function` from a timer — an uncaught exception
  // that would take the server process down.
  it("is kept leased (deadline extended) and handled once, with no uncaught exception", async () => {
    const uncaught: Array<unknown> = []
    const onError = (e: unknown) => void uncaught.push(e)
    process.on("uncaughtException", onError)
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "google-lease-")), "pro.db")
    api.delays.set("purchases.subscriptionsv2.get", 9_500)
    try {
      const token = realisticToken()
      api.setSubscription(token, resource({ orderId: orderId(999), expiryMs: T0 + 30 * 86_400_000 }))
      const id = pubsub.publish(SUB, rtdnSubscription(4, token, T0))
      const c = await startConsumer(file)
      await waitFor(() => pubsub.messagesOf(SUB).find((m) => m.messageId === id)?.state === "acked", 40_000, "ack after the slow fetch")
      await c.crash()
      expect(uncaught).toEqual([])
      expect(bookedTokens(file).get(token)).toBe(1)
    } finally {
      api.delays.clear()
      process.off("uncaughtException", onError)
    }
  }, 60_000)
})
