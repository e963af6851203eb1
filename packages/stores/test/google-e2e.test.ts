/**
 * The whole Google path wired by `GooglePlay.layer` (as the server does): a recorded PURCHASED RTDN
 * published to the gRPC Pub/Sub fake is consumed and booked; the recorded client claim
 * (`Proofs.addProPayment`, what `/add_pro_payment` runs) redeems it and enqueues the
 * acknowledgement in the same transaction (D4c); the outbox worker then acknowledges it at the
 * Android Publisher fake — after Google first refused it (client retries exhausted, outbox back-off).
 */
import { Backend, fromHex, GoogleAckOutbox, Payments, PaymentStatus, Proofs } from "@session-pro/core"
import { Effect, Layer, ManagedRuntime } from "effect"
import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as GooglePlay from "../src/Google/GooglePlay.js"
import { AndroidPublisherFake } from "./fakes/AndroidPublisherFake.js"
import { PubSubFake } from "./fakes/PubSubFake.js"

const fixture = JSON.parse(
  readFileSync(new URL("../../../test-vectors/fixtures/google/01_purchase_cancel_restart_revoke.json", import.meta.url), "utf8")
)
const purchase = fixture.steps[0]
const claim = fixture.steps[1]
const token: string = purchase.rtdn_message_data.subscriptionNotification.purchaseToken
const g = fixture.config.google

let pubsub: PubSubFake
let api: AndroidPublisherFake

beforeAll(async () => {
  pubsub = await PubSubFake.start()
  api = await AndroidPublisherFake.start()
})
afterAll(async () => {
  await pubsub.stop()
  await api.stop()
})

const waitFor = async (cond: () => boolean | Promise<boolean>, what: string, ms = 15_000) => {
  const t0 = Date.now()
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe("Google end to end (GooglePlay.layer)", () => {
  it("RTDN over Pub/Sub → booked; claim → acknowledgement enqueued and retried until Google accepts it", async () => {
    api.setSubscription(token, purchase.mocked_api["purchases.subscriptionsv2.get"])
    // Three refusals: the client's two immediate retries are used up, so the outbox must back off once.
    api.failNext("purchases.subscriptions.acknowledge", 3, 500)
    const google = GooglePlay.layer({
      packageName: g.package_name,
      subscriptionProductId: g.subscription_product_id,
      projectId: g.cloud_project_id,
      subscriptionName: g.cloud_subscription_name,
      androidPublisherApiRoot: api.apiRoot,
      pubsubApiEndpoint: pubsub.endpoint,
      ackWorker: { pollInterval: "50 millis", backoffInitial: "100 millis", backoffMax: "200 millis" }
    })
    const rt = ManagedRuntime.make(google.pipe(Layer.provideMerge(Backend.layerSqlite(":memory:", { platformTestingEnv: true }))))
    try {
      const run = <A>(eff: Effect.Effect<A, any, any>) => rt.runPromise(eff as Effect.Effect<A, never, never>)
      await rt.runtime()
      const sub = `projects/${g.cloud_project_id}/subscriptions/${g.cloud_subscription_name}`
      const id = pubsub.publish(sub, JSON.stringify(purchase.rtdn_message_data), { messageId: purchase.pubsub_message_synthetic.message_id })
      await waitFor(() => pubsub.messagesOf(sub).find((m) => m.messageId === id)?.state === "acked", "RTDN ack")
      const [booked] = await run(Effect.flatMap(Payments, (p) => p.findByGoogleToken(token)))
      expect(booked.status).toBe(PaymentStatus.Unredeemed)

      const r = claim.request_json
      const proof = await run(
        Effect.flatMap(Proofs, (p) =>
          p.addProPayment({
            version: r.version,
            masterPkey: fromHex(r.master_pkey),
            rotatingPkey: fromHex(r.rotating_pkey),
            masterSig: fromHex(r.master_sig),
            rotatingSig: fromHex(r.rotating_sig),
            paymentTx: { provider: 1, googlePaymentToken: r.payment_tx.google_payment_token, googleOrderId: r.payment_tx.google_order_id }
          })
        )
      )
      expect(Buffer.from(proof.rotatingPkey).toString("hex")).toBe(r.rotating_pkey)
      expect((await run(Effect.flatMap(Payments, (p) => p.findByGoogleToken(token))))[0].status).toBe(PaymentStatus.Redeemed)

      await waitFor(() => api.callsOf("purchases.subscriptions.acknowledge").some((c) => c.status === 200), "acknowledge accepted")
      const acks = api.callsOf("purchases.subscriptions.acknowledge")
      expect(acks.map((c) => c.status)).toEqual([500, 500, 500, 200])
      expect(acks.every((c) => c.purchaseToken === token && c.subscriptionId === g.subscription_product_id)).toBe(true)
      await waitFor(async () => (await run(Effect.flatMap(GoogleAckOutbox, (o) => o.pending))).length === 0, "outbox drained")
      const [entry] = await run(Effect.flatMap(GoogleAckOutbox, (o) => o.all))
      expect(entry).toMatchObject({ purchaseToken: token, orderId: r.payment_tx.google_order_id, attempts: 1 })
    } finally {
      await rt.dispose()
    }
  })
})
